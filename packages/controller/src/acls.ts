/**
 * Access control entries (docs/security.md "Authorization"): their shape, validation, stable
 * ids and filters, and the pure controller handlers that create and delete them. The model is
 * Kafka's AclBinding: principal, host, resource (type, pattern type, name), operation,
 * permission. Decisions (deny wins, implied operations, wildcards) are the broker's
 * authorizer's; here only what is stored.
 */
import { createHash } from "node:crypto";
import { ACL_OPERATIONS, type AclOperation, ErrorCode } from "@strand/protocol";
import type { MetadataImage } from "./image.ts";
import type { MetadataRecord } from "./records.ts";
import type { ControllerResult, QuorumControllerState, ResponseBase } from "./requests.ts";

/** The kinds of resource an ACL protects. */
export const ACL_RESOURCE_TYPES = ["topic", "group", "cluster"] as const;
/** topic | group | cluster. */
export type AclResourceType = (typeof ACL_RESOURCE_TYPES)[number];

/** How an ACL's resource name matches: the exact name (or `*`), or a prefix. */
export const ACL_PATTERN_TYPES = ["literal", "prefixed"] as const;
/** literal | prefixed. */
export type AclPatternType = (typeof ACL_PATTERN_TYPES)[number];

export { ACL_OPERATIONS, type AclOperation } from "@strand/protocol";

/** allow | deny. */
export type AclPermission = "allow" | "deny";

/** The only name of the cluster resource (Kafka's `kafka-cluster`). */
export const CLUSTER_RESOURCE_NAME = "cluster";
/** A literal resource name that matches every resource of its type. */
export const WILDCARD = "*";
/** Most ACLs one cluster may hold: bounds the image and the broker's index. */
export const ACL_COUNT_MAX = 100_000;

/** An ACL without its id: what a client asks to create. */
export interface AclBinding {
  /** `User:<name>`, `User:*` or `Node:<id>`. */
  readonly principal: string;
  /** A client host, or `*` for any. */
  readonly host: string;
  readonly resourceType: AclResourceType;
  readonly patternType: AclPatternType;
  /** The name (`*` = every resource of the type), or the prefix; `cluster` for the cluster. */
  readonly resourceName: string;
  readonly operation: AclOperation;
  readonly permission: AclPermission;
}

/** A stored ACL. */
export interface AclEntry extends AclBinding {
  /** Derived from the binding ({@link aclId}): one binding has one id on every node. */
  readonly id: string;
}

/** Selects ACLs; an absent field matches anything. */
export interface AclFilter {
  readonly principal?: string;
  readonly host?: string;
  readonly resourceType?: AclResourceType;
  /** `match`: every ACL that applies to the literal `resourceName` (literal, `*` or prefix). */
  readonly patternType?: AclPatternType | "match";
  readonly resourceName?: string;
  readonly operation?: AclOperation;
  readonly permission?: AclPermission;
}

const NAME_MAX = 255;

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new AclValidationError(`${what} must be one of ${allowed.join(", ")}, not "${value}"`);
  return value as T;
}

/** An ACL or filter field that is not valid. */
export class AclValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AclValidationError";
  }
}

/** Checks a principal's form: `User:<name>` (name may be `*`) or `Node:<id>`. */
export function validPrincipal(principal: string): string {
  const colon = principal.indexOf(":");
  const type = principal.slice(0, colon);
  const name = principal.slice(colon + 1);
  if (colon <= 0 || name === "" || principal.length > NAME_MAX)
    throw new AclValidationError(
      `principal must be User:<name>, User:* or Node:<id>, not "${principal}"`,
    );
  if (type === "User") return principal;
  if (type === "Node" && /^[0-9]{1,10}$/.test(name)) return principal;
  throw new AclValidationError(`principal type must be User or Node, not "${type}"`);
}

function validName(name: string, what: string): string {
  const control = [...name].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f");
  if (name === "" || name.length > NAME_MAX || control)
    throw new AclValidationError(`${what} must be 1..${NAME_MAX} printable characters`);
  return name;
}

/** Validates a binding from the wire; empty host/pattern/permission take their defaults. */
export function validBinding(raw: {
  readonly principal: string;
  readonly host: string;
  readonly resourceType: string;
  readonly patternType: string;
  readonly resourceName: string;
  readonly operation: string;
  readonly permission: string;
}): AclBinding {
  const resourceType = oneOf(raw.resourceType, ACL_RESOURCE_TYPES, "resource_type");
  const patternType = oneOf(raw.patternType || "literal", ACL_PATTERN_TYPES, "pattern_type");
  if (resourceType === "cluster" && patternType !== "literal")
    throw new AclValidationError("the cluster resource takes a literal pattern only");
  const resourceName =
    resourceType === "cluster"
      ? CLUSTER_RESOURCE_NAME
      : validName(raw.resourceName, "resource_name");
  if (patternType === "prefixed" && resourceName === WILDCARD)
    throw new AclValidationError('a prefixed pattern cannot be "*"; use a literal "*"');
  return {
    principal: validPrincipal(raw.principal),
    host: raw.host === "" ? WILDCARD : validName(raw.host, "host"),
    resourceType,
    patternType,
    resourceName,
    operation: oneOf(raw.operation, ACL_OPERATIONS, "operation"),
    permission: oneOf(raw.permission || "allow", ["allow", "deny"] as const, "permission"),
  };
}

/** The stable id of a binding: a hash of its fields, so re-creating it is a no-op. */
export function aclId(b: AclBinding): string {
  const canonical = [
    b.principal,
    b.host,
    b.resourceType,
    b.patternType,
    b.resourceName,
    b.operation,
    b.permission,
  ].join("\u0000");
  return createHash("sha256").update(canonical).digest("hex").slice(0, 24);
}

/** Validates a filter from the wire (absent fields match anything; "any" = absent). */
export function validFilter(raw: {
  readonly principal?: string | undefined;
  readonly host?: string | undefined;
  readonly resourceType?: string | undefined;
  readonly patternType?: string | undefined;
  readonly resourceName?: string | undefined;
  readonly operation?: string | undefined;
  readonly permission?: string | undefined;
}): AclFilter {
  const pattern = raw.patternType === "any" ? undefined : raw.patternType;
  return {
    ...(raw.principal === undefined ? {} : { principal: validPrincipal(raw.principal) }),
    ...(raw.host === undefined ? {} : { host: validName(raw.host, "host") }),
    ...(raw.resourceType === undefined
      ? {}
      : { resourceType: oneOf(raw.resourceType, ACL_RESOURCE_TYPES, "resource_type") }),
    ...(pattern === undefined
      ? {}
      : { patternType: oneOf(pattern, [...ACL_PATTERN_TYPES, "match"] as const, "pattern_type") }),
    ...(raw.resourceName === undefined
      ? {}
      : { resourceName: validName(raw.resourceName, "resource_name") }),
    ...(raw.operation === undefined
      ? {}
      : { operation: oneOf(raw.operation, ACL_OPERATIONS, "operation") }),
    ...(raw.permission === undefined
      ? {}
      : { permission: oneOf(raw.permission, ["allow", "deny"] as const, "permission") }),
  };
}

/** Whether `acl`'s resource pattern applies to the resource named `name`. */
export function patternApplies(acl: AclBinding, name: string): boolean {
  if (acl.patternType === "prefixed") return name.startsWith(acl.resourceName);
  return acl.resourceName === WILDCARD || acl.resourceName === name;
}

/** Whether `acl` is selected by `filter`. */
export function matchesFilter(acl: AclBinding, filter: AclFilter): boolean {
  if (filter.principal !== undefined && acl.principal !== filter.principal) return false;
  if (filter.host !== undefined && acl.host !== filter.host) return false;
  if (filter.resourceType !== undefined && acl.resourceType !== filter.resourceType) return false;
  if (filter.operation !== undefined && acl.operation !== filter.operation) return false;
  if (filter.permission !== undefined && acl.permission !== filter.permission) return false;
  if (filter.patternType === "match") {
    return filter.resourceName === undefined || patternApplies(acl, filter.resourceName);
  }
  if (filter.patternType !== undefined && acl.patternType !== filter.patternType) return false;
  return filter.resourceName === undefined || acl.resourceName === filter.resourceName;
}

/** The image's ACLs that `filter` selects, sorted by resource then principal. */
export function describeAcls(image: MetadataImage, filter: AclFilter): AclEntry[] {
  return [...image.acls.values()].filter((a) => matchesFilter(a, filter)).sort(compareAcls);
}

function compareAcls(a: AclEntry, b: AclEntry): number {
  const key = (x: AclEntry) =>
    `${x.resourceType}\u0000${x.patternType}\u0000${x.resourceName}\u0000${x.principal}\u0000${x.operation}\u0000${x.permission}\u0000${x.host}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/** Creates ACLs (already validated at the wire edge). */
export interface CreateAclsRequest {
  readonly type: "createAcls";
  readonly acls: readonly AclBinding[];
}
/** The id of each created (or already existing) ACL, in request order. */
export interface CreateAclsResponse extends ResponseBase {
  readonly ids: readonly string[];
}

/** Deletes every ACL that any filter selects. */
export interface DeleteAclsRequest {
  readonly type: "deleteAcls";
  readonly filters: readonly AclFilter[];
}
/** What each filter removed (an ACL selected by two filters is listed under the first). */
export interface DeleteAclsResponse extends ResponseBase {
  readonly removed: readonly (readonly AclEntry[])[];
}

const OK = { errorCode: ErrorCode.NONE, errorMessage: null } as const;

/** Records one AccessControlEntry per new binding; existing bindings change nothing. */
export function createAcls(
  state: QuorumControllerState,
  req: CreateAclsRequest,
): ControllerResult<CreateAclsResponse> {
  const acls = state.image.acls;
  const records: MetadataRecord[] = [];
  const seen = new Set<string>();
  const ids = req.acls.map((binding) => {
    const id = aclId(binding);
    if (!acls.has(id) && !seen.has(id)) {
      seen.add(id);
      records.push({ type: "accessControlEntry", entry: { id, ...binding } });
    }
    return id;
  });
  if (acls.size + records.length > ACL_COUNT_MAX) {
    const code = ErrorCode.INVALID_REQUEST;
    const msg = `the cluster would hold more than ${ACL_COUNT_MAX} ACLs; delete unused ones first`;
    return { records: [], response: { errorCode: code, errorMessage: msg, ids: [] } };
  }
  return { records, response: { ...OK, ids } };
}

/** Records one RemoveAccessControlEntry per selected ACL. */
export function deleteAcls(
  state: QuorumControllerState,
  req: DeleteAclsRequest,
): ControllerResult<DeleteAclsResponse> {
  const taken = new Set<string>();
  const removed = req.filters.map((filter) =>
    describeAcls(state.image, filter).filter((a) => {
      if (taken.has(a.id)) return false;
      taken.add(a.id);
      return true;
    }),
  );
  const records: MetadataRecord[] = [...taken].map((id) => ({
    type: "removeAccessControlEntry",
    id,
  }));
  return { records, response: { ...OK, removed } };
}
