/**
 * The broker's side of a SCRAM-SHA-512 login (RFC 5802) over AuthService: ScramStart parses
 * the client-first-message and answers the salt and iterations of the user's credential with
 * a combined nonce; ScramFinish checks the proof against StoredKey and answers the server
 * signature with a session token. An exchange lives a few seconds and the number pending is
 * bounded. An unknown user gets a made-up salt (stable per user, from a per-broker secret) so
 * the answer does not tell which users exist; the proof then fails like a wrong password.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { MetadataImage } from "@strand/controller";
import {
  type ClientFirst,
  parseClientFirst,
  ScramError,
  scramNonce,
  serverFirstMessage,
  verifyClientFinal,
} from "@strand/protocol";
import { UnauthenticatedError } from "./principal.ts";

/** How long a client may take between ScramStart and ScramFinish. */
export const SCRAM_EXCHANGE_TIMEOUT_MS = 10_000;
/** Most exchanges pending at once; more are refused until older ones finish or expire. */
export const SCRAM_EXCHANGES_MAX = 1_000;
/** The one SCRAM mechanism Strand takes (its name in credentials and logins). */
export const SCRAM_MECHANISM = "SCRAM-SHA-512";
const MECHANISM = SCRAM_MECHANISM;
const FAKE_ITERATIONS = 4096;

interface Pending {
  readonly first: ClientFirst;
  readonly serverFirst: string;
  readonly nonce: string;
  readonly startedMs: number;
}

/** A failed login: why, for the metric's `reason` label (the client sees the message only). */
export class LoginError extends UnauthenticatedError {
  readonly reason: "bad_credentials" | "malformed" | "expired" | "busy";
  constructor(reason: LoginError["reason"], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** See the module comment. */
export class ScramServer {
  readonly #pending = new Map<string, Pending>();
  readonly #secret = randomBytes(32);
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** ScramStart: the exchange id and server-first-message. */
  start(
    image: MetadataImage,
    mechanism: string,
    clientFirst: string,
  ): { exchangeId: string; serverFirst: string } {
    if (mechanism !== MECHANISM)
      throw new LoginError("malformed", `mechanism ${mechanism} is not supported (${MECHANISM})`);
    const first = parse(() => parseClientFirst(clientFirst));
    this.#expire();
    if (this.#pending.size >= SCRAM_EXCHANGES_MAX)
      throw new LoginError("busy", "too many logins in progress on this broker; retry shortly");
    const credential = image.users.get(first.user)?.get(MECHANISM);
    const salt = credential?.salt ?? this.#fakeSalt(first.user);
    const iterations = credential?.iterations ?? FAKE_ITERATIONS;
    const nonce = first.nonce + scramNonce();
    const serverFirst = serverFirstMessage(nonce, salt, iterations);
    const exchangeId = randomBytes(16).toString("base64url");
    this.#pending.set(exchangeId, { first, serverFirst, nonce, startedMs: this.#now() });
    return { exchangeId, serverFirst };
  }

  /**
   * ScramFinish: the user, the StoredKey the login proved and the server-final-message;
   * throws {@link LoginError}.
   */
  finish(
    image: MetadataImage,
    exchangeId: string,
    clientFinal: string,
  ): { user: string; storedKey: Uint8Array; serverFinal: string } {
    this.#expire();
    const pending = this.#pending.get(exchangeId);
    this.#pending.delete(exchangeId);
    if (pending === undefined)
      throw new LoginError("expired", "no such SCRAM exchange (expired or finished): start again");
    const user = pending.first.user;
    const credential = image.users.get(user)?.get(MECHANISM);
    const failed = `SCRAM-SHA-512 login as ${user} failed: unknown user or wrong password`;
    if (credential === undefined) throw new LoginError("bad_credentials", failed);
    try {
      const serverFinal = verifyClientFinal(
        clientFinal,
        pending.first,
        pending.serverFirst,
        pending.nonce,
        credential,
        "sha512",
      );
      return { user, storedKey: credential.storedKey, serverFinal };
    } catch (error) {
      if (error instanceof ScramError && /does not verify/.test(error.message))
        throw new LoginError("bad_credentials", failed);
      throw new LoginError("malformed", `SCRAM login failed: ${(error as Error).message}`);
    }
  }

  #fakeSalt(user: string): Buffer {
    return createHmac("sha256", this.#secret).update(user).digest().subarray(0, 16);
  }

  #expire(): void {
    const oldest = this.#now() - SCRAM_EXCHANGE_TIMEOUT_MS;
    for (const [id, p] of this.#pending) {
      if (p.startedMs > oldest) break;
      this.#pending.delete(id);
    }
  }
}

function parse<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw new LoginError("malformed", `SCRAM login failed: ${(error as Error).message}`);
  }
}
