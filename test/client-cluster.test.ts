// Goal: the SDK works against a real multi-process 3-node cluster (test/support/cluster.ts):
// admin creates and describes a 6-partition RF-3 topic; every record type (null keys, null
// values, headers with repeats, a 512 KiB value, explicit and keyed partitions) produced
// through the smart path comes back byte for byte at the offsets send() reported; a topic
// created after the client started is found by a metadata refresh; when a partition's
// leader is SIGKILLed the producer follows the new leader and every acknowledged record is
// read back at its offset. Everything started here is stopped in afterAll.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConsumerBatch,
  type Logger,
  type Message,
  type RecordMetadata,
  Strand,
  silentLogger,
} from "@strand/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout, type NodeProcess, startNode, waitReady } from "./support/cluster.ts";

const nodes: NodeProcess[] = [];
let root = "";
let strand: Strand;

/** Client log lines on stdout when STRAND_TEST_CLIENT_LOGS is set (debugging). */
function testLogger(bindings: Record<string, unknown> = {}): Logger {
  if (!process.env.STRAND_TEST_CLIENT_LOGS) return silentLogger;
  const line =
    (level: string) =>
    (fields: Readonly<Record<string, unknown>>, message: string): void =>
      console.log(level, message, JSON.stringify({ ...bindings, ...fields }));
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    child: (more) => testLogger({ ...bindings, ...more }),
  };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-client-"));
  const l = await layout(3);
  nodes.push(...[1, 2, 3].map((id) => startNode(l, id, root, ["--bootstrap"])));
  await waitReady(nodes, 30_000);
  strand = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "client-cluster-test",
    logger: testLogger(),
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 30_000,
    retry: { initialMs: 50, maxMs: 500, multiplier: 2 },
  });
}, 60_000);

afterAll(async () => {
  await strand?.close();
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

/** Reads `count` records of `partitions` from the start, bounded in time. */
async function readAll(topic: string, partitions: number, count: number): Promise<ConsumerBatch[]> {
  const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const batches: ConsumerBatch[] = [];
  let seen = 0;
  const deadline = Date.now() + 20_000;
  for (let round = 0; round < 1_000 && seen < count && Date.now() < deadline; round++)
    for (const b of await consumer.poll()) {
      batches.push(b);
      seen += b.messages.length;
    }
  await consumer.close();
  expect(seen).toBe(count);
  return batches;
}

function asBuffer(v: Uint8Array | string | null | undefined): Buffer | null {
  return v === null || v === undefined ? null : Buffer.from(v);
}

describe("the SDK against a 3-node cluster", () => {
  it("creates a topic, produces every record type, and reads it all back", async () => {
    const admin = strand.admin();
    await admin.createTopics([{ topic: "everything", numPartitions: 6, replicationFactor: 3 }]);
    const [described] = await admin.describeTopics(["everything"]);
    expect(described?.partitions).toHaveLength(6);
    for (const p of described!.partitions) expect(p.replicas).toHaveLength(3);
    expect(await admin.listTopics()).toContain("everything");
    expect((await admin.describeCluster()).brokers).toHaveLength(3);

    const messages: Message[] = Array.from({ length: 300 }, (_, i) => ({
      key: i % 2 === 0 ? null : `key-${i % 17}`,
      value: i % 7 === 0 ? null : `value-${i}`,
      ...(i % 5 === 0 ? { headers: { trace: `t${i}`, dup: ["1", "2"], none: null } } : {}),
      ...(i % 11 === 0 ? { partition: i % 6 } : {}),
    }));
    messages.push({ key: "big", value: Buffer.alloc(512 * 1024, 7) });
    const producer = strand.producer({ lingerMs: 5, compression: "lz4" });
    const results: RecordMetadata[] = [];
    for (let i = 0; i < messages.length; i += 50)
      results.push(
        ...(await producer.send({ topic: "everything", messages: messages.slice(i, i + 50) })),
      );
    expect(new Set(results.map((r) => r.partition)).size).toBe(6);

    const batches = await readAll("everything", 6, messages.length);
    const byPlace = new Map<string, ConsumerBatch["messages"][number]>();
    for (const b of batches)
      for (const m of b.messages) byPlace.set(`${b.partition}@${m.offset}`, m);
    results.forEach((r, i) => {
      const got = byPlace.get(`${r.partition}@${r.offset}`);
      const sent = messages[i]!;
      expect(got, `record ${i}`).toBeDefined();
      expect(got!.key).toEqual(asBuffer(sent.key));
      expect(got!.value).toEqual(asBuffer(sent.value));
      if (sent.headers !== undefined)
        expect(got!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
          ["trace", `t${i}`],
          ["dup", "1"],
          ["dup", "2"],
          ["none", null],
        ]);
    });
    const offsets = await admin.fetchTopicOffsets("everything");
    expect(offsets.reduce((s, o) => s + Number(o.high - o.low), 0)).toBe(messages.length);
  }, 40_000);

  it("finds a topic created after it started (metadata refresh)", async () => {
    const producer = strand.producer({ lingerMs: 0 });
    await expect(
      strand.admin().createTopics([{ topic: "later", numPartitions: 2 }]),
    ).resolves.toHaveLength(1);
    const out = await producer.send({ topic: "later", messages: [{ key: "k", value: "v" }] });
    expect(out[0]?.offset).toBe(0n);
  });

  it("splits merged batches a topic's max.message.bytes refuses; only a too-large record fails", async () => {
    const admin = strand.admin();
    await admin.createTopics([
      {
        topic: "small-batches",
        numPartitions: 1,
        replicationFactor: 3,
        configs: { "max.message.bytes": "4096" },
      },
    ]);
    const producer = strand.producer({ lingerMs: 0, batchSize: 512 });
    await producer.send({ topic: "small-batches", messages: [{ value: "warm" }] });
    // 400 one-record sends at once: the backlog merges up to 256 KiB unless the producer
    // learns the topic's limit from MESSAGE_TOO_LARGE and splits.
    const sends = Array.from({ length: 400 }, (_, i) =>
      producer.send({ topic: "small-batches", messages: [{ value: `v${i}`.padEnd(100, ".") }] }),
    );
    const tooBig = producer.send({
      topic: "small-batches",
      messages: [{ value: "x".repeat(8192) }],
    });
    await expect(tooBig).rejects.toThrow(/MESSAGE_TOO_LARGE/);
    const offsets = (await Promise.all(sends)).map(([r]) => r!.offset);
    expect(offsets).toEqual(offsets.map((_, i) => BigInt(i + 1)));
    const read = (await readAll("small-batches", 1, 401)).flatMap((b) => b.messages);
    expect(read.map((m) => asBuffer(m.value)?.toString().replace(/\.+$/, ""))).toEqual([
      "warm",
      ...offsets.map((_, i) => `v${i}`),
    ]);
  }, 40_000);

  it("follows the new leader when a partition's leader is killed", async () => {
    const admin = strand.admin();
    await admin.createTopics([{ topic: "failover", numPartitions: 1, replicationFactor: 3 }]);
    const producer = strand.producer({ lingerMs: 0 });
    const acked: { value: string; offset: bigint }[] = [];
    const sendOne = async (i: number) => {
      const [r] = await producer.send({ topic: "failover", messages: [{ value: `v${i}` }] });
      acked.push({ value: `v${i}`, offset: r!.offset });
    };
    for (let i = 0; i < 10; i++) await sendOne(i);
    const before = (await admin.describeTopics(["failover"]))[0]!.partitions[0]!;
    const victim = nodes.find((n) => n.id === before.leader)!;
    await victim.kill("SIGKILL");
    for (let i = 10; i < 30; i++) await sendOne(i);
    const after = (await admin.describeTopics(["failover"]))[0]!.partitions[0]!;
    expect(after.leader).not.toBe(before.leader);
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    // Every acknowledged record is at the offset send() reported (retries may add copies).
    const high = (await admin.fetchTopicOffsets("failover"))[0]!.high;
    const batches = await readAll("failover", 1, Number(high));
    const byOffset = new Map(batches.flatMap((b) => b.messages.map((m) => [m.offset, m] as const)));
    for (const a of acked) expect(byOffset.get(a.offset)?.value?.toString()).toBe(a.value);
  }, 40_000);
});
