/**
 * THE SINGLE CONSTRUCTION POINT of the node's replica manager: {@link createReplicaManager}
 * builds the `ReplicaManager` (packages/broker/src/replica/) with the gRPC replication
 * transport from services/; the node serves its `replicaFetchLeader()` on the internal listener.
 */
import type * as grpc from "@grpc/grpc-js";
import type { ReplicaManagerOptions } from "../replica/options.ts";
import type { ReplicaFetchLeader } from "../replica/replica-fetch.ts";
import { ReplicaManager } from "../replica/replica-manager.ts";
import type { ReplicaManagerApi } from "../replica/types.ts";
import { grpcReplicationTransport } from "../services/replication-client.ts";

/** The replica manager as the node uses it: the contract plus the leader side of replication. */
export interface NodeReplicaManager extends ReplicaManagerApi {
  /** The leader side of replication, served as ReplicationService on the internal listener. */
  replicaFetchLeader(): ReplicaFetchLeader;
  /** A local replica's high watermark (the log cleaner's bound), undefined when none. */
  highWatermark(topic: string, partition: number): bigint | undefined;
}

/** What the node passes; the replication transport is chosen here. */
export type NodeReplicaManagerOptions = Omit<ReplicaManagerOptions, "replicationTransport"> & {
  /** Credentials of the replica fetchers' channels (TLS: node certificate + CA). */
  readonly replicationCredentials?: grpc.ChannelCredentials;
};

/** Builds the node's replica manager; see the module comment. */
export function createReplicaManager(options: NodeReplicaManagerOptions): NodeReplicaManager {
  const { replicationCredentials, ...rest } = options;
  return new ReplicaManager({
    ...rest,
    replicationTransport: grpcReplicationTransport(replicationCredentials),
  });
}
