// Goal: shared helpers of the cleaner tests: keyed batches built with the protocol encoder, and
// reading a whole log back as (offset, key, value) records, batch boundaries included.
import {
  type CompressionName,
  decodeRecordBatch,
  encodeRecordBatch,
  iterateBatches,
} from "@strand/protocol";
import type { Log } from "../src/log.ts";

/** Options of {@link keyedBatch}. */
export interface KeyedBatchOptions {
  readonly timestampMs?: number;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly compression?: CompressionName;
}

/** One batch of keyed records; a null value is a tombstone. */
export function keyedBatch(
  records: ReadonlyArray<readonly [string, string | null]>,
  options: KeyedBatchOptions = {},
): Buffer {
  return encodeRecordBatch({
    baseTimestamp: BigInt(options.timestampMs ?? 1_000_000),
    compression: options.compression ?? "none",
    producerId: options.producerId ?? -1n,
    producerEpoch: options.producerEpoch ?? -1,
    baseSequence: options.baseSequence ?? -1,
    records: records.map(([key, value]) => ({
      key: Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
    })),
  });
}

/** A record read back from a log. */
export interface ReadRecord {
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: string | null;
}

/** A batch header read back from a log. */
export interface ReadBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly recordCount: number;
  readonly producerId: bigint;
  readonly baseSequence: number;
  readonly compression: CompressionName;
}

/** Every record and batch of `log` from its start to its end, through Log.read. */
export async function readAll(log: Log): Promise<{ records: ReadRecord[]; batches: ReadBatch[] }> {
  const records: ReadRecord[] = [];
  const batches: ReadBatch[] = [];
  let from = log.logStartOffset;
  while (from < log.logEndOffset) {
    const read = await log.read(from, { maxBytes: 64 * 1024 });
    if (read.records.length === 0) break;
    for (const view of iterateBatches(read.records)) {
      const decoded = decodeRecordBatch(read.records, { position: view.position });
      batches.push({
        baseOffset: decoded.baseOffset,
        lastOffset: view.lastOffset,
        recordCount: decoded.recordCount,
        producerId: decoded.producerId,
        baseSequence: decoded.baseSequence,
        compression: decoded.compression,
      });
      for (const r of decoded.records) {
        records.push({
          offset: r.offset,
          key: r.key === null ? null : r.key.toString(),
          value: r.value === null ? null : r.value.toString(),
        });
      }
    }
    from = read.nextOffset;
  }
  return { records, batches };
}

/** key -> value of the last record of each key (what compaction must keep). */
export function lastValues(records: readonly ReadRecord[]): Map<string, string | null> {
  const last = new Map<string, string | null>();
  for (const r of records) if (r.key !== null) last.set(r.key, r.value);
  return last;
}
