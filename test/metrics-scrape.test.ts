// Goal: what a real node exports is what the deploy assets expect. On a running node (with the
// opt-in per-partition series on) every metric name that deploy/prometheus/alerts.yaml and
// deploy/grafana/strand.json query is exported; `promtool check metrics` passes on its scrape;
// a fetch's long-poll wait is measured apart from its service time; a refused admin call is
// counted under its error code; the controller and Raft gauges read as on a healthy node.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { FetchResponse__Output, ProduceResponse__Output } from "@strand/protocol";
import { encodeRecordBatch } from "@strand/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopNodes } from "../scripts/lib/cluster.ts";
import {
  closeAllStubs,
  formCluster,
  metricSum,
  type NodeProcess,
  type Started,
  stubs,
  unary,
} from "./support/cluster.ts";
import {
  alertExpressions,
  dashboardExpressions,
  exportedNames,
  hasTool,
  MISSING_PROMETHEUS,
  metricNames,
  promtool,
  until,
} from "./support/prometheus.ts";
import { runStrand } from "./support/strand-cli.ts";

const started: Started = { nodes: [], roots: [] };
let node: NodeProcess;
let scrape = "";
const WAIT_MS = 800;

function fetchAt(offset: string): Promise<FetchResponse__Output> {
  return unary((cb) =>
    stubs(node.clientAddress).fetch.Fetch(
      {
        maxWaitMs: WAIT_MS,
        minBytes: 1,
        topics: [{ topic: "m", partitions: [{ partition: 0, fetchOffset: offset }] }],
      },
      cb,
    ),
  );
}

beforeAll(async () => {
  const formed = await formCluster(1, "metrics", started, ["--metrics.partition.enable", "true"]);
  node = formed.nodes[0] as NodeProcess;
  const brokers = node.clientAddress;
  const created = await runStrand(brokers, ["topic", "create", "m", "-p", "2", "-r", "1"]);
  expect(created.code, created.stderr).toBe(0);
  const again = await runStrand(brokers, ["topic", "create", "m", "-p", "2", "-r", "1"]);
  expect(again.code).not.toBe(0);
  const records = encodeRecordBatch({
    baseTimestamp: 1_700_000_000_000n,
    records: ["a", "b", "c"].map((v) => ({ key: null, value: Buffer.from(v) })),
  });
  const produced = await unary<ProduceResponse__Output>((cb) =>
    stubs(brokers).produce.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 5_000,
        topics: [{ topic: "m", partitions: [{ partition: 0, records }] }],
      },
      cb,
    ),
  );
  expect(produced.topics[0]?.partitions[0]?.errorCode).toBe(0);
  // One fetch with data (answers at once), one at the log end (waits WAIT_MS for nothing).
  expect((await fetchAt("0")).topics[0]?.partitions[0]?.records.length).toBeGreaterThan(0);
  const parked = Date.now();
  expect((await fetchAt("3")).topics[0]?.partitions[0]?.records.length).toBe(0);
  expect(Date.now() - parked).toBeGreaterThanOrEqual(WAIT_MS - 50);
  scrape = (await node.http("/metrics")).body;
}, 90_000);

afterAll(async () => {
  closeAllStubs();
  await stopNodes(started.nodes, 10_000);
  for (const r of started.roots) rmSync(r, { recursive: true, force: true });
});

describe("a running node's /metrics", () => {
  it("exports every metric the alerts and the dashboard query", () => {
    const exported = exportedNames(scrape);
    const queried = new Set<string>();
    for (const e of [...alertExpressions(), ...dashboardExpressions()])
      for (const n of metricNames(e)) queried.add(n);
    queried.delete("up"); // Prometheus's own per-target series
    expect(queried.size).toBeGreaterThan(30);
    const missing = [...queried].filter((n) => !exported.has(n)).sort();
    expect(missing, `queried but not exported: ${missing.join(", ")}`).toEqual([]);
  });

  it("documents every exported family in docs/metrics.md", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "docs", "metrics.md"), "utf8");
    const families = [...scrape.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "");
    const undocumented = families.filter(
      (f) => !doc.includes(`\`${f}\``) && !f.startsWith("nodejs_heap_space_size_"),
    );
    expect(undocumented, `not in docs/metrics.md: ${undocumented.join(", ")}`).toEqual([]);
  });

  it.skipIf(!hasTool("promtool"))(
    `passes promtool check metrics ${hasTool("promtool") ? "" : MISSING_PROMETHEUS}`,
    () => {
      const r = promtool(["check", "metrics"], scrape);
      expect(r.status, r.output).toBe(0);
    },
  );

  it("keeps stock process metric names and says which build runs", () => {
    expect(scrape).toMatch(/^process_cpu_seconds_total\{node_id="1"\} /m);
    expect(scrape).toMatch(/^nodejs_eventloop_lag_seconds\{node_id="1"\} /m);
    expect(scrape).not.toContain("strand_process_");
    expect(scrape).toMatch(
      /^strand_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+\.\d+\.\d+",roles="broker,controller",node_id="1"\} 1$/m,
    );
  });

  it("measures a fetch's long-poll wait apart from its service time", () => {
    expect(metricSum(scrape, "strand_broker_fetch_wait_seconds_count")).toBe(2);
    expect(metricSum(scrape, "strand_broker_fetch_wait_seconds_sum")).toBeGreaterThan(
      (WAIT_MS - 100) / 1000,
    );
    const fetches = 'method="Fetch"';
    expect(metricSum(scrape, "strand_broker_request_duration_seconds_count", fetches)).toBe(2);
    // Both fetches' service time together stays far below the one wait.
    expect(metricSum(scrape, "strand_broker_request_duration_seconds_sum", fetches)).toBeLessThan(
      WAIT_MS / 2 / 1000,
    );
  });

  it("counts a refused CreateTopics under its error code", () => {
    expect(
      metricSum(
        scrape,
        "strand_broker_requests_total",
        'method="CreateTopics",code="TOPIC_ALREADY_EXISTS"',
      ),
    ).toBe(1);
    expect(
      metricSum(scrape, "strand_broker_requests_total", 'method="CreateTopics",code="NONE"'),
    ).toBe(1);
  });

  it("reads as a healthy one-node cluster: active controller, Raft leader, disk, logs", () => {
    const one = (name: string, filter = "") => metricSum(scrape, `${name}{`, filter);
    expect(one("strand_controller_active")).toBe(1);
    expect(one("strand_raft_leader")).toBe(1);
    expect(one("strand_raft_term")).toBeGreaterThanOrEqual(1);
    expect(one("strand_raft_commit_index")).toBeGreaterThan(0);
    expect(one("strand_controller_brokers")).toBe(1);
    expect(one("strand_controller_partitions")).toBe(2);
    expect(one("strand_controller_offline_partitions")).toBe(0);
    expect(one("strand_broker_partitions_led")).toBe(2);
    expect(one("strand_broker_fenced")).toBe(0);
    expect(one("strand_log_dir_free_bytes")).toBeGreaterThan(0);
    expect(one("strand_log_dir_size_bytes")).toBeGreaterThan(one("strand_log_dir_free_bytes") - 1);
    expect(one("strand_log_end_offset", 'topic="m",partition="0"')).toBe(3);
    expect(one("strand_log_size_bytes", 'topic="m",partition="0"')).toBeGreaterThan(0);
    expect(one("strand_broker_in_bytes_total", 'topic="m"')).toBeGreaterThan(0);
    expect(one("strand_broker_leader_elections_total")).toBe(2);
  });

  it("counts open Subscribe and ProduceStream streams until they close", async () => {
    const s = stubs(node.clientAddress);
    const sub = s.fetch.Subscribe({
      topics: [{ topic: "m", partitions: [{ partition: 0, fetchOffset: "0" }] }],
    });
    sub.on("error", () => undefined);
    await new Promise((resolve) => sub.once("data", resolve));
    const prod = s.produce.ProduceStream();
    prod.on("error", () => undefined);
    const records = encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      records: [{ key: null, value: Buffer.from("s") }],
    });
    prod.write({
      correlationId: "1",
      request: {
        acks: "ACKS_ALL",
        timeoutMs: 5_000,
        topics: [{ topic: "m", partitions: [{ partition: 1, records }] }],
      },
    });
    await new Promise((resolve) => prod.once("data", resolve));
    const streams = async (method: string) =>
      metricSum((await node.http("/metrics")).body, "strand_broker_open_streams", `"${method}"`);
    expect(await streams("Subscribe")).toBe(1);
    expect(await streams("ProduceStream")).toBe(1);
    const text = (await node.http("/metrics")).body;
    expect(metricSum(text, "strand_broker_open_connections{")).toBeGreaterThanOrEqual(1);
    sub.cancel();
    prod.end();
    await until(
      "both streams closed",
      async () =>
        (await streams("Subscribe")) === 0 && (await streams("ProduceStream")) === 0
          ? true
          : undefined,
      10_000,
      100,
    );
  });
});
