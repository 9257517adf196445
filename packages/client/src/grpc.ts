/**
 * The client services of `strand.v1` (Produce, Fetch, Metadata, Admin, Group) loaded from the
 * generated descriptor (no .proto files at run time), one pooled channel per broker address,
 * and a promise wrapper for unary calls with a deadline and an AbortSignal. gRPC failures
 * become typed errors here, the only place that knows gRPC status codes.
 */

import * as grpc from "@grpc/grpc-js";
import { assert, onAbort } from "@strand/base";
import type {
  AdminServiceClient,
  AuthServiceClient,
  FetchRequest,
  FetchResponse__Output,
  FetchServiceClient,
  GroupServiceClient,
  MetadataServiceClient,
  ProduceRequest,
  ProduceResponse__Output,
  ProduceServiceClient,
} from "@strand/protocol";
import {
  channelCredentials,
  clientChannelOptions,
  ErrorCode,
  RETRY_AFTER_HEADER,
  strandGrpc,
  type TlsClientOptions,
} from "@strand/protocol";
import {
  authChannelCredentials,
  type ClientAuth,
  ScramSession,
  sessionInterceptor,
} from "./auth.ts";
import {
  AuthenticationError,
  AuthorizationError,
  abortedError,
  CLIENT_ERROR_CODES,
  ConnectionError,
  StrandClientError,
  TimeoutError,
} from "./errors.ts";
import { RequestStream } from "./request-stream.ts";

/** Interval of keepalive pings on a connection with calls open, in milliseconds. */
export const KEEPALIVE_TIME_MS = 1_000;
/** How long a keepalive ping may go unanswered before the connection is dropped. */
export const KEEPALIVE_TIMEOUT_MS = 1_000;

/**
 * Produce requests in flight on one ProduceStream at most (the broker allows 1,000); more go
 * unary. Far above what a producer sends one broker (maxInFlightPerPartition per partition,
 * partitions merged into one request per broker).
 */
export const PRODUCE_STREAM_IN_FLIGHT = 500;
/** Fetch requests in flight on one FetchStream at most (the broker allows 100). */
export const FETCH_STREAM_IN_FLIGHT = 50;

/** Stubs for the client services of one broker, sharing one channel. */
export class BrokerConnection {
  /** The broker's client address, host:port. */
  readonly address: string;
  /** ProduceService stub. */
  readonly produce: ProduceServiceClient;
  /** FetchService stub. */
  readonly fetch: FetchServiceClient;
  /** MetadataService stub. */
  readonly metadata: MetadataServiceClient;
  /** AdminService stub. */
  readonly admin: AdminServiceClient;
  /** GroupService stub (consumer groups). */
  readonly group: GroupServiceClient;
  /** AuthService stub (SCRAM login). */
  readonly auth: AuthServiceClient;
  /** Produce requests over one ProduceStream; null with call credentials (see below). */
  readonly produceStream: RequestStream<ProduceRequest, ProduceResponse__Output> | null;
  /** Fetch requests over one FetchStream; null with call credentials (see below). */
  readonly fetchStream: RequestStream<FetchRequest, FetchResponse__Output> | null;

  /**
   * @param tls - the channel's credentials (TLS or plaintext, see {@link ConnectionPool})
   * @param auth - credentials sent with every call (TLS only; see auth.ts)
   */
  constructor(
    address: string,
    tls: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    auth?: ClientAuth,
  ) {
    const v1 = strandGrpc().strand.v1;
    this.address = address;
    // SCRAM sessions are per broker: each connection logs in on its own broker.
    const session =
      auth !== undefined && "scram" in auth
        ? new ScramSession(auth.scram.username, auth.scram.password)
        : null;
    const creds = auth === undefined ? tls : authChannelCredentials(tls, auth, session);
    const interceptors = session === null ? [] : [sessionInterceptor(session)];
    this.produce = new v1.ProduceService(address, creds, {
      interceptors,
      ...clientChannelOptions(),
      // While calls are open, ping every second and drop the connection when a ping gets no
      // answer within a second: a stopped or cut-off broker fails its calls (UNAVAILABLE,
      // retried) in ~1-2 s instead of at their deadlines. grpc-js servers accept such pings.
      "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    });
    const options = { channelOverride: this.produce.getChannel(), interceptors };
    this.auth = new v1.AuthService(address, creds, options);
    session?.bind(this.auth);
    this.fetch = new v1.FetchService(address, creds, options);
    this.metadata = new v1.MetadataService(address, creds, options);
    this.admin = new v1.AdminService(address, creds, options);
    this.group = new v1.GroupService(address, creds, options);
    // Streams only without call credentials: a stream authenticates once, when it opens,
    // while a token source is asked again for every unary call (and a SCRAM session renewed).
    const streams = auth === undefined;
    this.produceStream = streams
      ? new RequestStream(() => this.produce.ProduceStream(), PRODUCE_STREAM_IN_FLIGHT)
      : null;
    this.fetchStream = streams
      ? new RequestStream(() => this.fetch.FetchStream(), FETCH_STREAM_IN_FLIGHT)
      : null;
  }

  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void {
    this.produceStream?.close();
    this.fetchStream?.close();
    this.produce.close();
  }
}

/** Connections per broker address, created on first use and reused until close(). */
export class ConnectionPool {
  readonly #connections = new Map<string, BrokerConnection>();
  readonly #credentials: grpc.ChannelCredentials;
  readonly #auth: ClientAuth | undefined;
  #closed = false;

  /**
   * @param tls - TLS to every broker (CA, client certificate); plaintext when absent
   * @param auth - credentials for every call (needs `tls`)
   */
  constructor(tls?: TlsClientOptions | boolean, auth?: ClientAuth) {
    this.#credentials = channelCredentials(tls);
    this.#auth = auth;
  }

  /** The connection to `address` (host:port), opened on first use. */
  get(address: string): BrokerConnection {
    if (this.#closed) throw abortedError(`a request to ${address} after close()`);
    assert(/^[^:]+:\d+$/.test(address) || address.startsWith("["), `bad address ${address}`);
    let connection = this.#connections.get(address);
    if (connection === undefined) {
      connection = new BrokerConnection(address, this.#credentials, this.#auth);
      this.#connections.set(address, connection);
    }
    return connection;
  }

  /** Number of open connections. */
  get size(): number {
    return this.#connections.size;
  }

  /** Closes every connection. */
  close(): void {
    this.#closed = true;
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
  }
}

/** Options of one unary call. */
export interface CallOptions {
  /** The broker address, for error messages. */
  readonly address: string;
  /** The gRPC deadline, in milliseconds from now. */
  readonly timeoutMs: number;
  /** Cancels the call. */
  readonly signal?: AbortSignal | undefined;
  /** What the call does, for error messages (e.g. "Produce"). */
  readonly method: string;
}

/** Starts a unary call: `start(options, callback)` returns the call so it can be cancelled. */
export type UnaryStart<Res> = (
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;

/** Runs a unary call with a deadline; rejects with a typed error. */
export function unary<Res>(start: UnaryStart<Res>, options: CallOptions): Promise<Res> {
  const signal = options.signal;
  if (signal?.aborted === true) return Promise.reject(abortedError(options.method, signal.reason));
  return new Promise<Res>((resolve, reject) => {
    let settled = false;
    let forget: (() => void) | null = null;
    const call = start({ deadline: Date.now() + options.timeoutMs }, (error, response) => {
      forget?.();
      if (settled) return;
      settled = true;
      if (error !== null) reject(fromGrpcError(error, options));
      else if (response === undefined)
        reject(new ConnectionError(`${options.method} to ${options.address}: empty response`));
      else resolve(response);
    });
    // Registered through onAbort: the signal is often a long-lived one (see @strand/base abort.ts).
    if (signal !== undefined && !settled)
      forget = onAbort(signal, () => {
        if (settled) return;
        settled = true;
        call.cancel();
        reject(abortedError(options.method, signal.reason));
      });
  });
}

/** Maps a gRPC failure to a typed error (docs/design.md §6: status codes carry transport meaning). */
export function fromGrpcError(error: grpc.ServiceError, options: CallOptions): StrandClientError {
  const where = `${options.method} to ${options.address}`;
  const base = { broker: options.address, cause: error, brokerMessage: error.details ?? "" };
  switch (error.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(`${where} timed out after ${options.timeoutMs} ms`, {
        ...base,
        code: ErrorCode.REQUEST_TIMED_OUT,
        retriable: true,
      });
    case grpc.status.UNAVAILABLE:
      return new ConnectionError(`${where} failed: ${error.details}`, {
        ...base,
        code: CLIENT_ERROR_CODES.NETWORK_EXCEPTION,
        retriable: true,
      });
    case grpc.status.CANCELLED:
      // Our own aborts never get here (unary settles first), so the broker or the connection
      // cancelled the call: a broker that forced its shutdown with calls in flight. Retriable.
      return new ConnectionError(`${where} was cancelled by the broker (it may be stopping)`, {
        ...base,
        code: CLIENT_ERROR_CODES.NETWORK_EXCEPTION,
        retriable: true,
      });
    case grpc.status.UNAUTHENTICATED:
      return new AuthenticationError(`${where} was refused: ${error.details}`, {
        ...base,
        code: ErrorCode.SASL_AUTHENTICATION_FAILED,
        retriable: false,
      });
    case grpc.status.INVALID_ARGUMENT:
      return new StrandClientError(`${where} was refused: ${error.details}`, {
        ...base,
        code: ErrorCode.INVALID_REQUEST,
        retriable: false,
      });
    case grpc.status.RESOURCE_EXHAUSTED:
      return new StrandClientError(`${where} is too large: ${error.details}`, {
        ...base,
        code: ErrorCode.MESSAGE_TOO_LARGE,
        retriable: false,
      });
    case grpc.status.PERMISSION_DENIED:
      return new AuthorizationError(`${where} was not authorized: ${error.details}`, {
        ...base,
        code: deniedCode(error.details ?? ""),
        retriable: false,
      });
    default:
      return new StrandClientError(`${where} failed (gRPC ${error.code}): ${error.details}`, {
        ...base,
        code: ErrorCode.UNKNOWN,
        retriable: false,
      });
  }
}

/** The authorization code a PERMISSION_DENIED names first (brokers start with it), else CLUSTER_. */
function deniedCode(details: string): typeof ErrorCode.CLUSTER_AUTHORIZATION_FAILED {
  for (const code of [
    ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    ErrorCode.GROUP_AUTHORIZATION_FAILED,
    ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  ]) {
    if (details.startsWith(code.name)) return code;
  }
  return ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
}

/** The retry-after hint of an UNAVAILABLE answer, in milliseconds, or null. */
export function retryAfterMs(error: unknown): number | null {
  if (!(error instanceof StrandClientError)) return null;
  const cause = error.cause as Partial<grpc.ServiceError> | undefined;
  const value = cause?.metadata?.get(RETRY_AFTER_HEADER)[0];
  const ms = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}
