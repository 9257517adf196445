/**
 * The bulk codec (packages/protocol/src/wire/bulk-codec.ts) against protobufjs as
 * proto-loader uses it, in one process and alternating rounds: CPU time per message and the
 * fastest round, for the messages that carry records bytes at the sizes the
 * broker sees. Part of `npm run bench -- protocol` (`--wire-only` runs just this).
 */
import type * as protoLoader from "@grpc/proto-loader";
import { protobufjsPackageDefinition, strandPackageDefinition } from "@strand/protocol";

/**
 * One result row: CPU ns per op, median and fastest of the rounds. (A GC share per round was
 * tried and dropped: collections of external memory land in whichever round follows.)
 */
export interface WireCodecRow {
  readonly what: string;
  readonly protobufjsNs: number;
  readonly bulkNs: number;
  readonly protobufjsMinNs: number;
  readonly bulkMinNs: number;
}

type Method = protoLoader.MethodDefinition<object, object>;

function method(definition: protoLoader.PackageDefinition, path: string): Method {
  const [service, name] = path.split("/") as [string, string];
  return (definition[service] as protoLoader.ServiceDefinition)[name] as Method;
}

interface Measured {
  /** Median CPU ns per op over the rounds. */
  readonly ns: number;
  /** The fastest round's CPU ns per op. */
  readonly min: number;
}

/** Iterations of `op` that take >= 100 ms. */
function calibrate(op: () => void): number {
  let iterations = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) op();
    if (performance.now() - start >= 100) return iterations;
    iterations *= 2;
  }
}

/** CPU time (user + system, so time the machine gave to others is not counted) of one round. */
function roundCpuMs(op: () => void, iterations: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) op();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e3;
}

/**
 * `a` and `b` in alternating rounds (9 each), so a change in the machine's load hits both:
 * median and fastest CPU ns per op (GC included, as it falls).
 */
function measurePair(a: () => void, b: () => void): [Measured, Measured] {
  const iterations = [calibrate(a), calibrate(b)];
  const samples: number[][] = [[], []];
  const ops = [a, b];
  for (let round = 0; round < 9; round++) {
    for (let side = 0; side < 2; side++) {
      const ms = roundCpuMs(ops[side] as () => void, iterations[side] as number);
      samples[side]?.push((ms * 1e6) / (iterations[side] as number));
    }
  }
  return [0, 1].map((side) => {
    const sorted = (samples[side] as number[]).sort((x, y) => x - y);
    return { ns: sorted[4] as number, min: sorted[0] as number };
  }) as [Measured, Measured];
}

function partitions(batch: Buffer, count: number, extra: (i: number) => object): object[] {
  return Array.from({ length: count }, (_, i) => ({ partition: i, records: batch, ...extra(i) }));
}

/** Runs the comparison for `batch` (one encoded RecordBatch). */
export function benchWireCodec(batch: Buffer): WireCodecRow[] {
  const reference = protobufjsPackageDefinition();
  const bulk = strandPackageDefinition();
  const kib = `${(batch.length / 1024).toFixed(0)} KiB`;
  const produce = {
    correlationId: "123456",
    request: {
      acks: "ACKS_ALL",
      timeoutMs: 30_000,
      topics: [{ topic: "bench", partitions: partitions(batch, 1, () => ({})) }],
    },
  };
  const replica = {
    correlationId: "98765",
    errorCode: 0,
    errorMessage: "",
    partitions: partitions(batch, 6, () => ({
      topicId: "7c1f4d0a-5a7e-4c55-9d4b-0f6f0f1b2c3d",
      highWatermark: "123456789",
      logStartOffset: "0",
      logEndOffset: "123456999",
      leaderEpoch: 3,
    })),
  };
  const fetch = {
    topics: [
      {
        topic: "bench",
        partitions: partitions(batch, 6, () => ({
          highWatermark: "123456789",
          lastStableOffset: "123456789",
          logStartOffset: "0",
        })),
      },
    ],
  };
  const cases: [string, string, "request" | "response", object][] = [
    [
      `ProduceStreamRequest, 1 x ${kib}`,
      "strand.v1.ProduceService/ProduceStream",
      "request",
      produce,
    ],
    [
      `ReplicaFetchResponse, 6 x ${kib}`,
      "strand.v1.ReplicationService/ReplicaFetch",
      "response",
      replica,
    ],
    [`FetchResponse, 6 x ${kib}`, "strand.v1.FetchService/Fetch", "response", fetch],
  ];
  const rows: WireCodecRow[] = [];
  for (const [label, path, side, value] of cases) {
    const ref = method(reference, path);
    const ours = method(bulk, path);
    const refSer = side === "request" ? ref.requestSerialize : ref.responseSerialize;
    const ourSer = side === "request" ? ours.requestSerialize : ours.responseSerialize;
    const refDe = side === "request" ? ref.requestDeserialize : ref.responseDeserialize;
    const ourDe = side === "request" ? ours.requestDeserialize : ours.responseDeserialize;
    const bytes = refSer(value);
    if (!bytes.equals(ourSer(value))) throw new Error(`${label}: the codecs disagree`);
    for (const [what, a, b] of [
      ["encode", () => refSer(value), () => ourSer(value)],
      ["decode", () => refDe(bytes), () => ourDe(bytes)],
    ] as const) {
      const [before, after] = measurePair(a, b);
      rows.push({
        what: `${what} ${label}`,
        protobufjsNs: before.ns,
        bulkNs: after.ns,
        protobufjsMinNs: before.min,
        bulkMinNs: after.min,
      });
    }
  }
  return rows;
}
