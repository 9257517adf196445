/**
 * The ACL decision (Kafka's StandardAuthorizer semantics, docs/security.md "Authorization"),
 * pure: an index built once per set of ACLs, then `check` answers allow or deny without a scan
 * of every ACL. Rules:
 * - a deny that matches wins over any allow; no matching allow = denied (deny by default);
 * - an ACL matches when its principal is the caller's or `User:*` (users only), its host is
 *   the caller's or `*`, its resource pattern applies (literal name, literal `*`, or prefix)
 *   and its operation is the one asked for or `all`;
 * - an allow of read, write, delete or alter also allows describe, and an allow of
 *   alter_configs allows describe_configs (implied operations apply to allows only, as Kafka's).
 *
 * Cost of a check: a few map lookups per candidate principal for the literal name and `*`,
 * plus one lookup per distinct prefix length present, then the matching ACLs only.
 */
import type { AclEntry, AclOperation, AclResourceType } from "@strand/controller";

/** The wildcard user principal: matches every `User:` principal. */
export const ANY_USER = "User:*";

/** Allows of these operations also allow the key (Kafka's implied operations). */
const IMPLIED_BY: Readonly<Partial<Record<AclOperation, readonly AclOperation[]>>> = {
  describe: ["describe", "read", "write", "delete", "alter", "all"],
  describe_configs: ["describe_configs", "alter_configs", "all"],
};

/** The ACLs of one principal for one resource type. */
interface TypeIndex {
  /** Literal names (incl. `*`) -> ACLs. */
  readonly literal: Map<string, AclEntry[]>;
  /** Prefixes -> ACLs. */
  readonly prefixed: Map<string, AclEntry[]>;
  /** The distinct prefix lengths present, ascending (bounds the lookups per check). */
  prefixLengths: number[];
}

/** A request to decide. */
export interface AccessRequest {
  /** The caller's principal name, e.g. `User:alice`. */
  readonly principal: string;
  /** The caller's host (IP address), or `*` when unknown. */
  readonly host: string;
  readonly operation: AclOperation;
  readonly resourceType: AclResourceType;
  /** The resource's name (`cluster` for the cluster). */
  readonly resourceName: string;
}

function push<K>(map: Map<K, AclEntry[]>, key: K, acl: AclEntry): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [acl]);
  else list.push(acl);
}

/** See the module comment. Immutable once built. */
export class AclIndex {
  /** principal -> resource type -> index. */
  readonly #byPrincipal = new Map<string, Map<AclResourceType, TypeIndex>>();
  /** How many ACLs the index holds. */
  readonly size: number;

  constructor(acls: Iterable<AclEntry>) {
    let size = 0;
    for (const acl of acls) {
      size += 1;
      let types = this.#byPrincipal.get(acl.principal);
      if (types === undefined) {
        types = new Map();
        this.#byPrincipal.set(acl.principal, types);
      }
      let index = types.get(acl.resourceType);
      if (index === undefined) {
        index = { literal: new Map(), prefixed: new Map(), prefixLengths: [] };
        types.set(acl.resourceType, index);
      }
      if (acl.patternType === "literal") push(index.literal, acl.resourceName, acl);
      else push(index.prefixed, acl.resourceName, acl);
    }
    for (const types of this.#byPrincipal.values()) {
      for (const index of types.values()) {
        const lengths = new Set([...index.prefixed.keys()].map((p) => p.length));
        index.prefixLengths = [...lengths].sort((a, b) => a - b);
      }
    }
    this.size = size;
  }

  /** Whether `request` is allowed by the ACLs (deny wins; no allow = denied). */
  check(request: AccessRequest): boolean {
    let allowed = false;
    for (const principal of principalsOf(request.principal)) {
      const index = this.#byPrincipal.get(principal)?.get(request.resourceType);
      if (index === undefined) continue;
      const name = request.resourceName;
      const lists = [index.literal.get(name), name === "*" ? undefined : index.literal.get("*")];
      for (const length of index.prefixLengths) {
        if (length > name.length) break;
        lists.push(index.prefixed.get(name.slice(0, length)));
      }
      for (const list of lists) {
        if (list === undefined) continue;
        const verdict = decide(list, request);
        if (verdict === "deny") return false;
        if (verdict === "allow") allowed = true;
      }
    }
    return allowed;
  }

  /**
   * Whether the principal may do `operation` on SOME resource of `resourceType`: an allow
   * that matches, unless a deny of the same operation covers every resource (literal `*`).
   * For "may this producer be idempotent": Kafka allows it with WRITE on any topic.
   */
  checkAny(request: Omit<AccessRequest, "resourceName">): boolean {
    let allowed = false;
    for (const principal of principalsOf(request.principal)) {
      const index = this.#byPrincipal.get(principal)?.get(request.resourceType);
      if (index === undefined) continue;
      for (const list of [...index.literal.values(), ...index.prefixed.values()]) {
        for (const acl of list) {
          if (acl.host !== "*" && acl.host !== request.host) continue;
          if (acl.permission === "deny") {
            const everything = acl.patternType === "literal" && acl.resourceName === "*";
            if (everything && (acl.operation === request.operation || acl.operation === "all"))
              return false;
          } else if (allows(acl.operation, request.operation)) {
            allowed = true;
          }
        }
      }
    }
    return allowed;
  }
}

/** The principals whose ACLs apply to `principal`: itself, and `User:*` for users. */
function principalsOf(principal: string): readonly string[] {
  return principal.startsWith("User:") && principal !== ANY_USER
    ? [principal, ANY_USER]
    : [principal];
}

/** What the ACLs of one list (already matching principal and resource) say: deny wins. */
function decide(list: readonly AclEntry[], request: AccessRequest): "allow" | "deny" | null {
  let verdict: "allow" | null = null;
  for (const acl of list) {
    if (acl.host !== "*" && acl.host !== request.host) continue;
    if (acl.permission === "deny") {
      if (acl.operation === request.operation || acl.operation === "all") return "deny";
    } else if (verdict === null && allows(acl.operation, request.operation)) {
      verdict = "allow";
    }
  }
  return verdict;
}

/** Whether an allow ACL of `granted` allows `asked`. */
function allows(granted: AclOperation, asked: AclOperation): boolean {
  if (granted === asked || granted === "all") return true;
  return IMPLIED_BY[asked]?.includes(granted) ?? false;
}
