/**
 * The contract between the broker's services (gRPC handlers, routing) and the replica manager
 * (partition logs, replication, high watermark). Services translate protobuf to these types and
 * back; the replica manager never sees protobuf or gRPC status codes, only Strand error codes
 * (test/layering.test.ts keeps generated code and gRPC out of replica/).
 */
import type {
  AlterPartitionRequest,
  AlterPartitionResponse,
  MetadataDelta,
  MetadataImage,
} from "@strand/controller";

/** Where to find a partition's current leader, sent with NOT_LEADER_OR_FOLLOWER answers. */
export interface LeaderHint {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** The leader's advertised client address. */
  readonly host: string;
  readonly port: number;
}

/** Produce acknowledgement mode (Kafka's acks 0, 1, -1). */
export type AcksMode = "none" | "leader" | "all";

/** Per-partition outcome shared by every response: a Strand error code and what to do. */
export interface PartitionError {
  /** Strand error code (packages/protocol errors.ts); 0 = NONE. */
  readonly errorCode: number;
  /** Human message saying what to do; empty on success. */
  readonly errorMessage: string;
  /** Present with NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH when the leader is known. */
  readonly leaderHint?: LeaderHint;
}

/** Records for one partition: one or more whole RecordBatch v2 batches. */
export interface ProducePartition {
  readonly topic: string;
  readonly partition: number;
  readonly records: Buffer;
}

/** Result of producing to one partition. */
export interface ProducePartitionResult extends PartitionError {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first batch's first record (a duplicate's original); -1n on error. */
  readonly baseOffset: bigint;
  /**
   * The base offset of each batch of the produce, in order; a retried duplicate has its
   * original offset, so they need not be contiguous. Empty on error and for acks=none.
   */
  readonly batchBaseOffsets: readonly bigint[];
  /** Broker append time for LogAppendTime topics, else -1n. */
  readonly logAppendTimeMs: bigint;
  readonly logStartOffset: bigint;
}

/** Options of a produce call. */
export interface ProduceOptions {
  readonly acks: AcksMode;
  /** How long acks=all may wait for the high watermark. */
  readonly timeoutMs: number;
}

/** One partition of a fetch. */
export interface FetchPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  /** The leader epoch the client believes current; -1 skips the fencing check. */
  readonly currentLeaderEpoch: number;
  readonly partitionMaxBytes: number;
}

/** Options of a consumer fetch (a long poll). */
export interface FetchOptions {
  /** Answer as soon as this many bytes are available (default 1). */
  readonly minBytes: number;
  /** Soft cap on the whole response. */
  readonly maxBytes: number;
  /** Longest wait for minBytes. */
  readonly maxWaitMs: number;
  /** Aborts the wait (client cancelled). */
  readonly signal?: AbortSignal;
  /**
   * Told how long the fetch stayed parked once it wakes, so the edge can measure the long-poll
   * wait apart from the service time (a fetch's SLO is about the latter).
   */
  readonly onWaited?: (ms: number) => void;
}

/** Result of fetching one partition. */
export interface FetchPartitionResult extends PartitionError {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: bigint;
  readonly lastStableOffset: bigint;
  readonly logStartOffset: bigint;
  /** Whole batches, all below the high watermark. */
  readonly records: Buffer;
}

/** What ListOffsets asks for. */
export type OffsetSpec = "earliest" | "latest" | { readonly timestamp: bigint };

/** Result of ListOffsets for one partition. */
export interface ListOffsetsResult extends PartitionError {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly leaderEpoch: number;
}

/** A replica's state, for DescribeTopics, metrics and health. */
export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  readonly role: "leader" | "follower";
  readonly leaderEpoch: number;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  readonly highWatermark: bigint;
  /** As the leader sees it (followers report the controller's ISR). */
  readonly isr: readonly number[];
  /** Bytes of the log's segments. */
  readonly sizeBytes: number;
  /** Segments of the log. */
  readonly segments: number;
}

/** A block of producer ids from the active controller (AllocateProducerIds), or its error. */
export interface ProducerIdBlockResult {
  /** Strand error code; 0 = NONE. */
  readonly errorCode: number;
  readonly errorMessage: string;
  /** First id of the block [first, first + size); -1n on error. */
  readonly firstProducerId: bigint;
  readonly size: number;
}

/** Result of InitProducerId: a new producer id with its epoch, or an error code. */
export interface InitProducerIdResult {
  /** Strand error code; 0 = NONE. */
  readonly errorCode: number;
  readonly errorMessage: string;
  /** -1n on error. */
  readonly producerId: bigint;
  /** 0 for a new id; -1 on error. */
  readonly producerEpoch: number;
}

/** What the replica manager needs from the rest of the node. */
export interface ReplicaManagerDeps {
  /** This broker's id and the epoch it registered with (sent on AlterPartition, replica fetch). */
  readonly brokerId: number;
  brokerEpoch(): number;
  /** Sends an ISR change to the active controller. */
  alterPartition(request: AlterPartitionRequest): Promise<AlterPartitionResponse>;
  /** The current metadata image (for leader addresses and partition registrations). */
  image(): MetadataImage;
  /**
   * AllocateProducerIds on the active controller; throws when it cannot be reached. Absent:
   * InitProducerId is unavailable on this broker (docs/idempotence.md).
   */
  allocateProducerIds?(request: {
    readonly brokerId: number;
    readonly brokerEpoch: number;
  }): Promise<ProducerIdBlockResult>;
}

/** The replica manager as the services use it. */
export interface ReplicaManagerApi {
  produce(
    options: ProduceOptions,
    partitions: readonly ProducePartition[],
  ): Promise<ProducePartitionResult[]>;
  fetch(
    options: FetchOptions,
    partitions: readonly FetchPartition[],
  ): Promise<FetchPartitionResult[]>;
  listOffsets(topic: string, partition: number, spec: OffsetSpec): Promise<ListOffsetsResult>;
  /** Becomes leader/follower/deletes replicas as a committed metadata delta says. */
  applyMetadata(delta: MetadataDelta, image: MetadataImage): Promise<void>;
  /** State of every local replica. */
  partitionStatuses(): readonly PartitionStatus[];
  /**
   * A new idempotent producer id (InitProducerId). Throws ProducerIdsUnavailableError when no
   * id block can be obtained now; absent on stand-ins without a controller.
   */
  initProducerId?(): Promise<InitProducerIdResult>;
  /** Stops fetchers, fails waiters, closes logs. */
  close(): Promise<void>;
}
