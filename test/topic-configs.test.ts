// Goal: topic settings take effect on every replica of a 3-node cluster, at creation and when
// altered at run time without a restart: segment.bytes rolls segments (each replica's partition
// folder holds several), a raised segment.bytes stops the rolling, retention.bytes and
// retention.ms delete old segments on every replica (the node's retention check runs every
// 200 ms here), flush.messages reaches every replica's log. Settings Strand does not apply
// (an unknown cleanup.policy, an unknown key, an out-of-range value) are refused with
// INVALID_CONFIG naming the key. Everything started here is stopped in afterAll.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Admin, type Producer, Strand, StrandClientError } from "@strand/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout, type NodeProcess, startNode, waitReady } from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";

const nodes: NodeProcess[] = [];
let root = "";
let strand: Strand;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-topic-configs-"));
  const l = await layout(3);
  const extra = ["--bootstrap", "--log.retention.check.interval.ms", "200"];
  nodes.push(...[1, 2, 3].map((id) => startNode(l, id, root, extra)));
  await waitReady(nodes, 30_000);
  strand = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "topic-configs-test",
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 20_000,
    retry: { initialMs: 50, maxMs: 500, multiplier: 2 },
  });
  admin = strand.admin();
  producer = strand.producer({ lingerMs: 0 });
}, 60_000);

afterAll(async () => {
  await strand?.close();
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

/** Segment files (.log) in node `id`'s folder of partition 0 of `topic`. */
function segments(id: number, topic: string): string[] {
  try {
    return readdirSync(join(root, `node-${id}`, `${topic}-0`)).filter((f) => f.endsWith(".log"));
  } catch {
    return [];
  }
}

const allSegments = (topic: string) => nodes.map((n) => segments(n.id, topic).length);

/**
 * Whether node `id`'s log of `topic` obeys retention.bytes `limit`: deleting its oldest segment
 * would take it below the limit, or only the active segment is left.
 */
function withinRetentionBytes(id: number, topic: string, limit: number): boolean {
  const dir = join(root, `node-${id}`, `${topic}-0`);
  const sizes = segments(id, topic)
    .sort()
    .map((f) => statSync(join(dir, f)).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  return sizes.length === 1 || total - sizes[0]! < limit;
}

/** Sends `count` ~300-byte records one batch each (acks=all: every ISR replica has them). */
async function produce(topic: string, count: number, timestamp?: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(300, i % 251);
    const message = { value, partition: 0, ...(timestamp === undefined ? {} : { timestamp }) };
    await producer.send({ topic, messages: [message] });
  }
}

async function createTopic(topic: string, configs: Record<string, string> = {}): Promise<void> {
  await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3, configs }]);
  await waitFor(`${topic} on every node`, () =>
    allSegments(topic).every((n) => n > 0) ? true : undefined,
  );
}

/** Rejects with INVALID_CONFIG whose message names `key`. */
async function expectInvalidConfig(call: Promise<unknown>, key: string): Promise<void> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StrandClientError);
  const e = error as StrandClientError;
  expect(e.code.name).toBe("INVALID_CONFIG");
  expect(`${e.message} ${e.brokerMessage}`).toContain(key);
}

describe("topic settings on a 3-node cluster", () => {
  it("segment.bytes at creation rolls segments on every replica", async () => {
    await createTopic("small-segments", { "segment.bytes": "2048" });
    await produce("small-segments", 30); // ~11 KB: 5+ segments of at most 2 KB
    for (const count of allSegments("small-segments")) expect(count).toBeGreaterThanOrEqual(5);
  }, 30_000);

  it("segment.bytes and retention.bytes altered at run time apply on every replica", async () => {
    await createTopic("altered");
    await produce("altered", 10);
    expect(allSegments("altered")).toEqual([1, 1, 1]);

    await admin.alterConfigs([
      { resource: { type: "topic", name: "altered" }, changes: { "segment.bytes": "1024" } },
    ]);
    // The config reaches brokers through the metadata log: wait until the next appends roll.
    await waitFor("rolls after lowering segment.bytes", async () => {
      await produce("altered", 2);
      return allSegments("altered").every((n) => n >= 3) ? true : undefined;
    });
    await produce("altered", 10);
    // Two ~370-byte batches per 1 KB segment: 10 more batches are 5 more segments.
    for (const count of allSegments("altered")) expect(count).toBeGreaterThanOrEqual(8);

    await admin.alterConfigs([
      { resource: { type: "topic", name: "altered" }, changes: { "segment.bytes": "1048576" } },
    ]);
    await waitFor("segment.bytes raised on every replica", async () => {
      const before = allSegments("altered");
      await produce("altered", 3);
      const after = allSegments("altered");
      return after.every((n, i) => n === before[i]) ? true : undefined;
    });

    const before = allSegments("altered");
    await admin.alterConfigs([
      { resource: { type: "topic", name: "altered" }, changes: { "retention.bytes": "2048" } },
    ]);
    await waitFor("retention.bytes applied on every replica", () =>
      nodes.every((n) => withinRetentionBytes(n.id, "altered", 2048)) ? true : undefined,
    );
    const after = allSegments("altered");
    for (const [i, n] of after.entries()) expect(n).toBeLessThan(before[i]!);
    const [offsets] = await admin.fetchTopicOffsets("altered");
    expect(offsets!.low).toBeGreaterThan(0n);
  }, 45_000);

  it("retention.ms deletes closed segments older than it on every replica", async () => {
    await createTopic("short-lived", { "segment.bytes": "1024" });
    // Records an hour old: every closed segment is past retention.ms=60000 at once.
    await produce("short-lived", 10, Date.now() - 3_600_000);
    for (const count of allSegments("short-lived")) expect(count).toBeGreaterThanOrEqual(5);
    await admin.alterConfigs([
      { resource: { type: "topic", name: "short-lived" }, changes: { "retention.ms": "60000" } },
    ]);
    await waitFor("retention.ms applied on every replica", () =>
      allSegments("short-lived").every((n) => n === 1) ? true : undefined,
    );
  }, 30_000);

  it("flush.messages altered at run time reaches every replica's log", async () => {
    await createTopic("flushed");
    await admin.alterConfigs([
      { resource: { type: "topic", name: "flushed" }, changes: { "flush.messages": "1" } },
    ]);
    await waitFor("flush.messages=1 in every replica's log config", () =>
      nodes.every((n) =>
        n.lines.some(
          (l) =>
            l.includes("log config updated") &&
            l.includes("flushed-0") &&
            l.includes('"flushMessages":1'),
        ),
      )
        ? true
        : undefined,
    );
  }, 30_000);

  it("refuses settings Strand does not apply with INVALID_CONFIG naming the key", async () => {
    await expectInvalidConfig(
      admin.createTopics([{ topic: "compacted", configs: { "cleanup.policy": "shred" } }]),
      "cleanup.policy",
    );
    await expectInvalidConfig(
      admin.createTopics([{ topic: "stamped", configs: { "message.timestamp.type": "x" } }]),
      "message.timestamp.type",
    );
    const alter = (changes: Record<string, string>) =>
      admin.alterConfigs([{ resource: { type: "topic", name: "small-segments" }, changes }]);
    await expectInvalidConfig(alter({ "cleanup.policy": "compact,shred" }), "cleanup.policy");
    await expectInvalidConfig(alter({ "no.such.setting": "1" }), "no.such.setting");
    await expectInvalidConfig(alter({ "segment.bytes": "10" }), "segment.bytes");
    await expectInvalidConfig(alter({ "compression.type": "zstd" }), "compression.type");
    expect(await admin.listTopics()).not.toContain("compacted");
  }, 30_000);
});
