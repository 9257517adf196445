/**
 * Storage benchmark: append and read throughput of a partition log for 100-byte records in
 * 16 KiB and 256 KiB batches, beside a raw sequential write of the same bytes to the same
 * disk in the same run. A script, not a test.
 *
 *   npm run bench:storage -- [--total-mib 256] [--dir DIR] [--json] [--help]
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeRecordBatch, type RecordInput } from "@strand/protocol";
import { Log } from "@strand/storage";

const RECORD_VALUE_BYTES = 100;

interface CaseResult {
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
    "  --total-mib N   bytes written per case, in MiB (default 256)",
    "  --dir DIR       parent directory for the temp data (default the OS temp dir)",
    "  --json          print the results as JSON",
  ].join("\n");
}

/** A batch of 100-byte records close to `targetBytes`. */
function makeBatch(targetBytes: number): { batch: Buffer; records: number } {
  const records: RecordInput[] = [];
  const value = Buffer.alloc(RECORD_VALUE_BYTES, "x");
  // ~108 bytes per encoded record: 100 of value plus varint framing.
  const count = Math.floor((targetBytes - 61) / 108);
  for (let i = 0; i < count; i++) records.push({ key: null, value });
  return {
    batch: encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records }),
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

async function runCase(parent: string, batchKiB: number, totalBytes: number): Promise<CaseResult> {
  const { batch, records } = makeBatch(batchKiB * 1024);
  const iterations = Math.ceil(totalBytes / batch.length);
  const bytes = iterations * batch.length;
  const dir = await mkdtemp(join(parent, "strand-bench-"));
  try {
    const rawSeconds = await timeRawWrite(join(dir, "raw.bin"), batch, iterations);
    await rm(join(dir, "raw.bin"));
    const log = await Log.open(join(dir, "bench-0"));
    const appendSeconds = await timeAppend(log, batch, iterations);
    const read = await timeRead(log);
    await log.close();
    const mb = bytes / 1e6;
    return {
      batchKiB,
      rawWriteMBps: mb / rawSeconds,
      appendMBps: mb / appendSeconds,
      appendRecordsPerSec: (iterations * records) / appendSeconds,
      appendShareOfRaw: rawSeconds / appendSeconds,
      readMBps: read.bytes / 1e6 / read.seconds,
      readRecordsPerSec: (iterations * records) / read.seconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(results: readonly CaseResult[]): void {
  const f = (n: number) => n.toFixed(0).padStart(10);
  console.log(
    "batch    raw write MB/s  append MB/s  append rec/s  append/raw  read MB/s  read rec/s",
  );
  for (const r of results) {
    console.log(
      `${`${r.batchKiB} KiB`.padEnd(8)} ${f(r.rawWriteMBps)}     ${f(r.appendMBps)}  ${f(r.appendRecordsPerSec)}  ${(r.appendShareOfRaw * 100).toFixed(0).padStart(8)} %  ${f(r.readMBps)} ${f(r.readRecordsPerSec)}`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "total-mib": { type: "string", default: "256" },
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
  for (const batchKiB of [16, 256]) results.push(await runCase(values.dir, batchKiB, totalBytes));
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else printTable(results);
}

await main();
