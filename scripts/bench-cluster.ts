/**
 * Cluster benchmark: a local 3-node combined Strand cluster (started and stopped here), a topic
 * with RF 3, acks=all and min.insync.replicas 2, and
 *
 * 1. produce throughput and per-request latency over ProduceStream (pipelined, straight to each
 *    partition's leader) for 100-byte records in 16 KiB and 256 KiB batches encoded once;
 * 2. fetch throughput from the start of the log, straight from the leaders, large max bytes;
 * 3. end-to-end latency at a fixed rate: a paced acks=all producer and Subscribe consumers; the
 *    send time travels in the first record's key of each batch;
 * 4. `client` (not in the default phases): the same cluster through the SDK (scripts/bench/
 *    client.ts): one record per send() with 4,096 pending, batched sends, a consumer from the
 *    start, end to end with lingerMs 0;
 * 5. the ceiling: a bare grpc-js bidi stream between two processes carrying the same bytes with
 *    the same streams and in-flight depth (scripts/bench-grpc-ceiling.ts);
 * 6. `--tls`: phases 1-3 again on a second 3-node cluster with mTLS on every listener
 *    (certificates from `strand cert` in a temp dir), reported beside the plaintext figures
 *    with the ratio.
 * 7. `soak` (not in the default phases; `--soak-minutes N` selects it): the maximum produce rate
 *    measured for 10 s, then the end-to-end producer and consumers at half of it for N minutes,
 *    with each node's RSS and heap sampled from its /metrics (scripts/bench/soak.ts).
 *
 * A script, never a test. Percentiles come from a log-bucketed histogram (scripts/bench/
 * histogram.ts, < 0.8 % relative error; max exact). MB = 10^6 bytes of RecordBatch bytes.
 *
 *   npm run bench -- cluster [--records N] [--record-size 100] [--batch-bytes 16384,262144]
 *     [--partitions 6] [--in-flight N] [--e2e-rate 50000] [--e2e-seconds 10] [--e2e-linger-ms 5]
 *     [--phases produce,fetch,e2e,ceiling,client,soak] [--soak-minutes 10] [--tls]
 *     [--profile DIR] [--json] [--help]
 */
import { execSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { Histogram, sleep } from "@strand/base";
import type {
  FetchResponse__Output,
  MetadataResponse__Output,
  ProduceStreamResponse__Output,
  SubscribeResponse__Output,
} from "@strand/protocol";
import {
  clientChannelOptions,
  decodeRecordBatch,
  encodeRecordBatch,
  type RecordInput,
  strandGrpc,
} from "@strand/protocol";
import {
  CLIENT_PARTS,
  type ClientPart,
  type ClientResult,
  clientRun,
  type LatencySummary,
} from "./bench/client.ts";
import { BenchCluster } from "./bench/cluster.ts";
import {
  nowUs,
  printProfileSummary,
  summarizeProfiles,
  type WindowUs,
} from "./bench/cpuprofile.ts";
import { type GcTotals, gcDelta, gcTotals } from "./bench/node-gc.ts";
import {
  type MemorySample,
  type MemoryTrend,
  memorySampler,
  memorySamples,
  memoryTrends,
} from "./bench/soak.ts";
import { type CeilingResult, measureCeiling } from "./bench-grpc-ceiling.ts";
import { stopOnSignals } from "./lib/cluster.ts";
import { certPair, makeClusterCertificates, mtlsNodeFlags } from "./lib/tls-certs.ts";

/** Latency percentiles of a histogram of microseconds, in milliseconds (NaN when empty). */
interface LatencySummaryMs {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

function summaryMs(h: Histogram): LatencySummaryMs {
  const s = h.summary();
  const ms = (us: number) => (s.count === 0 ? Number.NaN : Math.round(us) / 1000);
  return {
    count: s.count,
    p50: ms(s.p50),
    p95: ms(s.p95),
    p99: ms(s.p99),
    p999: ms(s.p999),
    max: ms(s.max),
  };
}

/** Issue 14's targets (docs/performance.md); `targets()` reports the ones a run measured. */
const TARGET = {
  /** produce, 100-byte records, records/s. */
  produceSmall: 400_000,
  /** produce, 1 KiB records, MB/s of record payload. */
  produceKibMb: 60,
  /** consume from the start, 100-byte records, records/s. */
  fetchSmall: 1_000_000,
  /** consume from the start, 1 KiB records, MB/s of record payload. */
  fetchKibMb: 250,
  /** end to end at 50,000 records/s on 6 partitions, p99 ms. */
  e2eP99Busy: 25,
  /** SDK: one record per send() with 4,096 pending, records/s. */
  singleSends: 150_000,
  /** SDK end to end at 5,000 records/s, lingerMs 0: p99 and p99.9 ms. */
  e2eP99Light: 10,
  e2eP999Light: 25,
} as const;
const WARMUP_SECONDS = 1.5;
/** Produce is stopped after this long even if --records are not all sent (bounds the run). */
const PRODUCE_SECONDS_MAX = 20;
const FETCH_SECONDS_MAX = 20;
const FETCH_PARTITION_MAX_BYTES = 8 * 1024 * 1024;
const E2E_IN_FLIGHT_MAX = 200;
const E2E_BATCH_BYTES_MAX = 256 * 1024;
const E2E_DRAIN_MS = 3_000;
const CEILING_SECONDS = 3;
const BATCH_HEADER_BYTES = 61;
/** The client listener's message limit (protocol wire module), as every SDK channel uses. */
const CHANNEL_OPTIONS = clientChannelOptions();
/**
 * Default pipelining depth per leader stream, in bytes: enough to keep a leader busy (32 x 16 KiB
 * batches) without queueing seconds of 256 KiB batches, which only adds latency.
 */
const IN_FLIGHT_BYTES = 512 * 1024;
const PHASES = ["produce", "fetch", "e2e", "ceiling", "client", "soak"] as const;
/** Seconds the soak waits without load before its last memory sample. */
const SOAK_IDLE_SECONDS = 30;
/** The soak's load: this share of the produce rate measured just before it. */
const SOAK_RATE_SHARE = 0.5;
const SOAK_PROBE_SECONDS = 10;
const SOAK_DEFAULT_MINUTES = 10;
/**
 * An idle window before the phases: each node's CPU per second with nothing to do (Raft ticks,
 * heartbeats, metrics), subtracted from a phase's CPU to give its cost per MB.
 */
const IDLE_SECONDS = 5;
const DEFAULT_PHASES = ["produce", "fetch", "e2e", "ceiling"];

interface Options {
  readonly records: number;
  readonly recordSize: number;
  readonly batchBytes: readonly number[];
  readonly partitions: number;
  /** Requests in flight per leader stream; null = as many as fit in IN_FLIGHT_BYTES. */
  readonly inFlight: number | null;
  readonly e2eRate: number;
  readonly e2eSeconds: number;
  readonly e2eLingerMs: number;
  readonly soakMinutes: number;
  readonly phases: ReadonlySet<string>;
  /** The client phase's sub-phases, its e2e rate and its producer's in-flight limit. */
  readonly clientParts: ReadonlySet<ClientPart>;
  readonly clientRate: number;
  readonly clientInFlight: number | undefined;
  /** The client phase consumer's maxBytesPerPartition (the SDK default when undefined). */
  readonly consumePartitionBytes: number | undefined;
  readonly profileDir: string | undefined;
  /** Extra Node flags for every node (`--node-flags`, space-separated). */
  readonly nodeFlags: readonly string[];
  readonly json: boolean;
  /** Also run produce/fetch/e2e on an mTLS cluster and report it beside plaintext. */
  readonly tls: boolean;
}

function inFlightFor(options: Options, batchBytes: number): number {
  return options.inFlight ?? Math.max(2, Math.floor(IN_FLIGHT_BYTES / batchBytes));
}

function usage(): string {
  return [
    "usage: npm run bench -- cluster [options]",
    "  --records N            records produced per batch size (default 2000000; capped at 20 s)",
    "  --record-size N        value bytes per record (default 100)",
    "  --batch-bytes A,B      batch sizes in bytes, comma-separated (default 16384,262144)",
    "  --partitions N         partitions of each bench topic (default 6)",
    "  --in-flight N          produce requests in flight per leader stream (default: 512 KiB",
    "                         worth, i.e. 32 of 16 KiB, 2 of 256 KiB)",
    "  --e2e-rate N           records/s of the paced end-to-end producer (default 50000)",
    "  --e2e-seconds N        measured end-to-end seconds (default 10)",
    "  --e2e-linger-ms N      the paced producer sends what is due every N ms (default 5)",
    "  --phases LIST          any of produce,fetch,e2e,ceiling,client,soak (default all but",
    "                         client and soak)",
    "  --client-parts LIST    the client phase's sub-phases: any of single,batched,consume,e2e",
    "                         (default all; consume needs batched)",
    "  --client-rate N        records/s of the client phase's end-to-end producer (default 5000)",
    "  --client-in-flight N   its producer's maxInFlightPerPartition (default: the SDK's, 5)",
    "  --consume-partition-bytes N  the client consumer's maxBytesPerPartition (default: the",
    "                         SDK's, 1 MiB)",
    `  --soak-minutes N       soak length in minutes, fractions allowed (default ${SOAK_DEFAULT_MINUTES});`,
    "                         selects the soak phase",
    "  --tls                  then run produce, fetch and e2e again on a cluster with mTLS on",
    "                         every listener, and report both with the TLS/plaintext ratio",
    '  --node-flags="F ..."   extra Node flags for every node, e.g. --node-flags=--max-semi-space-size=2',
    "  --profile DIR          run every node with --cpu-prof into DIR and summarize self time",
    "  --json                 print the results as JSON",
  ].join("\n");
}

function parseOptions(): Options | null {
  const { values } = parseArgs({
    options: {
      records: { type: "string", default: "2000000" },
      "record-size": { type: "string", default: "100" },
      "batch-bytes": { type: "string", default: "16384,262144" },
      partitions: { type: "string", default: "6" },
      "in-flight": { type: "string" },
      "e2e-rate": { type: "string", default: "50000" },
      "e2e-seconds": { type: "string", default: "10" },
      "e2e-linger-ms": { type: "string", default: "5" },
      "soak-minutes": { type: "string" },
      "client-parts": { type: "string", default: CLIENT_PARTS.join(",") },
      "client-rate": { type: "string", default: "5000" },
      "client-in-flight": { type: "string" },
      "consume-partition-bytes": { type: "string" },
      phases: { type: "string", default: DEFAULT_PHASES.join(",") },
      profile: { type: "string" },
      "node-flags": { type: "string" },
      json: { type: "boolean", default: false },
      tls: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return null;
  const positive = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const phases = new Set(values.phases.split(","));
  if (values["soak-minutes"] !== undefined) phases.add("soak");
  const soakMinutes = Number(values["soak-minutes"] ?? SOAK_DEFAULT_MINUTES);
  if (!(soakMinutes > 0)) throw new Error("--soak-minutes must be a positive number");
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p))
      throw new Error(`--phases: unknown phase ${p}; use ${PHASES.join(",")}`);
  const clientParts = new Set<ClientPart>();
  for (const p of values["client-parts"].split(",")) {
    if (!(CLIENT_PARTS as readonly string[]).includes(p))
      throw new Error(`--client-parts: unknown part ${p}; use ${CLIENT_PARTS.join(",")}`);
    clientParts.add(p as ClientPart);
  }
  const clientInFlight = values["client-in-flight"];
  return {
    clientParts,
    clientRate: positive("client-rate", values["client-rate"]),
    clientInFlight:
      clientInFlight === undefined ? undefined : positive("client-in-flight", clientInFlight),
    consumePartitionBytes:
      values["consume-partition-bytes"] === undefined
        ? undefined
        : positive("consume-partition-bytes", values["consume-partition-bytes"]),
    records: positive("records", values.records),
    recordSize: positive("record-size", values["record-size"]),
    batchBytes: values["batch-bytes"].split(",").map((b) => positive("batch-bytes", b)),
    partitions: positive("partitions", values.partitions),
    inFlight: values["in-flight"] === undefined ? null : positive("in-flight", values["in-flight"]),
    e2eRate: positive("e2e-rate", values["e2e-rate"]),
    e2eSeconds: positive("e2e-seconds", values["e2e-seconds"]),
    e2eLingerMs: positive("e2e-linger-ms", values["e2e-linger-ms"]),
    soakMinutes,
    phases,
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    nodeFlags: (values["node-flags"] ?? "").split(" ").filter((f) => f !== ""),
    json: values.json,
    tls: values.tls,
  };
}

// ---------------------------------------------------------------------------------------------
// gRPC plumbing

type V1 = ReturnType<typeof strandGrpc>["strand"]["v1"];

interface Conn {
  readonly nodeId: number;
  readonly produce: InstanceType<V1["ProduceService"]>;
  readonly fetch: InstanceType<V1["FetchService"]>;
  readonly metadata: InstanceType<V1["MetadataService"]>;
  readonly admin: InstanceType<V1["AdminService"]>;
}

function connect(nodeId: number, address: string, creds: grpc.ChannelCredentials): Conn {
  const v1 = strandGrpc().strand.v1;
  const produce = new v1.ProduceService(address, creds, CHANNEL_OPTIONS);
  const shared = { ...CHANNEL_OPTIONS, channelOverride: produce.getChannel() };
  return {
    nodeId,
    produce,
    fetch: new v1.FetchService(address, creds, shared),
    metadata: new v1.MetadataService(address, creds, shared),
    admin: new v1.AdminService(address, creds, shared),
  };
}

function unary<T>(
  start: (cb: (error: grpc.ServiceError | null, response?: T) => void) => unknown,
): Promise<T> {
  return new Promise((res, rej) => {
    start((error, response) => (error !== null ? rej(error) : res(response as T)));
  });
}

/** Creates `topic` (RF 3, min ISR 2) and waits until every partition has a leader and ISR 3. */
async function createTopic(
  conns: readonly Conn[],
  topic: string,
  partitions: number,
): Promise<Map<number, Conn>> {
  const created = await unary<{ topics: { errorCode: number; errorMessage: string }[] }>((cb) =>
    conns[0]!.admin.CreateTopics(
      {
        topics: [
          {
            name: topic,
            partitionCount: partitions,
            replicationFactor: 3,
            configs: [{ key: "min.insync.replicas", value: "2" }],
          },
        ],
        timeoutMs: 10_000,
      },
      cb,
    ),
  );
  if (created.topics[0]?.errorCode !== 0)
    throw new Error(`CreateTopics ${topic}: ${created.topics[0]?.errorMessage}`);
  for (let round = 0; round < 300; round++) {
    const leaders = await leadersOf(conns, topic, partitions);
    if (leaders !== null) return leaders;
    await sleep(100);
  }
  throw new Error(`${topic}: partitions did not get leaders with a full ISR in 30 s`);
}

/** partition -> leader connection, once every node agrees and each ISR has 3 members. */
async function leadersOf(
  conns: readonly Conn[],
  topic: string,
  partitions: number,
): Promise<Map<number, Conn> | null> {
  const byId = new Map(conns.map((c) => [c.nodeId, c]));
  let leaders: Map<number, Conn> | null = null;
  for (const c of conns) {
    const md = await unary<MetadataResponse__Output>((cb) =>
      c.metadata.Metadata({ topics: [topic] }, cb),
    );
    const parts = md.topics[0]?.partitions ?? [];
    if (parts.length !== partitions) return null;
    const here = new Map<number, Conn>();
    for (const p of parts) {
      const leader = byId.get(p.leaderId);
      if (leader === undefined || p.isr.length !== 3) return null;
      here.set(p.partition, leader);
    }
    if (leaders !== null && [...here].some(([p, l]) => leaders?.get(p) !== l)) return null;
    leaders = here;
  }
  return leaders;
}

/** leader connection -> the partitions it leads. */
function byLeader(leaders: ReadonlyMap<number, Conn>): Map<Conn, number[]> {
  const out = new Map<Conn, number[]>();
  for (const [partition, conn] of [...leaders].sort((a, b) => a[0] - b[0])) {
    const list = out.get(conn) ?? [];
    list.push(partition);
    out.set(conn, list);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Produce

interface EncodedBatch {
  readonly bytes: Buffer;
  readonly records: number;
}

/** One batch of `recordSize`-byte records, as many as fit in `batchBytes`. */
function encodeBatch(batchBytes: number, recordSize: number): EncodedBatch {
  const value = Buffer.alloc(recordSize, "x");
  let count = Math.max(1, Math.floor((batchBytes - BATCH_HEADER_BYTES) / (recordSize + 6)));
  for (;;) {
    const records: RecordInput[] = Array.from({ length: count }, () => ({ key: null, value }));
    const bytes = encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records });
    if (bytes.length <= batchBytes || count === 1) return { bytes, records: count };
    count--;
  }
}

interface ProduceResult {
  readonly batchBytes: number;
  readonly streams: number;
  readonly inFlightPerStream: number;
  readonly recordsPerBatch: number;
  readonly records: number;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly latencyMs: LatencySummaryMs;
  firstError?: string;
}

interface ProduceRun {
  readonly topic: string;
  readonly batch: EncodedBatch;
  readonly leaders: ReadonlyMap<number, Conn>;
  readonly inFlight: number;
  readonly recordsBudget: number;
  readonly secondsMax: number;
}

/** Pipelined ProduceStream per leader; one batch (one partition) per request. */
async function produceRun(run: ProduceRun): Promise<ProduceResult> {
  const hist = new Histogram();
  const state = { sentRecords: 0, acked: 0, requests: 0, errors: 0, firstError: "" };
  const started = performance.now();
  const deadline = started + run.secondsMax * 1000;
  let lastAck = started;
  let nextId = 0;
  const more = () => state.sentRecords < run.recordsBudget && performance.now() < deadline;
  await Promise.all(
    [...byLeader(run.leaders)].map(
      ([conn, partitions]) =>
        new Promise<void>((resolveStream, rejectStream) => {
          const call = conn.produce.ProduceStream();
          const sentAt = new Map<number, number>();
          let turn = 0;
          const send = () => {
            const id = nextId++;
            const partition = partitions[turn++ % partitions.length]!;
            sentAt.set(id, performance.now());
            state.sentRecords += run.batch.records;
            call.write({
              correlationId: String(id),
              request: {
                acks: "ACKS_ALL",
                timeoutMs: 30_000,
                topics: [
                  { topic: run.topic, partitions: [{ partition, records: run.batch.bytes }] },
                ],
              },
            });
          };
          call.on("data", (r: ProduceStreamResponse__Output) => {
            const id = Number(r.correlationId);
            const now = performance.now();
            hist.record((now - sentAt.get(id)!) * 1000);
            sentAt.delete(id);
            lastAck = now;
            state.requests++;
            const p = r.response?.topics[0]?.partitions[0];
            if (p === undefined || p.errorCode !== 0) {
              state.errors++;
              state.firstError ||= `${p?.errorCode}: ${p?.errorMessage}`;
            } else state.acked += run.batch.records;
            if (more()) send();
            else if (sentAt.size === 0) call.end();
          });
          call.on("error", rejectStream);
          call.on("end", () => resolveStream());
          for (let i = 0; i < run.inFlight && more(); i++) send();
        }),
    ),
  );
  const seconds = (lastAck - started) / 1000;
  return {
    batchBytes: run.batch.bytes.length,
    streams: byLeader(run.leaders).size,
    inFlightPerStream: run.inFlight,
    recordsPerBatch: run.batch.records,
    records: state.acked,
    requests: state.requests,
    errors: state.errors,
    seconds,
    recordsPerSec: state.acked / seconds,
    mbPerSec: (state.acked / run.batch.records) * (run.batch.bytes.length / 1e6 / seconds),
    latencyMs: summaryMs(hist),
    ...(state.firstError === "" ? {} : { firstError: state.firstError }),
  };
}

// ---------------------------------------------------------------------------------------------
// Fetch

interface FetchResult {
  readonly topic: string;
  readonly records: number;
  readonly bytes: number;
  readonly requests: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
}

/** Records and the next offset of whole batches in `buf` (header fields only, no CRC). */
function scanRecords(buf: Buffer): { records: number; next: bigint | null } {
  let records = 0;
  let next: bigint | null = null;
  for (let pos = 0; pos + BATCH_HEADER_BYTES <= buf.length; ) {
    const size = 12 + buf.readInt32BE(pos + 8);
    if (pos + size > buf.length) break;
    records += buf.readInt32BE(pos + 57);
    next = buf.readBigInt64BE(pos) + BigInt(buf.readInt32BE(pos + 23)) + 1n;
    pos += size;
  }
  return { records, next };
}

/** One fetch loop per partition (straight to its leader) from offset 0 to the high watermark. */
async function fetchRun(topic: string, leaders: ReadonlyMap<number, Conn>): Promise<FetchResult> {
  const totals = { records: 0, bytes: 0, requests: 0 };
  const started = performance.now();
  const deadline = started + FETCH_SECONDS_MAX * 1000;
  await Promise.all(
    [...leaders].map(async ([partition, conn]) => {
      let offset = 0n;
      let hw = 1n;
      while (offset < hw && performance.now() < deadline) {
        const r = await unary<FetchResponse__Output>((cb) =>
          conn.fetch.Fetch(
            {
              maxWaitMs: 0,
              minBytes: 0,
              maxBytes: FETCH_PARTITION_MAX_BYTES,
              topics: [
                {
                  topic,
                  partitions: [
                    {
                      partition,
                      fetchOffset: String(offset),
                      partitionMaxBytes: FETCH_PARTITION_MAX_BYTES,
                    },
                  ],
                },
              ],
            },
            cb,
          ),
        );
        const p = r.topics[0]?.partitions[0];
        if (p === undefined || p.errorCode !== 0)
          throw new Error(`fetch ${topic}-${partition}: ${p?.errorCode} ${p?.errorMessage}`);
        hw = BigInt(p.highWatermark);
        const scan = scanRecords(p.records);
        totals.records += scan.records;
        totals.bytes += p.records.length;
        totals.requests++;
        if (scan.next === null) break;
        offset = scan.next;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    topic,
    ...totals,
    seconds,
    recordsPerSec: totals.records / seconds,
    mbPerSec: totals.bytes / 1e6 / seconds,
  };
}

// ---------------------------------------------------------------------------------------------
// End to end

interface E2eResult {
  readonly targetRecordsPerSec: number;
  readonly lingerMs: number;
  readonly producedRecordsPerSec: number;
  readonly seconds: number;
  readonly records: number;
  readonly missing: number;
  readonly errors: number;
  readonly firstError: string;
  readonly latencyMs: LatencySummaryMs;
  readonly ackLatencyMs: LatencySummaryMs;
  /** GC pauses of each node during the run (node id -> totals), when measured. */
  nodeGc?: Record<number, GcTotals>;
}

/** A batch of `count` records whose first key is the send time (performance.now(), float64). */
function timedBatch(count: number, value: Buffer, sentAtMs: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeDoubleBE(sentAtMs, 0);
  const records: RecordInput[] = Array.from({ length: count }, (_, i) => ({
    key: i === 0 ? key : null,
    value,
  }));
  return encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records });
}

/** Subscribe streams on every leader: records each batch's latency (record-weighted). */
function subscribeAll(
  topic: string,
  leaders: ReadonlyMap<number, Conn>,
  onBatch: (sentAtMs: number, records: number) => void,
): { cancel(): void } {
  const calls = [...byLeader(leaders)].map(([conn, partitions]) => {
    const call = conn.fetch.Subscribe({
      topics: [
        { topic, partitions: partitions.map((partition) => ({ partition, fetchOffset: "0" })) },
      ],
      maxBytes: 0,
    });
    call.on("data", (msg: SubscribeResponse__Output) => {
      const buf = msg.result?.records;
      if (buf === undefined || buf.length === 0) return;
      for (let pos = 0; pos + BATCH_HEADER_BYTES <= buf.length; ) {
        const size = 12 + buf.readInt32BE(pos + 8);
        const batch = decodeRecordBatch(buf, { position: pos, verifyCrc: false });
        const key = batch.records[0]?.key;
        if (key !== null && key !== undefined && key.length === 8)
          onBatch(key.readDoubleBE(0), batch.records.length);
        pos += size;
      }
    });
    call.on("error", () => undefined);
    return call;
  });
  return {
    cancel: () => {
      for (const c of calls) c.cancel();
    },
  };
}

/**
 * A producer paced to `rate` records/s: every linger interval it sends the records due so far
 * as one batch (round robin over partitions, as a producer with linger.ms would). Latency runs
 * from that send to the consumer's receipt, so it excludes the linger wait itself.
 */
async function e2eRun(
  topic: string,
  leaders: ReadonlyMap<number, Conn>,
  options: Options,
): Promise<E2eResult> {
  const latency = new Histogram();
  const ackLatency = new Histogram();
  const value = Buffer.alloc(options.recordSize, "x");
  const started = performance.now();
  const measureFrom = started + WARMUP_SECONDS * 1000;
  const measureTo = measureFrom + options.e2eSeconds * 1000;
  const counts = { produced: 0, measuredSent: 0, measuredSeen: 0, errors: 0, firstError: "" };
  const sub = subscribeAll(topic, leaders, (sentAtMs, records) => {
    if (sentAtMs < measureFrom || sentAtMs >= measureTo) return;
    latency.record((performance.now() - sentAtMs) * 1000, records);
    counts.measuredSeen += records;
  });
  const streams = [...byLeader(leaders)].map(([conn, partitions]) => {
    const call = conn.produce.ProduceStream();
    const sentAt = new Map<number, number>();
    call.on("data", (r: ProduceStreamResponse__Output) => {
      const id = Number(r.correlationId);
      ackLatency.record((performance.now() - sentAt.get(id)!) * 1000);
      sentAt.delete(id);
      const p = r.response?.topics[0]?.partitions[0];
      if (p === undefined || p.errorCode !== 0) {
        counts.errors++;
        counts.firstError ||= `${p?.errorCode}: ${p?.errorMessage}`;
      }
    });
    call.on("error", () => undefined);
    return { call, partitions, sentAt };
  });
  let turn = 0;
  let nextId = 0;
  // A batch holds at most what fits in E2E_BATCH_BYTES_MAX (a producer's batch.size); a late
  // tick sends several batches rather than one over max.message.bytes.
  const batchRecordsMax = Math.max(1, Math.floor(E2E_BATCH_BYTES_MAX / (options.recordSize + 8)));
  while (performance.now() < measureTo) {
    await sleep(options.e2eLingerMs);
    const now = Math.min(performance.now(), measureTo);
    let due = Math.floor(((now - started) / 1000) * options.e2eRate) - counts.produced;
    for (let k = 0; due > 0 && k < streams.length * 16; k++) {
      const slot = turn++;
      const s = streams[slot % streams.length]!;
      if (s.sentAt.size >= E2E_IN_FLIGHT_MAX) continue;
      const count = Math.min(due, batchRecordsMax);
      const partition = s.partitions[Math.floor(slot / streams.length) % s.partitions.length]!;
      const id = nextId++;
      const sentAtMs = performance.now();
      s.sentAt.set(id, sentAtMs);
      s.call.write({
        correlationId: String(id),
        request: {
          acks: "ACKS_ALL",
          timeoutMs: 30_000,
          topics: [
            { topic, partitions: [{ partition, records: timedBatch(count, value, sentAtMs) }] },
          ],
        },
      });
      due -= count;
      counts.produced += count;
      // The same window as the consumer's: a tick that wakes just after measureTo still sends.
      if (sentAtMs >= measureFrom && sentAtMs < measureTo) counts.measuredSent += count;
    }
  }
  for (let i = 0; i < E2E_DRAIN_MS / 10 && counts.measuredSeen < counts.measuredSent; i++)
    await sleep(10);
  for (const s of streams) s.call.end();
  sub.cancel();
  return {
    targetRecordsPerSec: options.e2eRate,
    lingerMs: options.e2eLingerMs,
    producedRecordsPerSec: counts.produced / ((measureTo - started) / 1000),
    seconds: options.e2eSeconds,
    records: counts.measuredSeen,
    missing: counts.measuredSent - counts.measuredSeen,
    errors: counts.errors,
    firstError: counts.firstError,
    latencyMs: summaryMs(latency),
    ackLatencyMs: summaryMs(ackLatency),
  };
}

// ---------------------------------------------------------------------------------------------
// Soak

interface SoakResult {
  readonly maxRecordsPerSec: number;
  readonly minutes: number;
  readonly e2e: E2eResult;
  readonly memory: MemoryTrend[];
  /** Every node's memory {@link SOAK_IDLE_SECONDS} after the load stopped. */
  readonly afterIdle: MemorySample[];
}

/**
 * The maximum produce rate for {@link SOAK_PROBE_SECONDS} (16 KiB batches, on a topic of its
 * own), then the paced end-to-end producer and consumers at {@link SOAK_RATE_SHARE} of it for
 * `soakMinutes`, sampling every node's memory throughout.
 */
async function soakRun(
  conns: readonly Conn[],
  cluster: BenchCluster,
  options: Options,
  log: (s: string) => void,
): Promise<SoakResult> {
  const probeLeaders = await createTopic(conns, "bench-soak-probe", options.partitions);
  const batch = encodeBatch(16_384, options.recordSize);
  log(`soak: maximum produce rate for ${SOAK_PROBE_SECONDS} s`);
  const probe = await produceRun({
    topic: "bench-soak-probe",
    batch,
    leaders: probeLeaders,
    inFlight: inFlightFor(options, batch.bytes.length),
    recordsBudget: Number.POSITIVE_INFINITY,
    secondsMax: SOAK_PROBE_SECONDS,
  });
  const rate = Math.max(1, Math.floor(probe.recordsPerSec * SOAK_RATE_SHARE));
  const leaders = await createTopic(conns, "bench-soak", options.partitions);
  log(`soak: ${fmt(rate)} records/s for ${options.soakMinutes} min`);
  const seconds = Math.round(options.soakMinutes * 60);
  const sampler = memorySampler(cluster.nodes, Math.min(30_000, (seconds * 1000) / 10));
  const gcBefore = await gcTotals(cluster.nodes);
  const e2e = await e2eRun("bench-soak", leaders, {
    ...options,
    e2eRate: rate,
    e2eSeconds: seconds,
  });
  e2e.nodeGc = gcDelta(gcBefore, await gcTotals(cluster.nodes));
  const memory = memoryTrends(await sampler.stop());
  // Memory a node holds only while loaded (queued requests, buffers the allocator keeps for
  // reuse) should go back or stay put once the load stops; a leak stays and keeps its growth.
  log(`soak: idle for ${SOAK_IDLE_SECONDS} s`);
  await new Promise((r) => setTimeout(r, SOAK_IDLE_SECONDS * 1000));
  const afterIdle = await memorySamples(cluster.nodes, seconds + SOAK_IDLE_SECONDS);
  return {
    maxRecordsPerSec: probe.recordsPerSec,
    minutes: options.soakMinutes,
    e2e,
    memory,
    afterIdle,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

/** A measured phase on the profiles' clock. */
interface PhaseWindow extends WindowUs {
  readonly name: string;
  /** CPU seconds each node used during the phase (node id -> seconds; see cpuSeconds()). */
  readonly cpuSeconds: Record<number, number>;
}

interface Report {
  readonly machine: { cpu: string; cores: number; memGiB: number; node: string; load: string };
  readonly options: Omit<Options, "phases"> & { phases: string[] };
  readonly leaders: Record<string, number[]>;
  readonly windows: PhaseWindow[];
  readonly produce: ProduceResult[];
  readonly fetch: FetchResult[];
  readonly e2e: E2eResult | null;
  readonly client?: ClientResult | null;
  readonly soak?: SoakResult | null;
  readonly ceiling: (CeilingResult & { strandShare: number | null })[];
  /** `--tls`: the same phases on an mTLS cluster (null without the option). */
  readonly tls: TlsPart | null;
  readonly targets: { name: string; target: string; result: string; met: boolean }[];
}

function machine(): Report["machine"] {
  let cpu = cpus()[0]?.model ?? "unknown";
  try {
    cpu = execSync("lscpu | grep 'Model name'", { encoding: "utf8" })
      .replace(/Model name:\s*/, "")
      .trim();
  } catch {
    // lscpu missing: keep the os.cpus() model
  }
  const load = execSync("cat /proc/loadavg", { encoding: "utf8" }).trim();
  return {
    cpu,
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load,
  };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "-";

/** One target row: `met` when `value` is on the right side of `bound`. */
function target(
  name: string,
  value: number,
  bound: number,
  unit: string,
  higherIsBetter: boolean,
): Report["targets"][number] {
  return {
    name,
    target: `${higherIsBetter ? ">=" : "<="} ${fmt(bound)} ${unit}`,
    result: `${fmt(value, unit === "ms" ? 2 : 1)} ${unit}`,
    met: Number.isFinite(value) && (higherIsBetter ? value >= bound : value <= bound),
  };
}

/**
 * Issue 14's targets that this run measured. Record-size targets apply to the record size
 * of the run: 100 B (the default) or 1 KiB (`--record-size 1024`); MB/s of payload counts
 * record values only, as the issue does.
 */
function targets(r: Omit<Report, "targets">): Report["targets"] {
  const out: Report["targets"] = [];
  const size = r.options.recordSize;
  const payloadMb = (records: number) => (records * size) / 1e6;
  for (const p of r.produce) {
    const name = `produce ${size} B records, ${fmt(p.batchBytes)} B batches`;
    if (size <= 100)
      out.push(target(name, p.recordsPerSec, TARGET.produceSmall, "records/s", true));
    if (size >= 1024)
      out.push(target(name, payloadMb(p.recordsPerSec), TARGET.produceKibMb, "MB/s", true));
  }
  for (const f of r.fetch) {
    const name = `consume ${size} B records from the start, ${f.topic}`;
    if (size <= 100) out.push(target(name, f.recordsPerSec, TARGET.fetchSmall, "records/s", true));
    if (size >= 1024)
      out.push(target(name, payloadMb(f.recordsPerSec), TARGET.fetchKibMb, "MB/s", true));
  }
  if (r.e2e !== null) {
    const e = r.e2e;
    const name = `end to end p99 at ${fmt(e.targetRecordsPerSec)} records/s, ${r.options.partitions} partitions`;
    out.push(
      target(name, e.missing === 0 ? e.latencyMs.p99 : Number.NaN, TARGET.e2eP99Busy, "ms", false),
    );
  }
  const c = r.client;
  if (c?.single != null)
    out.push(
      target(
        `SDK: one record per send(), ${fmt(c.single.pending)} pending, 1 partition`,
        c.single.recordsPerSec,
        TARGET.singleSends,
        "records/s",
        true,
      ),
    );
  if (c?.e2e != null) {
    const e2e = `SDK end to end at ${fmt(c.e2e.rate)} records/s, lingerMs 0, 1 partition`;
    out.push(target(`${e2e}, p99`, c.e2e.p99, TARGET.e2eP99Light, "ms", false));
    out.push(target(`${e2e}, p99.9`, c.e2e.p999, TARGET.e2eP999Light, "ms", false));
  }
  return out;
}

function printReport(r: Report): void {
  const m = r.machine;
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}`);
  console.log(`load before: ${m.load}`);
  console.log(`leaders (node -> partitions): ${JSON.stringify(r.leaders)}`);
  if (r.produce.length > 0) {
    console.log(
      "\nproduce (acks=all, RF 3, min ISR 2)  rec/batch     records/s      MB/s   p50 ms   p95 ms   p99 ms p99.9 ms   max ms  errors",
    );
    for (const p of r.produce) {
      console.log(
        `  ${`${fmt(p.batchBytes)} B, ${p.streams} streams x ${p.inFlightPerStream} in flight`.padEnd(34)} ${fmt(p.recordsPerBatch).padStart(9)} ${fmt(p.recordsPerSec).padStart(13)} ${fmt(p.mbPerSec, 1).padStart(9)} ${[p.latencyMs.p50, p.latencyMs.p95, p.latencyMs.p99, p.latencyMs.p999, p.latencyMs.max].map((x) => fmt(x, 1).padStart(8)).join(" ")} ${String(p.errors).padStart(7)}`,
      );
      if (p.firstError !== undefined) console.log(`    first error: ${p.firstError}`);
    }
  }
  const produceWindows = r.windows.filter((x) => x.name.startsWith("produce "));
  const idle = r.windows.find((x) => x.name === "idle");
  for (const [i, p] of r.produce.entries()) {
    const w = produceWindows[i];
    const mb = p.mbPerSec * p.seconds;
    if (w === undefined || mb <= 0) continue;
    const seconds = (w.toUs - w.fromUs) / 1e6;
    const perNode = Object.entries(w.cpuSeconds).map(([id, s]) => {
      const idleRate = idle === undefined ? 0 : (idle.cpuSeconds[Number(id)] ?? 0) / IDLE_SECONDS;
      const net = s - idleRate * seconds;
      return `node ${id} ${fmt(s, 2)} s, ${fmt((net * 1000) / mb, 1)} ms/MB net of idle`;
    });
    console.log(`  CPU during produce of ${fmt(mb, 1)} MB: ${perNode.join("; ")}`);
  }
  if (r.fetch.length > 0) {
    console.log("\nfetch from offset 0 (leaders)            records/s      MB/s  requests");
    for (const f of r.fetch)
      console.log(
        `  ${f.topic.padEnd(36)} ${fmt(f.recordsPerSec).padStart(13)} ${fmt(f.mbPerSec, 1).padStart(9)} ${String(f.requests).padStart(9)}`,
      );
  }
  if (r.e2e !== null) {
    const e = r.e2e;
    console.log(
      `\nend to end at ${fmt(e.targetRecordsPerSec)} records/s, linger ${e.lingerMs} ms (produced ${fmt(e.producedRecordsPerSec)}/s, ${e.seconds} s, ${fmt(e.records)} records, missing ${e.missing}, errors ${e.errors})`,
    );
    const row = (name: string, l: LatencySummaryMs) =>
      console.log(
        `  ${name.padEnd(30)} p50 ${fmt(l.p50, 2)} ms  p95 ${fmt(l.p95, 2)} ms  p99 ${fmt(l.p99, 2)} ms  max ${fmt(l.max, 2)} ms`,
      );
    row("produce send -> consume", e.latencyMs);
    row("produce send -> ack (acks=all)", e.ackLatencyMs);
    printNodeGc(e.nodeGc);
    if (e.firstError !== "") console.log(`  first error: ${e.firstError}`);
  }
  if (r.client != null) printClient(r.client);
  if (r.soak != null) printSoak(r.soak);
  if (r.ceiling.length > 0) {
    console.log(
      "\nceiling: bare grpc-js bidi stream, 2 processes       MB/s   Strand produce share",
    );
    for (const c of r.ceiling)
      console.log(
        `  ${`${c.mode}, ${fmt(c.payloadBytes)} B x ${c.streams} streams x ${c.inFlight} in flight`.padEnd(50)} ${fmt(c.mbPerSec, 1).padStart(7)}   ${c.strandShare === null ? "-" : `${(100 * c.strandShare).toFixed(0)} %`}`,
      );
  }
  printTls(r);
  console.log("\ntargets");
  for (const t of r.targets)
    console.log(`  ${t.met ? "met   " : "MISSED"} ${t.name}: ${t.result} (target ${t.target})`);
}

/** One line per node: GC pauses during a run, beside its latency tail. */
function printNodeGc(gc: Record<number, GcTotals> | undefined): void {
  if (gc === undefined) return;
  for (const [id, g] of Object.entries(gc))
    console.log(
      `  node ${id} GC: ${fmt(g.count)} pauses, ${fmt(g.seconds * 1000)} ms in all, ${fmt(g.atLeast10ms)} >= 10 ms, ${fmt(g.atLeast100ms)} >= 100 ms`,
    );
}

function printSoak(s: SoakResult): void {
  const e = s.e2e;
  console.log(
    `\nsoak: ${fmt(e.targetRecordsPerSec)} records/s (${(100 * SOAK_RATE_SHARE).toFixed(0)} % of the ${fmt(s.maxRecordsPerSec)}/s measured) for ${s.minutes} min, linger ${e.lingerMs} ms: ${fmt(e.records)} records, missing ${e.missing}, errors ${e.errors}`,
  );
  console.log(
    `  send -> consume p50 ${fmt(e.latencyMs.p50, 2)} ms  p99 ${fmt(e.latencyMs.p99, 2)} ms  max ${fmt(e.latencyMs.max, 2)} ms`,
  );
  printNodeGc(e.nodeGc);
  console.log(
    `  node   RSS start -> end (max) MB    heap used start -> end (max) MB    heap total start -> end    external start -> end    anonymous start -> end    after ${SOAK_IDLE_SECONDS} s idle: RSS / anonymous MB`,
  );
  for (const m of s.memory) {
    const idle = s.afterIdle.find((a) => a.node === m.node);
    console.log(
      `  ${String(m.node).padEnd(6)} ${`${fmt(m.start.rssMb)} -> ${fmt(m.end.rssMb)} (${fmt(m.rssMaxMb)})`.padEnd(28)} ${`${fmt(m.start.heapUsedMb)} -> ${fmt(m.end.heapUsedMb)} (${fmt(m.heapUsedMaxMb)})`.padEnd(34)} ${`${fmt(m.start.heapTotalMb)} -> ${fmt(m.end.heapTotalMb)}`.padEnd(26)} ${`${fmt(m.start.externalMb)} -> ${fmt(m.end.externalMb)}`.padEnd(24)} ${`${fmt(m.start.anonMb)} -> ${fmt(m.end.anonMb)}`.padEnd(25)} ${idle === undefined ? "-" : `${fmt(idle.rssMb)} / ${fmt(idle.anonMb)}`}`,
    );
  }
  console.log("  RSS over the soak, MB (one sample per interval):");
  for (const m of s.memory)
    console.log(`    node ${m.node}: ${m.samples.map((x) => fmt(x.rssMb)).join(" ")}`);
}

function printClient(c: ClientResult): void {
  console.log("\nclient (@strand/client, acks=all, idempotent)");
  if (c.single !== null)
    console.log(
      `  one record per send(), ${fmt(c.single.pending)} pending, 1 partition, 100 B   ${fmt(c.single.recordsPerSec)} records/s, heap max ${fmt(c.single.heapMaxMb)} MB`,
    );
  if (c.batched !== null)
    console.log(
      `  sends of 64 x 1 KiB, 64 pending, 6 partitions          ${fmt(c.batched.recordsPerSec)} records/s, ${fmt(c.batched.mbPerSec, 1)} MB/s`,
    );
  if (c.consume !== null)
    console.log(
      `  consumer from the start, 1 KiB                         ${fmt(c.consume.recordsPerSec)} records/s, ${fmt(c.consume.mbPerSec, 1)} MB/s${c.consume.partitionBytes === undefined ? "" : ` (maxBytesPerPartition ${fmt(c.consume.partitionBytes)})`}`,
    );
  const e = c.e2e;
  if (e === null) return;
  const line = (l: LatencySummary) =>
    `p50 ${fmt(l.p50, 2)} ms  p99 ${fmt(l.p99, 2)} ms  p99.9 ${fmt(l.p999, 2)} ms  max ${fmt(l.max, 2)} ms (${fmt(l.count)} records)`;
  console.log(
    `  end to end ${fmt(e.rate)} records/s, lingerMs 0, 1 partition, ${e.inFlightPerPartition} in flight  ${line(e)}`,
  );
  console.log(`    send -> ack          ${line(e.sendToAck)}`);
  console.log(`    ack -> receive       ${line(e.ackToReceive)}`);
  console.log(
    `    bench process GC: ${fmt(e.benchGc.count)} pauses, ${fmt(e.benchGc.ms, 1)} ms in all, longest ${fmt(e.benchGc.maxMs, 1)} ms (${e.benchGc.byKind})`,
  );
  printNodeGc(e.nodeGc ?? undefined);
}

// ---------------------------------------------------------------------------------------------
// Main

type ClusterPart = Omit<Report, "targets" | "ceiling" | "machine" | "options" | "tls">;

/** What `--tls` measures: the cluster phases over mTLS (the client phase stays plaintext). */
type TlsPart = Pick<ClusterPart, "produce" | "fetch" | "e2e">;

async function runCluster(
  options: Options,
  cluster: BenchCluster,
  creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Promise<ClusterPart> {
  const conns = cluster.nodes.map((n) => connect(n.id, n.clientAddress, creds));
  const leadersReport: Record<string, number[]> = {};
  const windows: PhaseWindow[] = [];
  const timed = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const fromUs = nowUs();
    const cpuBefore = cluster.cpuSeconds();
    const result = await run();
    const cpuSeconds: Record<number, number> = {};
    for (const [id, s] of cluster.cpuSeconds()) cpuSeconds[id] = s - (cpuBefore.get(id) ?? s);
    windows.push({ name, fromUs, toUs: nowUs(), cpuSeconds });
    return result;
  };
  const produce: ProduceResult[] = [];
  const fetch: FetchResult[] = [];
  let e2e: E2eResult | null = null;
  let client: ClientResult | null = null;
  let soak: SoakResult | null = null;
  const log = (s: string) => (options.json ? undefined : console.error(s));
  try {
    await timed("idle", () => sleep(IDLE_SECONDS * 1000));
    for (const batchBytes of options.batchBytes) {
      if (!options.phases.has("produce") && !options.phases.has("fetch")) break;
      const topic = `bench-${batchBytes}`;
      const leaders = await createTopic(conns, topic, options.partitions);
      for (const [c, ps] of byLeader(leaders)) leadersReport[`${topic} node ${c.nodeId}`] = ps;
      const batch = encodeBatch(batchBytes, options.recordSize);
      const base = { topic, batch, leaders, inFlight: inFlightFor(options, batch.bytes.length) };
      log(`produce ${topic}: warm-up ${WARMUP_SECONDS} s`);
      await produceRun({
        ...base,
        recordsBudget: Number.POSITIVE_INFINITY,
        secondsMax: WARMUP_SECONDS,
      });
      log(`produce ${topic}: ${fmt(options.records)} records`);
      const p = await timed(`produce ${topic}`, () =>
        produceRun({ ...base, recordsBudget: options.records, secondsMax: PRODUCE_SECONDS_MAX }),
      );
      if (options.phases.has("produce")) produce.push(p);
      if (options.phases.has("fetch")) {
        log(`fetch ${topic} from offset 0`);
        fetch.push(await timed(`fetch ${topic}`, () => fetchRun(topic, leaders)));
      }
    }
    if (options.phases.has("e2e")) {
      const leaders = await createTopic(conns, "bench-e2e", options.partitions);
      log(`end to end at ${fmt(options.e2eRate)} records/s for ${options.e2eSeconds} s`);
      const gcBefore = await gcTotals(cluster.nodes);
      e2e = await timed("e2e", () => e2eRun("bench-e2e", leaders, options));
      e2e.nodeGc = gcDelta(gcBefore, await gcTotals(cluster.nodes));
    }
    if (options.phases.has("client"))
      client = await timed("client", () =>
        clientRun({
          brokers: cluster.nodes.map((n) => n.clientAddress),
          createTopic: async (name, partitions) => {
            await createTopic(conns, name, partitions);
          },
          seconds: options.e2eSeconds,
          e2eRate: options.clientRate,
          parts: options.clientParts,
          inFlightPerPartition: options.clientInFlight,
          consumePartitionBytes: options.consumePartitionBytes,
          nodeGc: () => gcTotals(cluster.nodes),
          log,
        }),
      );
    if (options.phases.has("soak"))
      soak = await timed("soak", () => soakRun(conns, cluster, options, log));
  } finally {
    for (const c of conns) c.produce.close();
  }
  return { leaders: leadersReport, windows, produce, fetch, e2e, client, soak };
}

async function runCeilings(
  options: Options,
  produce: readonly ProduceResult[],
): Promise<Report["ceiling"]> {
  const out: Report["ceiling"] = [];
  for (const batchBytes of options.batchBytes) {
    const payload = encodeBatch(batchBytes, options.recordSize).bytes;
    const strand = produce.find((p) => p.batchBytes === payload.length);
    for (const mode of ["raw", "proto"] as const) {
      const c = await measureCeiling({
        mode,
        payload,
        streams: Math.min(3, options.partitions),
        inFlight: inFlightFor(options, payload.length),
        seconds: CEILING_SECONDS,
      });
      out.push({ ...c, strandShare: strand === undefined ? null : strand.mbPerSec / c.mbPerSec });
    }
  }
  return out;
}

/** Self time per node during each measured phase (start-up and warm-up excluded). */
function summarizeCpuProfiles(dir: string, windows: readonly PhaseWindow[], json: boolean): void {
  for (const w of windows.filter((x) => x.name !== "idle"))
    for (const node of readdirSync(dir).sort()) {
      const files = readdirSync(join(dir, node))
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(dir, node, f));
      if (files.length === 0) continue;
      const summary = summarizeProfiles(files, 20, w);
      if (json) console.log(JSON.stringify({ phase: w.name, profile: node, ...summary }));
      else printProfileSummary(`cpu profile ${node}, ${w.name}`, summary);
    }
}

/**
 * The `--tls` run: a second 3-node cluster with mTLS on every listener (a fresh CA and node
 * certificates from `strand cert` in a temp dir; every node picks its own through
 * `{node.id}`), the produce, fetch and e2e phases over TLS channels presenting the client
 * certificate. `track` hands the cluster to the signal handler.
 */
async function runTls(options: Options, track: (c: BenchCluster) => void): Promise<TlsPart> {
  const dir = mkdtempSync(join(tmpdir(), "strand-bench-certs-"));
  const log = (s: string) => (options.json ? undefined : console.error(s));
  try {
    makeClusterCertificates(dir, 3);
    const admin = certPair(dir, "admin");
    log("starting a 3-node combined cluster with mTLS on every listener");
    const cluster = new BenchCluster();
    track(cluster);
    try {
      await cluster.start({
        nodes: 3,
        extraArgs: mtlsNodeFlags(dir, "{node.id}"),
        adminTls: admin,
      });
      const creds = grpc.credentials.createSsl(admin.ca, admin.key, admin.cert);
      const tlsOptions = { ...options, phases: withoutClient(options.phases) };
      const { produce, fetch, e2e } = await runCluster(tlsOptions, cluster, creds);
      return { produce, fetch, e2e };
    } finally {
      await cluster.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The phases the `--tls` cluster repeats: not the SDK client phase, nor a second soak. */
function withoutClient(phases: ReadonlySet<string>): ReadonlySet<string> {
  return new Set([...phases].filter((p) => p !== "client" && p !== "soak"));
}

function printTls(r: Report): void {
  const t = r.tls;
  if (t === null) return;
  const ratio = (tls: number, plain: number | undefined) =>
    plain === undefined || plain === 0 ? "-" : `${((100 * tls) / plain).toFixed(0)} %`;
  console.log(
    "\nTLS (mTLS on every listener) vs plaintext      plaintext records/s   TLS records/s   TLS/plain   TLS p99 ms",
  );
  for (const p of t.produce) {
    const plain = r.produce.find((q) => q.batchBytes === p.batchBytes);
    console.log(
      `  ${`produce ${fmt(p.batchBytes)} B`.padEnd(44)} ${fmt(plain?.recordsPerSec ?? Number.NaN).padStart(19)} ${fmt(p.recordsPerSec).padStart(15)} ${ratio(p.recordsPerSec, plain?.recordsPerSec).padStart(11)} ${fmt(p.latencyMs.p99, 1).padStart(12)}`,
    );
    if (p.firstError !== undefined) console.log(`    first error: ${p.firstError}`);
  }
  for (const f of t.fetch) {
    const plain = r.fetch.find((q) => q.topic === f.topic);
    console.log(
      `  ${`fetch ${f.topic}`.padEnd(44)} ${fmt(plain?.recordsPerSec ?? Number.NaN).padStart(19)} ${fmt(f.recordsPerSec).padStart(15)} ${ratio(f.recordsPerSec, plain?.recordsPerSec).padStart(11)}`,
    );
  }
  if (t.e2e !== null && r.e2e !== null)
    console.log(
      `  ${`end to end p99 at ${fmt(t.e2e.targetRecordsPerSec)} records/s`.padEnd(44)} ${`${fmt(r.e2e.latencyMs.p99, 2)} ms`.padStart(19)} ${`${fmt(t.e2e.latencyMs.p99, 2)} ms`.padStart(15)} ${"".padStart(11)} (missing ${t.e2e.missing}, errors ${t.e2e.errors})`,
    );
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options === null) {
    console.log(usage());
    return;
  }
  const m = machine();
  let cluster: BenchCluster | null = null;
  stopOnSignals(() => {
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
  process.once("exit", () => cluster?.killNow());
  let clusterPart: Awaited<ReturnType<typeof runCluster>> = {
    leaders: {},
    windows: [],
    produce: [],
    fetch: [],
    e2e: null,
    client: null,
    soak: null,
  };
  if (["produce", "fetch", "e2e", "client", "soak"].some((p) => options.phases.has(p))) {
    if (!options.json) console.error("starting a 3-node combined cluster");
    const started = new BenchCluster();
    cluster = started;
    try {
      await started.start({
        nodes: 3,
        nodeFlags: options.nodeFlags,
        ...(options.profileDir === undefined ? {} : { cpuProfileDir: options.profileDir }),
      });
      clusterPart = await runCluster(options, started);
    } finally {
      await started.stop();
    }
  }
  const tls = options.tls ? await runTls(options, (c) => (cluster = c)) : null;
  if (!options.json && options.phases.has("ceiling")) console.error("ceiling: bare grpc-js");
  const ceiling = options.phases.has("ceiling")
    ? await runCeilings(options, clusterPart.produce)
    : [];
  const partial = {
    machine: m,
    options: { ...options, phases: [...options.phases] },
    ...clusterPart,
    ceiling,
    tls,
  };
  const report: Report = { ...partial, targets: targets(partial) };
  if (options.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  if (options.profileDir !== undefined)
    summarizeCpuProfiles(options.profileDir, clusterPart.windows, options.json);
}

await main();
