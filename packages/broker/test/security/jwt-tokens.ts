/** Test helpers: key pairs as JWKS entries, and signed JWTs. */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from "node:crypto";

/** A signing key with its public JWK. */
export interface TestKey {
  readonly alg: "RS256" | "ES256";
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: Record<string, unknown>;
}

/** A fresh RSA (RS256) or P-256 (ES256) key. */
export function testKey(alg: "RS256" | "ES256", kid: string): TestKey {
  const pair =
    alg === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...pair.publicKey.export({ format: "jwk" }), kid, use: "sig", alg };
  return { alg, kid, privateKey: pair.privateKey, jwk };
}

/** A JWKS document of `keys`. */
export function jwks(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** A JWT signed by `key` (header overrides e.g. { alg: "none" }). */
export function jwt(
  key: TestKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const h = b64({ alg: key.alg, typ: "JWT", kid: key.kid, ...header });
  const p = b64(claims);
  const data = Buffer.from(`${h}.${p}`);
  const signature =
    key.alg === "ES256"
      ? sign("sha256", data, { key: key.privateKey, dsaEncoding: "ieee-p1363" })
      : sign("sha256", data, key.privateKey);
  return `${h}.${p}.${signature.toString("base64url")}`;
}

/** An HS256 token whose secret is the RSA public key's PEM (the RS/HS confusion attack). */
export function hsConfusion(key: TestKey, claims: Record<string, unknown>): string {
  const h = b64({ alg: "HS256", typ: "JWT", kid: key.kid });
  const p = b64(claims);
  const secret = JSON.stringify(key.jwk);
  const mac = createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url");
  return `${h}.${p}.${mac}`;
}
