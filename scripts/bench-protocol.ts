/**
 * Protocol benchmarks: CRC-32C, the broker's header path (validate + stamp), each codec's
 * compression and decompression, and record encode/decode. A script, not a test:
 *
 *   node --conditions=strand-source scripts/bench-protocol.ts
 *
 * `--wire-only` runs only the comparison of the bulk wire codec with protobufjs
 * (scripts/bench/wire-codec.ts).
 *
 * Data is JSON-ish records of about 100 bytes in 16 KiB batches, from a seeded PRNG so runs
 * compare. Each figure is the median of 5 timed rounds of at least 200 ms after a warm-up.
 */
import {
  BatchHeaderView,
  COMPRESSION_NAMES,
  type CompressionName,
  compress,
  crc32c,
  decodeRecordBatch,
  decompress,
  encodeRecordBatch,
  encodeRecords,
  type RecordInput,
} from "@strand/protocol";
import { benchWireCodec } from "./bench/wire-codec.ts";

const ROUNDS = 5;
const ROUND_MS_MIN = 200;
const BATCH_BYTES_TARGET = 16 * 1024;

/** Seeded PRNG (mulberry32): the same data every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENTS = ["page_view", "click", "add_to_cart", "checkout", "search", "login"];

function makeRecords(): RecordInput[] {
  const rand = prng(42);
  const records: RecordInput[] = [];
  let bytes = 0;
  while (bytes < BATCH_BYTES_TARGET - 128) {
    const user = `u-${Math.floor(rand() * 100_000)}`;
    const value = Buffer.from(
      `{"ts":${1_700_000_000_000 + records.length},"user":"${user}","event":"${EVENTS[Math.floor(rand() * EVENTS.length)]}","path":"/p/${Math.floor(rand() * 10_000)}","ms":${Math.floor(rand() * 900)}}`,
    );
    const record = {
      key: Buffer.from(user),
      value,
      headers: [],
      timestampDelta: BigInt(records.length),
    };
    records.push(record);
    bytes += value.length + record.key.length + 8;
  }
  return records;
}

/** Median time per operation in nanoseconds over {@link ROUNDS} timed rounds. */
function timePerOpNs(op: () => void): number {
  let iterations = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) op();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= ROUND_MS_MIN) break;
    iterations *= ms < ROUND_MS_MIN / 10 ? 10 : 2;
  }
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) op();
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(ROUNDS / 2)]!;
}

interface Row {
  readonly what: string;
  readonly figure: string;
  readonly note: string;
}

function mbPerSec(bytes: number, ns: number): string {
  return `${((bytes / ns) * 1e3).toFixed(0)} MB/s`;
}

function benchCrc(rows: Row[]): void {
  const buf = Buffer.alloc(1024 * 1024);
  const rand = prng(7);
  for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
  const ns = timePerOpNs(() => crc32c(buf));
  rows.push({
    what: "CRC-32C, 1 MiB",
    figure: `${(buf.length / ns).toFixed(2)} GB/s`,
    note: "target >= 2 GB/s",
  });
}

function benchHeader(rows: Row[], batch: Buffer): void {
  let offset = 0n;
  const framing = timePerOpNs(() => {
    const view = new BatchHeaderView(batch).validateFraming();
    view.setBaseOffset(offset++);
    view.setPartitionLeaderEpoch(5);
  });
  const full = timePerOpNs(() => {
    const view = new BatchHeaderView(batch).validate();
    view.setBaseOffset(offset++);
    view.setPartitionLeaderEpoch(5);
  });
  const size = `${(batch.length / 1024).toFixed(1)} KiB batch`;
  rows.push({
    what: `header framing + stamp, ${size}`,
    figure: `${(framing / 1e3).toFixed(3)} µs`,
    note: "no CRC",
  });
  rows.push({
    what: `header validate (CRC) + stamp, ${size}`,
    figure: `${(full / 1e3).toFixed(3)} µs`,
    note: "target < 2 µs",
  });
}

function benchCodec(rows: Row[], codec: CompressionName, section: Buffer): void {
  const packed = compress(codec, section);
  const c = timePerOpNs(() => compress(codec, section));
  const d = timePerOpNs(() => decompress(codec, packed));
  const ratio = (section.length / packed.length).toFixed(2);
  rows.push({
    what: `${codec} compress`,
    figure: mbPerSec(section.length, c),
    note: `ratio ${ratio}`,
  });
  rows.push({
    what: `${codec} decompress`,
    figure: mbPerSec(section.length, d),
    note: "MB of output",
  });
}

function benchRecords(rows: Row[], records: RecordInput[], codec: CompressionName): void {
  const input = { baseTimestamp: 1_700_000_000_000n, records, compression: codec };
  const bytes = encodeRecordBatch(input);
  const enc = timePerOpNs(() => encodeRecordBatch(input));
  const dec = timePerOpNs(() => decodeRecordBatch(bytes));
  const perSec = (ns: number) => `${(((records.length / ns) * 1e9) / 1e6).toFixed(2)} M records/s`;
  rows.push({
    what: `encodeRecordBatch (${codec})`,
    figure: perSec(enc),
    note: `${records.length} records, ${(enc / 1e3).toFixed(1)} µs/batch`,
  });
  rows.push({
    what: `decodeRecordBatch (${codec})`,
    figure: perSec(dec),
    note: `${records.length} records, ${(dec / 1e3).toFixed(1)} µs/batch`,
  });
}

function wireRows(rows: Row[], batch: Buffer): void {
  for (const r of benchWireCodec(batch)) {
    const us = (ns: number) => (ns / 1e3).toFixed(2);
    rows.push({
      what: r.what,
      figure: `${us(r.bulkNs)} µs (protobufjs ${us(r.protobufjsNs)} µs)`,
      note: `${(r.protobufjsNs / r.bulkNs).toFixed(1)}x; fastest round ${us(r.bulkMinNs)} vs ${us(r.protobufjsMinNs)} µs`,
    });
  }
}

function main(): void {
  const records = makeRecords();
  const section = encodeRecords(records);
  const batch = encodeRecordBatch({ baseTimestamp: 1_700_000_000_000n, records });
  const rows: Row[] = [];
  wireRows(rows, batch);
  if (process.argv.includes("--wire-only")) {
    printRows(rows, records.length, section.length);
    return;
  }
  benchCrc(rows);
  benchHeader(rows, batch);
  for (const codec of COMPRESSION_NAMES) {
    if (codec !== "none") benchCodec(rows, codec, section);
  }
  benchRecords(rows, records, "none");
  benchRecords(rows, records, "lz4");
  benchRecords(rows, records, "zstd");
  printRows(rows, records.length, section.length);
}

function printRows(rows: Row[], recordCount: number, sectionBytes: number): void {
  const w1 = Math.max(...rows.map((r) => r.what.length));
  const w2 = Math.max(...rows.map((r) => r.figure.length));
  console.log(
    `node ${process.version}, ${recordCount} records of ~100 B per ${sectionBytes}-byte records section`,
  );
  console.log(`| ${"benchmark".padEnd(w1)} | ${"result".padEnd(w2)} | note |`);
  console.log(`|${"-".repeat(w1 + 2)}|${"-".repeat(w2 + 2)}|------|`);
  for (const r of rows)
    console.log(`| ${r.what.padEnd(w1)} | ${r.figure.padEnd(w2)} | ${r.note} |`);
}

main();
