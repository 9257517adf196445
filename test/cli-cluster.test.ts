// Goal: the `strand` CLI works end to end through child processes against a real 3-node
// cluster (test/support/cluster.ts): topic create, describe, produce from stdin, consume N as
// JSON (compared field by field), alter-config, cluster info/health, delete; wrong input
// (unknown topic, bad flags, unreachable brokers) fails with exit != 0 and exactly one
// `strand: <reason>` line on stderr within a few seconds; a small perf run prints its summary.
// Everything started here is stopped in afterAll.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout, type NodeProcess, startNode, waitReady } from "./support/cluster.ts";
import { type Run, runStrand } from "./support/strand-cli.ts";

const nodes: NodeProcess[] = [];
let dataRoot = "";
let brokers = "";

/** Runs `strand ARGS` against this file's cluster. */
function strand(args: readonly string[], input = "", timeoutMs = 20_000): Promise<Run> {
  return runStrand(brokers, args, input, timeoutMs);
}

/** Asserts a failure: non-zero exit, one `strand:` line on stderr, in time. */
function expectOneLineFailure(r: Run, code: number, pattern: RegExp, msMax: number): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^strand: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.ms).toBeLessThan(msMax);
}

beforeAll(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "strand-cli-"));
  const l = await layout(3);
  nodes.push(...[1, 2, 3].map((id) => startNode(l, id, dataRoot, ["--bootstrap"])));
  await waitReady(nodes, 30_000);
  brokers = nodes.map((n) => n.clientAddress).join(",");
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (dataRoot !== "") rmSync(dataRoot, { recursive: true, force: true });
});

describe("strand CLI against a 3-node cluster", () => {
  it("creates, describes, produces from stdin, consumes as JSON, alters and deletes", async () => {
    const created = await strand([
      "topic",
      "create",
      "orders",
      "-p",
      "3",
      "-r",
      "3",
      "-c",
      "retention.ms=86400000",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/orders\s+\S+\s+created/);

    const info = JSON.parse((await strand(["cluster", "info", "--format", "json"])).stdout);
    expect(info.brokers).toHaveLength(3);
    expect(info.controllerId).toBeGreaterThan(0);
    expect(info.topicCount).toBeGreaterThanOrEqual(1);
    const health = await strand(["cluster", "health"]);
    expect(health.code, health.stderr).toBe(0);

    const lines = Array.from({ length: 30 }, (_, i) => `k${i}:value ${i} ünïcødé`);
    const produced = await strand(
      [
        "produce",
        "orders",
        "--key-separator",
        ":",
        "-H",
        "source=cli",
        "-H",
        "n=1",
        "--verbose",
        "--format",
        "json",
      ],
      `${lines.join("\n")}\n`,
    );
    expect(produced.code, produced.stderr).toBe(0);
    const acks = produced.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(acks).toHaveLength(30);

    const described = await strand(["topic", "describe", "orders", "--format", "json"]);
    expect(described.code, described.stderr).toBe(0);
    const d = JSON.parse(described.stdout);
    expect(d.partitions).toHaveLength(3);
    let total = 0;
    for (const p of d.partitions) {
      expect(p.replicas).toHaveLength(3);
      expect(p.isr.length).toBeGreaterThanOrEqual(2);
      expect(p.leader).toBeGreaterThan(0);
      expect(p.logStartOffset).toBe(0);
      total += p.highWatermark;
    }
    expect(total).toBe(30);
    const text = await strand(["topic", "describe", "orders"]);
    expect(text.stdout).toMatch(
      /PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+LOG-START\s+HIGH-WATERMARK/,
    );
    expect(text.stdout).toMatch(/retention\.ms\s+86400000/);

    const consumed = await strand(["consume", "orders", "-n", "30", "-f", "json"]);
    expect(consumed.code, consumed.stderr).toBe(0);
    const records = consumed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(30);
    const byKey = new Map(records.map((r) => [r.key, r]));
    for (const [i, a] of acks.entries()) {
      const r = byKey.get(`k${i}`);
      expect(r).toMatchObject({
        topic: "orders",
        partition: a.partition,
        offset: a.offset,
        value: `value ${i} ünïcødé`,
        headers: [
          { key: "source", value: "cli" },
          { key: "n", value: "1" },
        ],
      });
      expect(typeof r.timestamp).toBe("number");
    }

    const one = await strand([
      "consume",
      "orders",
      "-p",
      String(acks[0].partition),
      "-o",
      String(acks[0].offset),
      "-n",
      "1",
      "-k",
      "=",
    ]);
    expect(one.stdout).toBe(`k0=value 0 ünïcødé\n`);

    const altered = await strand(["topic", "alter-config", "orders", "-c", "retention.ms=3600000"]);
    expect(altered.code, altered.stderr).toBe(0);
    expect((await strand(["topic", "describe", "orders"])).stdout).toMatch(
      /retention\.ms\s+3600000/,
    );

    const deleted = await strand(["topic", "delete", "orders"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await strand(["topic", "list"])).stdout).not.toMatch(/^orders\s/m);
  }, 60_000);

  it("fails with one line and a non-zero exit on wrong input, within a few seconds", async () => {
    // One at a time, so each measures its own time, not a crowded machine's.
    const unknownTopic = await strand(["produce", "no-such-topic"], "x\n");
    const consumeUnknown = await strand(["consume", "no-such-topic", "-n", "1"]);
    const badFlag = await strand(["topic", "create", "t", "--no-such-flag"]);
    const badValue = await strand(["topic", "create", "t", "-p", "many"]);
    const unknownCommand = await strand(["frobnicate"]);
    const unreachable = await strand(["cluster", "info", "--brokers", "127.0.0.1:1"]);
    expectOneLineFailure(unknownTopic, 1, /topic "no-such-topic" does not exist/, 6_000);
    expectOneLineFailure(consumeUnknown, 1, /topic "no-such-topic" does not exist/, 6_000);
    expectOneLineFailure(badFlag, 2, /unknown option --no-such-flag/, 6_000);
    expectOneLineFailure(badValue, 2, /--partitions must be an integer/, 6_000);
    expectOneLineFailure(unknownCommand, 2, /unknown command/, 6_000);
    expectOneLineFailure(unreachable, 1, /no broker reachable/, 6_000);
  }, 30_000);

  it("runs a small perf produce and consume and prints the summary fields", async () => {
    expect((await strand(["topic", "create", "bench", "-p", "3", "-r", "3"])).code).toBe(0);
    const produced = await strand(
      [
        "perf",
        "produce",
        "--topic",
        "bench",
        "--records",
        "20000",
        "--record-size",
        "100",
        "--json",
      ],
      "",
      40_000,
    );
    expect(produced.code, produced.stderr).toBe(0);
    const p = JSON.parse(produced.stdout);
    expect(p).toMatchObject({ mode: "produce", records: 20_000, bytes: 2_000_000 });
    for (const k of ["avg", "p50", "p95", "p99", "p999", "max"])
      expect(p.latencyMs[k]).toBeGreaterThan(0);
    expect(p.recordsPerSec).toBeGreaterThan(0);
    expect(p.mbPerSec).toBeGreaterThan(0);

    const consumed = await strand(
      ["perf", "consume", "--topic", "bench", "--records", "20000"],
      "",
      40_000,
    );
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout).toMatch(
      /20000 records consumed in [\d.]+ s, [\d.]+ records\/sec \([\d.]+ MB\/sec\), fetch latency ms: avg [\d.]+, p50 [\d.]+, p95 [\d.]+, p99 [\d.]+, p99\.9 [\d.]+, max [\d.]+/,
    );
  }, 60_000);
});
