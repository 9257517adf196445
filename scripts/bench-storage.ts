/**
 * Storage benchmark: append and read throughput of a partition log for 100-byte records in
 * 16 KiB and 256 KiB uncompressed batches, and 256 KiB (before compression) gzip, lz4 and
 * zstd batches, beside a raw sequential write of the same bytes to the same disk in the same
 * run. The leader validates every client batch's records on append (compressed ones are
 * decompressed), so the compressed cases show that cost. A script, not a test.
 *
 *   npm run bench:storage -- [--total-mib 128] [--rounds 5] [--codecs none,gzip,lz4,zstd]
 *                            [--dir DIR] [--json] [--help]
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CompressionName, encodeRecordBatch, type RecordInput } from "@strand/protocol";
import { Log } from "@strand/storage";

const RECORD_VALUE_BYTES = 100;

interface CaseResult {
  readonly codec: CompressionName;
  readonly batchKiB: number;
  readonly rawWriteMBps: number;
  readonly appendMBps: number;
  readonly appendRecordsPerSec: number;
  readonly appendShareOfRaw: number;
  readonly readMBps: number;
  readonly readRecordsPerSec: number;
}

function usage(): string {
  return [
    "usage: npm run bench:storage -- [options]",
    "  --total-mib N   bytes written per round, in MiB (default 128)",
    "  --rounds N      alternating raw/append rounds per case; medians reported (default 5)",
    "  --codecs LIST   codecs to run, comma-separated (default none,gzip,lz4,zstd)",
    "  --dir DIR       parent directory for the temp data (default the OS temp dir)",
    "  --json          print the results as JSON",
  ].join("\n");
}

/**
 * A batch of 100-byte records whose uncompressed records section is close to `targetBytes`.
 * Values are hex digits from a fixed-seed generator: they compress about 2:1, as text does,
 * rather than to nothing.
 */
function makeBatch(
  targetBytes: number,
  codec: CompressionName,
): { batch: Buffer; records: number } {
  const records: RecordInput[] = [];
  let seed = 0x2545f491;
  const hex = "0123456789abcdef";
  // ~108 bytes per encoded record: 100 of value plus varint framing.
  const count = Math.floor((targetBytes - 61) / 108);
  for (let i = 0; i < count; i++) {
    let text = "";
    for (let j = 0; j < RECORD_VALUE_BYTES; j++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      text += hex[seed >>> 28];
    }
    records.push({ key: null, value: Buffer.from(text) });
  }
  return {
    batch: encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records, compression: codec }),
    records: count,
  };
}

async function timeRawWrite(path: string, batch: Buffer, iterations: number): Promise<number> {
  const file = await open(path, "w");
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await file.write(batch);
  await file.sync();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await file.close();
  return seconds;
}

async function timeAppend(log: Log, batch: Buffer, iterations: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    await log.append(batch, { assignOffsets: true, leaderEpoch: 0 });
  }
  await log.flush();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timeRead(log: Log): Promise<{ seconds: number; bytes: number }> {
  let offset = log.logStartOffset;
  let bytes = 0;
  const start = process.hrtime.bigint();
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, { maxBytes: 1024 * 1024 });
    bytes += read.records.length;
    offset = read.nextOffset;
  }
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes };
}

/** One raw-write round and one append + read round on the same bytes, in a fresh dir. */
async function runRound(
  parent: string,
  batch: Buffer,
  iterations: number,
): Promise<{ raw: number; append: number; read: { seconds: number; bytes: number } }> {
  const dir = await mkdtemp(join(parent, "strand-bench-"));
  try {
    const raw = await timeRawWrite(join(dir, "raw.bin"), batch, iterations);
    await rm(join(dir, "raw.bin"));
    const log = await Log.open(join(dir, "bench-0"));
    const append = await timeAppend(log, batch, iterations);
    const read = await timeRead(log);
    await log.close();
    return { raw, append, read };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Alternates raw and append rounds so both see the same machine load, and reports medians:
 * a single round on a shared 2-core machine swings by tens of percent.
 */
async function runCase(
  parent: string,
  codec: CompressionName,
  batchKiB: number,
  totalBytes: number,
  rounds: number,
): Promise<CaseResult> {
  const { batch, records } = makeBatch(batchKiB * 1024, codec);
  const iterations = Math.ceil(totalBytes / batch.length);
  const mb = (iterations * batch.length) / 1e6;
  const results = [];
  for (let i = 0; i < rounds; i++) results.push(await runRound(parent, batch, iterations));
  const raw = median(results.map((r) => r.raw));
  const append = median(results.map((r) => r.append));
  const read = median(results.map((r) => r.read.seconds));
  return {
    codec,
    batchKiB,
    rawWriteMBps: mb / raw,
    appendMBps: mb / append,
    appendRecordsPerSec: (iterations * records) / append,
    appendShareOfRaw: median(results.map((r) => r.raw / r.append)),
    readMBps: mb / read,
    readRecordsPerSec: (iterations * records) / read,
  };
}

function printTable(results: readonly CaseResult[]): void {
  const f = (n: number) => n.toFixed(0).padStart(10);
  console.log(
    "codec batch    raw write MB/s  append MB/s  append rec/s  append/raw  read MB/s  read rec/s",
  );
  for (const r of results) {
    console.log(
      `${r.codec.padEnd(5)} ${`${r.batchKiB} KiB`.padEnd(8)} ${f(r.rawWriteMBps)}     ${f(r.appendMBps)}  ${f(r.appendRecordsPerSec)}  ${(r.appendShareOfRaw * 100).toFixed(0).padStart(8)} %  ${f(r.readMBps)} ${f(r.readRecordsPerSec)}`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "total-mib": { type: "string", default: "128" },
      rounds: { type: "string", default: "5" },
      codecs: { type: "string", default: "none,gzip,lz4,zstd" },
      dir: { type: "string", default: tmpdir() },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage());
    return;
  }
  const totalBytes = Number(values["total-mib"]) * 1024 * 1024;
  const results: CaseResult[] = [];
  const rounds = Number(values.rounds);
  const codecs = values.codecs.split(",") as CompressionName[];
  // Uncompressed at both sizes (the fast path); compressed at 256 KiB, a typical linger batch.
  const cases = codecs.flatMap((codec): { codec: CompressionName; kib: number }[] =>
    codec === "none" ? [16, 256].map((kib) => ({ codec, kib })) : [{ codec, kib: 256 }],
  );
  for (const { codec, kib } of cases) {
    results.push(await runCase(values.dir, codec, kib, totalBytes, rounds));
  }
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else printTable(results);
}

await main();
