/**
 * Shared types of the pure replication core (docs/replication.md). The core takes events
 * (fetches, appends, AlterPartition answers, the time as `nowMs`) and returns decisions; the
 * replica manager does the I/O. Offsets are bigint, as in `@strand/storage`; broker ids and
 * epochs use the controller's branded types.
 */
import type { BrokerId, LeaderEpoch, PartitionEpoch } from "@strand/controller";
import type { ErrorCodeInfo } from "@strand/protocol";
import type { EpochEndOffset } from "@strand/storage";

/** Kafka's UNDEFINED_EPOCH: "no epoch" (an empty log, or an unknown epoch). */
export const NO_EPOCH = -1;

/**
 * A log's leader-epoch lookup (Kafka's OffsetsForLeaderEpoch answer), as
 * `Log.endOffsetForEpoch` gives it: the largest epoch <= `epoch` and its end offset, or
 * (-1, -1n) when the epoch is above every known one.
 */
export type EndOffsetForEpoch = (epoch: number) => EpochEndOffset;

/** Where a follower's log leaves the leader's: truncate to (at most) `endOffset`. */
export interface DivergingEpoch {
  /** The largest leader epoch <= the follower's last fetched epoch that the leader knows. */
  readonly epoch: number;
  /** The leader's end offset of that epoch. */
  readonly endOffset: bigint;
}

/** The acknowledgement level of a produce request. */
export type Acks = "none" | "leader" | "all";

/** Replication settings of one partition (Kafka's names in docs/configuration.md). */
export interface ReplicationConfig {
  /** `replica.lag.time.max.ms`: a follower not caught up for longer leaves the ISR. */
  readonly replicaLagTimeMaxMs: number;
  /** `min.insync.replicas`: acks=all needs an ISR at least this large. */
  readonly minInsyncReplicas: number;
  /** `replica.fetch.backoff.ms`: a follower's wait after a failed fetch. */
  readonly replicaFetchBackoffMs: number;
}

/** Kafka's defaults: 30 s lag, min ISR 1, 1 s backoff. */
export const DEFAULT_REPLICATION_CONFIG: ReplicationConfig = Object.freeze({
  replicaLagTimeMaxMs: 30_000,
  minInsyncReplicas: 1,
  replicaFetchBackoffMs: 1_000,
});

/** A proposed ISR change for the controller's AlterPartition (compare-and-set). */
export interface IsrProposal {
  /** Why the ISR changes. */
  readonly kind: "shrink" | "expand";
  /** The proposed ISR (always holds the leader). */
  readonly isr: readonly BrokerId[];
  /** The leader epoch the leader holds; the controller refuses a stale one. */
  readonly leaderEpoch: LeaderEpoch;
  /** The partition epoch the proposal is based on (the compare of compare-and-set). */
  readonly partitionEpoch: PartitionEpoch;
}

/** A partition's committed state as the controller publishes it. */
export interface PartitionStateUpdate {
  /** The in-sync replicas. */
  readonly isr: readonly BrokerId[];
  /** The leader epoch. */
  readonly leaderEpoch: LeaderEpoch;
  /** The partition epoch. */
  readonly partitionEpoch: PartitionEpoch;
}

/** A failure with the wire code to answer and a reason for logs. */
export interface ReplicationError {
  /** The wire error code. */
  readonly error: ErrorCodeInfo;
  /** What happened, for the response message and logs. */
  readonly message: string;
}
