/**
 * The `client` phase of the cluster benchmark: the same cluster driven through the SDK
 * (@strand/client) instead of hand-encoded batches, so the producer's send() path, its
 * requests in flight per partition and the consumer's fetch loop are what is measured:
 *
 * 1. single: one record per send(), `pending` sends outstanding, 1 partition, 100 B values;
 * 2. batched: 1 KiB records over 6 partitions, sends of 64 records, 64 sends outstanding;
 * 3. consume: a manual-assign consumer reads the batched topic from the start;
 * 4. e2e: 1 partition, a paced producer (one record per send, lingerMs 0) and a consumer;
 *    latency = receive time - send time (one process, one clock).
 *
 * A script, never a test.
 */
import { Histogram } from "@strand/base";
import { Strand } from "@strand/client";

/** What the client phase measured. */
export interface ClientResult {
  readonly single: {
    readonly pending: number;
    readonly recordsPerSec: number;
    readonly heapMaxMb: number;
  };
  readonly batched: { readonly recordsPerSec: number; readonly mbPerSec: number };
  readonly consume: { readonly recordsPerSec: number; readonly mbPerSec: number };
  readonly e2e: {
    readonly rate: number;
    readonly count: number;
    readonly p50: number;
    readonly p99: number;
    readonly p999: number;
    readonly max: number;
  };
}

/** Settings of the client phase. */
export interface ClientOptions {
  readonly brokers: readonly string[];
  /** Creates a topic (RF 3, min ISR 2) and waits for its leaders. */
  readonly createTopic: (name: string, partitions: number) => Promise<void>;
  /** Seconds per measured sub-phase. */
  readonly seconds: number;
  /** Records per second of the end-to-end producer. */
  readonly e2eRate: number;
  readonly log: (line: string) => void;
}

const PENDING = 4_096;
const BATCHED_PARTITIONS = 6;
const BATCHED_SEND_RECORDS = 64;
const BATCHED_SENDS = 64;

/** Runs the four sub-phases on a fresh client each. */
export async function clientRun(o: ClientOptions): Promise<ClientResult> {
  await o.createTopic("bench-client-single", 1);
  await o.createTopic("bench-client-batched", BATCHED_PARTITIONS);
  await o.createTopic("bench-client-e2e", 1);
  o.log(`client: one record per send(), ${PENDING} pending, ${o.seconds} s`);
  const single = await singleSends(o);
  o.log(`client: 1 KiB records, ${BATCHED_PARTITIONS} partitions, ${o.seconds} s`);
  const { batched, records } = await batchedSends(o);
  o.log(`client: consume ${records} records from the start`);
  const consume = await consumeAll(o, records);
  o.log(`client: end to end at ${o.e2eRate} records/s, lingerMs 0, ${o.seconds} s`);
  const e2e = await endToEnd(o);
  return { single, batched, consume, e2e };
}

async function singleSends(o: ClientOptions): Promise<ClientResult["single"]> {
  const strand = new Strand({ brokers: [...o.brokers] });
  try {
    const producer = strand.producer();
    const value = Buffer.alloc(100, 120);
    const topic = "bench-client-single";
    await producer.send({ topic, messages: [{ value }] });
    let done = 0;
    let heapMax = 0;
    const endMs = Date.now() + o.seconds * 1000;
    const started = performance.now();
    const sampler = setInterval(() => {
      heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
    }, 100);
    const lane = async () => {
      while (Date.now() < endMs) {
        await producer.send({ topic, messages: [{ value }] });
        done++;
      }
    };
    await Promise.all(Array.from({ length: PENDING }, lane));
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    return { pending: PENDING, recordsPerSec: done / seconds, heapMaxMb: heapMax / 1e6 };
  } finally {
    await strand.close();
  }
}

async function batchedSends(
  o: ClientOptions,
): Promise<{ batched: ClientResult["batched"]; records: number }> {
  const strand = new Strand({ brokers: [...o.brokers] });
  try {
    const producer = strand.producer({ batchSize: 64 * 1024 });
    const value = Buffer.alloc(1024, 120);
    const topic = "bench-client-batched";
    let done = 0;
    let next = 0;
    const endMs = Date.now() + o.seconds * 1000;
    const started = performance.now();
    const lane = async () => {
      while (Date.now() < endMs) {
        const partition = next++ % BATCHED_PARTITIONS;
        const messages = Array.from({ length: BATCHED_SEND_RECORDS }, () => ({
          value,
          partition,
        }));
        await producer.send({ topic, messages });
        done += BATCHED_SEND_RECORDS;
      }
    };
    await Promise.all(Array.from({ length: BATCHED_SENDS }, lane));
    const seconds = (performance.now() - started) / 1000;
    const recordsPerSec = done / seconds;
    return { batched: { recordsPerSec, mbPerSec: (recordsPerSec * 1024) / 1e6 }, records: done };
  } finally {
    await strand.close();
  }
}

async function consumeAll(o: ClientOptions, records: number): Promise<ClientResult["consume"]> {
  const strand = new Strand({ brokers: [...o.brokers] });
  try {
    const consumer = strand.consumer({ autoOffsetReset: "earliest" });
    consumer.assign(
      Array.from({ length: BATCHED_PARTITIONS }, (_, partition) => ({
        topic: "bench-client-batched",
        partition,
      })),
    );
    let seen = 0;
    let bytes = 0;
    let started = 0;
    const deadline = Date.now() + 60_000;
    while (seen < records && Date.now() < deadline)
      for (const b of await consumer.poll()) {
        if (started === 0) started = performance.now();
        seen += b.messages.length;
        for (const m of b.messages) bytes += m.value?.length ?? 0;
      }
    const seconds = (performance.now() - started) / 1000;
    return { recordsPerSec: seen / seconds, mbPerSec: bytes / 1e6 / seconds };
  } finally {
    await strand.close();
  }
}

async function endToEnd(o: ClientOptions): Promise<ClientResult["e2e"]> {
  const strand = new Strand({ brokers: [...o.brokers] });
  const topic = "bench-client-e2e";
  const histogram = new Histogram();
  try {
    const producer = strand.producer({ lingerMs: 0 });
    const consumer = strand.consumer({ autoOffsetReset: "latest", maxWaitMs: 500 });
    consumer.assign([{ topic, partition: 0 }]);
    await producer.send({ topic, messages: [{ value: "warm" }] });
    await consumer.poll();
    const warmupMs = 1_000;
    const startMs = Date.now();
    const endMs = startMs + warmupMs + o.seconds * 1000;
    const measureFrom = performance.now() + warmupMs;
    let stop = false;
    const receiving = (async () => {
      while (!stop)
        for (const b of await consumer.poll())
          for (const m of b.messages) {
            const sentAt = m.value?.length === 8 ? m.value.readDoubleBE(0) : Number.NaN;
            if (sentAt >= measureFrom)
              histogram.record(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
          }
    })();
    let sent = 0;
    const sends: Promise<unknown>[] = [];
    while (Date.now() < endMs) {
      const due = Math.floor(((Date.now() - startMs) / 1000) * o.e2eRate);
      for (; sent < due; sent++) {
        const value = Buffer.alloc(8);
        value.writeDoubleBE(performance.now(), 0);
        sends.push(producer.send({ topic, messages: [{ value }] }));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.allSettled(sends);
    await new Promise((r) => setTimeout(r, 1_000));
    stop = true;
    await receiving.catch(() => undefined);
    const s = histogram.summary();
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      rate: o.e2eRate,
      count: s.count,
      p50: ms(s.p50),
      p99: ms(s.p99),
      p999: ms(s.p999),
      max: ms(s.max),
    };
  } finally {
    await strand.close();
  }
}
