// Goal: the SDK's routing, retry, batching, partitioning and consumer position rules hold
// against an in-process fake cluster (fake-cluster.ts): a NOT_LEADER hint retries at the new
// leader at once; other retriable errors back off and refresh metadata; deliveryTimeoutMs and
// AbortSignal end a send; records linger into batches; keyless records stick to a partition
// until its batch fills; keyed records land where Kafka's Java client puts them (the shared
// murmur2 vectors); a fetch that starts below the position is trimmed; OFFSET_OUT_OF_RANGE
// follows autoOffsetReset; a batch that does not decode is reported once its partition
// reaches it (CorruptRecordError with its offset), is not refetched, and a seek skips it.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ErrorCode, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { hostileBatches } from "../../../test/support/hostile-batches.ts";
import {
  AbortedError,
  CorruptRecordError,
  OffsetOutOfRangeError,
  Strand,
  type StrandOptions,
  TimeoutError,
} from "../src/index.ts";
import { FakeCluster } from "./fake-cluster.ts";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const clusters: FakeCluster[] = [];
const clients: Strand[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(clusters.splice(0).map((c) => c.stop()));
});

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function setup(brokers: number, options: Partial<StrandOptions> = {}) {
  const cluster = await FakeCluster.start(brokers);
  clusters.push(cluster);
  const strand = new Strand({ brokers: [cluster.addresses[0]!], ...options });
  clients.push(strand);
  return { cluster, strand };
}

describe("routing", () => {
  it("retries at the hinted leader at once, without a metadata refresh", async () => {
    const { cluster, strand } = await setup(2, { retry: { initialMs: 2_000, maxMs: 2_000 } });
    cluster.addTopic("t", 1, () => 2);
    cluster.topics.get("t")![0]!.epoch = 3;
    cluster.view.set("t-0", { leader: 1, epoch: 2 }); // stale metadata names broker 1
    const producer = strand.producer({ lingerMs: 0 });
    const started = Date.now();
    const out = await producer.send({ topic: "t", messages: [{ value: "a" }] });
    expect(out).toEqual([{ topic: "t", partition: 0, offset: 0n }]);
    expect(Date.now() - started).toBeLessThan(1_000); // no 2 s backoff
    expect(cluster.produceCalls.map((c) => c.broker)).toEqual([2]);
    expect(cluster.metadataCalls).toHaveLength(1); // only the bootstrap lookup
    // The cache learned the leader: the next send goes straight to broker 2.
    await producer.send({ topic: "t", messages: [{ value: "b" }] });
    expect(cluster.produceCalls.map((c) => c.broker)).toEqual([2, 2]);
    expect(strand.connectionCount).toBe(2);
  });

  it("backs off and refreshes metadata on other retriable errors", async () => {
    const { cluster, strand } = await setup(1, {
      retry: { initialMs: 100, maxMs: 100, multiplier: 1 },
    });
    cluster.addTopic("t", 1);
    cluster.faults.set("t-0", { code: 19, times: 2 }); // NOT_ENOUGH_REPLICAS
    const started = Date.now();
    const out = await strand
      .producer({ lingerMs: 0 })
      .send({ topic: "t", messages: [{ value: "a" }] });
    expect(out[0]?.offset).toBe(0n);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150); // two backoffs of 80..120 ms
    expect(cluster.metadataCalls.length).toBeGreaterThanOrEqual(2);
  });

  it("fails a send with TimeoutError once deliveryTimeoutMs passes", async () => {
    const { cluster, strand } = await setup(1, {
      deliveryTimeoutMs: 400,
      retry: { initialMs: 50, maxMs: 100, multiplier: 2 },
    });
    cluster.addTopic("t", 1);
    cluster.faults.set("t-0", { code: 7, times: 1_000 }); // REQUEST_TIMED_OUT forever
    const started = Date.now();
    const error = await strand
      .producer({ lingerMs: 0 })
      .send({ topic: "t", messages: [{ value: "a" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).retriable).toBe(true);
    expect((error as TimeoutError).message).toMatch(/REQUEST_TIMED_OUT/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("rejects a send with AbortedError when its signal fires", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    cluster.faults.set("t-0", { code: 0, times: 1, hang: true });
    const controller = new AbortController();
    const sending = strand
      .producer({ lingerMs: 0 })
      .send({ topic: "t", messages: [{ value: "a" }], signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(sending).rejects.toBeInstanceOf(AbortedError);
  });
});

describe("producer", () => {
  it("stamps a producer id and per-partition sequences when the cluster offers InitProducerId", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 2, () => 1);
    cluster.producerIds = true;
    const producer = strand.producer({ lingerMs: 0 });
    for (let i = 0; i < 3; i++)
      await producer.send({
        topic: "t",
        messages: [
          { partition: 0, value: "a" },
          { partition: 0, value: "b" },
          { partition: 1, value: "c" },
        ],
      });
    expect(producer.idempotent).toBe(true);
    const seq = (p: number) =>
      cluster.produceCalls.filter((c) => c.partition === p).flatMap((c) => c.sequences);
    expect(seq(0)).toEqual(["42/0", "42/2", "42/4"]);
    expect(seq(1)).toEqual(["42/0", "42/1", "42/2"]);
  });

  it("runs without idempotence when the cluster answers UNIMPLEMENTED", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    const producer = strand.producer({ lingerMs: 0 });
    await producer.send({ topic: "t", messages: [{ value: "a" }] });
    expect(producer.idempotent).toBe(false);
    expect(cluster.produceCalls[0]?.sequences).toEqual(["-1/-1"]);
  });

  it("lingers records of concurrent sends into one batch and resolves offsets in order", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    const producer = strand.producer({ lingerMs: 100 });
    const started = Date.now();
    const sends = Array.from({ length: 10 }, (_, i) =>
      producer.send({ topic: "t", messages: [{ value: `v${i}` }, { value: `w${i}` }] }),
    );
    const results = await Promise.all(sends);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(cluster.produceCalls).toHaveLength(1);
    expect(cluster.produceCalls[0]).toMatchObject({ batches: 1, records: 20 });
    expect(results.flat().map((r) => r.offset)).toEqual(
      Array.from({ length: 20 }, (_, i) => BigInt(i)),
    );
  });

  it("reports each batch at its own offset when a retry mixes a duplicate with new batches", async () => {
    const { cluster, strand } = await setup(1, {
      retry: { initialMs: 500, maxMs: 500, multiplier: 1 },
    });
    cluster.addTopic("t", 1);
    cluster.producerIds = true;
    cluster.dedupe = true;
    let calls = 0;
    cluster.script = () => {
      calls++;
      // a1 is written but acks=all times out; producer B writes b1 before A's retry lands.
      if (calls === 1) return { code: ErrorCode.REQUEST_TIMED_OUT.code, appended: true };
      if (calls === 2) cluster.appendOther("t", 0, ["b1"]);
      return null;
    };
    // One request at a time, so a2 waits for a1's answer and rides with its retry.
    const producer = strand.producer({ lingerMs: 0, maxInFlightPerPartition: 1 });
    const a1 = producer.send({ topic: "t", messages: [{ value: "a1-0" }, { value: "a1-1" }] });
    await until(() => cluster.produceCalls.length === 1);
    // Queued behind a1's backoff, a2 leaves with a1's retry in one request.
    const a2 = producer.send({ topic: "t", messages: [{ value: "a2-0" }, { value: "a2-1" }] });
    const offsets = async (p: Promise<{ offset: bigint }[]>) => (await p).map((r) => r.offset);
    expect(await offsets(a1)).toEqual([0n, 1n]);
    expect(await offsets(a2)).toEqual([3n, 4n]); // b1 holds offset 2
    expect(cluster.produceCalls[1]?.sequences).toEqual(["42/0", "42/2"]);
    const log = cluster.topics.get("t")![0]!.batches.map((b) => [...iterateBatches(b)][0]!);
    expect(log.map((v) => `${v.producerId}/${v.baseSequence}@${v.baseOffset}`)).toEqual([
      "42/0@0",
      "-1/-1@2",
      "42/2@3",
    ]);
  });

  it("counts offsets up from base_offset when the broker sends no per-batch offsets", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    cluster.legacyResults = true;
    const producer = strand.producer({ lingerMs: 1_000, batchSize: 200 });
    const messages = Array.from({ length: 12 }, (_, i) => ({ value: `v-${i}`.padEnd(40, ".") }));
    const out = await producer.send({ topic: "t", messages });
    expect(cluster.produceCalls.reduce((s, c) => s + c.batches, 0)).toBeGreaterThan(1);
    expect(out.map((r) => r.offset)).toEqual(messages.map((_, i) => BigInt(i)));
  });

  it("closes batches at batchSize and sends a partition's batches in order", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    const producer = strand.producer({ lingerMs: 1_000, batchSize: 200 });
    const messages = Array.from({ length: 20 }, (_, i) => ({
      partition: 0,
      value: `value-${i}`.padEnd(40, "."),
    }));
    const out = await producer.send({ topic: "t", messages });
    expect(out.map((r) => r.offset)).toEqual(messages.map((_, i) => BigInt(i)));
    const batches = cluster.produceCalls.reduce((s, c) => s + c.batches, 0);
    expect(batches).toBeGreaterThanOrEqual(5);
  });

  it("sticks keyless records to one partition until its batch fills (KIP-480)", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 8);
    // Each record costs 21 + 50 bytes: three fill a 213-byte batch, the fourth moves on.
    const producer = strand.producer({ lingerMs: 1_000, batchSize: 213 });
    const messages = Array.from({ length: 9 }, () => ({ value: "x".repeat(50) }));
    const out = await producer.send({ topic: "t", messages });
    const parts = out.map((r) => r.partition);
    expect(new Set(parts.slice(0, 3)).size).toBe(1);
    expect(new Set(parts.slice(3, 6)).size).toBe(1);
    expect(new Set(parts.slice(6, 9)).size).toBe(1);
    expect(parts[3]).not.toBe(parts[0]);
    expect(parts[6]).not.toBe(parts[3]);
  });

  it("puts keyed records where Kafka's Java client does (shared murmur2 vectors)", async () => {
    const vectors = JSON.parse(
      readFileSync(path.resolve(repoRoot, "test/vectors/murmur2-partitioner.json"), "utf8"),
    ) as { rows: { keyHex: string; partitions: Record<string, number> }[] };
    const counts = Object.keys(vectors.rows[0]!.partitions).map(Number);
    const { cluster, strand } = await setup(1);
    for (const n of counts) cluster.addTopic(`m${n}`, n, () => 1);
    const producer = strand.producer({ lingerMs: 0 });
    for (const n of counts) {
      const out = await producer.send({
        topic: `m${n}`,
        messages: vectors.rows.map((r) => ({ key: Buffer.from(r.keyHex, "hex"), value: "v" })),
      });
      expect(out.map((r) => r.partition)).toEqual(vectors.rows.map((r) => r.partitions[String(n)]));
    }
    expect(vectors.rows.length).toBeGreaterThan(5);
  });
});

function storeBatch(
  cluster: FakeCluster,
  topic: string,
  partition: number,
  values: string[],
): void {
  const part = cluster.topics.get(topic)![partition]!;
  const batch = encodeRecordBatch({
    baseOffset: part.next,
    baseTimestamp: 1_700_000_000_000n,
    records: values.map((v, i) => ({
      key: null,
      value: Buffer.from(v),
      timestampDelta: BigInt(i),
    })),
  });
  part.batches.push(batch);
  part.next += BigInt(values.length);
}

/** Topic "t" with ["a", "b"] in partition 0 and ["x"] in 1, and a consumer assigned both. */
function twoPartitionConsumer(cluster: FakeCluster, strand: Strand) {
  cluster.addTopic("t", 2);
  storeBatch(cluster, "t", 0, ["a", "b"]);
  storeBatch(cluster, "t", 1, ["x"]);
  const consumer = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "earliest" });
  consumer.assign([
    { topic: "t", partition: 0 },
    { topic: "t", partition: 1 },
  ]);
  return consumer;
}

describe("transport", () => {
  // Unary calls per request are what the streams replace (request-stream.ts): a regression to
  // unary would pass every other test here.
  it("produces and fetches over the brokers' streams", async () => {
    const { cluster, strand } = await setup(2);
    cluster.addTopic("t", 2);
    const producer = strand.producer({ lingerMs: 0 });
    for (let i = 0; i < 3; i++)
      await producer.send({
        topic: "t",
        messages: [
          { partition: 0, value: `a${i}` },
          { partition: 1, value: `b${i}` },
        ],
      });
    const consumer = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "earliest" });
    consumer.assign([
      { topic: "t", partition: 0 },
      { topic: "t", partition: 1 },
    ]);
    const seen = await readAll(consumer, 6);
    expect(seen.sort()).toEqual(["0:a0", "0:a1", "0:a2", "1:b0", "1:b1", "1:b2"]);
    expect(cluster.served.ProduceStream).toBeGreaterThanOrEqual(3);
    expect(cluster.served.FetchStream).toBeGreaterThanOrEqual(2);
    expect([cluster.served.Produce, cluster.served.Fetch]).toEqual([0, 0]);
  });

  it("fetches everything with unary calls from brokers without FetchStream", async () => {
    const { cluster, strand } = await setup(2);
    cluster.fetchStreams = false;
    const consumer = twoPartitionConsumer(cluster, strand);
    const seen = await readAll(consumer, 3);
    expect(seen.sort()).toEqual(["0:a", "0:b", "1:x"]);
    storeBatch(cluster, "t", 0, ["c"]); // and keeps reading after the fallback
    expect(await readAll(consumer, 1)).toEqual(["0:c"]);
    expect(cluster.served.FetchStream).toBe(0);
    expect(cluster.served.Fetch).toBeGreaterThanOrEqual(3);
  });
});

/** Polls `consumer` until it has returned `count` messages (as partition:value), bounded. */
async function readAll(
  consumer: ReturnType<Strand["consumer"]>,
  count: number,
  timeoutMs = 5_000,
): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (seen.length < count) {
    if (Date.now() > deadline) throw new Error(`read ${seen.length} of ${count}: ${seen}`);
    for (const batch of await consumer.poll())
      for (const m of batch.messages) seen.push(`${batch.partition}:${m.value?.toString()}`);
  }
  return seen;
}

describe("consumer", () => {
  it("skips records below the seek offset in a batch that starts earlier", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    storeBatch(cluster, "t", 0, ["a", "b", "c", "d", "e", "f"]);
    const consumer = strand.consumer({ maxWaitMs: 100 });
    consumer.assign([{ topic: "t", partition: 0 }]);
    consumer.seek({ topic: "t", partition: 0, offset: 4n });
    for await (const batch of consumer) {
      expect(batch.messages.map((m) => [m.offset, m.value?.toString()])).toEqual([
        [4n, "e"],
        [5n, "f"],
      ]);
      expect(batch.highWatermark).toBe(6n);
      break;
    }
    expect(consumer.position({ topic: "t", partition: 0 })).toBe(6n);
  });

  it("ends docs/client.md's poll-until-caught-up loop on empty partitions", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("orders", 2);
    storeBatch(cluster, "orders", 1, ["x"]);
    const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 50 });
    consumer.assign([
      { topic: "orders", partition: 0 },
      { topic: "orders", partition: 1 },
    ]);
    const ends = await strand.admin().fetchTopicOffsets("orders");
    const end = (p: number) => ends.find((e) => e.partition === p)?.high ?? 0n;
    const caughtUp = () =>
      [0, 1].every((p) => (consumer.position({ topic: "orders", partition: p }) ?? -1n) >= end(p));
    const started = Date.now();
    const deadline = AbortSignal.timeout(10_000);
    const seen: string[] = [];
    while (!caughtUp() && !deadline.aborted) {
      const batches = await consumer.poll({ signal: deadline }).catch((error: unknown) => {
        if (error instanceof AbortedError) return [];
        throw error;
      });
      for (const batch of batches)
        for (const m of batch.messages) seen.push(`${batch.partition}:${m.value?.toString()}`);
    }
    expect(seen).toEqual(["1:x"]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("resets an out-of-range position per autoOffsetReset, or throws with none", async () => {
    const { cluster, strand } = await setup(1);
    cluster.addTopic("t", 1);
    storeBatch(cluster, "t", 0, ["a", "b"]);
    const earliest = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "earliest" });
    earliest.assign([{ topic: "t", partition: 0 }]);
    earliest.seek({ topic: "t", partition: 0, offset: 100n });
    const seen: bigint[] = [];
    for (let i = 0; i < 20 && seen.length < 2; i++)
      for (const b of await earliest.poll()) seen.push(...b.messages.map((m) => m.offset));
    expect(seen).toEqual([0n, 1n]);

    const none = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "none" });
    none.assign([{ topic: "t", partition: 0 }]);
    await expect(none.poll()).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    none.seek({ topic: "t", partition: 0, offset: 100n });
    let error: unknown = null;
    for (let i = 0; i < 20 && error === null; i++)
      error = await none.poll().then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
  });

  it("seeks by timestamp and to latest, pauses and resumes, runs eachMessage until aborted", async () => {
    const { cluster, strand } = await setup(2);
    const consumer = twoPartitionConsumer(cluster, strand);
    consumer.seek({ topic: "t", partition: 1, offset: "latest" });
    consumer.pause([{ topic: "t", partition: 0 }]);
    expect(await consumer.poll()).toEqual([]);
    consumer.resume([{ topic: "t", partition: 0 }]);
    const controller = new AbortController();
    const got: string[] = [];
    await consumer.run({
      signal: controller.signal,
      eachMessage: ({ partition, message }) => {
        got.push(`${partition}:${message.value?.toString()}`);
        if (got.length === 2) controller.abort();
      },
    });
    expect(got).toEqual(["0:a", "0:b"]);
    expect(consumer.position({ topic: "t", partition: 1 })).toBe(1n);
  });
});

describe("consumer and undecodable batches", () => {
  const poison = hostileBatches().filter((h) =>
    ["unknown codec 5", "corrupt gzip", "record count 2 over 1 record", "2^30 headers"].includes(
      h.name,
    ),
  );
  for (const hostile of poison) {
    it(`${hostile.name}: returns what precedes it, throws CorruptRecordError, seek skips it`, async () => {
      const { cluster, strand } = await setup(1);
      cluster.addTopic("t", 1);
      storeBatch(cluster, "t", 0, ["a", "b"]);
      const part = cluster.topics.get("t")![0]!;
      const bad = Buffer.from(hostile.bytes);
      bad.writeBigInt64BE(part.next, 0); // outside the CRC, as a leader stamps it
      part.batches.push(bad);
      const span = BigInt(bad.readInt32BE(23) + 1);
      part.next += span;
      storeBatch(cluster, "t", 0, ["after"]);
      const consumer = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "earliest" });
      consumer.assign([{ topic: "t", partition: 0 }]);
      const values: string[] = [];
      let error: unknown = null;
      for (let i = 0; i < 20 && error === null; i++) {
        try {
          for (const b of await consumer.poll())
            values.push(...b.messages.map((m) => `${m.value}`));
        } catch (thrown) {
          error = thrown;
        }
      }
      expect(values).toEqual(["a", "b"]);
      expect(error).toBeInstanceOf(CorruptRecordError);
      const corrupt = error as CorruptRecordError;
      expect(corrupt).toMatchObject({ topic: "t", partition: 0, offset: 2n, retriable: false });
      expect(corrupt.nextOffset).toBe(2n + span);
      expect(corrupt.code.name).toBe(hostile.code);
      expect(consumer.position({ topic: "t", partition: 0 })).toBe(2n);
      // Not refetched in a loop: polling again throws again without asking the broker.
      const fetches = cluster.fetchCalls.length;
      await expect(consumer.poll()).rejects.toBeInstanceOf(CorruptRecordError);
      expect(cluster.fetchCalls.length).toBe(fetches);
      consumer.seek({ topic: "t", partition: 0, offset: corrupt.nextOffset });
      const after: string[] = [];
      for (let i = 0; i < 20 && after.length === 0; i++)
        for (const b of await consumer.poll()) after.push(...b.messages.map((m) => `${m.value}`));
      expect(after).toEqual(["after"]);
      await consumer.close();
    });
  }
});
