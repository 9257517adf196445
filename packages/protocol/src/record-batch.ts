/**
 * RecordBatch v2 encoder and decoder with records, for clients and tools. The broker's hot
 * path never comes here: it uses {@link BatchHeaderView} only.
 *
 * Byte layout: the 61-byte header documented in batch-header.ts, then the records section
 * documented in records.ts, compressed as a whole by the codec in attributes bits 0-2.
 * The CRC-32C covers attributes..end, so it is written last.
 */
import {
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchHeaderView,
  CRC_START,
  MAGIC_V2,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_OFFSET,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PARTITION_LEADER_EPOCH,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
} from "./batch-header.ts";
import {
  type CompressionName,
  compress,
  compressionCodecId,
  compressionName,
  decompress,
} from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { InvalidRecordError } from "./errors.ts";
import { type DecodedRecord, decodeRecords, encodeRecords, type RecordInput } from "./records.ts";

/** How record timestamps are set: by the producer, or by the broker on append. */
export type TimestampType = "CreateTime" | "LogAppendTime";

/** A batch to encode. Only `baseTimestamp` and `records` are required. */
export interface RecordBatchInput {
  /** Offset of the first record; the leader overwrites it. Default 0. */
  readonly baseOffset?: bigint;
  /** Leader epoch; the leader overwrites it. Default -1 (as the Java producer). */
  readonly partitionLeaderEpoch?: number;
  /** Codec for the records section. Default "none". */
  readonly compression?: CompressionName;
  /** Timestamp type (attributes bit 3). Default "CreateTime". */
  readonly timestampType?: TimestampType;
  /** Part of a transaction (attributes bit 4). Default false. */
  readonly isTransactional?: boolean;
  /** A control batch (attributes bit 5). Default false. */
  readonly isControl?: boolean;
  /** baseTimestamp holds a compaction delete horizon (attributes bit 6). Default false. */
  readonly hasDeleteHorizon?: boolean;
  /** Timestamp (ms) the record deltas count from. */
  readonly baseTimestamp: bigint;
  /** Largest record timestamp; default computed from the records (baseTimestamp if none). */
  readonly maxTimestamp?: bigint;
  /** Offset delta of the last record; default the last record's offsetDelta (0 if none). */
  readonly lastOffsetDelta?: number;
  /** Idempotent producer id; default -1 (none). */
  readonly producerId?: bigint;
  /** Producer epoch; default -1. */
  readonly producerEpoch?: number;
  /** Sequence number of the first record; default -1. */
  readonly baseSequence?: number;
  /** The records, in offset order. */
  readonly records: readonly RecordInput[];
}

/** Options for {@link encodeRecordBatch}. */
export interface EncodeRecordBatchOptions {
  /** Codec level for gzip and zstd. */
  readonly compressionLevel?: number;
}

/** A decoded batch. It is itself a valid {@link RecordBatchInput}. */
export interface DecodedRecordBatch extends RecordBatchInput {
  /** Offset of the first record. */
  readonly baseOffset: bigint;
  /** batchLength field: bytes after it. */
  readonly batchLength: number;
  /** Total bytes of the batch (batchLength + 12). */
  readonly sizeBytes: number;
  /** Leader epoch stamped by the leader. */
  readonly partitionLeaderEpoch: number;
  /** Always 2. */
  readonly magic: number;
  /** Stored CRC-32C (unsigned). */
  readonly crc: number;
  /** The raw attributes int16. */
  readonly attributes: number;
  /** Codec of the records section. */
  readonly compression: CompressionName;
  /** Timestamp type. */
  readonly timestampType: TimestampType;
  /** Attributes bit 4. */
  readonly isTransactional: boolean;
  /** Attributes bit 5. */
  readonly isControl: boolean;
  /** Attributes bit 6. */
  readonly hasDeleteHorizon: boolean;
  /** Offset delta of the last record. */
  readonly lastOffsetDelta: number;
  /** Largest record timestamp (or the append time). */
  readonly maxTimestamp: bigint;
  /** Producer id, -1 when not idempotent. */
  readonly producerId: bigint;
  /** Producer epoch. */
  readonly producerEpoch: number;
  /** Sequence number of the first record. */
  readonly baseSequence: number;
  /** Number of records the header declares (and the batch holds). */
  readonly recordCount: number;
  /** The records. Keys, values and header values are views into the input or its
   * decompressed section: copy them to keep them beyond the input buffer's reuse. */
  readonly records: readonly DecodedRecord[];
}

/** Options for {@link decodeRecordBatch}. */
export interface DecodeRecordBatchOptions {
  /** Byte position of the batch inside the buffer. Default 0. */
  readonly position?: number;
  /** Check the CRC-32C. Default true. Framing is always checked. */
  readonly verifyCrc?: boolean;
  /** Limit on the decompressed records section. Default 64 MiB. */
  readonly maxDecompressedBytes?: number;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Encodes a RecordBatch v2 with its CRC; the result is one Buffer of exactly one batch. */
export function encodeRecordBatch(
  input: RecordBatchInput,
  options: EncodeRecordBatchOptions = {},
): Buffer {
  const codec = input.compression ?? "none";
  const codecId = compressionCodecId(codec);
  const recordsRaw = encodeRecords(input.records);
  const section =
    codec === "none"
      ? recordsRaw
      : compress(codec, recordsRaw, { level: options.compressionLevel });
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + section.length);
  section.copy(out, BATCH_HEADER_BYTES);
  writeHeader(out, input, codecId);
  out.writeUInt32BE(crc32c(out.subarray(CRC_START)), OFFSET_CRC);
  return out;
}

function writeHeader(out: Buffer, input: RecordBatchInput, codecId: number): void {
  const records = input.records;
  const lastOffsetDelta =
    input.lastOffsetDelta ??
    (records.length === 0 ? 0 : (records.at(-1)!.offsetDelta ?? records.length - 1));
  const baseTimestamp = input.baseTimestamp;
  const maxTimestamp = input.maxTimestamp ?? computeMaxTimestamp(baseTimestamp, records);
  const fields = {
    baseOffset: int64(input.baseOffset ?? 0n, "baseOffset"),
    partitionLeaderEpoch: int32(input.partitionLeaderEpoch ?? -1, "partitionLeaderEpoch"),
    lastOffsetDelta: int32(lastOffsetDelta, "lastOffsetDelta"),
    baseTimestamp: int64(baseTimestamp, "baseTimestamp"),
    maxTimestamp: int64(maxTimestamp, "maxTimestamp"),
    producerId: int64(input.producerId ?? -1n, "producerId"),
    producerEpoch: intN(input.producerEpoch ?? -1, 16, "producerEpoch"),
    baseSequence: int32(input.baseSequence ?? -1, "baseSequence"),
    recordCount: int32(records.length, "recordCount"),
  };
  out.writeBigInt64BE(fields.baseOffset, OFFSET_BASE_OFFSET);
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  out.writeInt32BE(fields.partitionLeaderEpoch, OFFSET_PARTITION_LEADER_EPOCH);
  out.writeInt8(MAGIC_V2, OFFSET_MAGIC);
  out.writeInt16BE(attributesOf(input, codecId), OFFSET_ATTRIBUTES);
  out.writeInt32BE(fields.lastOffsetDelta, OFFSET_LAST_OFFSET_DELTA);
  out.writeBigInt64BE(fields.baseTimestamp, OFFSET_BASE_TIMESTAMP);
  out.writeBigInt64BE(fields.maxTimestamp, OFFSET_MAX_TIMESTAMP);
  out.writeBigInt64BE(fields.producerId, OFFSET_PRODUCER_ID);
  out.writeInt16BE(fields.producerEpoch, OFFSET_PRODUCER_EPOCH);
  out.writeInt32BE(fields.baseSequence, OFFSET_BASE_SEQUENCE);
  out.writeInt32BE(fields.recordCount, OFFSET_RECORD_COUNT);
}

function attributesOf(input: RecordBatchInput, codecId: number): number {
  let attributes = codecId;
  if (input.timestampType === "LogAppendTime") attributes |= ATTR_TIMESTAMP_TYPE_LOG_APPEND;
  if (input.isTransactional === true) attributes |= ATTR_TRANSACTIONAL;
  if (input.isControl === true) attributes |= ATTR_CONTROL;
  if (input.hasDeleteHorizon === true) attributes |= ATTR_DELETE_HORIZON;
  return attributes;
}

function computeMaxTimestamp(baseTimestamp: bigint, records: readonly RecordInput[]): bigint {
  let max = baseTimestamp;
  let first = true;
  for (const record of records) {
    const timestamp = baseTimestamp + (record.timestampDelta ?? 0n);
    if (first || timestamp > max) {
      max = timestamp;
      first = false;
    }
  }
  return max;
}

function int64(value: bigint, field: string): bigint {
  if (typeof value !== "bigint" || value < INT64_MIN || value > INT64_MAX) {
    throw new InvalidRecordError(`${field} ${String(value)} is not an int64 bigint`);
  }
  return value;
}

function int32(value: number, field: string): number {
  return intN(value, 32, field);
}

function intN(value: number, bits: 16 | 32, field: string): number {
  const limit = 2 ** (bits - 1);
  if (!Number.isInteger(value) || value < -limit || value >= limit) {
    throw new InvalidRecordError(`${field} ${value} is not an int${bits}`);
  }
  return value;
}

/**
 * Decodes the batch at `options.position` (default 0) of `buf`: validates framing and CRC,
 * decompresses with a bounded output, and decodes every record. Throws CorruptBatchError,
 * InvalidRecordError or UnsupportedCompressionError, all StrandErrors.
 */
export function decodeRecordBatch(
  buf: Buffer,
  options: DecodeRecordBatchOptions = {},
): DecodedRecordBatch {
  const view = new BatchHeaderView(buf, options.position ?? 0);
  if (options.verifyCrc ?? true) {
    view.validate();
  } else {
    view.validateFraming();
  }
  const compression = compressionName(view.compressionCodec);
  const start = view.position + BATCH_HEADER_BYTES;
  const stored = buf.subarray(start, view.position + view.sizeBytes);
  const section = decompress(compression, stored, {
    maxDecompressedBytes: options.maxDecompressedBytes,
  });
  const timestampType: TimestampType = view.isLogAppendTime ? "LogAppendTime" : "CreateTime";
  const maxTimestamp = view.maxTimestamp;
  const baseOffset = view.baseOffset;
  const baseTimestamp = view.baseTimestamp;
  const recordCount = view.recordCount;
  const records = decodeRecords(section, recordCount, {
    baseOffset,
    baseTimestamp,
    logAppendTime: timestampType === "LogAppendTime" ? maxTimestamp : null,
  });
  return {
    baseOffset,
    batchLength: view.batchLength,
    sizeBytes: view.sizeBytes,
    partitionLeaderEpoch: view.partitionLeaderEpoch,
    magic: view.magic,
    crc: view.crc,
    attributes: view.attributes,
    compression,
    timestampType,
    isTransactional: view.isTransactional,
    isControl: view.isControl,
    hasDeleteHorizon: (view.attributes & ATTR_DELETE_HORIZON) !== 0,
    lastOffsetDelta: view.lastOffsetDelta,
    baseTimestamp,
    maxTimestamp,
    producerId: view.producerId,
    producerEpoch: view.producerEpoch,
    baseSequence: view.baseSequence,
    recordCount,
    records,
  };
}
