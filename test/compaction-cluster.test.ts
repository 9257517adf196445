// Goal: log compaction on a 3-node cluster (RF 3). A topic created with `strand topic create
// --config cleanup.policy=compact` gets many updates per key and some tombstones; every replica's cleaner compacts its own log
// (each node's cleaned-bytes metric grows), and every replica — read from its segment files —
// keeps the last value of every key and every tombstone, at strictly increasing offsets, while a
// consumer reading from the earliest offset crosses the compacted gaps and sees the same last
// values. A follower killed while the leader compacts past its log end is restarted and catches
// up across the leader's gaps to the same last values. Lowering delete.retention.ms to 0 then
// removes the tombstones (and the older values of their keys) on every replica.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Admin, type Producer, Strand } from "@strand/client";
import { decodeRecordBatch, iterateBatches } from "@strand/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClusterLayout,
  formCluster,
  metricSum,
  type NodeProcess,
  startNode,
  waitReady,
} from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";
import { runStrand } from "./support/strand-cli.ts";

const TOPIC = "kv";
const KEYS = 20;
const EXTRA = [
  ...["--log.cleaner.backoff.ms", "200", "--replica.lag.time.max.ms", "1500"],
  ...["--log.retention.check.interval.ms", "200"],
];
const started = { nodes: [] as NodeProcess[], roots: [] as string[] };
let nodes: NodeProcess[] = [];
let l: ClusterLayout;
let root = "";
let strand: Strand;
let admin: Admin;
let producer: Producer;
/** key -> last value sent (null: tombstone). */
const expected = new Map<string, string | null>();
/** Every (key, value) ever sent, to check a replica holds nothing else. */
const sent = new Set<string>();

beforeAll(async () => {
  ({ layout: l, root, nodes } = await formCluster(3, "compaction", started, EXTRA));
  strand = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "compaction-test",
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 30_000,
    retry: { initialMs: 50, maxMs: 500, multiplier: 2 },
  });
  admin = strand.admin();
  producer = strand.producer({ lingerMs: 0 });
}, 90_000);

afterAll(async () => {
  await strand?.close();
  await Promise.all(started.nodes.map((n) => n.kill("SIGKILL")));
  for (const dir of started.roots) rmSync(dir, { recursive: true, force: true });
});

/** `rounds` updates of every key (~200-byte values), one record per send. */
async function update(rounds: number, tag: string): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < KEYS; k++) {
      const value = `${tag}-${round}-${k}-${"x".repeat(180)}`;
      await send(`key-${k}`, value);
    }
  }
}

async function send(key: string, value: string | null): Promise<void> {
  await producer.send({ topic: TOPIC, messages: [{ key, value, partition: 0 }] });
  expected.set(key, value);
  sent.add(`${key}=${value}`);
}

interface Replica {
  readonly records: Array<{ offset: bigint; key: string; value: string | null }>;
  /** Batch spans, to find gaps. */
  readonly batches: Array<{ base: bigint; next: bigint }>;
}

/**
 * Node `id`'s replica read from its segment files (read-only: the node keeps running). A
 * cleaner swap between listing and reading shows as a missing file or an overlap; callers
 * retry through waitFor.
 */
function readReplica(id: number): Replica | undefined {
  const dir = join(root, `node-${id}`, `${TOPIC}-0`);
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort();
    const records: Replica["records"] = [];
    const batches: Replica["batches"] = [];
    for (const file of files) {
      const bytes = readFileSync(join(dir, file));
      for (const view of iterateBatches(bytes)) {
        const previous = batches.at(-1);
        if (previous !== undefined && view.baseOffset < previous.next) return undefined;
        batches.push({ base: view.baseOffset, next: view.nextOffset });
        for (const r of decodeRecordBatch(view.bytes()).records) {
          const value = r.value === null ? null : r.value.toString();
          records.push({ offset: r.offset, key: r.key!.toString(), value });
        }
      }
    }
    return { records, batches };
  } catch {
    return undefined;
  }
}

function lastValues(records: Replica["records"]): Map<string, string | null> {
  const last = new Map<string, string | null>();
  for (const r of records) last.set(r.key, r.value);
  return last;
}

/** True when node `id`'s replica holds exactly the expected last values, and only sent data. */
function replicaMatches(id: number, maxRecords = Number.POSITIVE_INFINITY): boolean {
  const replica = readReplica(id);
  if (replica === undefined) return false;
  const last = lastValues(replica.records);
  const sameLast =
    last.size === expected.size && [...expected].every(([k, v]) => last.get(k) === v);
  const onlySent = replica.records.every((r) => sent.has(`${r.key}=${r.value}`));
  return sameLast && onlySent && replica.records.length <= maxRecords;
}

async function cleanedBytes(n: NodeProcess): Promise<number> {
  const { body } = await n.http("/metrics");
  return metricSum(body, "strand_log_cleaner_cleaned_bytes_total", `topic="${TOPIC}"`);
}

async function describe0() {
  const [topic] = await admin.describeTopics([TOPIC]);
  return topic!.partitions[0]!;
}

describe("log compaction on a 3-node cluster", () => {
  it("every replica keeps the last value of every key and every tombstone", async () => {
    // Through the CLI: `strand topic create --config cleanup.policy=compact` works.
    const created = await runStrand(nodes.map((n) => n.clientAddress).join(","), [
      ...["topic", "create", TOPIC, "-p", "1", "-r", "3", "--config", "cleanup.policy=compact"],
      ...["-c", "segment.bytes=4096", "-c", "min.cleanable.dirty.ratio=0.01"],
      ...["-c", "delete.retention.ms=3600000"],
    ]);
    expect(created.code, created.stderr).toBe(0);
    await waitFor(
      "the topic's leader",
      async () => (await describe0().catch(() => undefined))?.leader ?? undefined,
    );
    await update(8, "a");
    for (const k of [0, 1, 2]) await send(`key-${k}`, null);
    await update(1, "b"); // rolls past the tombstones so they can be cleaned around
    for (const k of [3, 4]) await send(`key-${k}`, null);
    await update(2, "c"); // every key written again: only key-5 and key-6 end deleted
    for (const k of [5, 6]) await send(`key-${k}`, null);
    // Fill a few segments with other keys so the tombstones lie in closed segments.
    for (let i = 0; i < 60; i++) await send(`filler-${i}`, `f-${i}-${"y".repeat(180)}`);
    const total = sent.size;
    await waitFor(
      "every replica compacted",
      async () => {
        const metrics = await Promise.all(nodes.map(cleanedBytes));
        return metrics.every((b) => b > 0) && nodes.every((n) => replicaMatches(n.id, total / 2))
          ? true
          : undefined;
      },
      60_000,
    );
    for (const k of [5, 6]) expect(expected.get(`key-${k}`)).toBeNull();
    const replica = readReplica(nodes[0]!.id)!;
    expect(
      replica.records
        .filter((r) => r.value === null)
        .map((r) => r.key)
        .sort(),
    ).toEqual(["key-5", "key-6"]);
  }, 120_000);

  it("a consumer reads from the earliest offset across the gaps", async () => {
    const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 100 });
    try {
      consumer.assign([{ topic: TOPIC, partition: 0 }]);
      const { highWatermark } = await describe0();
      const seen: Array<{ offset: bigint; key: string; value: string | null }> = [];
      await waitFor(
        "consumer reached the high watermark",
        async () => {
          for (const batch of await consumer.poll()) {
            for (const m of batch.messages) {
              const value = m.value === null ? null : m.value.toString();
              seen.push({ offset: m.offset, key: m.key!.toString(), value });
            }
          }
          return seen.length > 0 && seen.at(-1)!.offset >= highWatermark - 1n ? true : undefined;
        },
        20_000,
      );
      for (let i = 1; i < seen.length; i++)
        expect(seen[i]!.offset).toBeGreaterThan(seen[i - 1]!.offset);
      // Gaps: fewer records than offsets.
      expect(BigInt(seen.length)).toBeLessThan(highWatermark);
      expect(lastValues(seen)).toEqual(expected);
    } finally {
      await consumer.close();
    }
  }, 30_000);

  it("a follower restarted after the leader compacted past its log end catches up across gaps", async () => {
    const partition = await describe0();
    const followerId = partition.replicas.find((id) => id !== partition.leader)!;
    const follower = nodes.find((n) => n.id === followerId)!;
    await follower.kill("SIGKILL");
    const stoppedAt = readReplica(followerId)!;
    const followerEnd = stoppedAt.batches.at(-1)!.next;
    const leader = nodes.find((n) => n.id === partition.leader)!;
    const before = await cleanedBytes(leader);
    await update(6, "d");
    for (let i = 0; i < 40; i++) await send(`filler2-${i}`, `g-${i}-${"z".repeat(180)}`);
    // The leader cleaned again, leaving a gap above the follower's log end.
    await waitFor(
      "a compacted gap above the stopped follower's log end on the leader",
      async () => {
        if ((await cleanedBytes(leader)) <= before) return undefined;
        const replica = readReplica(leader.id);
        const gap = replica?.batches.some(
          (b, i) => i > 0 && b.base >= followerEnd && b.base > replica.batches[i - 1]!.next,
        );
        return gap === true ? true : undefined;
      },
      30_000,
    );
    const restarted = startNode(l, followerId, root, EXTRA);
    started.nodes.push(restarted);
    nodes = nodes.map((n) => (n.id === followerId ? restarted : n));
    await waitReady([restarted], 30_000);
    await waitFor(
      "the restarted follower holds every last value",
      async () => (replicaMatches(followerId) ? true : undefined),
      30_000,
    );
    await waitFor("the follower back in the ISR", async () =>
      (await describe0()).isr.includes(followerId) ? true : undefined,
    );
    expect(
      restarted.lines.some((line) => line.includes("applying a replica fetch answer failed")),
    ).toBe(false);
  }, 120_000);

  it("tombstones go on every replica once delete.retention.ms has passed", async () => {
    for (const k of [7, 8]) await send(`key-${k}`, null);
    await admin.alterConfigs([
      { resource: { type: "topic", name: TOPIC }, changes: { "delete.retention.ms": "0" } },
    ]);
    // New data makes the logs dirty again; the next passes drop the expired tombstones.
    for (let i = 0; i < 40; i++) await send(`filler3-${i}`, `h-${i}-${"w".repeat(180)}`);
    for (const k of [7, 8]) expected.delete(`key-${k}`);
    await waitFor(
      "no tombstone left on any replica",
      async () =>
        nodes.every((n) => {
          const replica = readReplica(n.id);
          return (
            replica?.records.every((r) => r.key !== "key-7" && r.key !== "key-8") === true &&
            replicaMatches(n.id)
          );
        })
          ? true
          : undefined,
      30_000,
    );
  }, 60_000);
});
