// Goal: with idempotence, up to maxInFlightPerPartition Produce requests of one partition are
// in flight at once, and whatever happens to them (answers late, out of order, lost before or
// after the append, refused because an earlier request is not in yet) the partition's log
// holds every record once, in send order, and each send reports the offsets its records
// really have. The fake leader applies the broker's sequence rules (`sequenced`: last 5
// batches remembered, OUT_OF_ORDER_SEQUENCE_NUMBER otherwise) and can hold a request so a
// later one overtakes it.
import * as grpc from "@grpc/grpc-js";
import { decodeRecordBatch, ErrorCode } from "@strand/protocol";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RecordMetadata, Strand, type StrandOptions } from "../src/index.ts";
import { FakeCluster, type ScriptedAnswer } from "./fake-cluster.ts";

let cluster: FakeCluster;
const clients: Strand[] = [];
let topics = 0;

beforeAll(async () => {
  cluster = await FakeCluster.start(1);
  cluster.producerIds = true;
  cluster.sequenced = true;
});
afterAll(async () => {
  await cluster.stop();
});
afterEach(async () => {
  cluster.maxBatchBytes = Number.POSITIVE_INFINITY;
  cluster.script = null;
  cluster.hold = null;
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(options: Partial<StrandOptions> = {}): Strand {
  const strand = new Strand({
    brokers: [cluster.addresses[0]!],
    retry: { initialMs: 5, maxMs: 20, multiplier: 2 },
    ...options,
  });
  clients.push(strand);
  return strand;
}

function newTopic(): string {
  const topic = `inflight-${topics++}`;
  cluster.addTopic(topic, 1);
  return topic;
}

/** The values in partition 0's log, in offset order, with their offsets. */
function logOf(topic: string): { value: string; offset: bigint }[] {
  const out: { value: string; offset: bigint }[] = [];
  for (const batch of cluster.topics.get(topic)![0]!.batches)
    for (const r of decodeRecordBatch(batch).records)
      out.push({ value: r.value!.toString(), offset: r.offset });
  return out;
}

/** Sends `n` one-record sends without waiting between them; returns their results. */
async function sendAll(
  strand: Strand,
  topic: string,
  n: number,
  options: { maxInFlightPerPartition?: number; batchSize?: number } = {},
): Promise<RecordMetadata[]> {
  const producer = strand.producer({ lingerMs: 0, batchSize: 200, ...options });
  await producer.send({ topic, messages: [{ value: "warm" }] });
  const sends: Promise<RecordMetadata[]>[] = [];
  for (let i = 0; i < n; i++) {
    sends.push(producer.send({ topic, messages: [{ value: `v${i}`.padEnd(40, ".") }] }));
    // Let some sends leave in their own request, so several requests are in flight.
    if (i % 7 === 6) await new Promise((r) => setImmediate(r));
  }
  return (await Promise.all(sends)).map(([r]) => r!);
}

/** The log holds warm + v0..v(n-1) once each, in order, at the offsets the sends reported. */
function expectExactlyOnceInOrder(topic: string, results: RecordMetadata[]): void {
  const log = logOf(topic);
  expect(log.map((r) => r.value.replace(/\.+$/, ""))).toEqual([
    "warm",
    ...results.map((_, i) => `v${i}`),
  ]);
  for (const [i, r] of results.entries()) expect(r.offset).toBe(log[i + 1]!.offset);
}

/** Most Produce calls processed within `windowMs` of each other (requests in flight together). */
function overlapping(windowMs: number): number {
  const at = cluster.produceCalls.map((c) => c.at);
  let most = 0;
  for (const t of at) most = Math.max(most, at.filter((u) => u >= t && u - t < windowMs).length);
  return most;
}

describe("producer: requests in flight per partition", () => {
  it("pipelines a partition's requests, and maxInFlightPerPartition 1 does not", async () => {
    const topic = newTopic();
    const strand = client();
    cluster.produceCalls.length = 0;
    cluster.script = () => ({ delayMs: 60 });
    const results = await sendAll(strand, topic, 60);
    expectExactlyOnceInOrder(topic, results);
    expect(overlapping(40)).toBeGreaterThan(1);

    const serial = newTopic();
    cluster.produceCalls.length = 0;
    const one = await sendAll(strand, serial, 60, { maxInFlightPerPartition: 1 });
    expectExactlyOnceInOrder(serial, one);
    // Each request waits for the answer to the one before (60 ms later).
    expect(overlapping(40)).toBe(1);
  });

  it("resends in order when a middle request is lost after its append", async () => {
    const topic = newTopic();
    const strand = client();
    let call = 0;
    cluster.script = () => {
      call++;
      // The second request is written, but its answer says it failed (acks=all timed out);
      // the third is held back so it reaches the leader after the resend started.
      if (call === 3) return { code: ErrorCode.REQUEST_TIMED_OUT.code, appended: true };
      return { delayMs: 20 };
    };
    const results = await sendAll(strand, topic, 50);
    expectExactlyOnceInOrder(topic, results);
  });

  it("never resends a batch the leader no longer remembers (at most 5 unsettled batches out)", async () => {
    const topic = newTopic();
    const strand = client();
    const producer = strand.producer({
      lingerMs: 0,
      batchSize: 100,
      backlogBatchSize: 100,
      maxInFlightPerPartition: 1,
    });
    await producer.send({ topic, messages: [{ value: "warm" }] });
    let call = 0;
    // The first request is written but answered with a retriable error: its resend must only
    // hold batches the leader can still recognise as duplicates.
    cluster.script = () =>
      ++call === 1 ? { code: ErrorCode.NOT_ENOUGH_REPLICAS.code, appended: true } : null;
    const out = await producer.send({
      topic,
      messages: Array.from({ length: 30 }, (_, i) => ({ value: `v${i}`.padEnd(40, ".") })),
    });
    expectExactlyOnceInOrder(topic, out);
  });
});

describe("producer: a backlogged partition", () => {
  it("merges queued batches beyond the window into bigger ones as they leave", async () => {
    const topic = newTopic();
    const strand = client();
    const producer = strand.producer({ lingerMs: 0, batchSize: 100 });
    await producer.send({ topic, messages: [{ value: "warm" }] });
    const out = await producer.send({
      topic,
      messages: Array.from({ length: 40 }, (_, i) => ({ value: `v${i}`.padEnd(40, ".") })),
    });
    expectExactlyOnceInOrder(topic, out);
    // 40 batches of one record were queued; far fewer, larger ones reached the log.
    expect(cluster.topics.get(topic)![0]!.batches.length).toBeLessThanOrEqual(6);
  });
});

describe("producer: a batch the leader finds too large", () => {
  it("is split and re-sequenced until it fits: every record once, in order", async () => {
    const topic = newTopic();
    const strand = client();
    const producer = strand.producer({ lingerMs: 0, batchSize: 100 });
    await producer.send({ topic, messages: [{ value: "warm" }] });
    // Backlogged one-record batches merge up to 256 KiB; this "topic" takes 700 bytes at most.
    cluster.maxBatchBytes = 700;
    const out = await producer.send({
      topic,
      messages: Array.from({ length: 60 }, (_, i) => ({ value: `v${i}`.padEnd(40, ".") })),
    });
    expectExactlyOnceInOrder(topic, out);
    const sizes = cluster.topics.get(topic)![0]!.batches.map((b) => b.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(700);
    // Merging still happened, below the learnt cap: fewer batches than records.
    expect(sizes.length).toBeLessThan(61);
  });

  it("fails the send when a single record is above the limit, and later sends go on", async () => {
    const topic = newTopic();
    const strand = client();
    const producer = strand.producer({ lingerMs: 0 });
    await producer.send({ topic, messages: [{ value: "warm" }] });
    cluster.maxBatchBytes = 300;
    await expect(producer.send({ topic, messages: [{ value: "x".repeat(400) }] })).rejects.toThrow(
      /MESSAGE_TOO_LARGE/,
    );
    const [after] = await producer.send({ topic, messages: [{ value: "small" }] });
    expect(logOf(topic).map((r) => r.value)).toEqual(["warm", "small"]);
    expect(after!.offset).toBe(logOf(topic)[1]!.offset);
  });

  it("gives a refused batch's sequence numbers to the batches in flight behind it", async () => {
    const topic = newTopic();
    const strand = client();
    const producer = strand.producer({ lingerMs: 0, batchSize: 100 });
    await producer.send({ topic, messages: [{ value: "warm" }] });
    cluster.maxBatchBytes = 300;
    // Held answers keep the requests behind the refused one in flight when it fails.
    cluster.hold = () => 20;
    const big = producer.send({ topic, messages: [{ value: "x".repeat(400) }] });
    const small = Array.from({ length: 12 }, (_, i) =>
      producer.send({ topic, messages: [{ value: `s${i}` }] }),
    );
    await expect(big).rejects.toThrow(/MESSAGE_TOO_LARGE/);
    const results = (await Promise.all(small)).map(([r]) => r!);
    const log = logOf(topic);
    expect(log.map((r) => r.value)).toEqual(["warm", ...results.map((_, i) => `s${i}`)]);
    for (const [i, r] of results.entries()) expect(r.offset).toBe(log[i + 1]!.offset);
  });
});

const RETRIABLE = [ErrorCode.NOT_ENOUGH_REPLICAS.code, ErrorCode.REQUEST_TIMED_OUT.code];
const answer: fc.Arbitrary<ScriptedAnswer> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 3, arbitrary: fc.record({ delayMs: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ code: fc.constantFrom(...RETRIABLE) }) },
  {
    weight: 1,
    arbitrary: fc.record({ code: fc.constantFrom(...RETRIABLE), appended: fc.constant(true) }),
  },
  { weight: 1, arbitrary: fc.constant({ status: grpc.status.UNAVAILABLE }) },
);

describe("producer: requests in flight per partition (property)", () => {
  it("keeps the log in send order with no duplicates whatever the answers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(answer, { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }),
        fc.integer({ min: 10, max: 60 }),
        fc.integer({ min: 1, max: 5 }),
        async (answers, holds, n, maxInFlightPerPartition) => {
          const topic = newTopic();
          const strand = client({ requestTimeoutMs: 2_000 });
          try {
            const script = [...answers];
            const held = [...holds];
            cluster.script = (c) => (c.topic === topic ? (script.shift() ?? null) : null);
            cluster.hold = () => held.shift() ?? 0;
            const results = await sendAll(strand, topic, n, { maxInFlightPerPartition });
            expectExactlyOnceInOrder(topic, results);
          } finally {
            cluster.script = null;
            cluster.hold = null;
          }
        },
      ),
      { numRuns: Number(process.env.STRAND_PROPERTY_RUNS ?? 25), interruptAfterTimeLimit: 20_000 },
    );
  }, 40_000);
});
