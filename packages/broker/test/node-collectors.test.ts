// Goal: the scrape-time gauges say what an operator reads them as. A controller voter reports
// its Raft state (voter lag only on the leader); only the active controller reports cluster
// counts (0 on other voters, so sums count once); a node without a role exports no series of
// that role; disk free and size come from the data dir's file system; per-partition series
// appear only when enabled.
import { tmpdir } from "node:os";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { type NodeMetricSources, registerNodeCollectors } from "../src/admin/node-collectors.ts";

const CLUSTER = { brokers: 3, fencedBrokers: 1, topics: 2, partitions: 7, offlinePartitions: 2 };
const RAFT = {
  term: 4,
  commitIndex: 120,
  appliedIndex: 119,
  lastIndex: 121,
  leader: true,
  voterLag: [
    { voter: 1, entries: 0 },
    { voter: 2, entries: 21 },
  ],
};

function sources(over: Partial<NodeMetricSources> = {}): NodeMetricSources {
  return {
    dataDir: tmpdir(),
    partitionLabels: false,
    raft: () => RAFT,
    activeController: () => true,
    cluster: () => CLUSTER,
    openConnections: () => 5,
    brokerFenced: () => false,
    logDirOffline: () => false,
    partitionLogs: () => [
      { topic: "t", partition: 0, sizeBytes: 100, segments: 1, startOffset: 0n, endOffset: 9n },
    ],
    tailCache: () => ({ bytes: 4096, hits: 7, misses: 2 }),
    ...over,
  };
}

async function scrape(s: NodeMetricSources): Promise<string> {
  const registry = new Registry();
  registerNodeCollectors(registry, s);
  return registry.metrics();
}

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("scrape-time node metrics", () => {
  it("reports the tail cache's bytes and its hits and misses as they grow", async () => {
    let stats = { bytes: 4096, hits: 7, misses: 2 };
    const registry = new Registry();
    registerNodeCollectors(registry, sources({ tailCache: () => stats }));
    const first = await registry.metrics();
    expect(value(first, "strand_log_tail_cache_bytes")).toBe(4096);
    expect(value(first, 'strand_log_tail_cache_reads_total{result="hit"}')).toBe(7);
    stats = { bytes: 0, hits: 10, misses: 5 };
    const second = await registry.metrics();
    expect(value(second, 'strand_log_tail_cache_reads_total{result="hit"}')).toBe(10);
    expect(value(second, 'strand_log_tail_cache_reads_total{result="miss"}')).toBe(5);
    expect(value(second, "strand_log_tail_cache_bytes")).toBe(0);
  });

  it("reports Raft state and cluster counts on the active controller", async () => {
    const text = await scrape(sources());
    expect(value(text, "strand_controller_active")).toBe(1);
    expect(value(text, "strand_controller_offline_partitions")).toBe(2);
    expect(value(text, "strand_controller_fenced_brokers")).toBe(1);
    expect(value(text, "strand_raft_term")).toBe(4);
    expect(value(text, "strand_raft_commit_index")).toBe(120);
    expect(value(text, 'strand_raft_voter_lag_entries{voter="2"}')).toBe(21);
    expect(value(text, "strand_broker_open_connections")).toBe(5);
    expect(value(text, "strand_broker_fenced")).toBe(0);
  });

  it("reports 0 cluster counts on a voter that is not active", async () => {
    const text = await scrape(
      sources({
        activeController: () => false,
        cluster: () => null,
        raft: () => ({ ...RAFT, leader: false, voterLag: [] }),
      }),
    );
    expect(value(text, "strand_controller_active")).toBe(0);
    expect(value(text, "strand_controller_offline_partitions")).toBe(0);
    expect(value(text, "strand_raft_leader")).toBe(0);
    expect(text).not.toContain("strand_raft_voter_lag_entries{");
  });

  it("exports no controller series on a broker-only node, no broker series on a controller", async () => {
    const broker = await scrape(
      sources({ raft: () => null, activeController: () => null, cluster: () => null }),
    );
    expect(value(broker, "strand_controller_active")).toBeUndefined();
    expect(value(broker, "strand_controller_partitions")).toBeUndefined();
    expect(value(broker, "strand_raft_term")).toBeUndefined();
    const controller = await scrape(
      sources({ openConnections: () => null, brokerFenced: () => null }),
    );
    expect(value(controller, "strand_broker_open_connections")).toBeUndefined();
    expect(value(controller, "strand_broker_fenced")).toBeUndefined();
  });

  it("reads free and total bytes of the data dir's file system in one scrape", async () => {
    const text = await scrape(sources());
    const free = value(text, "strand_log_dir_free_bytes") ?? -1;
    const size = value(text, "strand_log_dir_size_bytes") ?? -1;
    expect(free).toBeGreaterThan(0);
    expect(size).toBeGreaterThanOrEqual(free);
    const gone = await scrape(sources({ dataDir: "/nonexistent/strand" }));
    expect(value(gone, "strand_log_dir_free_bytes")).toBeUndefined();
  });

  it("exports per-partition log series only when enabled", async () => {
    expect(await scrape(sources())).not.toContain("strand_log_size_bytes");
    const text = await scrape(sources({ partitionLabels: true }));
    expect(value(text, 'strand_log_size_bytes{topic="t",partition="0"}')).toBe(100);
    expect(value(text, 'strand_log_end_offset{topic="t",partition="0"}')).toBe(9);
  });
});
