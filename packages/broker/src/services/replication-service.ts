/**
 * The leader's ReplicationService handlers for the internal gRPC server: one
 * `ReplicaFetch` bidi stream per follower broker. Requests on a stream are answered one at a
 * time, in order (the follower sends the next one after handling an answer); a follower that
 * pipelines more than a few is cut off.
 */
import type * as grpc from "@grpc/grpc-js";
import type { ReplicaFetchRequest__Output } from "@strand/protocol/gen/strand/v1/ReplicaFetchRequest.ts";
import type { ReplicaFetchResponse } from "@strand/protocol/gen/strand/v1/ReplicaFetchResponse.ts";
import type { ReplicaContext } from "../replica/context.ts";
import { answerReplicaFetch } from "../replica/leader/leader-fetch.ts";

/** Requests a follower may have queued on one stream before it is cut off. */
export const STREAM_QUEUED_REQUESTS_MAX = 4;

type ReplicaFetchCall = grpc.ServerDuplexStream<ReplicaFetchRequest__Output, ReplicaFetchResponse>;

/** Open streams, so close() can end them. */
export type OpenStreams = Set<ReplicaFetchCall>;

/** The handlers to register with `server.addService(replicationServiceDefinition(), ...)`. */
export function createReplicationHandlers(
  ctx: ReplicaContext,
  streams: OpenStreams,
): grpc.UntypedServiceImplementation {
  return {
    ReplicaFetch: (call: ReplicaFetchCall) => serveStream(ctx, streams, call),
  };
}

function serveStream(ctx: ReplicaContext, streams: OpenStreams, call: ReplicaFetchCall): void {
  if (ctx.closed) {
    call.end();
    return;
  }
  streams.add(call);
  let open = true;
  let queued = 0;
  let chain: Promise<void> = Promise.resolve();
  const stop = (): void => {
    open = false;
    streams.delete(call);
  };
  call.on("data", (request: ReplicaFetchRequest__Output) => {
    queued += 1;
    if (queued > STREAM_QUEUED_REQUESTS_MAX) {
      ctx.logger.warn(
        { replicaId: request.replicaId },
        "replica fetch stream pipelined too many requests",
      );
      stop();
      call.end();
      return;
    }
    chain = chain
      .then(async () => {
        const response = open ? await answerReplicaFetch(ctx, request, () => open) : null;
        queued -= 1;
        if (response !== null && open) call.write(response);
      })
      .catch((error: unknown) => {
        ctx.logger.error({ replicaId: request.replicaId, err: error }, "replica fetch failed");
        stop();
        call.end();
      });
  });
  call.on("end", () => {
    stop();
    call.end();
  });
  call.on("cancelled", stop);
  call.on("error", stop);
}
