// The authorizer shell (security/authorizer.ts): authorizer=none allows everything, super users
// and cluster nodes bypass the ACLs, the index follows the image's ACL map, and every denial is
// counted while the warning log is rate-limited. Also the edge's peer-host parsing.
import { type AclEntry, aclId } from "@strand/controller";
import { describe, expect, it } from "vitest";
import { Authorizer, type AuthorizerMode } from "../src/security/authorizer.ts";
import type { Principal } from "../src/security/principal.ts";
import { peerHost } from "../src/services/access.ts";

const alice: Principal = { kind: "user", name: "alice", mechanism: "mtls" };
const admin: Principal = { kind: "user", name: "admin", mechanism: "mtls" };

const readOrders: AclEntry = (() => {
  const b = {
    principal: "User:alice",
    host: "*",
    resourceType: "topic",
    patternType: "literal",
    resourceName: "orders",
    operation: "read",
    permission: "allow",
  } as const;
  return { id: aclId(b), ...b };
})();

function setup(mode: AuthorizerMode, acls: ReadonlyMap<string, AclEntry> = new Map()) {
  const state = { acls, denials: [] as string[], warnings: 0, nowMs: 0 };
  const logger = {
    warn: () => {
      state.warnings++;
    },
  } as unknown as ConstructorParameters<typeof Authorizer>[0]["logger"];
  const authorizer = new Authorizer({
    mode,
    superUsers: ["User:admin"],
    acls: () => state.acls,
    denied: (op, type) => state.denials.push(`${op} ${type}`),
    logger,
    now: () => state.nowMs,
  });
  return { authorizer, state };
}

const ask = (principal: Principal, operation: "read" | "write" = "read") => ({
  principal,
  host: "10.0.0.1",
  operation,
  resourceType: "topic" as const,
  resourceName: "orders",
});

describe("the authorizer", () => {
  it("allows everything with authorizer=none", () => {
    const { authorizer, state } = setup("none");
    expect(authorizer.enabled).toBe(false);
    expect(authorizer.authorize(ask({ kind: "anonymous" }, "write"))).toBe(true);
    expect(state.denials).toEqual([]);
  });

  it("denies by default with authorizer=acl; super users and nodes bypass the ACLs", () => {
    const { authorizer } = setup("acl");
    expect(authorizer.authorize(ask(alice))).toBe(false);
    expect(authorizer.authorize(ask({ kind: "anonymous" }))).toBe(false);
    expect(authorizer.authorize(ask(admin, "write"))).toBe(true);
    expect(authorizer.authorize(ask({ kind: "node", nodeId: 2 }, "write"))).toBe(true);
  });

  it("follows the image: a new ACL map takes effect on the next check", () => {
    const { authorizer, state } = setup("acl");
    expect(authorizer.authorize(ask(alice))).toBe(false);
    state.acls = new Map([[readOrders.id, readOrders]]);
    expect(authorizer.authorize(ask(alice))).toBe(true);
    expect(authorizer.authorize(ask(alice, "write"))).toBe(false);
    state.acls = new Map();
    expect(authorizer.authorize(ask(alice))).toBe(false);
  });

  it("counts every denial but logs one line per principal and operation per interval", () => {
    const { authorizer, state } = setup("acl");
    for (let i = 0; i < 5; i++) authorizer.authorize(ask(alice, "write"));
    expect(state.denials).toHaveLength(5);
    expect(state.warnings).toBe(1);
    state.nowMs = 11_000;
    authorizer.authorize(ask(alice, "write"));
    expect(state.warnings).toBe(2);
  });

  it("filters quietly: quietly() neither counts nor logs", () => {
    const { authorizer, state } = setup("acl");
    expect(authorizer.quietly(ask(alice))).toBe(false);
    expect(state.denials).toEqual([]);
    expect(state.warnings).toBe(0);
  });
});

describe("peerHost", () => {
  it.each([
    ["ipv4:10.1.2.3:5555", "10.1.2.3"],
    ["ipv6:[::1]:5555", "::1"],
    ["127.0.0.1:80", "127.0.0.1"],
    ["unix:/tmp/sock", "*"],
  ])("%s -> %s", (peer, host) => {
    expect(peerHost(peer)).toBe(host);
  });
});
