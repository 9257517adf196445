/**
 * Filtering one RecordBatch v2 for compaction, on buffers only (Kafka's MemoryRecords.filterTo):
 * decode (decompressing with the batch's codec), keep the records the decision keeps, and
 * re-encode the survivors with the same codec. The batch keeps its baseOffset, lastOffsetDelta,
 * leader epoch, timestamps and producer id/epoch/base sequence, and each record its offset and
 * timestamp deltas, so offsets never move and a replica's batch boundaries stay the leader's.
 */
import { type DecodedRecord, decodeRecordBatch, encodeRecordBatch } from "@strand/protocol";
import { MAX_DECOMPRESSED_BATCH_BYTES } from "../log-validator.ts";

/** What filtering one batch produced. */
export interface FilteredBatch {
  /** The bytes to write: the original batch, a rewritten one, or null when it is dropped. */
  readonly bytes: Buffer | null;
  /** Records kept. */
  readonly recordsKept: number;
  /** Records removed. */
  readonly recordsRemoved: number;
}

/** Decision per record of one batch. */
export type RecordFilter = (record: DecodedRecord) => boolean;

/**
 * Filters the batch `batch` (exactly one batch, CRC checked). When every record is kept the
 * original bytes are returned untouched; when none is, the batch is dropped unless
 * `keepEmpty` — then a header-only batch (recordCount 0) with the same offsets and producer
 * fields stays.
 */
export function filterBatch(
  batch: Buffer,
  retain: RecordFilter,
  keepEmpty: boolean,
): FilteredBatch {
  const decoded = decodeRecordBatch(batch, { maxDecompressedBytes: MAX_DECOMPRESSED_BATCH_BYTES });
  if (decoded.isControl)
    return { bytes: batch, recordsKept: decoded.recordCount, recordsRemoved: 0 };
  const kept = decoded.records.filter(retain);
  const recordsRemoved = decoded.records.length - kept.length;
  if (recordsRemoved === 0) return { bytes: batch, recordsKept: kept.length, recordsRemoved };
  if (kept.length === 0 && !keepEmpty) return { bytes: null, recordsKept: 0, recordsRemoved };
  const rewritten = encodeRecordBatch({
    ...decoded,
    records: kept,
    lastOffsetDelta: decoded.lastOffsetDelta,
    maxTimestamp: decoded.maxTimestamp,
  });
  return { bytes: rewritten, recordsKept: kept.length, recordsRemoved };
}
