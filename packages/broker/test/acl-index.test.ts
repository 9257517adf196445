// The ACL decision (core/acl-index.ts), as Kafka's StandardAuthorizer: deny wins, `all`,
// wildcards, prefixes, `User:*`, hosts, implied operations; and the index agrees with a plain
// scan of every ACL on random ACL sets (the index must be a pure speed-up).
import {
  ACL_OPERATIONS,
  type AclBinding,
  type AclEntry,
  type AclOperation,
  aclId,
} from "@strand/controller";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AccessRequest, AclIndex } from "../src/core/acl-index.ts";

function acl(over: Partial<AclBinding>): AclEntry {
  const b: AclBinding = {
    principal: "User:alice",
    host: "*",
    resourceType: "topic",
    patternType: "literal",
    resourceName: "orders",
    operation: "read",
    permission: "allow",
    ...over,
  };
  return { id: aclId(b), ...b };
}

function ask(over: Partial<AccessRequest> = {}): AccessRequest {
  return {
    principal: "User:alice",
    host: "10.0.0.1",
    operation: "read",
    resourceType: "topic",
    resourceName: "orders",
    ...over,
  };
}

describe("ACL decisions", () => {
  it("denies by default: no ACL, no access", () => {
    expect(new AclIndex([]).check(ask())).toBe(false);
  });

  it("allows what an ACL allows, and only for its principal, type and name", () => {
    const index = new AclIndex([acl({})]);
    expect(index.check(ask())).toBe(true);
    expect(index.check(ask({ principal: "User:bob" }))).toBe(false);
    expect(index.check(ask({ resourceName: "payments" }))).toBe(false);
    expect(index.check(ask({ resourceType: "group" }))).toBe(false);
    expect(index.check(ask({ operation: "write" }))).toBe(false);
  });

  it("deny beats allow, whichever is more specific", () => {
    const index = new AclIndex([
      acl({ operation: "all" }),
      acl({ resourceName: "*", operation: "write", permission: "deny" }),
    ]);
    expect(index.check(ask({ operation: "read" }))).toBe(true);
    expect(index.check(ask({ operation: "write" }))).toBe(false);
  });

  it("operation all allows and denies every operation", () => {
    const allow = new AclIndex([acl({ operation: "all" })]);
    for (const op of ACL_OPERATIONS) expect(allow.check(ask({ operation: op }))).toBe(true);
    const deny = new AclIndex([
      acl({ operation: "all" }),
      acl({ operation: "all", permission: "deny" }),
    ]);
    for (const op of ACL_OPERATIONS) expect(deny.check(ask({ operation: op }))).toBe(false);
  });

  it("a literal * matches every resource of the type; a prefix matches names starting with it", () => {
    const index = new AclIndex([
      acl({ resourceName: "*", operation: "describe" }),
      acl({ patternType: "prefixed", resourceName: "orders.", operation: "write" }),
    ]);
    expect(index.check(ask({ resourceName: "anything", operation: "describe" }))).toBe(true);
    expect(index.check(ask({ resourceName: "orders.eu", operation: "write" }))).toBe(true);
    expect(index.check(ask({ resourceName: "orders", operation: "write" }))).toBe(false);
    expect(index.check(ask({ resourceName: "ordersX", operation: "write" }))).toBe(false);
  });

  it("User:* applies to every user, not to nodes", () => {
    const index = new AclIndex([acl({ principal: "User:*" })]);
    expect(index.check(ask({ principal: "User:bob" }))).toBe(true);
    expect(index.check(ask({ principal: "User:ANONYMOUS" }))).toBe(true);
    expect(index.check(ask({ principal: "Node:1" }))).toBe(false);
  });

  it("a deny for User:* denies a user with an allow of their own", () => {
    const index = new AclIndex([acl({}), acl({ principal: "User:*", permission: "deny" })]);
    expect(index.check(ask())).toBe(false);
  });

  it("an ACL for one host applies to that host only", () => {
    const index = new AclIndex([acl({ host: "10.0.0.1" })]);
    expect(index.check(ask())).toBe(true);
    expect(index.check(ask({ host: "10.0.0.2" }))).toBe(false);
  });

  it("read, write, delete, alter imply describe; alter_configs implies describe_configs", () => {
    for (const op of ["read", "write", "delete", "alter"] as const) {
      expect(new AclIndex([acl({ operation: op })]).check(ask({ operation: "describe" }))).toBe(
        true,
      );
    }
    expect(new AclIndex([acl({ operation: "create" })]).check(ask({ operation: "describe" }))).toBe(
      false,
    );
    const configs = new AclIndex([acl({ operation: "alter_configs" })]);
    expect(configs.check(ask({ operation: "describe_configs" }))).toBe(true);
    expect(configs.check(ask({ operation: "describe" }))).toBe(false);
  });

  it("implied operations apply to allows only: deny read does not deny describe", () => {
    const index = new AclIndex([
      acl({ operation: "describe" }),
      acl({ operation: "read", permission: "deny" }),
    ]);
    expect(index.check(ask({ operation: "describe" }))).toBe(true);
    expect(index.check(ask({ operation: "read" }))).toBe(false);
  });

  it("checkAny: an allow on some resource, unless a deny covers every resource", () => {
    const some = new AclIndex([
      acl({ patternType: "prefixed", resourceName: "a", operation: "write" }),
    ]);
    expect(some.checkAny({ ...ask({ operation: "write" }) })).toBe(true);
    expect(new AclIndex([acl({})]).checkAny(ask({ operation: "write" }))).toBe(false);
    const denied = new AclIndex([
      acl({ operation: "write" }),
      acl({ resourceName: "*", operation: "write", permission: "deny" }),
    ]);
    expect(denied.checkAny(ask({ operation: "write" }))).toBe(false);
  });
});

/** The reference: Kafka's rules as one scan of every ACL. */
function scan(acls: readonly AclEntry[], r: AccessRequest): boolean {
  const implied: Partial<Record<AclOperation, AclOperation[]>> = {
    describe: ["read", "write", "delete", "alter"],
    describe_configs: ["alter_configs"],
  };
  const applies = (a: AclEntry) =>
    (a.principal === r.principal ||
      (a.principal === "User:*" && r.principal.startsWith("User:"))) &&
    (a.host === "*" || a.host === r.host) &&
    a.resourceType === r.resourceType &&
    (a.patternType === "prefixed"
      ? r.resourceName.startsWith(a.resourceName)
      : a.resourceName === "*" || a.resourceName === r.resourceName);
  const matching = acls.filter(applies);
  if (
    matching.some(
      (a) => a.permission === "deny" && (a.operation === r.operation || a.operation === "all"),
    )
  )
    return false;
  return matching.some(
    (a) =>
      a.permission === "allow" &&
      (a.operation === r.operation ||
        a.operation === "all" ||
        (implied[r.operation] ?? []).includes(a.operation)),
  );
}

describe("the index agrees with a scan", () => {
  const principal = fc.constantFrom("User:alice", "User:bob", "User:*", "Node:1");
  const name = fc.constantFrom("*", "o", "or", "orders", "orders.eu", "pay", "payments");
  const entry = fc
    .record({
      principal,
      host: fc.constantFrom("*", "10.0.0.1"),
      resourceType: fc.constantFrom("topic" as const, "group" as const),
      patternType: fc.constantFrom("literal" as const, "prefixed" as const),
      resourceName: name,
      operation: fc.constantFrom(...ACL_OPERATIONS),
      permission: fc.constantFrom("allow" as const, "deny" as const),
    })
    .filter((b) => !(b.patternType === "prefixed" && b.resourceName === "*"))
    .map((b): AclEntry => ({ id: aclId(b), ...b }));
  const request = fc.record({
    principal: fc.constantFrom("User:alice", "User:bob", "Node:1"),
    host: fc.constantFrom("10.0.0.1", "10.0.0.2"),
    operation: fc.constantFrom(...ACL_OPERATIONS),
    resourceType: fc.constantFrom("topic" as const, "group" as const),
    resourceName: fc.constantFrom("orders", "orders.eu", "payments", "o"),
  });

  it("on random ACL sets and requests", () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 30 }),
        fc.array(request, { minLength: 1 }),
        (acls, rs) => {
          const index = new AclIndex(acls);
          for (const r of rs) expect(index.check(r)).toBe(scan(acls, r));
        },
      ),
      { numRuns: 300 },
    );
  });
});
