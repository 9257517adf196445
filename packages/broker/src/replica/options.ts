/**
 * How a {@link ReplicaManager} is built: its collaborators (the node's `LogManager`, the
 * contract's `ReplicaManagerDeps`, logger, clock, metrics) and its settings, named as Kafka's
 * (docs/configuration.md) with the unit last.
 */
import type { Logger } from "@strand/base";
import type { LogManager } from "@strand/storage";
import type { BrokerMetrics } from "../admin/metrics.ts";
import type { ReplicationTransport } from "./follower/types.ts";
import type { ReplicaManagerDeps } from "./types.ts";

/** Settings of the data plane; every field has a default ({@link DEFAULT_REPLICA_CONFIG}). */
export interface ReplicaManagerConfig {
  /** `replica.lag.time.max.ms`: a follower not caught up for longer leaves the ISR. */
  readonly replicaLagTimeMaxMs: number;
  /** `replica.fetch.max.wait.ms`: longest a follower fetch waits at the leader for data. */
  readonly replicaFetchMaxWaitMs: number;
  /** `replica.fetch.backoff.ms`: a follower's pause after a failed fetch or stream. */
  readonly replicaFetchBackoffMs: number;
  /** Upper bound of the reconnect backoff (doubles from replicaFetchBackoffMs). */
  readonly replicaFetchBackoffMaxMs: number;
  /** `replica.fetch.max.bytes`: bytes per partition in one replica fetch. */
  readonly replicaFetchPartitionMaxBytes: number;
  /** `replica.fetch.response.max.bytes`: bytes in one replica fetch response. */
  readonly replicaFetchResponseMaxBytes: number;
  /** A replica fetch without an answer after max wait + this is abandoned (leader hung). */
  readonly replicaFetchResponseTimeoutMs: number;
  /** `min.insync.replicas` of topics without their own setting. */
  readonly minInsyncReplicas: number;
  /** `message.max.bytes`: max.message.bytes of topics without their own setting. */
  readonly messageMaxBytes: number;
  /** `replica.high.watermark.checkpoint.interval.ms`. */
  readonly highWatermarkCheckpointIntervalMs: number;
  /** How often led partitions are checked for lagging ISR members (default lag / 2). */
  readonly isrCheckIntervalMs: number;
  /** Pause before resending an AlterPartition that failed transiently. */
  readonly alterPartitionRetryMs: number;
  /** Most parked acks=all produces (per manager). */
  readonly produceWaitersMax: number;
  /** Most parked consumer long polls (per manager). */
  readonly fetchWaitersMax: number;
  /** Most parked replica fetches (per manager). */
  readonly replicaFetchWaitersMax: number;
}

/** Kafka's defaults (min ISR as the node setting's default, 2). */
export const DEFAULT_REPLICA_CONFIG: ReplicaManagerConfig = Object.freeze({
  replicaLagTimeMaxMs: 30_000,
  replicaFetchMaxWaitMs: 500,
  replicaFetchBackoffMs: 1_000,
  replicaFetchBackoffMaxMs: 10_000,
  replicaFetchPartitionMaxBytes: 1024 * 1024,
  replicaFetchResponseMaxBytes: 10 * 1024 * 1024,
  replicaFetchResponseTimeoutMs: 30_000,
  minInsyncReplicas: 2,
  messageMaxBytes: 1024 * 1024 + 12,
  highWatermarkCheckpointIntervalMs: 5_000,
  isrCheckIntervalMs: 15_000,
  alterPartitionRetryMs: 100,
  produceWaitersMax: 100_000,
  fetchWaitersMax: 100_000,
  replicaFetchWaitersMax: 10_000,
});

/** What {@link ReplicaManager} needs. */
export interface ReplicaManagerOptions {
  /** The contract's dependencies (broker id and epoch, AlterPartition, the image). */
  readonly deps: ReplicaManagerDeps;
  /** The node's open log manager; the replica manager does not close it. */
  readonly logManager: LogManager;
  /** Settings; missing fields take {@link DEFAULT_REPLICA_CONFIG}. */
  readonly config?: Partial<ReplicaManagerConfig>;
  /** pino-compatible logger; default drops everything. */
  readonly logger?: Logger;
  /** Wall clock in ms; default Date.now. */
  readonly clock?: () => number;
  /** The node's metrics; default none. */
  readonly metrics?: BrokerMetrics;
  /** How the follower wing reaches leaders (the node passes the gRPC one from services/). */
  readonly replicationTransport: ReplicationTransport;
}

/** Listener names in broker registrations (docs/design.md §2). */
export const CLIENT_LISTENER = "client";
/** The listener replica fetches connect to. */
export const INTERNAL_LISTENER = "internal";

/** Merges `overrides` over the defaults; the ISR check follows the lag time unless set. */
export function resolveReplicaConfig(
  overrides: Partial<ReplicaManagerConfig> = {},
): ReplicaManagerConfig {
  const lag = overrides.replicaLagTimeMaxMs ?? DEFAULT_REPLICA_CONFIG.replicaLagTimeMaxMs;
  const config: ReplicaManagerConfig = {
    ...DEFAULT_REPLICA_CONFIG,
    isrCheckIntervalMs: Math.max(10, Math.floor(lag / 2)),
    ...overrides,
  };
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`replica manager setting ${name} must be a positive integer`);
    }
  }
  return Object.freeze(config);
}
