/**
 * Requests to one broker over one long-lived bidi stream (ProduceStream, FetchStream) instead
 * of a unary call each (docs/client.md, "Transport").
 *
 * Why: every unary call is a new HTTP/2 stream, and in Node a new HTTP/2 stream per request
 * makes about a quarter of everything the process allocates survive young-generation GC, so
 * scavenges take 10-50 ms instead of 1-4 (docs/performance.md, "Light-load latency"): that,
 * not the network, made the producer's and consumer's latency tail. On a stream a request is
 * one message tagged with a correlation id, answered by one tagged response.
 *
 * Each request keeps the unary contract: a deadline, an AbortSignal, and the same typed errors
 * (a failed stream fails every request on it as its status would have failed a unary call).
 * The stream ends after {@link STREAM_IDLE_MS} without requests, so an idle client holds no
 * call open and a process that forgets close() still exits soon. A broker that does not know
 * the method (UNIMPLEMENTED, an older version) fails the requests on it with a retriable error
 * and the channel is never used again: callers go unary.
 */

import * as grpc from "@grpc/grpc-js";
import { assert, onAbort } from "@strand/base";
import {
  abortedError,
  CLIENT_ERROR_CODES,
  ConnectionError,
  type StrandClientError,
} from "./errors.ts";
import { type CallOptions, fromGrpcError, type UnaryStart, unary } from "./grpc.ts";

/** How long a stream stays open without requests before the client ends it, in ms. */
export const STREAM_IDLE_MS = 500;

/** A request as the stream carries it. */
export interface Tagged<Req> {
  readonly correlationId: number;
  readonly request: Req;
}

/** A response as the stream carries it (proto-loader's output: uint64 as a decimal string). */
export interface TaggedResponse<Res> {
  readonly correlationId: string;
  readonly response: Res | null;
}

/** Opens the stream: e.g. `() => stub.ProduceStream()`. */
export type OpenStream<Req, Res> = () => grpc.ClientDuplexStream<Tagged<Req>, TaggedResponse<Res>>;

interface Waiting<Res> {
  readonly options: CallOptions;
  readonly deadlineMs: number;
  readonly resolve: (response: Res) => void;
  readonly reject: (error: StrandClientError) => void;
  /** Drops the abort callback (see @strand/base abort.ts). */
  readonly forget: (() => void) | null;
}

/** One open stream and the requests waiting on it. */
class Open<Req, Res> {
  readonly call: grpc.ClientDuplexStream<Tagged<Req>, TaggedResponse<Res>>;
  readonly waiting = new Map<number, Waiting<Res>>();
  deadlineTimer: NodeJS.Timeout | null = null;
  /** When deadlineTimer fires (valid while it is set). */
  deadlineTimerAtMs = 0;
  idleTimer: NodeJS.Timeout | null = null;
  /** When the last request on it settled (valid while none waits). */
  idleSinceMs = 0;
  ended = false;

  constructor(call: grpc.ClientDuplexStream<Tagged<Req>, TaggedResponse<Res>>) {
    this.call = call;
  }
}

/** The request stream of one method on one broker connection, opened on demand. */
export class RequestStream<Req, Res> {
  readonly #open: OpenStream<Req, Res>;
  readonly #inFlightMax: number;
  #current: Open<Req, Res> | null = null;
  #nextId = 0;
  #unsupported = false;
  #closed = false;

  /**
   * @param open - opens the stream
   * @param inFlightMax - requests in flight on one stream at most, below the broker's bound
   *   for the method (a broker ends a stream that passes it); callers go unary beyond it
   */
  constructor(open: OpenStream<Req, Res>, inFlightMax: number) {
    assert(Number.isInteger(inFlightMax) && inFlightMax > 0, "inFlightMax must be positive");
    this.#open = open;
    this.#inFlightMax = inFlightMax;
  }

  /** True when a request may go on the stream now; otherwise the caller sends it unary. */
  get available(): boolean {
    if (this.#unsupported || this.#closed) return false;
    return this.#current === null || this.#current.waiting.size < this.#inFlightMax;
  }

  /** Sends `request`; resolves with its response or rejects with a typed error. */
  request(request: Req, options: CallOptions): Promise<Res> {
    const signal = options.signal;
    if (signal?.aborted === true)
      return Promise.reject(abortedError(options.method, signal.reason));
    assert(this.available, "request() on a stream without room: check available first");
    const stream = this.#stream();
    const id = ++this.#nextId;
    return new Promise<Res>((resolve, reject) => {
      const forget =
        signal === undefined
          ? null
          : onAbort(signal, () =>
              this.#settle(stream, id)?.reject(abortedError(options.method, signal.reason)),
            );
      const deadlineMs = Date.now() + options.timeoutMs;
      stream.waiting.set(id, { options, deadlineMs, resolve, reject, forget });
      // Requests on one stream may have different timeouts (producers or consumers with other
      // settings share it): an earlier deadline than the timer's moves the timer.
      if (stream.deadlineTimer === null || deadlineMs < stream.deadlineTimerAtMs) {
        if (stream.deadlineTimer !== null) clearTimeout(stream.deadlineTimer);
        this.#armDeadline(stream, deadlineMs);
      }
      stream.call.write({ correlationId: id, request });
    });
  }

  /** Ends the stream for good; requests on it fail as aborted by close(). */
  close(): void {
    this.#closed = true;
    const stream = this.#current;
    if (stream === null) return;
    this.#fail(stream, () => abortedError("a request on a closed client"));
    stream.call.cancel();
  }

  #stream(): Open<Req, Res> {
    if (this.#current !== null && !this.#current.ended) return this.#current;
    const stream = new Open(this.#open());
    this.#current = stream;
    stream.call.on("data", (message: TaggedResponse<Res>) => {
      const waiting = this.#settle(stream, Number(message.correlationId));
      if (waiting === undefined) return; // timed out or aborted already
      if (message.response === null)
        waiting.reject(
          new ConnectionError(
            `${waiting.options.method} to ${waiting.options.address}: empty response`,
          ),
        );
      else waiting.resolve(message.response);
    });
    stream.call.on("error", (error: Partial<grpc.ServiceError>) => {
      // A stream error without a gRPC status (a write on a stream grpc-js already closed) is
      // a connection problem, retriable like UNAVAILABLE.
      const status =
        typeof error.code === "number"
          ? (error as grpc.ServiceError)
          : ({
              code: grpc.status.UNAVAILABLE,
              details: String(error.message),
            } as grpc.ServiceError);
      if (status.code === grpc.status.UNIMPLEMENTED) {
        this.#unsupported = true;
        this.#fail(stream, (o) => olderBroker(o, status));
      } else this.#fail(stream, (o) => fromGrpcError(status, o));
    });
    stream.call.on("end", () => {
      // The broker answers everything before it ends a stream cleanly: nothing should be left.
      this.#fail(stream, (o) =>
        fromGrpcError(
          {
            code: grpc.status.UNAVAILABLE,
            details: "the broker ended the stream",
          } as grpc.ServiceError,
          o,
        ),
      );
    });
    return stream;
  }

  /** Removes request `id` from `stream` and returns it, or undefined when it was settled. */
  #settle(stream: Open<Req, Res>, id: number): Waiting<Res> | undefined {
    const waiting = stream.waiting.get(id);
    if (waiting === undefined) return undefined;
    stream.waiting.delete(id);
    waiting.forget?.();
    if (stream.waiting.size === 0 && !stream.ended) {
      stream.idleSinceMs = Date.now();
      if (stream.idleTimer === null) this.#armIdle(stream, STREAM_IDLE_MS);
    }
    return waiting;
  }

  /** Fails every request on `stream` with the error `errorFor` makes for it. */
  #fail(stream: Open<Req, Res>, errorFor: (options: CallOptions) => StrandClientError): void {
    if (stream.ended) return;
    stream.ended = true;
    if (this.#current === stream) this.#current = null;
    if (stream.deadlineTimer !== null) clearTimeout(stream.deadlineTimer);
    if (stream.idleTimer !== null) clearTimeout(stream.idleTimer);
    for (const [id, waiting] of [...stream.waiting]) {
      this.#settle(stream, id);
      waiting.reject(errorFor(waiting.options));
    }
  }

  /**
   * One timer per stream, at the earliest deadline: requests past theirs fail as a unary
   * call's DEADLINE_EXCEEDED would (the stream stays open; a late answer is dropped). Neither
   * timer is cleared when requests come and go, so a request costs no timer of its own (only
   * one with an earlier deadline than the timer's moves it).
   */
  #armDeadline(stream: Open<Req, Res>, atMs: number): void {
    stream.deadlineTimerAtMs = atMs;
    stream.deadlineTimer = setTimeout(
      () => {
        stream.deadlineTimer = null;
        const now = Date.now();
        let next = Number.POSITIVE_INFINITY;
        for (const [id, waiting] of [...stream.waiting]) {
          if (waiting.deadlineMs > now) {
            next = Math.min(next, waiting.deadlineMs);
            continue;
          }
          this.#settle(stream, id);
          waiting.reject(fromGrpcError(DEADLINE_EXCEEDED, waiting.options));
        }
        if (next !== Number.POSITIVE_INFINITY && !stream.ended) this.#armDeadline(stream, next);
      },
      Math.max(0, atMs - Date.now()),
    );
    stream.deadlineTimer.unref();
  }

  /** Ends `stream` once it has had no request for STREAM_IDLE_MS. */
  #armIdle(stream: Open<Req, Res>, ms: number): void {
    stream.idleTimer = setTimeout(() => {
      stream.idleTimer = null;
      // Busy again: the next settle that leaves it empty arms the timer anew.
      if (stream.ended || stream.waiting.size > 0) return;
      const quietMs = Date.now() - stream.idleSinceMs;
      if (quietMs < STREAM_IDLE_MS) {
        this.#armIdle(stream, STREAM_IDLE_MS - quietMs);
        return;
      }
      stream.ended = true;
      if (this.#current === stream) this.#current = null;
      if (stream.deadlineTimer !== null) clearTimeout(stream.deadlineTimer);
      stream.call.end();
    }, ms);
    stream.idleTimer.unref();
  }
}

/**
 * Sends `request` on `stream` when there is one with room, else as a unary call (`start`
 * begins it): same answer, same errors either way.
 */
export function streamOrUnary<Req, Res>(
  stream: RequestStream<Req, Res> | null,
  request: Req,
  start: (request: Req, ...rest: Parameters<UnaryStart<Res>>) => ReturnType<UnaryStart<Res>>,
  options: CallOptions,
): Promise<Res> {
  if (stream?.available === true) return stream.request(request, options);
  return unary<Res>((o, cb) => start(request, o, cb), options);
}

const DEADLINE_EXCEEDED = {
  code: grpc.status.DEADLINE_EXCEEDED,
  details: "deadline exceeded",
} as grpc.ServiceError;

/** A request lost to a broker without the stream method: retriable, the retry goes unary. */
function olderBroker(options: CallOptions, status: grpc.ServiceError): StrandClientError {
  return new ConnectionError(
    `${options.method} to ${options.address}: the broker has no stream method (an older version); retrying unary`,
    {
      broker: options.address,
      cause: status,
      brokerMessage: status.details ?? "",
      code: CLIENT_ERROR_CODES.NETWORK_EXCEPTION,
      retriable: true,
    },
  );
}
