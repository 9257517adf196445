/**
 * Access control entries (docs/security.md "Authorization"), used by {@link Admin}: create,
 * list and delete ACLs. Any broker answers (writes are forwarded to the active controller);
 * the caller needs ALTER (create, delete) or DESCRIBE (list) on the cluster.
 */
import type {
  AclOperation,
  AdminAcl__Output,
  AdminAclFilter,
  AdminServiceCreateAclsResponse__Output,
  AdminServiceDeleteAclsResponse__Output,
  AdminServiceDescribeAclsResponse__Output,
} from "@strand/protocol";
import { errorForCode } from "./errors.ts";
import { type BrokerConnection, type CallOptions, unary } from "./grpc.ts";

/** The kinds of resource an ACL protects. */
export type AclResourceType = "topic" | "group" | "cluster";

export { ACL_OPERATIONS, type AclOperation } from "@strand/protocol";

/** An ACL to create. */
export interface AclBinding {
  /** `User:<name>` (a client certificate's CN, a SCRAM user, a token subject), `User:*`, `Node:<id>`. */
  readonly principal: string;
  /** The client host it applies to; default `*` (any). */
  readonly host?: string;
  readonly resourceType: AclResourceType;
  /** literal (default: the exact name, `*` = every resource) or prefixed. */
  readonly patternType?: "literal" | "prefixed";
  /** The resource name or prefix; ignored for the cluster. */
  readonly resourceName?: string;
  readonly operation: AclOperation;
  /** allow (default) or deny; a matching deny wins over any allow. */
  readonly permission?: "allow" | "deny";
}

/** A stored ACL. */
export interface Acl extends Required<AclBinding> {
  /** Its stable id (derived from the fields). */
  readonly id: string;
}

/** Selects ACLs; an absent field matches anything. */
export interface AclFilter {
  readonly principal?: string;
  readonly host?: string;
  readonly resourceType?: AclResourceType;
  /** literal, prefixed, any, or match (every ACL that applies to `resourceName`). */
  readonly patternType?: "literal" | "prefixed" | "any" | "match";
  readonly resourceName?: string;
  readonly operation?: AclOperation;
  readonly permission?: "allow" | "deny";
}

/** How {@link AclAdmin} reaches a broker (Admin's retrying any-broker call). */
export type AnyBroker = <T>(
  what: string,
  call: (c: BrokerConnection, options: CallOptions) => Promise<T>,
) => Promise<T>;

function fromWire(a: AdminAcl__Output): Acl {
  return {
    id: a.id,
    principal: a.principal,
    host: a.host,
    resourceType: a.resourceType as AclResourceType,
    patternType: a.patternType as "literal" | "prefixed",
    resourceName: a.resourceName,
    operation: a.operation as AclOperation,
    permission: a.permission as "allow" | "deny",
  };
}

function filterToWire(f: AclFilter): AdminAclFilter {
  return { ...f };
}

/** See the module comment. */
export class AclAdmin {
  readonly #call: AnyBroker;

  /** @internal */
  constructor(call: AnyBroker) {
    this.#call = call;
  }

  /** Creates ACLs (an existing one is kept); answers their ids; throws the first refusal. */
  async createAcls(acls: readonly AclBinding[]): Promise<string[]> {
    const request = {
      acls: acls.map((a) => ({
        principal: a.principal,
        host: a.host ?? "*",
        resourceType: a.resourceType,
        patternType: a.patternType ?? "literal",
        resourceName: a.resourceName ?? "",
        operation: a.operation,
        permission: a.permission ?? "allow",
      })),
    };
    const r = await this.#call("createAcls", (c, o) =>
      unary<AdminServiceCreateAclsResponse__Output>(
        (opts, cb) => c.admin.CreateAcls(request, opts, cb),
        { ...o, method: "CreateAcls" },
      ),
    );
    const bad = r.results.find((x) => x.errorCode !== 0);
    if (bad !== undefined) throw errorForCode(bad.errorCode, bad.errorMessage);
    return r.results.map((x) => x.id);
  }

  /** The ACLs matching `filter` (all by default), sorted by resource then principal. */
  async describeAcls(filter: AclFilter = {}): Promise<Acl[]> {
    const r = await this.#call("describeAcls", (c, o) =>
      unary<AdminServiceDescribeAclsResponse__Output>(
        (opts, cb) => c.admin.DescribeAcls({ filter: filterToWire(filter) }, opts, cb),
        { ...o, method: "DescribeAcls" },
      ),
    );
    return r.acls.map(fromWire);
  }

  /** Deletes every ACL matching any filter; answers the removed ones. */
  async deleteAcls(filters: readonly AclFilter[]): Promise<Acl[]> {
    const request = { filters: filters.map(filterToWire) };
    const r = await this.#call("deleteAcls", (c, o) =>
      unary<AdminServiceDeleteAclsResponse__Output>(
        (opts, cb) => c.admin.DeleteAcls(request, opts, cb),
        { ...o, method: "DeleteAcls" },
      ),
    );
    const bad = r.results.find((x) => x.errorCode !== 0);
    if (bad !== undefined) throw errorForCode(bad.errorCode, bad.errorMessage);
    return r.results.flatMap((x) => x.removed.map(fromWire));
  }
}
