// The client listener's authenticator: which credentials make which principal, and every
// refusal (plaintext credentials, forged forwarded principals, expired or orphaned sessions).
import * as grpc from "@grpc/grpc-js";
import { EMPTY_IMAGE, type MetadataImage } from "@strand/controller";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ClientAuthenticator, encodePrincipal } from "../../src/security/authenticator.ts";
import { parseJwks } from "../../src/security/jwt.ts";
import { AuthAudit } from "../../src/security/metrics.ts";
import { PermissionDeniedError, UnauthenticatedError } from "../../src/security/principal.ts";
import { SessionStore } from "../../src/security/sessions.ts";
import { jwks, jwt, testKey } from "./jwt-tokens.ts";

const key = testKey("ES256", "k");
let clock = 1_800_000_000_000;
const now = () => clock;
const quiet = { warn: () => {}, info: () => {}, error: () => {}, debug: () => {} };

const KEY_1 = new Uint8Array(64).fill(1);
const KEY_2 = new Uint8Array(64).fill(2);

function setup(o: { tls?: boolean; anonymous?: boolean; users?: string[] } = {}) {
  const users = new Map(
    (o.users ?? ["alice"]).map((u) => [u, new Map([["SCRAM-SHA-512", { storedKey: KEY_1 }]])]),
  );
  const image = { ...EMPTY_IMAGE, users } as unknown as MetadataImage;
  const sessions = new SessionStore(60_000, 10, now);
  const registry = new Registry();
  const auth = new ClientAuthenticator({
    tls: o.tls ?? true,
    mechanisms: ["mtls", "scram", "jwt"],
    anonymous: o.anonymous ?? true,
    certificateUsers: true,
    sessions,
    jwks: { keys: parseJwks(jwks(key)) },
    jwtRules: { issuer: "", audience: "", principalClaim: "sub", clockSkewMs: 0 },
    image: () => image,
    audit: new AuthAudit(registry, quiet as never, now),
    now,
  });
  return { auth, sessions, registry };
}

/** A call over TLS whose verified certificate names `node` or has CN `cn` (or plaintext). */
function call(headers: Record<string, string>, peer: { node?: number; cn?: string } | null = {}) {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  const cert =
    peer === null || (peer.node === undefined && peer.cn === undefined)
      ? undefined
      : {
          subject: { CN: peer.cn ?? `node-${peer.node}` },
          subjectaltname: peer.node === undefined ? "" : `URI:strand:node:${peer.node}`,
          raw: Buffer.alloc(1),
        };
  return {
    metadata,
    getAuthContext: () =>
      peer === null ? {} : { transportSecurityType: "ssl", sslPeerCertificate: cert as never },
  };
}

const alice = { kind: "user", name: "alice", mechanism: "scram" } as const;

describe("the client authenticator", () => {
  it("names users by verified certificate, session and token, else anonymous", async () => {
    const { auth, sessions } = setup();
    expect(await auth.authenticate(call({}, { cn: "app" }))).toEqual({
      kind: "user",
      name: "app",
      mechanism: "mtls",
    });
    const { token } = sessions.open("alice", KEY_1);
    expect(await auth.authenticate(call({ "strand-session": token }))).toEqual(alice);
    const bearer = `Bearer ${jwt(key, { sub: "bob", exp: clock / 1000 + 60 })}`;
    expect(await auth.authenticate(call({ authorization: bearer }))).toEqual({
      kind: "user",
      name: "bob",
      mechanism: "jwt",
    });
    expect(await auth.authenticate(call({}))).toEqual({ kind: "anonymous" });
    expect(await auth.authenticate(call({}, { node: 2 }))).toEqual({ kind: "node", nodeId: 2 });
  });

  it("refuses credentials on a plaintext listener", async () => {
    const { auth, sessions, registry } = setup({ tls: false });
    const { token } = sessions.open("alice", KEY_1);
    await expect(auth.authenticate(call({ "strand-session": token }, null))).rejects.toThrow(
      /refused on a plaintext listener/,
    );
    expect(await registry.metrics()).toMatch(
      /strand_authentication_failures_total\{listener="client",mechanism="scram",reason="plaintext"\} 1/,
    );
  });

  it("refuses anonymous calls when anonymous is disabled, forwarded ones too", async () => {
    const { auth } = setup({ anonymous: false });
    await expect(auth.authenticate(call({}))).rejects.toThrow(/anonymous calls are refused/);
    const forwarded = { "strand-forwarded": "1" };
    await expect(auth.authenticate(call(forwarded, { node: 1 }))).rejects.toThrow(
      /anonymous calls are refused/,
    );
    const asAnonymous = {
      ...forwarded,
      "strand-principal": encodePrincipal({ kind: "anonymous" }),
    };
    await expect(auth.authenticate(call(asAnonymous, { node: 1 }))).rejects.toThrow(
      /anonymous calls are refused/,
    );
  });

  it("refuses unknown, expired and orphaned sessions", async () => {
    const { auth, sessions } = setup({ users: ["alice"] });
    await expect(auth.authenticate(call({ "strand-session": "nope" }))).rejects.toThrow(
      /unknown session token/,
    );
    const { token } = sessions.open("alice", KEY_1);
    clock += 60_001;
    await expect(auth.authenticate(call({ "strand-session": token }))).rejects.toThrow(
      /session expired/,
    );
    const deleted = setup({ users: [] });
    const t2 = deleted.sessions.open("alice", KEY_1).token;
    await expect(deleted.auth.authenticate(call({ "strand-session": t2 }))).rejects.toThrow(
      /no longer exists/,
    );
  });

  it("ends a session opened before the user's password changed, not one opened after", async () => {
    const { auth, sessions } = setup({ users: ["alice"] });
    const before = sessions.open("alice", KEY_2).token;
    const after = sessions.open("alice", KEY_1).token;
    await expect(auth.authenticate(call({ "strand-session": before }))).rejects.toThrow(
      /password of user alice changed/,
    );
    await expect(auth.authenticate(call({ "strand-session": before }))).rejects.toThrow(
      /unknown session token/,
    );
    await expect(auth.authenticate(call({ "strand-session": after }))).resolves.toEqual(alice);
  });

  it("honours a forwarded principal only from a node certificate", async () => {
    const { auth } = setup();
    const forwarded = { "strand-forwarded": "1", "strand-principal": encodePrincipal(alice) };
    expect(await auth.authenticate(call(forwarded, { node: 1 }))).toEqual(alice);
    const fromUser = auth.authenticate(call(forwarded, { cn: "app" }));
    await expect(fromUser).rejects.toThrow(PermissionDeniedError);
    await expect(auth.authenticate(call(forwarded, {}))).rejects.toThrow(/only a cluster node/);
    // A node forwarding without a principal runs the request as nobody, not as itself.
    expect(await auth.authenticate(call({ "strand-forwarded": "1" }, { node: 1 }))).toEqual({
      kind: "anonymous",
    });
    // A node may act as itself but not as another node.
    const asNode = (id: number) => ({
      "strand-forwarded": "1",
      "strand-principal": encodePrincipal({ kind: "node", nodeId: id }),
    });
    expect(await auth.authenticate(call(asNode(1), { node: 1 }))).toEqual({
      kind: "node",
      nodeId: 1,
    });
    await expect(auth.authenticate(call(asNode(3), { node: 1 }))).rejects.toThrow(/may not act/);
    const garbage = { "strand-principal": "{bad" };
    await expect(auth.authenticate(call(garbage, { node: 1 }))).rejects.toThrow(
      UnauthenticatedError,
    );
  });

  it("ignores the principal header without TLS (no identity to check)", async () => {
    const { auth } = setup({ tls: false });
    const forwarded = { "strand-principal": encodePrincipal(alice) };
    expect(await auth.authenticate(call(forwarded, null))).toEqual({ kind: "anonymous" });
  });

  it("bounds the number of sessions, evicting the soonest to expire", () => {
    const store = new SessionStore(1_000, 2, now);
    const a = store.open("a", KEY_1).token;
    store.open("b", KEY_1);
    store.open("c", KEY_1);
    expect(store.size).toBe(2);
    expect(store.lookup(a)).toBe("unknown");
  });
});
