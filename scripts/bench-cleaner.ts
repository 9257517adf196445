/**
 * Log cleaner benchmark: how fast one cleaning pass rewrites a compacted log. Each round writes
 * a fresh log of `--total-mib` of 100-byte values under `--keys` distinct keys (uniformly
 * random, so most records are superseded), in ~16 KiB batches per codec, then times one
 * `Log.clean` over every closed segment (offset map + rewrite + swap, no I/O budget). MB/s is
 * bytes of segments cleaned per second of the pass. A script, not a test.
 *
 *   npm run bench -- cleaner [--total-mib 64] [--keys 10000] [--rounds 3]
 *                            [--codecs none,zstd] [--dir DIR] [--json] [--help]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CompressionName, encodeRecordBatch } from "@strand/protocol";
import { Log, OffsetMap } from "@strand/storage";

const VALUE_BYTES = 100;
const RECORDS_PER_BATCH = 150;

interface RoundResult {
  readonly seconds: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly recordsRemoved: number;
}

function usage(): string {
  return [
    "usage: npm run bench -- cleaner [options]",
    "  --total-mib N   log size before cleaning, in MiB (default 64)",
    "  --keys N        distinct keys (default 10000)",
    "  --rounds N      fresh logs cleaned per codec; medians reported (default 3)",
    "  --codecs LIST   codecs of the batches (default none,zstd)",
    "  --dir DIR       parent directory for the temp data (default the OS temp dir)",
    "  --json          print the results as JSON",
  ].join("\n");
}

/** A small fixed-seed generator (xorshift32), so every round writes the same log. */
function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

async function writeLog(dir: string, totalBytes: number, keys: number, codec: CompressionName) {
  const log = await Log.open(dir, { cleanupPolicy: "compact", segmentBytes: 64 * 1024 * 1024 });
  const random = generator(20261205);
  const value = Buffer.alloc(VALUE_BYTES, "v");
  while (log.sizeBytes < totalBytes) {
    const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({
      key: Buffer.from(`key-${Math.floor(random() * keys)}`),
      value,
    }));
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      compression: codec,
      records,
    });
    await log.append(batch, { assignOffsets: true, leaderEpoch: 0 });
  }
  return log;
}

async function round(
  parent: string,
  totalBytes: number,
  keys: number,
  codec: CompressionName,
): Promise<RoundResult> {
  const dir = await mkdtemp(join(parent, "strand-bench-cleaner-"));
  try {
    const log = await writeLog(dir, totalBytes, keys, codec);
    // Roll so every written byte is in a closed (cleanable) segment.
    await log.updateConfig({ segmentBytes: 1024 });
    await log.append(
      encodeRecordBatch({
        baseTimestamp: 0n,
        records: [{ key: Buffer.from("roll"), value: null }],
      }),
      { assignOffsets: true, leaderEpoch: 0 },
    );
    const started = process.hrtime.bigint();
    const result = await log.clean({
      nowMs: Date.now(),
      upperBound: log.logEndOffset,
      map: new OffsetMap(128 * 1024 * 1024),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await log.close();
    return { seconds, ...result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "total-mib": { type: "string", default: "64" },
      keys: { type: "string", default: "10000" },
      rounds: { type: "string", default: "3" },
      codecs: { type: "string", default: "none,zstd" },
      dir: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage());
    return;
  }
  const totalBytes = Number(values["total-mib"]) * 1024 * 1024;
  const keys = Number(values.keys);
  const rounds = Number(values.rounds);
  const parent = values.dir ?? tmpdir();
  const rows = [];
  for (const codec of values.codecs.split(",") as CompressionName[]) {
    const results: RoundResult[] = [];
    for (let i = 0; i < rounds; i++) results.push(await round(parent, totalBytes, keys, codec));
    const mbps = results.map((r) => r.bytesRead / 1e6 / r.seconds);
    rows.push({
      codec,
      cleanedMB: median(results.map((r) => r.bytesRead)) / 1e6,
      writtenMB: median(results.map((r) => r.bytesWritten)) / 1e6,
      recordsRemoved: median(results.map((r) => r.recordsRemoved)),
      seconds: median(results.map((r) => r.seconds)),
      cleanedMBps: median(mbps),
    });
  }
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log("| codec | cleaned MB | written MB | records removed | pass s | cleaned MB/s |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.codec} | ${r.cleanedMB.toFixed(1)} | ${r.writtenMB.toFixed(2)} | ${r.recordsRemoved} | ${r.seconds.toFixed(2)} | ${r.cleanedMBps.toFixed(1)} |`,
    );
  }
}

await main();
