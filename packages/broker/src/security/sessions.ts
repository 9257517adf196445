/**
 * SCRAM sessions (docs/security.md): a successful login gets a random token that later calls
 * carry in the `strand-session` header. Tokens live in this broker's memory only (a restart
 * logs everyone out; the SDK logs in again), expire after `authentication.session.lifetime.ms`
 * and are bounded in number: a login beyond the bound evicts the session that expires first.
 * The clock is injected.
 */
import { createHash, randomBytes } from "node:crypto";
import { assert } from "@strand/base";

/** A live session. */
export interface Session {
  readonly user: string;
  /**
   * The StoredKey of the credential the login proved: a session outlives neither its user
   * nor a new password (a different key).
   */
  readonly storedKey: Uint8Array;
  readonly expiresAtMs: number;
}

/** Why a token was refused. */
export type SessionRefusal = "unknown" | "expired";

/** See the module comment. */
export class SessionStore {
  // Keyed by the token's hash: a heap dump or a debug print of the map shows no usable token.
  readonly #sessions = new Map<string, Session>();
  readonly #lifetimeMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(lifetimeMs: number, max: number, now: () => number) {
    assert(lifetimeMs > 0 && max > 0, "session lifetime and bound must be positive");
    this.#lifetimeMs = lifetimeMs;
    this.#max = max;
    this.#now = now;
  }

  /** Live sessions (for tests and metrics). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session for `user`, who logged in with `storedKey`: the token and its lifetime. */
  open(
    user: string,
    storedKey: Uint8Array,
  ): { readonly token: string; readonly lifetimeMs: number } {
    this.#evictExpired();
    if (this.#sessions.size >= this.#max) this.#evictSoonest();
    const token = randomBytes(32).toString("base64url");
    this.#sessions.set(key(token), {
      user,
      storedKey,
      expiresAtMs: this.#now() + this.#lifetimeMs,
    });
    return { token, lifetimeMs: this.#lifetimeMs };
  }

  /** The session of `token`, or why there is none. An expired session is dropped. */
  lookup(token: string): Session | SessionRefusal {
    const k = key(token);
    const session = this.#sessions.get(k);
    if (session === undefined) return "unknown";
    if (session.expiresAtMs <= this.#now()) {
      this.#sessions.delete(k);
      return "expired";
    }
    return session;
  }

  /**
   * Ends the sessions of `user` (deleted), or only those opened with another key than
   * `current` (a new password): a login with the new password keeps its session.
   */
  closeUser(user: string, current?: Uint8Array): void {
    const keep = current === undefined ? null : Buffer.from(current);
    for (const [k, s] of this.#sessions)
      if (s.user === user && (keep === null || !keep.equals(Buffer.from(s.storedKey))))
        this.#sessions.delete(k);
  }

  #evictExpired(): void {
    const now = this.#now();
    for (const [k, s] of this.#sessions) if (s.expiresAtMs <= now) this.#sessions.delete(k);
  }

  #evictSoonest(): void {
    // Sessions are inserted with a fixed lifetime, so the first in the map expires first.
    const first = this.#sessions.keys().next();
    if (first.done !== true) this.#sessions.delete(first.value);
  }
}

function key(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}
