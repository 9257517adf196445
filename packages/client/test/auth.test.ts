// SDK credentials: SCRAM sessions log in once, again near expiry and after a refusal, and
// refuse a broker that cannot prove it knows the user's keys; `auth` needs `tls`.

import {
  type AuthServiceClient,
  parseClientFirst,
  saltedPassword,
  scramKeys,
  serverFirstMessage,
  verifyClientFinal,
} from "@strand/protocol";
import { describe, expect, it, vi } from "vitest";
import { checkAuth, ScramSession, scramUpsertion } from "../src/auth.ts";
import { Strand } from "../src/index.ts";

const salt = Buffer.alloc(16, 9);
const keys = scramKeys(saltedPassword("pw", salt, 4096, "sha512"), "sha512");

/** An AuthService that runs the server side of SCRAM; `lifetimeMs` per session. */
function fakeAuth(lifetimeMs: number, forge = false) {
  let pending: { first: ReturnType<typeof parseClientFirst>; serverFirst: string; nonce: string };
  let logins = 0;
  const stub = {
    ScramStart: (req: { clientFirst: string }, cb: (e: null, r: object) => void) => {
      const first = parseClientFirst(req.clientFirst);
      const nonce = `${first.nonce}server-nonce-123456`;
      pending = { first, nonce, serverFirst: serverFirstMessage(nonce, salt, 4096) };
      cb(null, { exchangeId: "x", serverFirst: pending.serverFirst });
    },
    ScramFinish: (req: { clientFinal: string }, cb: (e: Error | null, r?: object) => void) => {
      try {
        const p = pending;
        const serverFinal = forge
          ? `v=${Buffer.alloc(64).toString("base64")}`
          : verifyClientFinal(req.clientFinal, p.first, p.serverFirst, p.nonce, keys, "sha512");
        logins++;
        cb(null, { serverFinal, sessionToken: `t${logins}`, lifetimeMs: String(lifetimeMs) });
      } catch (error) {
        cb(error as Error);
      }
    },
  };
  return { stub: stub as unknown as AuthServiceClient, logins: () => logins };
}

describe("SDK credentials", () => {
  it("logs in once, renews near expiry and after a refusal", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const auth = fakeAuth(10_000);
      const session = new ScramSession("alice", "pw");
      session.bind(auth.stub);
      expect(await session.token()).toBe("t1");
      expect(await session.token()).toBe("t1");
      vi.advanceTimersByTime(9_100); // past 90% of the lifetime
      expect(await session.token()).toBe("t2");
      session.invalidate();
      expect(await session.token()).toBe("t3");
      expect(auth.logins()).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a wrong password and a broker that forges the server signature", async () => {
    const wrong = new ScramSession("alice", "nope");
    wrong.bind(fakeAuth(10_000).stub);
    await expect(wrong.token()).rejects.toThrow(/does not verify/);
    const forged = new ScramSession("alice", "pw");
    forged.bind(fakeAuth(10_000, true).stub);
    await expect(forged.token()).rejects.toThrow(/server's signature does not verify/);
  });

  it("needs TLS for credentials and checks their shape", () => {
    expect(() => checkAuth({ token: "x" }, undefined)).toThrow(/auth needs tls/);
    expect(() => checkAuth({ scram: { username: "a,b", password: "p" } }, true)).toThrow(
      /without ','/,
    );
    expect(
      () =>
        new Strand({ brokers: ["127.0.0.1:1"], auth: { scram: { username: "a", password: "p" } } }),
    ).toThrow(/auth needs tls/);
  });

  it("salts passwords on the client with enough iterations", () => {
    const u = scramUpsertion("alice", "pw", 4096);
    expect(u.salt).toHaveLength(32);
    expect(u.saltedPassword.equals(saltedPassword("pw", u.salt, 4096, "sha512"))).toBe(true);
    expect(() => scramUpsertion("alice", "pw", 1000)).toThrow(/4096/);
  });
});
