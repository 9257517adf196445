/**
 * Zero-copy view of a Kafka RecordBatch v2 header.
 *
 * Byte layout (big-endian), offsets from the start of the batch:
 *
 * ```
 *  0  baseOffset            int64   stamped by the leader     ┐ outside
 *  8  batchLength           int32   bytes after this field    │ the CRC
 * 12  partitionLeaderEpoch  int32   stamped by the leader     │
 * 16  magic                 int8    must be 2                 ┘
 * 17  crc                   uint32  CRC-32C of bytes 21..end
 * 21  attributes            int16   bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
 * 23  lastOffsetDelta       int32
 * 27  baseTimestamp         int64
 * 35  maxTimestamp          int64
 * 43  producerId            int64   -1 when not idempotent
 * 51  producerEpoch         int16
 * 53  baseSequence          int32
 * 57  recordCount           int32
 * 61  records...                    (compressed as a whole when codec != 0)
 * ```
 *
 * The broker stores the same bytes: it validates this header and the CRC, stamps
 * baseOffset and partitionLeaderEpoch in place (both outside the CRC) and, on the leader
 * only, walks the records against the header (batch-inspect.ts) without decoding them.
 */
import { crc32c } from "./crc32c.ts";
import { CorruptBatchError } from "./errors.ts";

/** Size of the RecordBatch v2 header in bytes. */
export const BATCH_HEADER_BYTES = 61;
/** Bytes before batchLength's count starts: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD_BYTES = 12;
/** The only supported magic value. */
export const MAGIC_V2 = 2;
/** Offset of the first byte covered by the CRC (attributes). */
export const CRC_START = 21;

/** Byte offset of baseOffset (int64) within a batch. */
export const OFFSET_BASE_OFFSET = 0;
/** Byte offset of batchLength (int32). */
export const OFFSET_BATCH_LENGTH = 8;
/** Byte offset of partitionLeaderEpoch (int32). */
export const OFFSET_PARTITION_LEADER_EPOCH = 12;
/** Byte offset of magic (int8). */
export const OFFSET_MAGIC = 16;
/** Byte offset of the CRC-32C (uint32). */
export const OFFSET_CRC = 17;
/** Byte offset of attributes (int16). */
export const OFFSET_ATTRIBUTES = 21;
/** Byte offset of lastOffsetDelta (int32). */
export const OFFSET_LAST_OFFSET_DELTA = 23;
/** Byte offset of baseTimestamp (int64). */
export const OFFSET_BASE_TIMESTAMP = 27;
/** Byte offset of maxTimestamp (int64). */
export const OFFSET_MAX_TIMESTAMP = 35;
/** Byte offset of producerId (int64). */
export const OFFSET_PRODUCER_ID = 43;
/** Byte offset of producerEpoch (int16). */
export const OFFSET_PRODUCER_EPOCH = 51;
/** Byte offset of baseSequence (int32). */
export const OFFSET_BASE_SEQUENCE = 53;
/** Byte offset of recordCount (int32). */
export const OFFSET_RECORD_COUNT = 57;

/** Attributes bits 0-2: the compression codec number. */
export const ATTR_COMPRESSION_MASK = 0x07;
/** Attributes bit 3: timestamps are LogAppendTime. */
export const ATTR_TIMESTAMP_TYPE_LOG_APPEND = 0x08;
/** Attributes bit 4: the batch is part of a transaction. */
export const ATTR_TRANSACTIONAL = 0x10;
/** Attributes bit 5: a control batch (transaction markers). */
export const ATTR_CONTROL = 0x20;
/** Attributes bit 6: baseTimestamp holds the compaction delete horizon. */
export const ATTR_DELETE_HORIZON = 0x40;

/** Smallest value batchLength may hold: a header with zero records. */
const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES;

/**
 * A read-only (except for the two stampable fields) view over one batch inside a buffer.
 * Creating a view never copies; `validate()` checks bounds, magic and CRC.
 */
export class BatchHeaderView {
  /** The buffer holding the batch. */
  readonly buffer: Buffer;
  /** Position of the batch's first byte inside `buffer`. */
  readonly position: number;

  /**
   * Wraps the batch at `position`. Checks only that the 12-byte log overhead is present;
   * call {@link BatchHeaderView.validate} before trusting any other field.
   */
  constructor(buffer: Buffer, position = 0) {
    if (position < 0 || position + BATCH_LOG_OVERHEAD_BYTES > buffer.length) {
      throw new CorruptBatchError(
        `batch at byte ${position} is truncated: need ${BATCH_LOG_OVERHEAD_BYTES} bytes for the log overhead, have ${Math.max(0, buffer.length - position)}`,
      );
    }
    this.buffer = buffer;
    this.position = position;
  }

  /** batchLength: bytes after the batchLength field. */
  get batchLength(): number {
    return int32At(this.buffer, this.position + OFFSET_BATCH_LENGTH);
  }

  /** Total bytes of the batch including baseOffset and batchLength. */
  get sizeBytes(): number {
    return this.batchLength + BATCH_LOG_OVERHEAD_BYTES;
  }

  /** Offset of the first record (stamped by the leader). */
  get baseOffset(): bigint {
    return int64At(this.buffer, this.position + OFFSET_BASE_OFFSET);
  }

  /** Leader epoch of the leader that appended the batch. */
  get partitionLeaderEpoch(): number {
    return int32At(this.buffer, this.position + OFFSET_PARTITION_LEADER_EPOCH);
  }

  /** Format version; 2 for a valid batch. */
  get magic(): number {
    return this.buffer.readInt8(this.position + OFFSET_MAGIC);
  }

  /** Stored CRC-32C of attributes..end, unsigned. */
  get crc(): number {
    return this.buffer.readUInt32BE(this.position + OFFSET_CRC);
  }

  /** Raw attributes int16. */
  get attributes(): number {
    return this.buffer.readInt16BE(this.position + OFFSET_ATTRIBUTES);
  }

  /** Compression codec number: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  get compressionCodec(): number {
    return this.attributes & ATTR_COMPRESSION_MASK;
  }

  /** True when timestamps are LogAppendTime (attributes bit 3). */
  get isLogAppendTime(): boolean {
    return (this.attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND) !== 0;
  }

  /** True for a transactional batch (attributes bit 4). */
  get isTransactional(): boolean {
    return (this.attributes & ATTR_TRANSACTIONAL) !== 0;
  }

  /** True for a control batch (attributes bit 5). */
  get isControl(): boolean {
    return (this.attributes & ATTR_CONTROL) !== 0;
  }

  /** Offset delta of the last record from baseOffset. */
  get lastOffsetDelta(): number {
    return int32At(this.buffer, this.position + OFFSET_LAST_OFFSET_DELTA);
  }

  /** Offset of the last record: baseOffset + lastOffsetDelta. */
  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }

  /** Offset after the last record. */
  get nextOffset(): bigint {
    return this.lastOffset + 1n;
  }

  /** Timestamp (ms) the record deltas count from. */
  get baseTimestamp(): bigint {
    return int64At(this.buffer, this.position + OFFSET_BASE_TIMESTAMP);
  }

  /** Largest record timestamp (ms), or the append time. */
  get maxTimestamp(): bigint {
    return int64At(this.buffer, this.position + OFFSET_MAX_TIMESTAMP);
  }

  /** Idempotent producer id; -1 when none. */
  get producerId(): bigint {
    return int64At(this.buffer, this.position + OFFSET_PRODUCER_ID);
  }

  /** Producer epoch; -1 when none. */
  get producerEpoch(): number {
    return this.buffer.readInt16BE(this.position + OFFSET_PRODUCER_EPOCH);
  }

  /** Sequence number of the first record; -1 when none. */
  get baseSequence(): number {
    return int32At(this.buffer, this.position + OFFSET_BASE_SEQUENCE);
  }

  /** Number of records the header declares. */
  get recordCount(): number {
    return int32At(this.buffer, this.position + OFFSET_RECORD_COUNT);
  }

  /** CRC-32C computed over attributes..end of the batch. */
  computeCrc(): number {
    const start = this.position + CRC_START;
    const end = this.position + this.sizeBytes;
    return crc32c(this.buffer.subarray(start, end));
  }

  /**
   * Checks bounds, magic, header consistency and the CRC without decoding records.
   * Throws {@link CorruptBatchError} describing the first problem found.
   */
  validate(): this {
    this.validateFraming();
    const expected = this.crc;
    const actual = this.computeCrc();
    if (expected !== actual) {
      throw new CorruptBatchError(
        `batch at offset ${this.baseOffset} failed its CRC-32C check (stored ${hex32(expected)}, computed ${hex32(actual)})`,
      );
    }
    return this;
  }

  /** Checks length, magic and header fields, but not the CRC. */
  validateFraming(): this {
    const length = this.batchLength;
    if (length < MIN_BATCH_LENGTH) {
      throw new CorruptBatchError(
        `batchLength ${length} is below the minimum ${MIN_BATCH_LENGTH} for a RecordBatch v2 header`,
      );
    }
    const available = this.buffer.length - this.position;
    if (this.sizeBytes > available) {
      throw new CorruptBatchError(
        `batch is truncated: batchLength says ${this.sizeBytes} bytes, only ${available} present`,
      );
    }
    if (this.magic !== MAGIC_V2) {
      throw new CorruptBatchError(
        `unsupported magic ${this.magic}: only RecordBatch v2 (magic 2) is accepted`,
      );
    }
    const count = this.recordCount;
    const delta = this.lastOffsetDelta;
    if (count < 0 || delta < 0) {
      throw new CorruptBatchError(`negative recordCount ${count} or lastOffsetDelta ${delta}`);
    }
    // Each record needs at least 7 bytes (length, attributes, 3 varint deltas, key, value,
    // header count), so a count larger than that bound is a lie that could drive allocation.
    // Compressed batches may legitimately hold more records than raw bytes allow, so only
    // uncompressed batches get the tight bound.
    if (this.compressionCodec === 0 && count > (length - MIN_BATCH_LENGTH) / 7) {
      throw new CorruptBatchError(
        `recordCount ${count} cannot fit in ${length - MIN_BATCH_LENGTH} bytes of records`,
      );
    }
    return this;
  }

  /** Stamps baseOffset in place. Outside the CRC, so the CRC stays valid. */
  setBaseOffset(offset: bigint): void {
    this.buffer.writeBigInt64BE(offset, this.position + OFFSET_BASE_OFFSET);
  }

  /** Stamps partitionLeaderEpoch in place. Outside the CRC, so the CRC stays valid. */
  setPartitionLeaderEpoch(epoch: number): void {
    this.buffer.writeInt32BE(epoch, this.position + OFFSET_PARTITION_LEADER_EPOCH);
  }

  /** The batch's bytes, without copying. */
  bytes(): Buffer {
    return this.buffer.subarray(this.position, this.position + this.sizeBytes);
  }
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

// The header fields are read by hand. Buffer#readInt32BE and #readBigInt64BE validate their
// offset through a Node-internal wrapper that allocates an arguments array per call, and
// readBigInt64BE builds four BigInts for one value; these getters run several times per
// batch per walk (validation, producer state, indexes, the tail cache). Out of bounds, the
// Buffer methods still run and throw as before.

function int32At(buf: Buffer, at: number): number {
  if (at < 0 || at + 4 > buf.length) return buf.readInt32BE(at);
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** One BigInt per read when the value is within ±2^53 (offsets, timestamps, ids). */
function int64At(buf: Buffer, at: number): bigint {
  if (at < 0 || at + 8 > buf.length) return buf.readBigInt64BE(at);
  const hi = int32At(buf, at);
  if (hi < -0x200000 || hi >= 0x200000) return buf.readBigInt64BE(at);
  const lo = int32At(buf, at + 4) >>> 0;
  return BigInt(hi * 0x100000000 + lo);
}
