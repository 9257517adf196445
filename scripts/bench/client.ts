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
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { Histogram } from "@strand/base";
import { Strand } from "@strand/client";
import { type GcTotals, gcDelta } from "./node-gc.ts";

/** What the client phase measured. */
export interface ClientResult {
  /** Null where `parts` left the sub-phase out. */
  readonly single: {
    readonly pending: number;
    readonly recordsPerSec: number;
    readonly heapMaxMb: number;
  } | null;
  readonly batched: { readonly recordsPerSec: number; readonly mbPerSec: number } | null;
  readonly consume: {
    readonly recordsPerSec: number;
    readonly mbPerSec: number;
    /** The consumer's maxBytesPerPartition when not the SDK's default. */
    readonly partitionBytes?: number;
  } | null;
  readonly e2e: E2eResult | null;
}

/** Percentiles in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The end-to-end sub-phase: send -> receive, and its two stages, with the GC beside them. */
export interface E2eResult extends LatencySummary {
  readonly rate: number;
  readonly inFlightPerPartition: number;
  /** send() -> its promise resolved (acks=all: the HW passed the record). */
  readonly sendToAck: LatencySummary;
  /** ack -> the consumer's poll() returned the record (clamped at 0: it may come first). */
  readonly ackToReceive: LatencySummary;
  /** This process's own GC pauses (producer and consumer run in it) during the phase. */
  readonly benchGc: {
    readonly count: number;
    readonly ms: number;
    readonly maxMs: number;
    /** "minor 12 / 80 ms, major 1 / 30 ms", ... */
    readonly byKind: string;
  };
  readonly nodeGc: Record<number, GcTotals> | null;
}

/** The sub-phases, in the order they run. */
export const CLIENT_PARTS = ["single", "batched", "consume", "e2e"] as const;
export type ClientPart = (typeof CLIENT_PARTS)[number];

/** Settings of the client phase. */
export interface ClientOptions {
  readonly brokers: readonly string[];
  /** Creates a topic (RF 3, min ISR 2) and waits for its leaders. */
  readonly createTopic: (name: string, partitions: number) => Promise<void>;
  /** Seconds per measured sub-phase. */
  readonly seconds: number;
  /** Records per second of the end-to-end producer. */
  readonly e2eRate: number;
  /** Which sub-phases run (consume needs batched). */
  readonly parts: ReadonlySet<ClientPart>;
  /** The e2e producer's maxInFlightPerPartition (the SDK default when undefined). */
  readonly inFlightPerPartition?: number | undefined;
  /** The consumer's maxBytesPerPartition (the SDK default when undefined). */
  readonly consumePartitionBytes?: number | undefined;
  /** Every node's cumulative GC figures now, to put beside the e2e tail. */
  readonly nodeGc?: () => Promise<Map<number, GcTotals>>;
  readonly log: (line: string) => void;
}

const PENDING = 4_096;
const BATCHED_PARTITIONS = 6;
const BATCHED_SEND_RECORDS = 64;
const BATCHED_SENDS = 64;

/** Runs the four sub-phases on a fresh client each. */
export async function clientRun(o: ClientOptions): Promise<ClientResult> {
  const has = (p: ClientPart) => o.parts.has(p);
  if (has("single")) await o.createTopic("bench-client-single", 1);
  if (has("batched")) await o.createTopic("bench-client-batched", BATCHED_PARTITIONS);
  if (has("e2e")) await o.createTopic("bench-client-e2e", 1);
  let single: ClientResult["single"] = null;
  if (has("single")) {
    o.log(`client: one record per send(), ${PENDING} pending, ${o.seconds} s`);
    single = await singleSends(o);
  }
  let batched: ClientResult["batched"] = null;
  let consume: ClientResult["consume"] = null;
  if (has("batched")) {
    o.log(`client: 1 KiB records, ${BATCHED_PARTITIONS} partitions, ${o.seconds} s`);
    const b = await batchedSends(o);
    batched = b.batched;
    if (has("consume")) {
      o.log(`client: consume ${b.records} records from the start`);
      consume = await consumeAll(o, b.records);
    }
  }
  let e2e: E2eResult | null = null;
  if (has("e2e")) {
    o.log(`client: end to end at ${o.e2eRate} records/s, lingerMs 0, ${o.seconds} s`);
    const gcBefore = o.nodeGc === undefined ? null : await o.nodeGc();
    const run = await endToEnd(o);
    const nodeGc =
      o.nodeGc === undefined || gcBefore === null ? null : gcDelta(gcBefore, await o.nodeGc());
    e2e = { ...run, nodeGc };
  }
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
    const consumer = strand.consumer({
      autoOffsetReset: "earliest",
      ...(o.consumePartitionBytes === undefined
        ? {}
        : { maxBytesPerPartition: o.consumePartitionBytes }),
    });
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
    const partitionBytes = o.consumePartitionBytes;
    return {
      recordsPerSec: seen / seconds,
      mbPerSec: bytes / 1e6 / seconds,
      ...(partitionBytes === undefined ? {} : { partitionBytes }),
    };
  } finally {
    await strand.close();
  }
}

/** Watches this process's GC pauses until `stop()`. */
function watchGc(): () => E2eResult["benchGc"] {
  let count = 0;
  let ms = 0;
  let maxMs = 0;
  const kinds = new Map<string, { count: number; ms: number }>();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as PerformanceEntry[]) {
      count++;
      ms += e.duration;
      maxMs = Math.max(maxMs, e.duration);
      const kind = gcKind((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind);
      const k = kinds.get(kind) ?? { count: 0, ms: 0 };
      k.count++;
      k.ms += e.duration;
      kinds.set(kind, k);
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return () => {
    observer.disconnect();
    const byKind = [...kinds].map(([k, v]) => `${k} ${v.count} / ${Math.round(v.ms)} ms`);
    return {
      count,
      ms: Math.round(ms * 10) / 10,
      maxMs: Math.round(maxMs * 10) / 10,
      byKind: byKind.join(", "),
    };
  };
}

/** perf_hooks' NODE_PERFORMANCE_GC_* kinds. */
function gcKind(kind: number | undefined): string {
  const names: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
    [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
  };
  return names[kind ?? 0] ?? `kind ${kind}`;
}

function summarize(h: Histogram): LatencySummary {
  const s = h.summary();
  const ms = (us: number) => Math.round(us) / 1000;
  return { count: s.count, p50: ms(s.p50), p99: ms(s.p99), p999: ms(s.p999), max: ms(s.max) };
}

/** Histogram units are µs, at least 1. */
function recordMs(h: Histogram, ms: number): void {
  h.record(Math.max(1, Math.round(ms * 1000)));
}

async function endToEnd(o: ClientOptions): Promise<Omit<E2eResult, "nodeGc">> {
  const strand = new Strand({ brokers: [...o.brokers] });
  const topic = "bench-client-e2e";
  const total = new Histogram();
  const toAck = new Histogram();
  const ackToReceive = new Histogram();
  // send time -> ack time, for the records measured (the value carries the send time).
  const ackedAt = new Map<number, number>();
  const inFlight = o.inFlightPerPartition;
  try {
    const producer = strand.producer({
      lingerMs: 0,
      ...(inFlight === undefined ? {} : { maxInFlightPerPartition: inFlight }),
    });
    const consumer = strand.consumer({ autoOffsetReset: "latest", maxWaitMs: 500 });
    consumer.assign([{ topic, partition: 0 }]);
    await producer.send({ topic, messages: [{ value: "warm" }] });
    await consumer.poll();
    const warmupMs = 1_000;
    const startMs = Date.now();
    const endMs = startMs + warmupMs + o.seconds * 1000;
    const measureFrom = performance.now() + warmupMs;
    let stopGc: (() => E2eResult["benchGc"]) | null = null;
    let stop = false;
    const receiving = (async () => {
      while (!stop)
        for (const b of await consumer.poll()) {
          const now = performance.now();
          for (const m of b.messages) {
            const sentAt = m.value?.length === 8 ? m.value.readDoubleBE(0) : Number.NaN;
            if (!(sentAt >= measureFrom)) continue;
            recordMs(total, now - sentAt);
            const acked = ackedAt.get(sentAt);
            if (acked !== undefined) {
              recordMs(ackToReceive, Math.max(0, now - acked));
              ackedAt.delete(sentAt);
            } else ackedAt.set(sentAt, -1);
          }
        }
    })();
    let sent = 0;
    // A count, not an array of the send promises: 50,000 promises kept alive until the end
    // survive every scavenge of this process and make its GC pauses longer.
    let unsettled = 0;
    let allSettled: (() => void) | null = null;
    const settled = () => {
      if (--unsettled === 0) allSettled?.();
    };
    while (Date.now() < endMs) {
      if (stopGc === null && performance.now() >= measureFrom) stopGc = watchGc();
      const due = Math.floor(((Date.now() - startMs) / 1000) * o.e2eRate);
      for (; sent < due; sent++) {
        const value = Buffer.alloc(8);
        const sentAt = performance.now();
        value.writeDoubleBE(sentAt, 0);
        const p = producer.send({ topic, messages: [{ value }] });
        unsettled++;
        p.then(settled, settled);
        if (sentAt >= measureFrom)
          void p.then(
            () => {
              const now = performance.now();
              recordMs(toAck, now - sentAt);
              // The consumer may have the record before the producer's promise settles.
              if (ackedAt.get(sentAt) === -1) {
                recordMs(ackToReceive, 0);
                ackedAt.delete(sentAt);
              } else ackedAt.set(sentAt, now);
            },
            () => undefined,
          );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    if (unsettled > 0) await new Promise<void>((r) => (allSettled = r));
    await new Promise((r) => setTimeout(r, 1_000));
    const benchGc = stopGc === null ? { count: 0, ms: 0, maxMs: 0, byKind: "" } : stopGc();
    stop = true;
    await receiving.catch(() => undefined);
    return {
      rate: o.e2eRate,
      inFlightPerPartition: inFlight ?? 5,
      ...summarize(total),
      sendToAck: summarize(toAck),
      ackToReceive: summarize(ackToReceive),
      benchGc,
    };
  } finally {
    await strand.close();
  }
}
