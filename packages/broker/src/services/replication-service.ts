/**
 * The leader's ReplicationService handlers for the internal gRPC server: one
 * `ReplicaFetch` bidi stream per follower broker. Requests on a stream are answered one at a
 * time, in order (the follower sends the next one after handling an answer); a follower that
 * pipelines more than a few is cut off. Messages are converted here; the replica manager's
 * leader wing answers in domain types.
 */
import * as grpc from "@grpc/grpc-js";
import type { ReplicaFetchRequest__Output, ReplicaFetchResponse } from "@strand/protocol";
import { identityMismatch, peerIdentity } from "@strand/protocol";
import { LogLimiter } from "@strand/raft";
import { type ReplicaFetchLeader, ReplicaFetchSession } from "../replica/replica-fetch.ts";
import { answerToWire, queryFromWire } from "./replication-wire.ts";

/** Requests a follower may have queued on one stream before it is cut off. */
export const STREAM_QUEUED_REQUESTS_MAX = 4;

type ReplicaFetchCall = grpc.ServerDuplexStream<ReplicaFetchRequest__Output, ReplicaFetchResponse>;

/** The handlers to register with `server.addService(replicationServiceDefinition(), ...)`. */
export function createReplicationHandlers(
  leader: ReplicaFetchLeader,
): grpc.UntypedServiceImplementation {
  // A refused caller that keeps trying costs a log line per host per interval, not per call.
  const refusals = new LogLimiter();
  return {
    ReplicaFetch: (call: ReplicaFetchCall) => serveStream(leader, call, refusals),
  };
}

function serveStream(
  leader: ReplicaFetchLeader,
  call: ReplicaFetchCall,
  refusals: LogLimiter,
): void {
  if (leader.closed) {
    call.end();
    return;
  }
  const peer = peerIdentity(call);
  const untrack = leader.track(call);
  let open = true;
  let queued = 0;
  const session = new ReplicaFetchSession();
  const stop = (): void => {
    open = false;
    untrack();
  };
  const isOpen = (): boolean => open;
  // Requests are answered one at a time, in order, by one drain loop: a promise chain would
  // add closures and promises per request (two requests per produced record at RF 3).
  const pending: ReplicaFetchRequest__Output[] = [];
  let draining = false;
  const drain = async (): Promise<void> => {
    draining = true;
    let request: ReplicaFetchRequest__Output | undefined;
    try {
      for (;;) {
        request = pending.shift();
        if (request === undefined) break;
        const answer = open ? await leader.answer(queryFromWire(request), isOpen, session) : null;
        queued -= 1;
        if (answer !== null && open) call.write(answerToWire(answer));
      }
    } catch (error) {
      pending.length = 0;
      leader.logger.error({ replicaId: request?.replicaId, err: error }, "replica fetch failed");
      stop();
      call.end();
    } finally {
      draining = false;
    }
  };
  call.on("data", (request: ReplicaFetchRequest__Output) => {
    if (!open) return;
    // With TLS, a follower fetches only as the node its certificate names: a forged replica_id
    // would otherwise advance another follower's ISR state (acks=all without that follower).
    const mismatch = identityMismatch(peer, request.replicaId, "ReplicaFetch replica_id");
    if (mismatch !== null) {
      const peerHost = call.getPeer().replace(/:\d+$/, "");
      const suppressed = refusals.hit(peerHost);
      if (suppressed !== null)
        leader.logger.warn(
          { replicaId: request.replicaId, peer: peerHost, why: mismatch, suppressed },
          "replica fetch refused",
        );
      stop();
      call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: mismatch });
      return;
    }
    queued += 1;
    if (queued > STREAM_QUEUED_REQUESTS_MAX) {
      leader.logger.warn(
        { replicaId: request.replicaId },
        "replica fetch stream pipelined too many requests",
      );
      stop();
      call.end();
      return;
    }
    pending.push(request);
    if (!draining) void drain();
  });
  call.on("end", () => {
    stop();
    call.end();
  });
  call.on("cancelled", stop);
  call.on("error", stop);
}
