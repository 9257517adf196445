/**
 * THE SINGLE CONSTRUCTION POINT of the node's replica manager: {@link createReplicaManager}
 * builds the real `ReplicaManager` (packages/broker/src/replica/) from
 * {@link ReplicaManagerOptions}; its `replicationServiceHandlers()` go on the internal listener.
 * {@link createPlaceholderReplicaManager} answers every partition with LEADER_NOT_AVAILABLE
 * and holds no replicas: for running the node's control paths without a data plane.
 */
import type * as grpc from "@grpc/grpc-js";
import type { MetadataDelta, MetadataImage } from "@strand/controller";
import { ErrorCode } from "@strand/protocol";
import type { ReplicaManagerOptions } from "../replica/options.ts";
import { ReplicaManager } from "../replica/replica-manager.ts";
import type {
  FetchPartition,
  FetchPartitionResult,
  ListOffsetsResult,
  PartitionError,
  PartitionStatus,
  ProducePartition,
  ProducePartitionResult,
  ReplicaManagerApi,
} from "../replica/types.ts";

/** True once {@link createReplicaManager} builds the real replica manager. */
export const REPLICA_MANAGER_AVAILABLE: boolean = true;

/** The replica manager as the node uses it: the contract plus its internal service. */
export interface NodeReplicaManager extends ReplicaManagerApi {
  /** ReplicationService handlers for the internal listener (absent on the placeholder). */
  replicationServiceHandlers?(): grpc.UntypedServiceImplementation;
}

/** Builds the node's replica manager; see the module comment. */
export function createReplicaManager(options: ReplicaManagerOptions): NodeReplicaManager {
  return new ReplicaManager(options);
}

/** The data-plane placeholder (kept for tests of the node without replication). */
export function createPlaceholderReplicaManager(
  options: ReplicaManagerOptions,
): NodeReplicaManager {
  return new PlaceholderReplicaManager(options.deps.brokerId);
}

const NOT_BUILT: PartitionError = Object.freeze({
  errorCode: ErrorCode.LEADER_NOT_AVAILABLE.code,
  errorMessage: `${ErrorCode.LEADER_NOT_AVAILABLE.name}: this build has no replica manager yet (packages/broker/src/node/replica-factory.ts); ${ErrorCode.LEADER_NOT_AVAILABLE.action}`,
});

/** Answers every data-plane request with LEADER_NOT_AVAILABLE; holds no replicas. */
class PlaceholderReplicaManager implements NodeReplicaManager {
  readonly brokerId: number;
  constructor(brokerId: number) {
    this.brokerId = brokerId;
  }
  async produce(
    _o: unknown,
    partitions: readonly ProducePartition[],
  ): Promise<ProducePartitionResult[]> {
    return partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      ...NOT_BUILT,
      baseOffset: -1n,
      logAppendTimeMs: -1n,
      logStartOffset: -1n,
    }));
  }
  async fetch(_o: unknown, partitions: readonly FetchPartition[]): Promise<FetchPartitionResult[]> {
    return partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      ...NOT_BUILT,
      highWatermark: -1n,
      lastStableOffset: -1n,
      logStartOffset: -1n,
      records: Buffer.alloc(0),
    }));
  }
  async listOffsets(): Promise<ListOffsetsResult> {
    return { ...NOT_BUILT, offset: -1n, timestamp: -1n, leaderEpoch: -1 };
  }
  async applyMetadata(_delta: MetadataDelta, _image: MetadataImage): Promise<void> {}
  partitionStatuses(): readonly PartitionStatus[] {
    return [];
  }
  async close(): Promise<void> {}
}
