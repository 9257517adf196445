/**
 * A bidi stream of correlated requests (ProduceStream, FetchStream): each message carries a
 * correlation id and a request that is served exactly as its unary method serves it; each
 * answer goes back tagged with the same id, in the order the requests complete. One HTTP/2
 * stream for many requests spares both ends a stream, headers and call objects per request
 * (docs/client.md, "Transport").
 *
 * The caller is authenticated on the first request and again on the first request after
 * {@link STREAM_REAUTH_MS}: who a stream's caller is does not change, but a session can end
 * (a new password, expiry) or a token expire, and the stream must not outlive it
 * (docs/security.md). A request that fails as a whole (bad bytes, refused credentials)
 * ends the stream with that status, as it would have ended its unary call; requests beyond
 * the in-flight bound end it with INVALID_ARGUMENT; a node shutdown ends it UNAVAILABLE.
 */
import type * as grpc from "@grpc/grpc-js";
import { InvalidArgumentError } from "@strand/protocol";
import { type CallAccess, callAccess } from "./access.ts";
import { callSignal } from "./call-signal.ts";
import type { ServiceContext } from "./context.ts";
import { countStream, type OutcomeOf, type RequestTiming, statusLabel } from "./instrument.ts";
import { toStatus, UnavailableError } from "./wire.ts";

/**
 * How long a stream's authentication stands before a request checks it again: the bound on
 * how long a stream outlives a session that ended or a token that expired.
 */
export const STREAM_REAUTH_MS = 1_000;

/** A stream message: a request and its correlation id. */
export interface TaggedRequest<Req> {
  readonly correlationId: string;
  readonly request: Req | null;
}

/** An answer as the stream carries it. */
export interface TaggedResponse<Res> {
  readonly correlationId: string;
  readonly response: Res;
}

/** How one request of the stream is served. */
export interface StreamServe<Req, Res> {
  /** The method name, for metrics and errors. */
  readonly method: string;
  /** Requests in flight on one stream at most. */
  readonly inFlightMax: number;
  /**
   * Serves one request. `signal` fires when the stream is cancelled or the node shuts down;
   * a long poll parks on it.
   */
  serve(request: Req, access: CallAccess, signal: AbortSignal, timing: RequestTiming): Promise<Res>;
  /** The outcome label of an answer (metrics). */
  readonly outcome: OutcomeOf<Res>;
}

/** Serves `call` as a stream of correlated requests; see the module comment. */
export function serveRequestStream<Req, Res>(
  ctx: ServiceContext,
  call: grpc.ServerDuplexStream<TaggedRequest<Req>, TaggedResponse<Res>>,
  how: StreamServe<Req, Res>,
): void {
  const method = how.method;
  let access: Promise<CallAccess> | null = null;
  let accessAtMs = 0;
  /** The settled `access`, so a request need not await it (null while a check runs). */
  let granted: CallAccess | null = null;
  let inFlight = 0;
  let failed = false;
  let ended = false;
  const cancel = callSignal(ctx.shutdownSignal, call);
  const finishIfDone = () => {
    if (ended && inFlight === 0 && !failed) call.end();
  };
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    const status = toStatus(error);
    countStream(ctx, method, statusLabel(status.code));
    call.emit("error", status);
  };
  // A shutdown ends the stream UNAVAILABLE; the client's cancel only aborts parked requests.
  const onShutdown = () =>
    fail(new UnavailableError("the broker is shutting down; reconnect to another broker"));
  const shutdown = ctx.shutdownSignal;
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener("abort", onShutdown, { once: true });
  call.on("data", (message: TaggedRequest<Req>) => {
    if (failed) return;
    if (inFlight >= how.inFlightMax)
      return fail(
        new InvalidArgumentError(
          `more than ${how.inFlightMax} ${method} requests in flight on one stream; wait for responses`,
        ),
      );
    if (message.request === null)
      return fail(new InvalidArgumentError(`request ${message.correlationId} has no request body`));
    inFlight++;
    const now = performance.now();
    if (access === null || now - accessAtMs >= STREAM_REAUTH_MS) {
      // Chained after the previous check, so requests are served in the order they came
      // (an idempotent producer's sequence numbers expect it) even if a check is slow.
      const previous = access;
      const next = callAccess(ctx, call, { fresh: previous !== null });
      const checked = previous === null ? next : previous.then(() => next);
      access = checked;
      accessAtMs = now;
      granted = null;
      checked.then(
        (a) => {
          if (access === checked) granted = a;
        },
        () => {},
      );
    }
    void serveOne(message.correlationId, message.request, access);
  });
  // One async function per request rather than a chain of thens: fewer closures and
  // promises for every request of the stream.
  const serveOne = async (
    correlationId: string,
    request: Req,
    callerAccess: Promise<CallAccess>,
  ): Promise<void> => {
    const timing: RequestTiming = { waitedMs: 0 };
    const startMs = performance.now();
    let response: Res;
    try {
      // Once the caller is known, skip awaiting it again (a promise turn per request).
      const a = granted ?? (await callerAccess);
      response = await how.serve(request, a, cancel.signal, timing);
    } catch (error) {
      inFlight--;
      observe(ctx, method, startMs, timing);
      fail(error);
      return;
    }
    inFlight--;
    observe(ctx, method, startMs, timing);
    ctx.metrics.requestsTotal.inc({ method, code: how.outcome(response) });
    if (!failed && !call.cancelled) call.write({ correlationId, response });
    finishIfDone();
  };
  call.on("end", () => {
    ended = true;
    finishIfDone();
  });
  ctx.metrics.openStreams.inc({ method });
  call.on("close", () => {
    ctx.metrics.openStreams.dec({ method });
    shutdown.removeEventListener("abort", onShutdown);
    cancel.answered();
  });
  call.on("error", () => undefined);
}

/** Records one request's service time, its long-poll wait left out (as unary calls do). */
function observe(ctx: ServiceContext, method: string, startMs: number, timing: RequestTiming) {
  ctx.metrics.requestDurationSeconds.observe(
    { method },
    Math.max(0, performance.now() - startMs - timing.waitedMs) / 1000,
  );
}
