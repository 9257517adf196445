/**
 * Metrics sampled when Prometheus scrapes (prom-client `collect`), from plain snapshots the node
 * hands in (see node/node-metrics.ts): Raft and controller state, cluster health as the active
 * controller sees it, connections, the data dir's free space and, opt-in, per-partition logs.
 * Sampling at scrape time costs nothing between scrapes and is never stale.
 */
import { statfs } from "node:fs/promises";
import { Counter, Gauge, type Registry } from "prom-client";

/** Raft state of a controller voter. */
export interface RaftSample {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly leader: boolean;
  /** On the leader: each voter's lag (leader last index - voter match index), else empty. */
  readonly voterLag: readonly { readonly voter: number; readonly entries: number }[];
}

/** Cluster health from the metadata image; reported by the active controller only. */
export interface ClusterSample {
  readonly brokers: number;
  readonly fencedBrokers: number;
  readonly topics: number;
  readonly partitions: number;
  /** Partitions with no leader. */
  readonly offlinePartitions: number;
}

/** One local partition replica's log (opt-in: `metrics.partition.enable`). */
export interface PartitionLogSample {
  readonly topic: string;
  readonly partition: number;
  readonly sizeBytes: number;
  readonly segments: number;
  readonly startOffset: bigint;
  readonly endOffset: bigint;
}

/** What the collectors read; every function is cheap and synchronous. */
export interface NodeMetricSources {
  /** The data dir whose file system's free space is reported. */
  readonly dataDir: string;
  /** Whether per-partition series are exported. */
  readonly partitionLabels: boolean;
  /** Raft state; null on a node without the controller role. */
  raft(): RaftSample | null;
  /** Whether this node is the active controller; null without the controller role. */
  activeController(): boolean | null;
  /** Cluster health; null unless this node is the active controller. */
  cluster(): ClusterSample | null;
  /** Open client connections; null without the broker role. */
  openConnections(): number | null;
  /** Whether the controller has fenced this broker; null without the broker role. */
  brokerFenced(): boolean | null;
  /** Whether the data dir went offline (a log I/O failure). */
  logDirOffline(): boolean;
  /** The local partition logs (read only when partitionLabels is on). */
  partitionLogs(): readonly PartitionLogSample[];
  /** The tail cache's counters; null without a log manager. */
  tailCache(): TailCacheSample | null;
}

/** The broker-wide tail cache (storage tail-cache.ts): bytes held, reads served and missed. */
export interface TailCacheSample {
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

/** Registers the scrape-time collectors; returns the Raft leader-change counter to feed. */
export function registerNodeCollectors(
  registry: Registry,
  sources: NodeMetricSources,
): { readonly raftLeaderChanges: Counter } {
  registerRaft(registry, sources);
  registerCluster(registry, sources);
  registerNode(registry, sources);
  registerTailCache(registry, sources);
  registerDisk(registry, sources);
  if (sources.partitionLabels) registerPartitionLogs(registry, sources);
  return {
    raftLeaderChanges: new Counter({
      name: "strand_raft_leader_changes_total",
      help: "Times this voter saw the Raft leader or term change.",
      registers: [registry],
    }),
  };
}

type Sample<T> = (sources: NodeMetricSources) => T | null;

/** A gauge without labels that is set from `read` on each scrape (absent while null). */
function sampled(
  registry: Registry,
  name: string,
  help: string,
  sources: NodeMetricSources,
  read: Sample<number>,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read(sources);
      // remove(), not reset(): reset() re-creates an unlabelled gauge at 0, which would read
      // as "0 bytes free" or "not the active controller" on a node that cannot tell.
      if (value === null) this.remove();
      else this.set(value);
    },
  });
}

function registerRaft(registry: Registry, sources: NodeMetricSources): void {
  const raft = (pick: (r: RaftSample) => number): Sample<number> => {
    return (s) => {
      const r = s.raft();
      return r === null ? null : pick(r);
    };
  };
  sampled(
    registry,
    "strand_raft_term",
    "Current Raft term.",
    sources,
    raft((r) => r.term),
  );
  sampled(
    registry,
    "strand_raft_commit_index",
    "Highest committed metadata log index.",
    sources,
    raft((r) => r.commitIndex),
  );
  sampled(
    registry,
    "strand_raft_applied_index",
    "Highest metadata log index applied to the controller state.",
    sources,
    raft((r) => r.appliedIndex),
  );
  sampled(
    registry,
    "strand_raft_last_index",
    "Last index of the local metadata log.",
    sources,
    raft((r) => r.lastIndex),
  );
  sampled(
    registry,
    "strand_raft_leader",
    "1 on the Raft leader, 0 on other voters.",
    sources,
    raft((r) => (r.leader ? 1 : 0)),
  );
  new Gauge({
    name: "strand_raft_voter_lag_entries",
    help: "On the Raft leader: entries each voter is behind the leader's last index.",
    labelNames: ["voter"],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of sources.raft()?.voterLag ?? [])
        this.set({ voter: String(v.voter) }, v.entries);
    },
  });
}

function registerCluster(registry: Registry, sources: NodeMetricSources): void {
  sampled(
    registry,
    "strand_controller_active",
    "1 on the active controller, 0 on other controller voters; the cluster's sum must be 1.",
    sources,
    (s) => {
      const active = s.activeController();
      return active === null ? null : active ? 1 : 0;
    },
  );
  const cluster = (pick: (c: ClusterSample) => number): Sample<number> => {
    // Only the active controller reports (0 elsewhere), so sums over the cluster count once.
    return (s) => {
      if (s.activeController() === null) return null;
      const c = s.cluster();
      return c === null ? 0 : pick(c);
    };
  };
  const gauges: [string, string, (c: ClusterSample) => number][] = [
    ["strand_controller_brokers", "Registered brokers.", (c) => c.brokers],
    ["strand_controller_fenced_brokers", "Registered brokers now fenced.", (c) => c.fencedBrokers],
    ["strand_controller_topics", "Topics.", (c) => c.topics],
    ["strand_controller_partitions", "Partitions.", (c) => c.partitions],
    [
      "strand_controller_offline_partitions",
      "Partitions without a leader.",
      (c) => c.offlinePartitions,
    ],
  ];
  for (const [name, help, pick] of gauges)
    sampled(
      registry,
      name,
      `${help} Reported by the active controller, 0 elsewhere.`,
      sources,
      cluster(pick),
    );
}

function registerNode(registry: Registry, sources: NodeMetricSources): void {
  sampled(registry, "strand_broker_open_connections", "Open client connections.", sources, (s) =>
    s.openConnections(),
  );
  sampled(
    registry,
    "strand_broker_fenced",
    "1 while the controller fences this broker (it leads nothing, joins no ISR).",
    sources,
    (s) => {
      const fenced = s.brokerFenced();
      return fenced === null ? null : fenced ? 1 : 0;
    },
  );
  sampled(
    registry,
    "strand_log_dir_offline",
    "1 once the data dir failed an I/O (the node fenced itself).",
    sources,
    (s) => (s.logDirOffline() ? 1 : 0),
  );
}

function registerDisk(registry: Registry, sources: NodeMetricSources): void {
  let last: { free: number; size: number } | null = null;
  let inflight: Promise<void> | null = null;
  // prom-client collects all metrics concurrently: both gauges share one statfs per scrape.
  const sample = (): Promise<void> => {
    inflight ??= statfs(sources.dataDir)
      .then(
        (s) => {
          last = { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
        },
        () => {
          last = null;
        },
      )
      .finally(() => {
        inflight = null;
      });
    return inflight;
  };
  const gauges: [string, string, (v: { free: number; size: number }) => number][] = [
    ["strand_log_dir_size_bytes", "Size of the file system holding the data dir.", (v) => v.size],
    [
      "strand_log_dir_free_bytes",
      "Bytes of the data dir's file system available to the node (statfs bavail).",
      (v) => v.free,
    ],
  ];
  for (const [name, help, pick] of gauges)
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        await sample();
        if (last === null) this.remove();
        else this.set(pick(last));
      },
    });
}

function registerPartitionLogs(registry: Registry, sources: NodeMetricSources): void {
  const labelNames = ["topic", "partition"] as const;
  const series: [string, string, (p: PartitionLogSample) => number][] = [
    ["strand_log_size_bytes", "Bytes of a partition replica's log.", (p) => p.sizeBytes],
    ["strand_log_segments", "Segments of a partition replica's log.", (p) => p.segments],
    [
      "strand_log_start_offset",
      "First offset of a partition replica's log.",
      (p) => Number(p.startOffset),
    ],
    ["strand_log_end_offset", "Log end offset of a partition replica.", (p) => Number(p.endOffset)],
  ];
  for (const [name, help, pick] of series)
    new Gauge({
      name,
      help: `${help} (metrics.partition.enable)`,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const p of sources.partitionLogs())
          this.set({ topic: p.topic, partition: String(p.partition) }, pick(p));
      },
    });
}

function registerTailCache(registry: Registry, sources: NodeMetricSources): void {
  sampled(
    registry,
    "strand_log_tail_cache_bytes",
    "Bytes of recent batches held in the tail cache over all partitions (bounded by log.tail.cache.bytes).",
    sources,
    (s) => s.tailCache()?.bytes ?? null,
  );
  // The storage counts; each scrape adds what was counted since the previous one.
  const seen = { hits: 0, misses: 0 };
  new Counter({
    name: "strand_log_tail_cache_reads_total",
    help: "Log reads at or past a partition's log start: answered from the tail cache (hit) or from the file (miss).",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      const t = sources.tailCache();
      if (t === null) return;
      this.inc({ result: "hit" }, Math.max(0, t.hits - seen.hits));
      this.inc({ result: "miss" }, Math.max(0, t.misses - seen.misses));
      seen.hits = t.hits;
      seen.misses = t.misses;
    },
  });
}
