/**
 * The broker's Prometheus metrics, named `strand_<subsystem>_<name>_<unit>` with base units
 * (docs/design.md §8, every metric in docs/metrics.md). One registry per node, so several
 * in-process nodes in a test never collide. Labels stay bounded: topic where an operator needs
 * it, partition only behind `metrics.partition.enable`. Node's default process metrics keep
 * their stock names (`process_*`, `nodejs_*`) so stock Node.js dashboards work unchanged.
 */
import { readFileSync } from "node:fs";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Latency buckets in seconds: 0.1 ms to 10 s. */
const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Long-poll wait buckets in seconds: 1 ms to the 60 s cap of a fetch wait. */
const WAIT_BUCKETS_SECONDS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * prom-client's default collectors also export these three as gauges ending in `_total`, which
 * `promtool check metrics` rejects (only counters end in `_total`); the same numbers stay
 * available by type as `nodejs_active_handles`, `nodejs_active_requests`, `nodejs_active_resources`.
 */
const MISNAMED_DEFAULT_GAUGES = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/** Every metric a broker node exports besides those sampled at scrape time (node-collectors.ts). */
export interface BrokerMetrics {
  readonly registry: Registry;
  /** Whether per-partition series (`topic` + `partition` labels) are exported. */
  readonly partitionLabels: boolean;
  /** Requests by gRPC method and Strand error code. */
  readonly requestsTotal: Counter<"method" | "code">;
  /** Service time by method; a fetch's long-poll wait is left out (see fetchWaitSeconds). */
  readonly requestDurationSeconds: Histogram<"method">;
  /** Time a fetch spent parked waiting for data (long poll), or awaiting a forwarded one. */
  readonly fetchWaitSeconds: Histogram;
  /** Open server streams by method (Subscribe, ProduceStream). */
  readonly openStreams: Gauge<"method">;
  /** Requests (or items of one) the authorizer refused, by ACL operation and resource type. */
  readonly authorizationDenialsTotal: Counter<"operation" | "resource_type">;
  /** Requests forwarded to the partition leader by this broker (routing). */
  readonly forwardedRequestsTotal: Counter<"method">;
  /** Callers the internal listener refused for their node identity (docs/security.md). */
  readonly nodeIdentityRefusalsTotal: Counter<"rpc" | "reason">;
  /** Bytes appended to partition logs as leader, by topic. */
  readonly inBytesTotal: Counter<"topic">;
  /** Bytes sent to consumers, by topic. */
  readonly outBytesTotal: Counter<"topic">;
  /** Records appended as leader, by topic. */
  readonly recordsInTotal: Counter<"topic">;
  /** Records sent to consumers, by topic. */
  readonly recordsOutTotal: Counter<"topic">;
  /** Bytes appended as a follower (copied from leaders). */
  readonly replicationInBytesTotal: Counter;
  /** Bytes sent to followers as leader. */
  readonly replicationOutBytesTotal: Counter;
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
  /** Times this broker became leader of a partition (a new leader epoch). */
  readonly leaderElectionsTotal: Counter;
  /** Of those, leaderships taken by a replica that was outside the ISR it last knew. */
  readonly uncleanLeaderElectionsTotal: Counter;
  /** Follower lag in offsets (leader log end - follower log end), by topic and partition (opt-in). */
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
  /** The follower lag of each followed partition, by partition key; its max is exported. */
  readonly followerLag: Map<string, number>;
}

/** Options of {@link createBrokerMetrics}. */
export interface BrokerMetricsOptions {
  /** Export per-partition series (`metrics.partition.enable`); default false. */
  readonly partitionLabels?: boolean;
  /** The node's roles, for `strand_build_info`. */
  readonly roles?: readonly string[];
}

/** Cleaner pass buckets in seconds: 10 ms to 10 min. */
const CLEANER_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

/** Creates the registry and every metric, with Node's default process metrics. */
export function createBrokerMetrics(
  nodeId: number,
  options: BrokerMetricsOptions = {},
): BrokerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: String(nodeId) });
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  buildInfo(registry, options.roles ?? []);
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const followerLag = new Map<string, number>();
  new Gauge({
    name: "strand_broker_replication_max_lag_offsets",
    help: "Largest lag, in offsets, of any partition this broker follows.",
    registers: [registry],
    collect() {
      // A loop, not Math.max(...values): a broker may follow tens of thousands of partitions.
      let max = 0;
      for (const lag of followerLag.values()) if (lag > max) max = lag;
      this.set(max);
    },
  });
  return {
    registry,
    partitionLabels: options.partitionLabels ?? false,
    requestsTotal: counter("strand_broker_requests_total", "Requests by method and error code.", [
      "method",
      "code",
    ]),
    requestDurationSeconds: new Histogram({
      name: "strand_broker_request_duration_seconds",
      help: "Request service time by method (a fetch's long-poll wait excluded).",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    fetchWaitSeconds: new Histogram({
      name: "strand_broker_fetch_wait_seconds",
      help: "Time fetches spent waiting for data (long poll, max_wait_ms).",
      buckets: WAIT_BUCKETS_SECONDS,
      registers: [registry],
    }),
    openStreams: gauge("strand_broker_open_streams", "Open server streams by method.", ["method"]),
    authorizationDenialsTotal: counter(
      "strand_authorization_denials_total",
      "Requests or request items refused by the ACL authorizer.",
      ["operation", "resource_type"],
    ),
    forwardedRequestsTotal: counter(
      "strand_broker_forwarded_requests_total",
      "Requests forwarded one hop to the partition leader.",
      ["method"],
    ),
    nodeIdentityRefusalsTotal: counter(
      "strand_node_identity_refusals_total",
      "Internal-listener callers refused for their node identity (TLS handshake or certificate).",
      ["rpc", "reason"],
    ),
    inBytesTotal: counter("strand_broker_in_bytes_total", "Bytes appended as leader.", ["topic"]),
    outBytesTotal: counter("strand_broker_out_bytes_total", "Bytes sent to consumers.", ["topic"]),
    recordsInTotal: counter("strand_broker_records_in_total", "Records appended as leader.", [
      "topic",
    ]),
    recordsOutTotal: counter("strand_broker_records_out_total", "Records sent to consumers.", [
      "topic",
    ]),
    replicationInBytesTotal: counter(
      "strand_broker_replication_in_bytes_total",
      "Bytes appended as a follower.",
      [],
    ),
    replicationOutBytesTotal: counter(
      "strand_broker_replication_out_bytes_total",
      "Bytes sent to followers.",
      [],
    ),
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
    leaderElectionsTotal: counter(
      "strand_broker_leader_elections_total",
      "Partition leaderships this broker took (new leader epochs).",
      [],
    ),
    uncleanLeaderElectionsTotal: counter(
      "strand_broker_unclean_leader_elections_total",
      "Leaderships taken by a replica outside the last known ISR.",
      [],
    ),
    replicationLagOffsets: gauge(
      "strand_broker_replication_lag_offsets",
      "Follower lag behind the leader's log end, in offsets (metrics.partition.enable).",
      ["topic", "partition"],
    ),
    followerLag,
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

/** `strand_build_info{version,node_version,roles} 1`: joins versions onto any other series. */
function buildInfo(registry: Registry, roles: readonly string[]): void {
  const info = new Gauge({
    name: "strand_build_info",
    help: "Always 1; the labels say which Strand and Node.js versions this node runs.",
    labelNames: ["version", "node_version", "roles"],
    registers: [registry],
  });
  info.set({ version: strandVersion(), node_version: process.version, roles: roles.join(",") }, 1);
}

/** The broker package's version (src/admin and dist/admin are both two levels below it). */
function strandVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
