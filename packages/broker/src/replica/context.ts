/**
 * The replica manager's shared state, handed to the small modules that implement it (produce,
 * fetch, leader side of replication, transitions, ISR). Internal: not exported by the package.
 */

import type { Logger } from "@strand/base";
import type { BrokerId, TopicId } from "@strand/controller";
import type { LogManager } from "@strand/storage";
import type { BrokerMetrics } from "../admin/metrics.ts";
import type { AcksAllPurgatory, DelayedFetchPurgatory } from "../core/purgatory.ts";
import type { DeadlineTimer } from "./deadline-timer.ts";
import type { HighWatermarks } from "./hw-checkpoint.ts";
import type { ReplicaManagerConfig } from "./options.ts";
import type { Partition } from "./partition.ts";
import type { PartitionError, ReplicaManagerDeps } from "./types.ts";

/** An acks=all produce parked until the HW passes its batch. */
export interface AcksWaiterValue {
  /** Answers the produce (once). */
  readonly resolve: (error: PartitionError) => void;
}

/** A long poll (consumer or replica fetch) parked until data arrives or its deadline. */
export interface FetchWaiterValue {
  /** Re-reads and answers the fetch; idempotent. */
  readonly complete: () => void;
}

/** Everything the replica manager's modules share. */
export interface ReplicaContext {
  readonly brokerId: BrokerId;
  readonly deps: ReplicaManagerDeps;
  readonly config: ReplicaManagerConfig;
  readonly logManager: LogManager;
  readonly logger: Logger;
  readonly metrics: BrokerMetrics | null;
  readonly clock: () => number;
  /** Local replicas by `${topic}-${partition}`. */
  readonly partitions: Map<string, Partition>;
  /** The same replicas by `${topicId}:${partition}`. */
  readonly partitionsById: Map<string, Partition>;
  readonly acks: AcksAllPurgatory<AcksWaiterValue>;
  /** Consumer long polls, fed HW advances. */
  readonly consumerFetches: DelayedFetchPurgatory<FetchWaiterValue>;
  /** Follower long polls, fed the leader's log-end advances. */
  readonly replicaFetches: DelayedFetchPurgatory<FetchWaiterValue>;
  readonly timer: DeadlineTimer;
  /** The HW checkpoint read at start (empty when there was none). */
  readonly checkpoint: Promise<HighWatermarks>;
  closed: boolean;
}

/** The by-id key of a partition. */
export function idKey(topicId: TopicId | string, partition: number): string {
  return `${topicId}:${partition}`;
}
