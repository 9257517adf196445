/**
 * JWT bearer tokens (RFC 7519) checked against a JSON Web Key Set (RFC 7517), with node:crypto
 * only: RS256 and ES256 signatures; `alg: none`, HS* (a shared secret would have to sit on
 * every broker) and anything else are refused, as is a key whose type does not match the
 * token's alg (the classic RS/HS confusion). `exp` is required; `exp`/`nbf` allow a small
 * clock skew; `iss` and `aud` are checked when configured. The principal is one claim
 * (default `sub`). Pure: the keys and the clock come in.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";

/** Why a token was refused, for the metric's `reason` label. */
export type JwtRefusal = "malformed" | "bad_signature" | "expired" | "claims";

/** A refused token; the message says why, for the client. */
export class JwtError extends Error {
  readonly reason: JwtRefusal;
  constructor(reason: JwtRefusal, message: string) {
    super(message);
    this.name = "JwtError";
    this.reason = reason;
  }
}

/** The signature algorithms accepted. */
export type JwtAlg = "RS256" | "ES256";

/** One verification key of the set. */
export interface Jwk {
  readonly kid: string | null;
  readonly alg: JwtAlg;
  readonly key: KeyObject;
}

/** What a token must meet besides its signature. */
export interface JwtRules {
  /** Required `iss`; "" = any. */
  readonly issuer: string;
  /** A value `aud` must contain; "" = any. */
  readonly audience: string;
  /** The claim naming the user. */
  readonly principalClaim: string;
  readonly clockSkewMs: number;
}

/** The largest token accepted (bounds the work on network input). */
export const JWT_BYTES_MAX = 16 * 1024;

/**
 * Parses a JWKS document: the RSA and EC P-256 public keys it holds. A key of another type,
 * or with `use` other than "sig", is skipped; a set with no usable key is an error.
 */
export function parseJwks(text: string): Jwk[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new Error('a JWKS is an object with a "keys" array');
  const out: Jwk[] = [];
  for (const [i, raw] of keys.entries()) {
    const jwk = raw as Record<string, unknown>;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    const alg =
      jwk.kty === "RSA" ? "RS256" : jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : null;
    if (alg === null || (jwk.alg !== undefined && jwk.alg !== alg)) continue;
    if ("d" in jwk) throw new Error(`keys[${i}] is a private key: publish public keys only`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as never, format: "jwk" });
    } catch (error) {
      throw new Error(`keys[${i}] is not a valid key: ${(error as Error).message}`);
    }
    out.push({ kid: typeof jwk.kid === "string" ? jwk.kid : null, alg, key });
  }
  if (out.length === 0) throw new Error("no RSA or EC P-256 signing key in the set");
  return out;
}

function part(text: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error();
    return value as Record<string, unknown>;
  } catch {
    throw new JwtError("malformed", `the token's ${what} is not base64url JSON`);
  }
}

/** Verifies `token` and returns the user it names; throws {@link JwtError}. */
export function verifyJwt(
  token: string,
  keys: readonly Jwk[],
  rules: JwtRules,
  nowMs: number,
): string {
  if (token.length > JWT_BYTES_MAX) throw new JwtError("malformed", "the token is too long");
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("malformed", "a JWT has three dot-separated parts");
  const [h = "", p = "", s = ""] = parts;
  const header = part(h, "header");
  const alg = header.alg;
  if (alg !== "RS256" && alg !== "ES256")
    throw new JwtError("malformed", `alg ${JSON.stringify(alg)} is not accepted (RS256, ES256)`);
  const kid = typeof header.kid === "string" ? header.kid : null;
  const candidates = keys.filter((k) => k.alg === alg && (kid === null || k.kid === kid));
  if (candidates.length === 0)
    throw new JwtError(
      "bad_signature",
      `no ${alg} key${kid === null ? "" : ` with kid ${kid}`} in the JWKS`,
    );
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, "base64url");
  const ok = candidates.some((k) =>
    verify(
      "sha256",
      data,
      alg === "ES256" ? { key: k.key, dsaEncoding: "ieee-p1363" } : k.key,
      signature,
    ),
  );
  if (!ok)
    throw new JwtError("bad_signature", "the token's signature does not verify against the JWKS");
  return checkClaims(part(p, "payload"), rules, nowMs);
}

function checkClaims(claims: Record<string, unknown>, rules: JwtRules, nowMs: number): string {
  const now = nowMs / 1000;
  const skew = rules.clockSkewMs / 1000;
  if (typeof claims.exp !== "number") throw new JwtError("claims", "the token has no exp claim");
  if (now > claims.exp + skew)
    throw new JwtError(
      "expired",
      `the token expired at ${new Date(claims.exp * 1000).toISOString()}`,
    );
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || now + skew < claims.nbf))
    throw new JwtError("claims", "the token is not valid yet (nbf)");
  if (rules.issuer !== "" && claims.iss !== rules.issuer)
    throw new JwtError("claims", `the token's issuer is not ${rules.issuer}`);
  if (rules.audience !== "") {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(rules.audience))
      throw new JwtError("claims", `the token's audience does not include ${rules.audience}`);
  }
  const name = claims[rules.principalClaim];
  if (typeof name !== "string" || name === "" || name.length > 256)
    throw new JwtError("claims", `the token has no ${rules.principalClaim} claim naming a user`);
  return name;
}
