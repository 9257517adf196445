/**
 * The broker's Prometheus metrics, named `strand_<subsystem>_<name>_<unit>` with base units
 * (docs/design.md §8). One registry per node, so several in-process nodes in a test never collide.
 * Labels stay bounded: topic and partition only where an operator needs them.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Latency buckets in seconds: 0.1 ms to 10 s. */
const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Every metric a broker node exports. */
export interface BrokerMetrics {
  readonly registry: Registry;
  /** Requests by gRPC method and Strand error code. */
  readonly requestsTotal: Counter<"method" | "code">;
  /** Request latency by method. */
  readonly requestDurationSeconds: Histogram<"method">;
  /** Requests forwarded to the partition leader by this broker (routing). */
  readonly forwardedRequestsTotal: Counter<"method">;
  /** Bytes appended to partition logs as leader, by topic. */
  readonly bytesInTotal: Counter<"topic">;
  /** Bytes sent to consumers, by topic. */
  readonly bytesOutTotal: Counter<"topic">;
  /** Records appended as leader, by topic. */
  readonly recordsInTotal: Counter<"topic">;
  /** Records sent to consumers, by topic. */
  readonly recordsOutTotal: Counter<"topic">;
  /** Partitions this broker leads. */
  readonly partitionsLed: Gauge;
  /** Partitions this broker leads whose ISR is smaller than the replica set. */
  readonly underReplicatedPartitions: Gauge;
  /** Partitions this broker leads whose ISR is below min.insync.replicas. */
  readonly underMinIsrPartitions: Gauge;
  /** ISR shrinks proposed by this broker as leader. */
  readonly isrShrinksTotal: Counter;
  /** ISR expansions proposed by this broker as leader. */
  readonly isrExpandsTotal: Counter;
  /** Follower lag in offsets (leader log end - follower log end), by topic and partition. */
  readonly replicationLagOffsets: Gauge<"topic" | "partition">;
  /** Bytes the log cleaner read from the segments it rewrote, by topic. */
  readonly logCleanerCleanedBytesTotal: Counter<"topic">;
  /** Bytes the log cleaner wrote as cleaned segments, by topic. */
  readonly logCleanerWrittenBytesTotal: Counter<"topic">;
  /** Records the log cleaner removed (superseded values, expired tombstones), by topic. */
  readonly logCleanerRemovedRecordsTotal: Counter<"topic">;
  /** Wall time of log cleaner passes. */
  readonly logCleanerPassDurationSeconds: Histogram;
  /** Largest dirty ratio over this node's compacted logs at the last cleaner tick. */
  readonly logCleanerMaxDirtyRatio: Gauge;
}

/** Cleaner pass buckets in seconds: 10 ms to 10 min. */
const CLEANER_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

/** Creates the registry and every metric, with Node's default process metrics. */
export function createBrokerMetrics(nodeId: number): BrokerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: String(nodeId) });
  collectDefaultMetrics({ register: registry, prefix: "strand_process_" });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    requestsTotal: counter("strand_broker_requests_total", "Requests by method and error code.", [
      "method",
      "code",
    ]),
    requestDurationSeconds: new Histogram({
      name: "strand_broker_request_duration_seconds",
      help: "Request latency by method.",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    forwardedRequestsTotal: counter(
      "strand_broker_forwarded_requests_total",
      "Requests forwarded one hop to the partition leader.",
      ["method"],
    ),
    bytesInTotal: counter("strand_broker_bytes_in_total", "Bytes appended as leader.", ["topic"]),
    bytesOutTotal: counter("strand_broker_bytes_out_total", "Bytes sent to consumers.", ["topic"]),
    recordsInTotal: counter("strand_broker_records_in_total", "Records appended as leader.", [
      "topic",
    ]),
    recordsOutTotal: counter("strand_broker_records_out_total", "Records sent to consumers.", [
      "topic",
    ]),
    partitionsLed: gauge("strand_broker_partitions_led", "Partitions this broker leads.", []),
    underReplicatedPartitions: gauge(
      "strand_broker_under_replicated_partitions",
      "Led partitions whose ISR is smaller than the replica set.",
      [],
    ),
    underMinIsrPartitions: gauge(
      "strand_broker_under_min_isr_partitions",
      "Led partitions whose ISR is below min.insync.replicas.",
      [],
    ),
    isrShrinksTotal: counter("strand_broker_isr_shrinks_total", "ISR shrinks proposed.", []),
    isrExpandsTotal: counter("strand_broker_isr_expands_total", "ISR expansions proposed.", []),
    replicationLagOffsets: gauge(
      "strand_broker_replication_lag_offsets",
      "Follower lag behind the leader's log end, in offsets.",
      ["topic", "partition"],
    ),
    logCleanerCleanedBytesTotal: counter(
      "strand_log_cleaner_cleaned_bytes_total",
      "Bytes of segments the log cleaner rewrote.",
      ["topic"],
    ),
    logCleanerWrittenBytesTotal: counter(
      "strand_log_cleaner_written_bytes_total",
      "Bytes the log cleaner wrote as cleaned segments.",
      ["topic"],
    ),
    logCleanerRemovedRecordsTotal: counter(
      "strand_log_cleaner_removed_records_total",
      "Records the log cleaner removed: superseded values and expired tombstones.",
      ["topic"],
    ),
    logCleanerPassDurationSeconds: new Histogram({
      name: "strand_log_cleaner_pass_duration_seconds",
      help: "Wall time of one log cleaner pass over one log.",
      buckets: CLEANER_BUCKETS_SECONDS,
      registers: [registry],
    }),
    logCleanerMaxDirtyRatio: gauge(
      "strand_log_cleaner_max_dirty_ratio",
      "Largest dirty ratio (uncleaned bytes / bytes) over the node's compacted logs.",
      [],
    ),
  };
}
