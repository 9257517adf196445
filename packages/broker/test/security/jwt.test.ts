// JWT validation: a good RS256 and ES256 token names its user; every refusal has its reason.
import { describe, expect, it } from "vitest";
import { JwtError, type JwtRules, parseJwks, verifyJwt } from "../../src/security/jwt.ts";
import { hsConfusion, jwks, jwt, testKey } from "./jwt-tokens.ts";

const rsa = testKey("RS256", "r1");
const ec = testKey("ES256", "e1");
const stranger = testKey("RS256", "r1");
const keys = parseJwks(jwks(rsa, ec));
const rules: JwtRules = {
  issuer: "https://idp",
  audience: "strand",
  principalClaim: "sub",
  clockSkewMs: 30_000,
};
const now = 1_800_000_000_000;
const good = { sub: "alice", iss: "https://idp", aud: ["strand", "other"], exp: now / 1000 + 600 };

function refusal(token: string, r: JwtRules = rules): { reason: string; message: string } {
  try {
    verifyJwt(token, keys, r, now);
  } catch (error) {
    expect(error).toBeInstanceOf(JwtError);
    return { reason: (error as JwtError).reason, message: (error as Error).message };
  }
  throw new Error("token accepted");
}

describe("JWT bearer tokens", () => {
  it("accepts RS256 and ES256 tokens and names the user by the configured claim", () => {
    expect(verifyJwt(jwt(rsa, good), keys, rules, now)).toBe("alice");
    expect(verifyJwt(jwt(ec, good), keys, rules, now)).toBe("alice");
    const byEmail = { ...rules, principalClaim: "email" };
    expect(verifyJwt(jwt(rsa, { ...good, email: "a@x" }), keys, byEmail, now)).toBe("a@x");
  });

  it("refuses alg none, HS256 (key confusion) and unknown algs", () => {
    const [h, p] = jwt(rsa, good).split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${p}.`;
    expect(refusal(none).message).toMatch(/alg "none" is not accepted/);
    expect(refusal(hsConfusion(rsa, good)).message).toMatch(/alg "HS256" is not accepted/);
    expect(refusal(jwt(rsa, good, { alg: "PS256" })).message).toMatch(/PS256/);
    void h;
  });

  it("refuses a token signed by another key, or with a tampered payload", () => {
    expect(refusal(jwt(stranger, good)).reason).toBe("bad_signature");
    const [h, , s] = jwt(rsa, good).split(".");
    const forged = Buffer.from(JSON.stringify({ ...good, sub: "root" })).toString("base64url");
    expect(refusal(`${h}.${forged}.${s}`).reason).toBe("bad_signature");
    expect(refusal(jwt(rsa, good, { kid: "unknown" })).message).toMatch(/no RS256 key with kid/);
  });

  it("refuses expired, not-yet-valid and exp-less tokens, with the skew allowed", () => {
    expect(refusal(jwt(rsa, { ...good, exp: now / 1000 - 31 })).reason).toBe("expired");
    expect(verifyJwt(jwt(rsa, { ...good, exp: now / 1000 - 29 }), keys, rules, now)).toBe("alice");
    expect(refusal(jwt(rsa, { ...good, nbf: now / 1000 + 60 })).message).toMatch(/nbf/);
    const { exp: _, ...noExp } = good;
    expect(refusal(jwt(rsa, noExp)).message).toMatch(/no exp/);
  });

  it("refuses a wrong issuer, audience or a missing principal claim", () => {
    expect(refusal(jwt(rsa, { ...good, iss: "https://evil" })).message).toMatch(/issuer/);
    expect(refusal(jwt(rsa, { ...good, aud: "other" })).message).toMatch(/audience/);
    const { sub: _, ...noSub } = good;
    expect(refusal(jwt(rsa, noSub)).message).toMatch(/no sub claim/);
  });

  it("refuses malformed tokens", () => {
    expect(refusal("a.b").reason).toBe("malformed");
    expect(refusal("!!.!!.!!").reason).toBe("malformed");
    expect(refusal(`${"a".repeat(20_000)}.b.c`).message).toMatch(/too long/);
  });

  it("refuses a JWKS with private keys or without usable keys", () => {
    const priv = { ...rsa.privateKey.export({ format: "jwk" }), kid: "p" };
    expect(() => parseJwks(JSON.stringify({ keys: [priv] }))).toThrow(/private key/);
    expect(() => parseJwks(JSON.stringify({ keys: [] }))).toThrow(/no RSA or EC/);
    expect(() => parseJwks("not json")).toThrow(/not JSON/);
  });
});
