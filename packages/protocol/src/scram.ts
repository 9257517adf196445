/**
 * SCRAM (RFC 5802, with RFC 7677's hash family): the message formats and the math, shared by
 * the SDK (client side: salted password, proof, checking the server's signature) and the
 * broker (server side: checking the proof against StoredKey, signing with ServerKey). Pure:
 * no I/O, no state beyond one exchange's strings. Channel binding is not used ("n,,"), as in
 * Kafka; the channel is TLS anyway.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

/** A SCRAM hash: SHA-512 is what Strand stores; SHA-256 exists for RFC 7677's test vector. */
export type ScramHash = "sha256" | "sha512";

/** The hash of a SCRAM mechanism name, or null when it is not one Strand speaks. */
export function scramHashOf(mechanism: string): ScramHash | null {
  if (mechanism === "SCRAM-SHA-512") return "sha512";
  if (mechanism === "SCRAM-SHA-256") return "sha256";
  return null;
}

/** A SCRAM message that does not parse: the exchange ends (UNAUTHENTICATED). */
export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScramError";
  }
}

/** The keys a server stores for a user (RFC 5802 §3): they verify a proof but cannot make one. */
export interface ScramKeys {
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

/**
 * PBKDF2-HMAC of the password (normalized to NFKC, a stand-in for SASLprep that leaves ASCII
 * unchanged). Costs `iterations` HMACs: the SDK runs it, never the broker.
 */
export function saltedPassword(
  password: string,
  salt: Uint8Array,
  iterations: number,
  hash: ScramHash,
): Buffer {
  const size = hash === "sha512" ? 64 : 32;
  return pbkdf2Sync(password.normalize("NFKC"), salt, iterations, size, hash);
}

function hmac(hash: ScramHash, key: Uint8Array, text: string | Uint8Array): Buffer {
  return createHmac(hash, key).update(text).digest();
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/** StoredKey and ServerKey of a salted password. */
export function scramKeys(
  salted: Uint8Array,
  hash: ScramHash,
): { readonly storedKey: Buffer; readonly serverKey: Buffer } {
  const clientKey = hmac(hash, salted, "Client Key");
  return {
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, salted, "Server Key"),
  };
}

/** A fresh nonce: 24 random bytes in base64 (printable, never ','). */
export function scramNonce(): string {
  return randomBytes(24).toString("base64");
}

/** The attributes of a SCRAM message "a=1,b=2" (values may contain '='). */
function attributes(message: string, expected: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const key = part.slice(0, 1);
    if (part.slice(1, 2) !== "=" || out.has(key))
      throw new ScramError(`malformed SCRAM message: ${JSON.stringify(part.slice(0, 20))}`);
    out.set(key, part.slice(2));
  }
  for (const key of expected)
    if (!out.has(key)) throw new ScramError(`SCRAM message without ${key}=`);
  return out;
}

/** The client-first-message's parts (gs2 header "n,," only: no channel binding, no authzid). */
export interface ClientFirst {
  readonly user: string;
  readonly nonce: string;
  /** client-first-message-bare: part of the AuthMessage. */
  readonly bare: string;
}

/** The longest SCRAM message either side accepts (bounds parsing of network input). */
export const SCRAM_MESSAGE_MAX = 1024;

/** Parses a client-first-message; throws {@link ScramError}. */
export function parseClientFirst(message: string): ClientFirst {
  if (message.length > SCRAM_MESSAGE_MAX) throw new ScramError("SCRAM message too long");
  if (!message.startsWith("n,,"))
    throw new ScramError('client-first-message must start with "n,," (no channel binding)');
  const bare = message.slice(3);
  const a = attributes(bare, ["n", "r"]);
  const user = a.get("n") ?? "";
  const nonce = a.get("r") ?? "";
  if (user === "" || nonce.length < 16 || !/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce))
    throw new ScramError("client-first-message needs a user and a printable nonce of 16+ chars");
  return { user, nonce, bare };
}

/** The server-first-message for a combined nonce, salt and iteration count. */
export function serverFirstMessage(nonce: string, salt: Uint8Array, iterations: number): string {
  return `r=${nonce},s=${Buffer.from(salt).toString("base64")},i=${iterations}`;
}

const GS2_HEADER_B64 = Buffer.from("n,,").toString("base64");

/** The AuthMessage both sides sign (RFC 5802 §3). */
function authMessage(clientFirstBare: string, serverFirst: string, nonce: string): string {
  return `${clientFirstBare},${serverFirst},c=${GS2_HEADER_B64},r=${nonce}`;
}

/**
 * Server side of client-final: checks the nonce and the proof against StoredKey; answers the
 * server-final-message (`v=` ServerSignature). Throws {@link ScramError} on any mismatch.
 */
export function verifyClientFinal(
  clientFinal: string,
  first: ClientFirst,
  serverFirst: string,
  nonce: string,
  keys: ScramKeys,
  hash: ScramHash,
): string {
  if (clientFinal.length > SCRAM_MESSAGE_MAX) throw new ScramError("SCRAM message too long");
  const a = attributes(clientFinal, ["c", "r", "p"]);
  if (a.get("c") !== GS2_HEADER_B64) throw new ScramError("channel binding must be c=biws");
  if (a.get("r") !== nonce) throw new ScramError("the nonce does not match the exchange's");
  const proof = Buffer.from(a.get("p") ?? "", "base64");
  const message = authMessage(first.bare, serverFirst, nonce);
  const clientSignature = hmac(hash, keys.storedKey, message);
  if (proof.length !== clientSignature.length) throw new ScramError("the proof has a wrong size");
  const clientKey = xor(proof, clientSignature);
  const stored = createHash(hash).update(clientKey).digest();
  if (!timingSafeEqual(stored, keys.storedKey)) throw new ScramError("the proof does not verify");
  return `v=${hmac(hash, keys.serverKey, message).toString("base64")}`;
}

/** The client side of one exchange: first message, then final, then the server's check. */
export class ScramClient {
  readonly #user: string;
  readonly #hash: ScramHash;
  readonly #nonce: string;
  #serverSignature: Buffer | null = null;

  /** `nonce` is for tests (RFC vectors); leave it out. */
  constructor(user: string, hash: ScramHash, nonce: string = scramNonce()) {
    this.#user = user;
    this.#hash = hash;
    this.#nonce = nonce;
  }

  /** client-first-message. */
  first(): string {
    return `n,,n=${this.#user},r=${this.#nonce}`;
  }

  /**
   * client-final-message for the server's challenge. `password` is hashed here with the
   * server's salt and iterations, which the client bounds (`iterationsMax`) so a rogue server
   * cannot make it spin.
   */
  final(serverFirst: string, password: string, iterationsMax = 1_000_000): string {
    if (serverFirst.length > SCRAM_MESSAGE_MAX) throw new ScramError("SCRAM message too long");
    const a = attributes(serverFirst, ["r", "s", "i"]);
    const nonce = a.get("r") ?? "";
    if (!nonce.startsWith(this.#nonce) || nonce.length <= this.#nonce.length)
      throw new ScramError("the server's nonce does not extend the client's");
    const iterations = Number(a.get("i"));
    if (!Number.isInteger(iterations) || iterations < 4096 || iterations > iterationsMax)
      throw new ScramError(`the server asks for ${a.get("i")} iterations (4096..${iterationsMax})`);
    const salted = saltedPassword(
      password,
      Buffer.from(a.get("s") ?? "", "base64"),
      iterations,
      this.#hash,
    );
    const clientKey = hmac(this.#hash, salted, "Client Key");
    const storedKey = createHash(this.#hash).update(clientKey).digest();
    const bare = this.first().slice(3);
    const message = authMessage(bare, serverFirst, nonce);
    const proof = xor(clientKey, hmac(this.#hash, storedKey, message));
    this.#serverSignature = hmac(this.#hash, hmac(this.#hash, salted, "Server Key"), message);
    return `c=${GS2_HEADER_B64},r=${nonce},p=${proof.toString("base64")}`;
  }

  /** Checks the server-final-message: a server that does not know the keys cannot sign it. */
  verifyServer(serverFinal: string): void {
    const expected = this.#serverSignature;
    if (expected === null) throw new ScramError("server-final before client-final");
    const a = attributes(serverFinal, []);
    if (a.has("e")) throw new ScramError(`the server refused: ${a.get("e")}`);
    const got = Buffer.from(a.get("v") ?? "", "base64");
    if (got.length !== expected.length || !timingSafeEqual(got, expected))
      throw new ScramError("the server's signature does not verify: not the real cluster?");
  }
}
