// Goal: issue 14's proof for pipelining on a real 3-node cluster: an idempotent SDK producer
// with 5 requests in flight on one partition (lingerMs 0, batches of ~1 KiB, so hundreds of
// requests pipeline) whose leader is SIGKILLed while requests are in flight. Requests the old
// leader appended but never answered, and the ones behind them, are retried on the new
// leader, some of them after out-of-order answers. Every send() must resolve, and the
// partition must read back exactly v0..vN-1 at offsets 0..N-1: send order kept, no record
// duplicated, none lost. Everything started here is stopped in afterAll.
import { rmSync } from "node:fs";
import { type RecordMetadata, Strand, silentLogger } from "@strand/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formCluster, type Started } from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";

const TOPIC = "inflight-kill";
const RECORDS = 3_000;
const started: Started = { nodes: [], roots: [] };
let strand: Strand;

beforeAll(async () => {
  const { nodes } = await formCluster(3, "inflight", started);
  strand = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "inflight-kill-test",
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 90_000,
    retry: { initialMs: 50, maxMs: 500, multiplier: 2 },
  });
}, 60_000);

afterAll(async () => {
  await strand?.close();
  await Promise.all(started.nodes.map((n) => n.kill("SIGKILL")));
  for (const root of started.roots) rmSync(root, { recursive: true, force: true });
});

const value = (i: number) => `v${i}`.padEnd(100, ".");

describe("5 requests in flight per partition across a leader kill", () => {
  it("keeps the log in send order with no duplicate and no gap", async () => {
    const admin = strand.admin();
    await admin.createTopics([{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }]);
    const producer = strand.producer({
      lingerMs: 0,
      batchSize: 1_024,
      backlogBatchSize: 1_024,
      maxInFlightPerPartition: 5,
    });
    let acked = 0;
    const sends: Promise<RecordMetadata>[] = [];
    for (let i = 0; i < RECORDS; i++)
      sends.push(
        producer.send({ topic: TOPIC, messages: [{ value: value(i) }] }).then(([r]) => {
          acked++;
          return r as RecordMetadata;
        }),
      );
    // Kill the leader with most of the records still to go, i.e. with requests in flight.
    await waitFor("a fifth of the sends acknowledged", () => acked >= RECORDS / 5, 60_000);
    const before = (await admin.describeTopics([TOPIC]))[0]?.partitions[0];
    const victim = started.nodes.find((n) => n.id === before?.leader);
    expect(victim).toBeDefined();
    await victim?.kill("SIGKILL");
    expect(acked).toBeLessThan(RECORDS);
    const results = await Promise.all(sends);
    expect(results.map((r) => r.offset)).toEqual(results.map((_, i) => BigInt(i)));
    const after = (await admin.describeTopics([TOPIC]))[0]?.partitions[0];
    expect(after?.leader).not.toBe(before?.leader);

    const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
    consumer.assign([{ topic: TOPIC, partition: 0 }]);
    const read: { offset: bigint; value: string }[] = [];
    const deadline = Date.now() + 30_000;
    while (read.length < RECORDS && Date.now() < deadline)
      for (const batch of await consumer.poll())
        for (const m of batch.messages)
          read.push({ offset: m.offset, value: Buffer.from(m.value ?? "").toString() });
    await consumer.close();
    expect(read.length).toBe(RECORDS);
    const wrong = read.findIndex((r, i) => r.offset !== BigInt(i) || r.value !== value(i));
    expect(wrong === -1 ? null : read[wrong]).toBeNull();
  }, 150_000);
});
