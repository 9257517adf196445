/**
 * The `authorizer` setting's implementation (docs/security.md "Authorization"): decides
 * whether a principal may perform an operation on a resource, counts and logs every denial.
 * `none` allows everything (development); `acl` denies unless an ACL of the metadata log
 * allows, except for super users (`super.users`) and cluster nodes (`Node:<id>`), which may
 * do anything: a node on the client listener is a broker forwarding or doing inter-broker work.
 * The ACL index is rebuilt only when the image's ACL map changes (a new map per ACL change).
 */
import type { Logger } from "@strand/base";
import type { AclEntry, AclOperation, AclResourceType } from "@strand/controller";
import { LogLimiter } from "@strand/raft";
import { AclIndex } from "../core/acl-index.ts";
import { type Principal, principalName } from "./principal.ts";

/** The `authorizer` setting. */
export type AuthorizerMode = "none" | "acl";

/** What the authorizer reads and reports to. */
export interface AuthorizerOptions {
  readonly mode: AuthorizerMode;
  /** Principals allowed everything, e.g. `User:admin`. */
  readonly superUsers: readonly string[];
  /** The ACLs of the current metadata image. */
  acls(): ReadonlyMap<string, AclEntry>;
  /** Counts a denial (strand_authorization_denials_total). */
  denied(operation: AclOperation, resourceType: AclResourceType): void;
  readonly logger: Logger;
  /** The clock of the log rate limit; default Date.now. */
  readonly now?: () => number;
}

/** One decision to make. */
export interface AuthorizationRequest {
  readonly principal: Principal;
  /** The caller's IP address, or `*` when unknown. */
  readonly host: string;
  readonly operation: AclOperation;
  readonly resourceType: AclResourceType;
  readonly resourceName: string;
}

/** See the module comment. */
export class Authorizer {
  readonly #options: AuthorizerOptions;
  readonly #superUsers: ReadonlySet<string>;
  readonly #limiter: LogLimiter;
  #source: ReadonlyMap<string, AclEntry> | null = null;
  #index = new AclIndex([]);

  constructor(options: AuthorizerOptions) {
    this.#options = options;
    this.#superUsers = new Set(options.superUsers);
    this.#limiter = new LogLimiter(undefined, options.now);
  }

  /** False for `authorizer=none`: every request is allowed and nothing is checked. */
  get enabled(): boolean {
    return this.#options.mode === "acl";
  }

  /** Whether the request is allowed; a denial is counted and logged (rate-limited). */
  authorize(request: AuthorizationRequest): boolean {
    if (this.#bypass(request.principal)) return true;
    const name = principalName(request.principal);
    if (this.#current().check({ ...request, principal: name })) return true;
    this.#deny(name, request, request.resourceName);
    return false;
  }

  /**
   * Whether the principal may do `operation` on some resource of the type (e.g. WRITE on any
   * topic, for an idempotent producer id). A denial is counted and logged.
   */
  authorizeAny(request: Omit<AuthorizationRequest, "resourceName">): boolean {
    if (this.#bypass(request.principal)) return true;
    const name = principalName(request.principal);
    if (this.#current().checkAny({ ...request, principal: name })) return true;
    this.#deny(name, request, "(any)");
    return false;
  }

  /** Whether the request is allowed, without counting or logging (metadata filtering). */
  quietly(request: AuthorizationRequest): boolean {
    if (this.#bypass(request.principal)) return true;
    return this.#current().check({ ...request, principal: principalName(request.principal) });
  }

  #bypass(principal: Principal): boolean {
    if (!this.enabled || principal.kind === "node") return true;
    return this.#superUsers.has(principalName(principal));
  }

  #current(): AclIndex {
    const acls = this.#options.acls();
    if (acls !== this.#source) {
      this.#index = new AclIndex(acls.values());
      this.#source = acls;
    }
    return this.#index;
  }

  #deny(
    principal: string,
    r: Omit<AuthorizationRequest, "resourceName" | "principal">,
    resource: string,
  ): void {
    this.#options.denied(r.operation, r.resourceType);
    const suppressed = this.#limiter.hit(`${principal} ${r.operation} ${r.resourceType}`);
    if (suppressed !== null)
      this.#options.logger.warn(
        {
          principal,
          host: r.host,
          operation: r.operation,
          resourceType: r.resourceType,
          resource,
          suppressed,
        },
        "request denied by ACLs",
      );
  }
}
