/**
 * Wraps handlers with request metrics (count by method and outcome code, latency by method)
 * and the error -> gRPC status mapping, so no handler can crash the process on client bytes.
 */
import type * as grpc from "@grpc/grpc-js";
import type { ServiceContext } from "./context.ts";
import { toStatus } from "./wire.ts";

/** The outcome label of a successful answer: NONE or the first Strand error code's name. */
export type OutcomeOf<Res> = (response: Res) => string;

/** A unary handler as a promise-returning function of the call. */
export type UnaryImpl<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>;

/** Wraps `impl` into a grpc-js unary handler with metrics and status mapping. */
export function unaryHandler<Req, Res>(
  ctx: ServiceContext,
  method: string,
  impl: UnaryImpl<Req, Res>,
  outcome: OutcomeOf<Res> = () => "NONE",
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const stop = ctx.metrics.requestDurationSeconds.startTimer({ method });
    impl(call).then(
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
  };
  return `GRPC_${names[code] ?? String(code)}`;
}
