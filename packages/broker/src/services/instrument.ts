/**
 * Wraps handlers with request metrics (count by method and outcome code, latency by method)
 * and the error -> gRPC status mapping, so no handler can crash the process on client bytes.
 */
import type * as grpc from "@grpc/grpc-js";
import type { ServiceContext } from "./context.ts";
import { codeName, toStatus } from "./wire.ts";

/** The outcome label of a successful answer: NONE or the first Strand error code's name. */
export type OutcomeOf<Res> = (response: Res) => string;

/**
 * Time of one request to leave out of its service time: a fetch's long-poll wait, which the
 * client asked for (max_wait_ms) and which would otherwise dominate the latency histogram.
 */
export interface RequestTiming {
  waitedMs: number;
}

/** A unary handler as a promise-returning function of the call. */
export type UnaryImpl<Req, Res> = (
  call: grpc.ServerUnaryCall<Req, Res>,
  timing: RequestTiming,
) => Promise<Res>;

/** Wraps `impl` into a grpc-js unary handler with metrics and status mapping. */
export function unaryHandler<Req, Res>(
  ctx: ServiceContext,
  method: string,
  impl: UnaryImpl<Req, Res>,
  outcome: OutcomeOf<Res> = () => "NONE",
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const timing: RequestTiming = { waitedMs: 0 };
    const startMs = performance.now();
    const stop = () =>
      ctx.metrics.requestDurationSeconds.observe(
        { method },
        Math.max(0, performance.now() - startMs - timing.waitedMs) / 1000,
      );
    impl(call, timing).then(
      (response) => {
        stop();
        ctx.metrics.requestsTotal.inc({ method, code: outcome(response) });
        callback(null, response);
      },
      (error: unknown) => {
        stop();
        const status = toStatus(error);
        ctx.metrics.requestsTotal.inc({ method, code: statusLabel(status.code) });
        if (status.code === 13)
          ctx.logger.error(
            { method, err: String(error), stack: (error as Error).stack },
            "request failed",
          );
        callback(status, null);
      },
    );
  };
}

/** Counts a streamed request (one per stream) and its end. */
export function countStream(ctx: ServiceContext, method: string, code: string): void {
  ctx.metrics.requestsTotal.inc({ method, code });
}

/** The metrics label of a gRPC status code. */
export function statusLabel(code: number): string {
  const names: Record<number, string> = {
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    8: "RESOURCE_EXHAUSTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    7: "PERMISSION_DENIED",
    16: "UNAUTHENTICATED",
  };
  return `GRPC_${names[code] ?? String(code)}`;
}

/** An answer element that may carry a Strand error code. */
interface ErrorCoded {
  readonly errorCode?: number | null;
}

/** The shapes of answers that report errors in fields rather than as a gRPC status. */
interface ErrorCodedAnswer extends ErrorCoded {
  readonly topics?: readonly ErrorCoded[] | null;
  readonly results?: readonly ErrorCoded[] | null;
}

/**
 * The outcome label of an admin answer: the first non-zero `error_code`, at the top level or
 * in its `topics` / `results`, by name; NONE when there is none. Without it a refused admin
 * call (TOPIC_ALREADY_EXISTS, NOT_CONTROLLER) was counted as a success, code="NONE".
 */
export function errorCodeOutcome(response: ErrorCodedAnswer): string {
  const all = [response, ...(response.topics ?? []), ...(response.results ?? [])];
  const failed = all.find((e) => (e.errorCode ?? 0) !== 0);
  return failed === undefined ? "NONE" : codeName(failed.errorCode ?? 0);
}
