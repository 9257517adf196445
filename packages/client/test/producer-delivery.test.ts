// Goal: every send settles on its own, without flush(): a retry after backoff is never lost
// behind another pending wake-up, and deliveryTimeoutMs is enforced even while a request is
// in flight or its response never comes. A property test drives a scripted fake broker
// (fake-cluster.ts) with random sequences of successes, retriable and fatal errors, delays
// and dropped responses, and checks every send settles within deliveryTimeoutMs plus one
// request timeout: acknowledged with offsets, or rejected with a typed error.
import * as grpc from "@grpc/grpc-js";
import { ErrorCode } from "@strand/protocol";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type RecordMetadata,
  Strand,
  StrandClientError,
  type StrandOptions,
  TimeoutError,
  UnknownTopicError,
} from "../src/index.ts";
import { FakeCluster, type ScriptedAnswer } from "./fake-cluster.ts";

const clients: Strand[] = [];
let cluster: FakeCluster;

beforeAll(async () => {
  cluster = await FakeCluster.start(2);
});
afterAll(async () => {
  await cluster.stop();
});
afterEach(async () => {
  cluster.script = null;
  cluster.faults.clear();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(options: Partial<StrandOptions>) {
  const strand = new Strand({ brokers: [cluster.addresses[0]!], ...options });
  clients.push(strand);
  return strand;
}

/** Resolves with the outcome of `p`, or "pending" if it has not settled after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending" | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([p.catch((error: unknown) => ({ error })), bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe("producer delivery", () => {
  it("retries a NOT_ENOUGH_REPLICAS answer even when another wake-up was pending", async () => {
    cluster.addTopic("repro", 2, () => 1);
    cluster.faults.set("repro-0", { code: ErrorCode.NOT_ENOUGH_REPLICAS.code, times: 1 });
    const strand = client({ retry: { initialMs: 300, maxMs: 300, multiplier: 1 } });
    const producer = strand.producer({ lingerMs: 100 });
    // Warm up (connection, producer id, metadata) so the timings below are the producer's.
    await producer.send({ topic: "repro", messages: [{ partition: 1, value: "warm" }] });
    // A lingers until 100 ms, fails once and backs off ~300 ms; B's linger wake-up (150 ms)
    // is already pending when that backoff starts.
    const a = producer.send({ topic: "repro", messages: [{ partition: 0, value: "a" }] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const b = producer.send({ topic: "repro", messages: [{ partition: 1, value: "b" }] });
    expect(await within(b, 2_000)).toEqual([{ topic: "repro", partition: 1, offset: 1n }]);
    expect(await within(a, 2_000)).toEqual([{ topic: "repro", partition: 0, offset: 0n }]);
  });

  it("retries a call the broker cancelled (a forced shutdown), not failing the send", async () => {
    cluster.addTopic("cancelled", 1, () => 1);
    let answers = 0;
    cluster.script = () => (answers++ === 0 ? { status: grpc.status.CANCELLED } : null);
    const strand = client({ retry: { initialMs: 10, maxMs: 10, multiplier: 1 } });
    const out = await within(
      strand.producer({ lingerMs: 0 }).send({ topic: "cancelled", messages: [{ value: "x" }] }),
      3_000,
    );
    expect(out).toEqual([{ topic: "cancelled", partition: 0, offset: 0n }]);
    expect(answers).toBeGreaterThanOrEqual(2);
  });

  it("rejects with TimeoutError naming the partition when a response never comes", async () => {
    cluster.addTopic("lost", 1, () => 1);
    cluster.script = () => ({ drop: true });
    const strand = client({ deliveryTimeoutMs: 300, requestTimeoutMs: 200 });
    const started = Date.now();
    const out = await within(
      strand.producer({ lingerMs: 0 }).send({ topic: "lost", messages: [{ value: "x" }] }),
      3_000,
    );
    expect(out).toMatchObject({ error: expect.any(TimeoutError) });
    const error = (out as { error: TimeoutError }).error;
    expect(error.message).toMatch(/lost-0/);
    expect(error.partition).toBe(0);
    expect(Date.now() - started).toBeLessThan(300 + 200 + 200);
  });

  it("fails sends to an unknown topic fast with UnknownTopicError", async () => {
    const strand = client({ requestTimeoutMs: 10_000, deliveryTimeoutMs: 20_000 });
    const started = Date.now();
    const out = await within(
      strand.producer({ lingerMs: 0 }).send({ topic: "nowhere", messages: [{ value: "x" }] }),
      5_000,
    );
    expect(out).toMatchObject({ error: expect.any(UnknownTopicError) });
    expect((out as { error: UnknownTopicError }).error.retriable).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("fails fast when a leader answers UNKNOWN_TOPIC_OR_PARTITION and metadata agrees", async () => {
    cluster.addTopic("vanishing", 1, () => 1);
    const strand = client({ requestTimeoutMs: 10_000, deliveryTimeoutMs: 20_000 });
    const producer = strand.producer({ lingerMs: 0 });
    await producer.send({ topic: "vanishing", messages: [{ value: "a" }] });
    cluster.topics.delete("vanishing"); // deleted: the leader and metadata no longer know it
    const started = Date.now();
    const out = await within(
      producer.send({ topic: "vanishing", messages: [{ value: "b" }] }),
      5_000,
    );
    expect(out).toMatchObject({ error: expect.any(UnknownTopicError) });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("retries UNKNOWN_TOPIC_OR_PARTITION while metadata still lists the topic", async () => {
    cluster.addTopic("lagging", 1, () => 1);
    cluster.faults.set("lagging-0", { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, times: 1 });
    const strand = client({ retry: { initialMs: 20, maxMs: 20, multiplier: 1 } });
    const out = await within(
      strand.producer({ lingerMs: 0 }).send({ topic: "lagging", messages: [{ value: "a" }] }),
      3_000,
    );
    expect(out).toEqual([{ topic: "lagging", partition: 0, offset: 0n }]);
  });

  it("fails a consumer whose topic is deleted with UnknownTopicError, not endless retries", async () => {
    cluster.addTopic("gone", 1, () => 1);
    const strand = client({ retry: { initialMs: 20, maxMs: 20, multiplier: 1 } });
    const consumer = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "earliest" });
    consumer.assign([{ topic: "gone", partition: 0 }]);
    await consumer.poll();
    cluster.topics.delete("gone");
    let error: unknown = null;
    for (let i = 0; i < 40 && error === null; i++)
      error = await consumer.poll().then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(UnknownTopicError);
    expect((error as UnknownTopicError).partition).toBe(0);
  });

  it("fails a consumer assigned to a topic that does not exist", async () => {
    const strand = client({ requestTimeoutMs: 10_000 });
    const consumer = strand.consumer({ maxWaitMs: 50, autoOffsetReset: "earliest" });
    consumer.assign([{ topic: "never", partition: 0 }]);
    const started = Date.now();
    await expect(consumer.poll()).rejects.toBeInstanceOf(UnknownTopicError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

const RETRIABLE = [
  ErrorCode.NOT_ENOUGH_REPLICAS.code,
  ErrorCode.NOT_LEADER_OR_FOLLOWER.code,
  ErrorCode.LEADER_NOT_AVAILABLE.code,
  ErrorCode.REQUEST_TIMED_OUT.code,
];
const FATAL = [ErrorCode.CORRUPT_MESSAGE.code, ErrorCode.MESSAGE_TOO_LARGE.code];

const answer: fc.Arbitrary<ScriptedAnswer> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 4, arbitrary: fc.constantFrom(...RETRIABLE).map((code) => ({ code })) },
  { weight: 1, arbitrary: fc.constantFrom(...FATAL).map((code) => ({ code })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ code: fc.constantFrom(0, ...RETRIABLE), delayMs: fc.integer({ min: 1, max: 150 }) })
      .map((a) => a),
  },
  { weight: 1, arbitrary: fc.constant({ drop: true }) },
);

describe("producer delivery (property)", () => {
  const DELIVERY_MS = 300;
  const REQUEST_MS = 200;
  // Timer and scheduling latency on a quiet machine; a hang blows far past it.
  const SLACK_MS = 300;
  let run = 0;

  /**
   * Watches how late a 10 ms interval fires: the producer's timers are as late as this when the
   * machine is loaded (other test files on the same cores), so the bound allows for it.
   */
  function watchEventLoopLag(): { maxMs: () => number; stop: () => void } {
    let last = performance.now();
    let max = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      max = Math.max(max, now - last - 10);
      last = now;
    }, 10);
    return { maxMs: () => max, stop: () => clearInterval(timer) };
  }

  it("settles every send within deliveryTimeoutMs + requestTimeoutMs, typed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(answer, { minLength: 0, maxLength: 12 }),
        fc.array(
          fc.record({
            partition: fc.integer({ min: 0, max: 2 }),
            count: fc.integer({ min: 1, max: 3 }),
          }),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.integer({ min: 0, max: 20 }),
        async (answers, sends, lingerMs) => {
          const topic = `prop-${run++}`;
          cluster.addTopic(topic, 3);

          const strand = new Strand({
            brokers: [cluster.addresses[0]!],
            deliveryTimeoutMs: DELIVERY_MS,
            requestTimeoutMs: REQUEST_MS,
            retry: { initialMs: 10, maxMs: 60, multiplier: 2 },
          });
          const lag = watchEventLoopLag();
          try {
            const producer = strand.producer({ lingerMs, deliveryTimeoutMs: DELIVERY_MS });
            // Warm up (producer id, metadata, connections) so the bound measures delivery.
            await producer.send({
              topic,
              messages: [0, 1, 2].map((partition) => ({ partition, value: "warm" })),
            });
            const queue = [...answers];
            cluster.script = (call) => (call.topic === topic ? (queue.shift() ?? null) : null);
            const outcomes = await Promise.all(
              sends.map(async ({ partition, count }) => {
                const started = Date.now();
                const messages = Array.from({ length: count }, (_, i) => ({
                  partition,
                  value: `v${i}`,
                }));
                const out = await within(
                  producer.send({ topic, messages }),
                  DELIVERY_MS + REQUEST_MS + 2_000,
                );
                return { out, partition, count, tookMs: Date.now() - started };
              }),
            );
            for (const { out, partition, count, tookMs } of outcomes) {
              expect(out).not.toBe("pending");
              const boundMs = DELIVERY_MS + REQUEST_MS + SLACK_MS + 2 * lag.maxMs();
              expect(tookMs).toBeLessThanOrEqual(boundMs);
              if (Array.isArray(out)) {
                const offsets = (out as RecordMetadata[]).map((r) => r.offset);
                expect(out).toHaveLength(count);
                for (const r of out as RecordMetadata[])
                  expect(r).toMatchObject({ topic, partition });
                for (const [i, o] of offsets.entries()) expect(o).toBe(offsets[0]! + BigInt(i));
                expect(offsets[0]!).toBeGreaterThanOrEqual(0n);
              } else {
                const { error } = out as { error: unknown };
                expect(error).toBeInstanceOf(StrandClientError);
                const e = error as StrandClientError;
                if (e instanceof TimeoutError)
                  expect(e.message).toMatch(new RegExp(`${topic}-${partition}`));
                else expect(e.retriable, `${e.name}: ${e.message}`).toBe(false);
              }
            }
          } finally {
            lag.stop();
            cluster.script = null;
            await strand.close();
          }
        },
      ),
      { numRuns: Number(process.env.STRAND_PROPERTY_RUNS ?? 30), interruptAfterTimeLimit: 15_000 },
    );
  }, 25_000);
});
