/**
 * Client credentials (docs/security.md): `auth: { scram: { username, password } }` logs in on
 * each broker the client talks to (SCRAM-SHA-512 over AuthService, checking the broker's
 * signature) and sends the session token with every call; `auth: { token }` sends a JWT as
 * `authorization: Bearer`. Credentials ride gRPC call credentials, which grpc-js only attaches
 * to TLS channels, and the SDK refuses `auth` without `tls` outright. A session is renewed
 * before it expires, and dropped when a broker refuses it (restarted, user re-keyed), so the
 * next call logs in again.
 */

import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import {
  AUTHORIZATION_HEADER,
  type AuthServiceClient,
  ScramClient,
  SESSION_HEADER,
  saltedPassword,
} from "@strand/protocol";

/** How the client proves who it is. */
export type ClientAuth =
  /** A SCRAM-SHA-512 user (created with `strand user create`). */
  | { readonly scram: { readonly username: string; readonly password: string } }
  /** A JWT bearer token, or a function that returns a fresh one (called for every call). */
  | { readonly token: string | (() => string | Promise<string>) };

/** Checks `auth` against `tls`: credentials never travel in plaintext. */
export function checkAuth(auth: ClientAuth | undefined, tls: unknown): void {
  if (auth === undefined) return;
  if (tls === undefined || tls === false)
    throw new RangeError("auth needs tls: credentials are never sent over a plaintext connection");
  if ("scram" in auth) {
    const { username, password } = auth.scram;
    if (typeof username !== "string" || username === "" || /[,=]/.test(username))
      throw new RangeError("auth.scram.username must be a non-empty name without ',' or '='");
    if (typeof password !== "string" || password === "")
      throw new RangeError("auth.scram.password must be a non-empty string");
  } else if (
    !("token" in auth) ||
    (typeof auth.token !== "string" && typeof auth.token !== "function")
  )
    throw new RangeError("auth must be { scram: { username, password } } or { token }");
}

/** Most PBKDF2 rounds a user may ask for (the broker's bound too). */
const ITERATIONS_MAX = 1_000_000;

/**
 * The AlterUserScramCredentials upsertion of a new password: a random 32-byte salt and the
 * PBKDF2 salted password, computed here so the password never leaves this process.
 */
export function scramUpsertion(
  name: string,
  password: string,
  iterations: number,
): {
  name: string;
  mechanism: string;
  iterations: number;
  salt: Buffer;
  saltedPassword: Buffer;
} {
  if (!Number.isInteger(iterations) || iterations < 4096 || iterations > ITERATIONS_MAX)
    throw new RangeError(`iterations must be an integer in 4096..${ITERATIONS_MAX}`);
  if (typeof password !== "string" || password === "")
    throw new RangeError("the password must not be empty");
  const salt = randomBytes(32);
  return {
    name,
    mechanism: "SCRAM-SHA-512",
    iterations,
    salt,
    saltedPassword: saltedPassword(password, salt, iterations, "sha512"),
  };
}

/** Renew a session when less than this share of its lifetime is left. */
const RENEW_SHARE = 0.1;

/** One broker's SCRAM session: logs in on first use, again near expiry or after a refusal. */
export class ScramSession {
  readonly #username: string;
  readonly #password: string;
  #auth: AuthServiceClient | null = null;
  #token: string | null = null;
  #renewAtMs = 0;
  #login: Promise<string> | null = null;

  constructor(username: string, password: string) {
    this.#username = username;
    this.#password = password;
  }

  /** Binds the AuthService stub of the broker's channel. */
  bind(auth: AuthServiceClient): void {
    this.#auth = auth;
  }

  /** Forgets the session (the broker refused it): the next call logs in again. */
  invalidate(): void {
    this.#token = null;
  }

  /** The session token, logging in when there is none or it is about to expire. */
  token(): Promise<string> {
    if (this.#token !== null && Date.now() < this.#renewAtMs) return Promise.resolve(this.#token);
    this.#login ??= this.#exchange().finally(() => {
      this.#login = null;
    });
    return this.#login;
  }

  async #exchange(): Promise<string> {
    const auth = this.#auth;
    if (auth === null) throw new Error("SCRAM session used before its channel was bound");
    const client = new ScramClient(this.#username, "sha512");
    const start = await call<{ exchangeId: string; serverFirst: string }>((cb) =>
      auth.ScramStart({ mechanism: "SCRAM-SHA-512", clientFirst: client.first() }, cb),
    );
    const clientFinal = client.final(start.serverFirst, this.#password);
    const finish = await call<{ serverFinal: string; sessionToken: string; lifetimeMs: string }>(
      (cb) => auth.ScramFinish({ exchangeId: start.exchangeId, clientFinal }, cb),
    );
    client.verifyServer(finish.serverFinal);
    const lifetimeMs = Number(finish.lifetimeMs);
    this.#token = finish.sessionToken;
    this.#renewAtMs = Date.now() + lifetimeMs * (1 - RENEW_SHARE);
    return finish.sessionToken;
  }
}

function call<R>(start: (cb: (e: grpc.ServiceError | null, r?: R) => void) => void): Promise<R> {
  return new Promise((resolve, reject) => {
    start((error, response) => {
      if (error !== null) reject(error);
      else if (response === undefined) reject(new Error("empty login response"));
      else resolve(response);
    });
  });
}

/** The credentials of one broker's channel: TLS plus `auth`'s per-call metadata. */
export function authChannelCredentials(
  tls: grpc.ChannelCredentials,
  auth: ClientAuth,
  session: ScramSession | null,
): grpc.ChannelCredentials {
  const callCreds = grpc.credentials.createFromMetadataGenerator((params, callback) => {
    const metadata = new grpc.Metadata();
    // The login itself goes without a session (it is how one gets one).
    if (params.service_url.endsWith("strand.v1.AuthService")) {
      callback(null, metadata);
      return;
    }
    credential(auth, session).then(
      ([name, value]) => {
        metadata.set(name, value);
        callback(null, metadata);
      },
      (error: unknown) => callback(loginError(error)),
    );
  });
  return tls.compose(callCreds);
}

async function credential(
  auth: ClientAuth,
  session: ScramSession | null,
): Promise<[string, string]> {
  if ("token" in auth) {
    const token = typeof auth.token === "string" ? auth.token : await auth.token();
    return [AUTHORIZATION_HEADER, `Bearer ${token}`];
  }
  if (session === null) throw new Error("no SCRAM session");
  return [SESSION_HEADER, await session.token()];
}

/** A failed login, as the status of the call that needed it. */
function loginError(error: unknown): Error & { code: number } {
  const e = error as Partial<grpc.ServiceError>;
  const out = new Error(`login failed: ${e.details ?? (error as Error).message}`) as Error & {
    code: number;
  };
  out.code = e.code ?? grpc.status.UNAUTHENTICATED;
  return out;
}

/** A client interceptor that drops the session when a broker answers UNAUTHENTICATED. */
export function sessionInterceptor(session: ScramSession): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(
      nextCall(options),
      new grpc.RequesterBuilder()
        .withStart((metadata, _listener, next) => {
          next(
            metadata,
            new grpc.ListenerBuilder()
              .withOnReceiveStatus((status, nextStatus) => {
                if (status.code === grpc.status.UNAUTHENTICATED) session.invalidate();
                nextStatus(status);
              })
              .build(),
          );
        })
        .build(),
    );
}
