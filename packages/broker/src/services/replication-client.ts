/**
 * The follower wing's {@link ReplicationTransport} over gRPC: one ReplicationService client
 * per leader address, one `ReplicaFetch` bidi stream per connection attempt, messages
 * converted to and from the domain types at this edge.
 */
import type * as grpc from "@grpc/grpc-js";
import type { ReplicaFetchRequest, ReplicaFetchResponse__Output } from "@strand/protocol";
import type {
  ReplicaFetchStream,
  ReplicaFetchStreamListener,
  ReplicationConnection,
  ReplicationTransport,
} from "../replica/follower/types.ts";
import { answerFromWire, queryToWire, replicationClient } from "./replication-wire.ts";

type FetchCall = grpc.ClientDuplexStream<ReplicaFetchRequest, ReplicaFetchResponse__Output>;

/**
 * Replica fetches over the internal listener's ReplicationService.
 * @param credentials - the channels' (TLS: node certificate + CA); insecure unless given
 */
export function grpcReplicationTransport(
  credentials?: grpc.ChannelCredentials,
): ReplicationTransport {
  return {
    connect(address: string, receiveBytesMax: number): ReplicationConnection {
      const client = replicationClient(address, receiveBytesMax, credentials);
      return {
        openStream: (listener) => openStream(client.ReplicaFetch(), listener),
        close: () => client.close(),
      };
    },
  };
}

function openStream(call: FetchCall, listener: ReplicaFetchStreamListener): ReplicaFetchStream {
  call.on("data", (response: ReplicaFetchResponse__Output) =>
    listener.onAnswer(answerFromWire(response)),
  );
  call.on("error", (error: Error) => listener.onError(error));
  call.on("end", () => listener.onEnd());
  return {
    send: (query) => {
      call.write(queryToWire(query));
    },
    cancel: () => {
      // No answer or end after a cancel; the cancel's own error is expected and dropped.
      call.removeAllListeners("data");
      call.removeAllListeners("end");
      call.removeAllListeners("error");
      call.on("error", () => {});
      call.cancel();
    },
  };
}
