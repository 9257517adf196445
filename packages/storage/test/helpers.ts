// Goal: build valid RecordBatch v2 bytes (uncompressed, correct CRC-32C) for storage tests,
// plus temp-dir and logger helpers. Stand-in until the protocol package's encoder lands.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Logger } from "@strand/base";
import { BATCH_HEADER_BYTES, CRC_START, crc32c, OFFSET_CRC } from "@strand/protocol";

/** Zigzag varint (Kafka's signed varint / varlong). */
function varint(value: bigint): Buffer {
  let zigzag = (value << 1n) ^ (value >> 63n);
  zigzag &= (1n << 64n) - 1n;
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number((zigzag & 0x7fn) | 0x80n));
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes);
}

function encodeRecord(offsetDelta: number, timestampDelta: bigint, value: Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]), // attributes
    varint(timestampDelta),
    varint(BigInt(offsetDelta)),
    varint(-1n), // null key
    varint(BigInt(value.length)),
    value,
    varint(0n), // no headers
  ]);
  return Buffer.concat([varint(BigInt(body.length)), body]);
}

/** Options of {@link buildBatch}. */
export interface BatchSpec {
  /** Number of records (default 1). */
  readonly records?: number;
  /** Bytes per record value (default 10). */
  readonly valueBytes?: number;
  /** baseOffset field (default 0; the leader path overwrites it). */
  readonly baseOffset?: bigint;
  /** partitionLeaderEpoch field (default 0). */
  readonly leaderEpoch?: number;
  /** Timestamp of every record (default 1000n); -1n means no timestamp. */
  readonly timestamp?: bigint;
}

/** One valid RecordBatch v2 with `records` simple uncompressed records. */
export function buildBatch(spec: BatchSpec = {}): Buffer {
  const count = spec.records ?? 1;
  const timestamp = spec.timestamp ?? 1000n;
  const records = Array.from({ length: count }, (_, i) =>
    encodeRecord(i, 0n, Buffer.alloc(spec.valueBytes ?? 10, i % 251)),
  );
  const body = Buffer.concat(records);
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + body.length);
  batch.writeBigInt64BE(spec.baseOffset ?? 0n, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(spec.leaderEpoch ?? 0, 12);
  batch.writeInt8(2, 16);
  batch.writeInt16BE(0, 21); // attributes: no compression, create time
  batch.writeInt32BE(count - 1, 23);
  batch.writeBigInt64BE(timestamp, 27);
  batch.writeBigInt64BE(timestamp, 35);
  batch.writeBigInt64BE(-1n, 43); // producerId
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(count, 57);
  body.copy(batch, BATCH_HEADER_BYTES);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), OFFSET_CRC);
  return batch;
}

/** Several batches concatenated, offsets contiguous from `baseOffset`. */
export function buildBatches(count: number, spec: BatchSpec = {}): Buffer {
  const perBatch = spec.records ?? 1;
  const base = spec.baseOffset ?? 0n;
  return Buffer.concat(
    Array.from({ length: count }, (_, i) =>
      buildBatch({ ...spec, baseOffset: base + BigInt(i * perBatch) }),
    ),
  );
}

/** A logger that records every call, for asserting on warnings. */
export interface RecordingLogger extends Logger {
  readonly lines: Array<{ level: string; obj: object; msg: string }>;
}

/** Creates a {@link RecordingLogger}. */
export function recordingLogger(): RecordingLogger {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A temp dir under os.tmpdir() and its remover. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "strand-storage-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A hand-driven clock for segment.ms, flush.ms and retention tests. */
export function manualClock(startMs = 1_000_000): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}
