/**
 * `strand perf produce` and `strand perf consume`, after Kafka's kafka-producer-perf-test and
 * kafka-consumer-perf-test. Produce sends `--records` values of `--record-size` bytes (random
 * letters, one buffer reused, null keys) as one send() per record and measures each record's
 * latency from send() to acknowledgement; it keeps at most ~16 MiB of records outstanding (as
 * Kafka's send() blocks on a full buffer.memory), and with `--throughput R` paces sends to R
 * records/s. Consume reads every partition from the log start until `--records` records and
 * measures each poll() that returned records (fetch latency). Both print a progress line about
 * every 2 s, then records/s, MB/s (2^20 bytes, as Kafka) and latency avg, p50, p95, p99,
 * p99.9 and max from a log-bucketed histogram (@strand/base's Histogram).
 */
import { Histogram, sleep } from "@strand/base";
import { int, type OptionSpec, str, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { CliError, EXIT, println, toJson } from "../output.ts";
import { acksOf, describeTopic, pollUnlessStopped } from "./common.ts";

const PROGRESS_INTERVAL_MS = 2_000;
/** Record bytes kept outstanding by perf produce (half the producer's 32 MiB buffer). */
const OUTSTANDING_BYTES_MAX = 16 * 1024 * 1024;
const MIB = 1024 * 1024;
/**
 * Records per send() call. The SDK adds an abort listener per pending send() to one shared
 * signal, which costs O(pending sends) each (docs/benchmarks.md "Perf (CLI)"), so perf
 * produce hands records over in groups: every record of a group is created at the group's
 * send() time (in paced runs, the records due in the same millisecond), so its latency is
 * still its own send-to-acknowledgement time. Consecutive keyless records share a batch
 * (sticky partitioner), so a group rarely waits for more than one batch.
 */
const GROUP_RECORDS_MAX = 64;

/** Counts records in flight; below(n) resolves once at most n are. */
class Window {
  outstanding = 0;
  #waiter: { readonly limit: number; readonly resolve: () => void } | null = null;

  add(n: number): void {
    this.outstanding += n;
  }

  settle(n: number): void {
    this.outstanding -= n;
    const w = this.#waiter;
    if (w !== null && this.outstanding <= w.limit) {
      this.#waiter = null;
      w.resolve();
    }
  }

  below(limit: number): Promise<void> {
    if (this.outstanding <= limit) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = { limit, resolve };
    });
  }
}

/** The summary of a perf run (`--json` prints it). */
export interface PerfSummary {
  readonly mode: "produce" | "consume";
  readonly topic: string;
  readonly records: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly latencyMs: {
    readonly avg: number;
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly p999: number;
    readonly max: number;
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function summarize(
  mode: PerfSummary["mode"],
  topic: string,
  totals: { records: number; bytes: number; elapsedMs: number },
  h: Histogram,
): PerfSummary {
  const s = h.summary();
  const seconds = Math.max(totals.elapsedMs, 1) / 1000;
  const ms = (us: number) => round2(us / 1000);
  return {
    mode,
    topic,
    records: totals.records,
    bytes: totals.bytes,
    elapsedMs: Math.round(totals.elapsedMs),
    recordsPerSec: round2(totals.records / seconds),
    mbPerSec: round2(totals.bytes / MIB / seconds),
    latencyMs: {
      avg: ms(s.mean),
      p50: ms(s.p50),
      p95: ms(s.p95),
      p99: ms(s.p99),
      p999: ms(s.p999),
      max: ms(s.max),
    },
  };
}

function printSummary(inv: Invocation, s: PerfSummary): void {
  if (inv.format === "json") {
    println(toJson(s));
    return;
  }
  const l = s.latencyMs;
  const what = s.mode === "produce" ? "records sent" : "records consumed";
  const lat = s.mode === "produce" ? "latency" : "fetch latency";
  println(
    `${s.records} ${what} in ${(s.elapsedMs / 1000).toFixed(2)} s, ${s.recordsPerSec.toFixed(1)} records/sec (${s.mbPerSec.toFixed(2)} MB/sec), ` +
      `${lat} ms: avg ${l.avg}, p50 ${l.p50}, p95 ${l.p95}, p99 ${l.p99}, p99.9 ${l.p999}, max ${l.max}`,
  );
}

/** Prints a progress line every ~2 s: records and latency of the interval. */
class Progress {
  readonly #inv: Invocation;
  readonly #verb: string;
  readonly #timer: NodeJS.Timeout;
  #records = 0;
  #bytes = 0;
  #latencySumUs = 0;
  #latencyMaxUs = 0;
  #latencyCount = 0;
  #since = performance.now();

  constructor(inv: Invocation, verb: string) {
    this.#inv = inv;
    this.#verb = verb;
    this.#timer = setInterval(() => this.#print(), PROGRESS_INTERVAL_MS);
    this.#timer.unref();
  }

  add(records: number, bytes: number, latencyUs?: number): void {
    this.#records += records;
    this.#bytes += bytes;
    if (latencyUs === undefined) return;
    this.#latencySumUs += latencyUs;
    this.#latencyCount++;
    if (latencyUs > this.#latencyMaxUs) this.#latencyMaxUs = latencyUs;
  }

  #print(): void {
    const now = performance.now();
    const seconds = (now - this.#since) / 1000;
    const avg = this.#latencyCount === 0 ? 0 : this.#latencySumUs / this.#latencyCount / 1000;
    const line =
      `${this.#records} records ${this.#verb}, ${(this.#records / seconds).toFixed(1)} records/sec ` +
      `(${(this.#bytes / MIB / seconds).toFixed(2)} MB/sec), ${avg.toFixed(1)} ms avg latency, ` +
      `${(this.#latencyMaxUs / 1000).toFixed(1)} ms max latency.\n`;
    // JSON output stays one object on stdout: progress goes to stderr then.
    (this.#inv.format === "json" ? process.stderr : process.stdout).write(line);
    this.#records = 0;
    this.#bytes = 0;
    this.#latencySumUs = 0;
    this.#latencyMaxUs = 0;
    this.#latencyCount = 0;
    this.#since = now;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function required(inv: Invocation, name: string): string {
  const v = str(inv.options, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function randomPayload(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 65 + Math.floor(Math.random() * 26);
  return b;
}

async function perfProduce(inv: Invocation): Promise<number> {
  const topic = required(inv, "topic");
  const records = int(inv.options, "records", { min: 1 })!;
  if (str(inv.options, "records") === undefined) throw new UsageError("--records is required");
  const size = int(inv.options, "record-size", { min: 0, max: 64 * MIB, fallback: 100 })!;
  const throughput = int(inv.options, "throughput", { min: -1, fallback: -1 })!;
  if (throughput === 0) throw new UsageError("--throughput must be > 0, or -1 for unlimited");
  const acks = acksOf(str(inv.options, "acks") ?? "all");
  const batchSize = int(inv.options, "batch-size", { min: 1 });
  const lingerMs = int(inv.options, "linger-ms", { min: 0 });
  await describeTopic(inv, topic);
  const producer = (await inv.client()).producer({
    acks,
    idempotent: acks === "all",
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(lingerMs === undefined ? {} : { lingerMs }),
  });
  const payload = randomPayload(size);
  const group = Array.from({ length: GROUP_RECORDS_MAX }, () => ({ value: payload }));
  const h = new Histogram();
  const progress = new Progress(inv, "sent");
  const outstandingMax = Math.max(
    GROUP_RECORDS_MAX,
    Math.floor(OUTSTANDING_BYTES_MAX / (size + 70)),
  );
  const window = new Window();
  let acked = 0;
  let failure: unknown = null;
  const start = performance.now();
  try {
    for (let sent = 0; sent < records && failure === null && !inv.signal.aborted; ) {
      let n = Math.min(GROUP_RECORDS_MAX, records - sent);
      if (throughput > 0) {
        const elapsedMs = performance.now() - start;
        const due = Math.floor((elapsedMs * throughput) / 1000) + 1; // records due by now
        if (due <= sent) {
          await sleep(Math.max(1, ((sent + 1) * 1000) / throughput - elapsedMs));
          continue;
        }
        n = Math.min(n, due - sent);
      }
      if (window.outstanding >= outstandingMax) await window.below(outstandingMax - 1);
      const sentAt = performance.now();
      window.add(n);
      sent += n;
      producer.send({ topic, messages: n === GROUP_RECORDS_MAX ? group : group.slice(0, n) }).then(
        () => {
          const us = (performance.now() - sentAt) * 1000;
          h.record(us, n);
          progress.add(n, n * size, us);
          acked += n;
          window.settle(n);
        },
        (error: unknown) => {
          failure ??= error;
          window.settle(n);
        },
      );
    }
    await producer.flush();
    await window.below(0);
  } finally {
    progress.stop();
  }
  const elapsedMs = performance.now() - start;
  await producer.close();
  if (failure !== null) throw failure;
  printSummary(
    inv,
    summarize("produce", topic, { records: acked, bytes: acked * size, elapsedMs }, h),
  );
  return EXIT.ok;
}

async function perfConsume(inv: Invocation): Promise<number> {
  const topic = required(inv, "topic");
  if (str(inv.options, "records") === undefined) throw new UsageError("--records is required");
  const records = int(inv.options, "records", { min: 1 })!;
  const idleMs = int(inv.options, "idle-timeout-ms", { min: 1, fallback: 10_000 })!;
  const t = await describeTopic(inv, topic);
  const consumer = (await inv.client()).consumer({ autoOffsetReset: "earliest", maxWaitMs: 500 });
  consumer.assign(t.partitions.map((p) => ({ topic, partition: p.partition })));
  for (const p of t.partitions)
    consumer.seek({ topic, partition: p.partition, offset: "earliest" });
  const h = new Histogram();
  const progress = new Progress(inv, "consumed");
  let count = 0;
  let bytes = 0;
  const start = performance.now();
  let lastRecordAt = start;
  try {
    while (count < records && !inv.signal.aborted) {
      const before = performance.now();
      const batches = await pollUnlessStopped(consumer, inv.signal);
      if (batches === null) break;
      const now = performance.now();
      let n = 0;
      let b = 0;
      for (const batch of batches)
        for (const m of batch.messages) {
          n++;
          b += (m.value?.length ?? 0) + (m.key?.length ?? 0);
        }
      if (n > 0) {
        h.record((now - before) * 1000);
        progress.add(n, b, (now - before) * 1000);
        count += n;
        bytes += b;
        lastRecordAt = now;
      } else if (now - lastRecordAt > idleMs)
        throw new CliError(
          `only ${count} of ${records} records arrived; none in the last ${idleMs} ms`,
        );
    }
  } finally {
    progress.stop();
    await consumer.close();
  }
  const elapsedMs = performance.now() - start;
  printSummary(inv, summarize("consume", topic, { records: count, bytes, elapsedMs }, h));
  return EXIT.ok;
}

const TOPIC: OptionSpec = {
  name: "topic",
  type: "string",
  valueName: "T",
  description: "the topic (must exist)",
};
const RECORDS: OptionSpec = {
  name: "records",
  type: "string",
  valueName: "N",
  description: "how many records",
};
const JSON_FLAG: OptionSpec = {
  name: "json",
  type: "boolean",
  description: "same as --format json",
};

/** The perf commands. */
export const perfCommands: readonly Command[] = [
  {
    path: ["perf", "produce"],
    brief: "producer load test",
    summary:
      "Producer load test: sends N records of B bytes and reports records/s, MB/s and send-to-ack latency percentiles.",
    args: "",
    arity: [0, 0],
    options: [
      TOPIC,
      RECORDS,
      {
        name: "record-size",
        type: "string",
        valueName: "B",
        description: "value bytes (default 100)",
      },
      {
        name: "throughput",
        type: "string",
        valueName: "R",
        description: "pace sends to R records/s (default -1: unlimited)",
      },
      {
        name: "acks",
        type: "string",
        valueName: "all|1|0",
        description: "default all (idempotent)",
      },
      {
        name: "batch-size",
        type: "string",
        valueName: "BYTES",
        description: "producer batch size (default 16384)",
      },
      {
        name: "linger-ms",
        type: "string",
        valueName: "MS",
        description: "producer linger (default 5)",
      },
      JSON_FLAG,
    ],
    examples: [
      "strand perf produce --topic bench --records 1000000 --record-size 100",
      "strand perf produce --topic bench --records 500000 --record-size 100 --throughput 50000 --json",
    ],
    run: perfProduce,
  },
  {
    path: ["perf", "consume"],
    brief: "consumer load test",
    summary:
      "Consumer load test: reads N records from the log start of every partition and reports records/s, MB/s and fetch latency percentiles.",
    args: "",
    arity: [0, 0],
    options: [
      TOPIC,
      RECORDS,
      {
        name: "idle-timeout-ms",
        type: "string",
        valueName: "MS",
        description: "fail when no record arrives for this long (default 10000)",
      },
      JSON_FLAG,
    ],
    examples: ["strand perf consume --topic bench --records 1000000"],
    run: perfConsume,
  },
];
