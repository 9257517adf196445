/**
 * The records section of a RecordBatch v2: `recordCount` records back to back (compressed
 * as a whole when the batch's codec is not none). Each record:
 *
 * ```
 *  length          varint   bytes of the record after this field
 *  attributes      int8     unused in v2, 0
 *  timestampDelta  varlong  from the batch's baseTimestamp
 *  offsetDelta     varint   from the batch's baseOffset
 *  keyLength       varint   -1 for a null key
 *  key             bytes
 *  valueLength     varint   -1 for a null value
 *  value           bytes
 *  headersCount    varint
 *  headers, each:  keyLength varint, key UTF-8 (never null),
 *                  valueLength varint (-1 for null), value bytes
 * ```
 *
 * Decoding trusts nothing: every length is checked against the bytes remaining before it
 * is used, counts are checked against the smallest size their items can take before any
 * array is allocated, and a record's declared length must equal what its fields consumed.
 */
import { InvalidRecordError } from "./errors.ts";
import { ByteReader, varintSize, varlongSize, writeVarint, writeVarlong } from "./varint.ts";

/** One record header. Header keys are UTF-8 strings and never null. */
export interface RecordHeader {
  /** Header key. */
  readonly key: string;
  /** Header value; null is distinct from empty. */
  readonly value: Uint8Array | null;
}

/** A record to encode. Decoded records ({@link DecodedRecord}) are valid inputs too. */
export interface RecordInput {
  /** Offset delta from the batch's baseOffset; defaults to the record's index. */
  readonly offsetDelta?: number;
  /** Timestamp delta (ms) from the batch's baseTimestamp; defaults to 0. */
  readonly timestampDelta?: bigint;
  /** Record attributes byte (int8); unused by v2, defaults to 0. */
  readonly attributes?: number;
  /** Record key; null for a keyless record. */
  readonly key: Uint8Array | null;
  /** Record value; null for a tombstone. */
  readonly value: Uint8Array | null;
  /** Record headers, in order; repeated keys are allowed. */
  readonly headers?: readonly RecordHeader[];
}

/** A decoded header: its value is a view into the decoded records section. */
export interface DecodedRecordHeader extends RecordHeader {
  /** Header value, a view (not a copy) into the batch or its decompressed section. */
  readonly value: Buffer | null;
}

/** A decoded record. `key`, `value` and header values are views, not copies. */
export interface DecodedRecord extends RecordInput {
  /** Record attributes byte (int8). */
  readonly attributes: number;
  /** Offset delta from the batch's baseOffset. */
  readonly offsetDelta: number;
  /** Timestamp delta (ms) from the batch's baseTimestamp. */
  readonly timestampDelta: bigint;
  /** Absolute offset: baseOffset + offsetDelta. */
  readonly offset: bigint;
  /** Absolute timestamp: baseTimestamp + timestampDelta, or maxTimestamp for LogAppendTime. */
  readonly timestamp: bigint;
  /** Record key, or null. */
  readonly key: Buffer | null;
  /** Record value, or null. */
  readonly value: Buffer | null;
  /** Record headers, in order. */
  readonly headers: readonly DecodedRecordHeader[];
}

/** What a record needs from its batch to compute absolute offsets and timestamps. */
export interface RecordContext {
  /** The batch's baseOffset. */
  readonly baseOffset: bigint;
  /** The batch's baseTimestamp. */
  readonly baseTimestamp: bigint;
  /** For LogAppendTime batches the maxTimestamp every record takes; otherwise null. */
  readonly logAppendTime: bigint | null;
}

/** Smallest encoded record: length, attributes, 2 deltas, key and value lengths, count. */
export const MIN_RECORD_BYTES = 7;
/** Smallest encoded header: key length and value length. */
const MIN_HEADER_BYTES = 2;

/** Encodes `records` as an uncompressed records section. */
export function encodeRecords(records: readonly RecordInput[]): Buffer {
  const sizes = new Int32Array(records.length);
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const body = recordBodySize(records[i]!, i);
    sizes[i] = body;
    total += varintSize(body) + body;
  }
  const out = Buffer.allocUnsafe(total);
  const end = writeRecords(out, 0, records, sizes);
  if (end !== total) {
    throw new InvalidRecordError(`encoded ${end} bytes of records, sized ${total}`);
  }
  return out;
}

/** Writes `records` into `out` at `offset` with precomputed body sizes; returns the end. */
function writeRecords(
  out: Buffer,
  offset: number,
  records: readonly RecordInput[],
  sizes: Int32Array,
): number {
  let pos = offset;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    pos = writeVarint(out, pos, sizes[i]!);
    out[pos++] = (record.attributes ?? 0) & 0xff;
    pos = writeVarlong(out, pos, record.timestampDelta ?? 0n);
    pos = writeVarint(out, pos, record.offsetDelta ?? i);
    pos = writeNullableBytes(out, pos, record.key);
    pos = writeNullableBytes(out, pos, record.value);
    const headers = record.headers ?? [];
    pos = writeVarint(out, pos, headers.length);
    for (const header of headers) {
      const keyStart = pos + varintSize(Buffer.byteLength(header.key, "utf8"));
      const keyBytes = out.write(header.key, keyStart, "utf8");
      writeVarint(out, pos, keyBytes);
      pos = writeNullableBytes(out, keyStart + keyBytes, header.value);
    }
  }
  return pos;
}

function writeNullableBytes(out: Buffer, offset: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    return writeVarint(out, offset, -1);
  }
  const pos = writeVarint(out, offset, bytes.length);
  out.set(bytes, pos);
  return pos + bytes.length;
}

function recordBodySize(record: RecordInput, index: number): number {
  const attributes = record.attributes ?? 0;
  if (!Number.isInteger(attributes) || attributes < -128 || attributes > 127) {
    throw new InvalidRecordError(`record ${index}: attributes ${attributes} is not an int8`);
  }
  let size = 1 + varlongSize(record.timestampDelta ?? 0n) + varintSize(record.offsetDelta ?? index);
  size += nullableBytesSize(record.key) + nullableBytesSize(record.value);
  const headers = record.headers ?? [];
  size += varintSize(headers.length);
  for (const header of headers) {
    if (typeof header.key !== "string") {
      throw new InvalidRecordError(`record ${index}: header keys must be strings`);
    }
    const keyBytes = Buffer.byteLength(header.key, "utf8");
    size += varintSize(keyBytes) + keyBytes + nullableBytesSize(header.value);
  }
  if (size > 0x7fffffff) {
    throw new InvalidRecordError(`record ${index} is ${size} bytes, above the int32 limit`);
  }
  return size;
}

function nullableBytesSize(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : varintSize(bytes.length) + bytes.length;
}

/**
 * Decodes `recordCount` records from the records section `section`, which must hold
 * exactly those records. Throws InvalidRecordError on any malformed or trailing byte.
 */
export function decodeRecords(
  section: Buffer,
  recordCount: number,
  context: RecordContext,
): DecodedRecord[] {
  if (!Number.isInteger(recordCount) || recordCount < 0) {
    throw new InvalidRecordError(`recordCount ${recordCount} is negative`);
  }
  if (recordCount > section.length / MIN_RECORD_BYTES) {
    throw new InvalidRecordError(
      `recordCount ${recordCount} cannot fit in ${section.length} bytes of records`,
    );
  }
  const reader = new ByteReader(section);
  const records: DecodedRecord[] = new Array(recordCount);
  for (let i = 0; i < recordCount; i++) {
    records[i] = decodeRecord(reader, section, context);
  }
  if (reader.remaining !== 0) {
    throw new InvalidRecordError(
      `${reader.remaining} bytes remain after the ${recordCount} records the header declares`,
    );
  }
  return records;
}

function decodeRecord(reader: ByteReader, section: Buffer, context: RecordContext): DecodedRecord {
  const length = reader.readVarint();
  if (length < 0 || length > reader.remaining) {
    throw new InvalidRecordError(
      `record length ${length} at byte ${reader.pos} exceeds the ${reader.remaining} bytes remaining`,
    );
  }
  const outerEnd = reader.end;
  const recordEnd = reader.pos + length;
  reader.end = recordEnd; // fields may not read past the record's declared end
  const attributes = reader.readInt8();
  const timestampDelta = reader.readVarlong();
  const offsetDelta = reader.readVarint();
  const key = readNullableBytes(reader, section, "key");
  const value = readNullableBytes(reader, section, "value");
  const headers = readHeaders(reader, section);
  if (reader.pos !== recordEnd) {
    throw new InvalidRecordError(
      `record declares ${length} bytes but its fields end ${recordEnd - reader.pos} bytes early`,
    );
  }
  reader.end = outerEnd;
  return {
    attributes,
    offsetDelta,
    timestampDelta,
    offset: context.baseOffset + BigInt(offsetDelta),
    timestamp: context.logAppendTime ?? context.baseTimestamp + timestampDelta,
    key,
    value,
    headers,
  };
}

function readNullableBytes(reader: ByteReader, section: Buffer, what: string): Buffer | null {
  const length = reader.readVarint();
  if (length === -1) {
    return null;
  }
  if (length < -1) {
    throw new InvalidRecordError(`${what} length ${length} at byte ${reader.pos} is negative`);
  }
  const start = reader.skip(length);
  return section.subarray(start, start + length);
}

function readHeaders(reader: ByteReader, section: Buffer): DecodedRecordHeader[] {
  const count = reader.readVarint();
  if (count < 0 || count > reader.remaining / MIN_HEADER_BYTES) {
    throw new InvalidRecordError(
      `header count ${count} at byte ${reader.pos} cannot fit in ${reader.remaining} bytes`,
    );
  }
  const headers: DecodedRecordHeader[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const keyLength = reader.readVarint();
    if (keyLength < 0) {
      throw new InvalidRecordError(
        `header key length ${keyLength} is negative: keys are never null`,
      );
    }
    const keyStart = reader.skip(keyLength);
    const key = section.toString("utf8", keyStart, keyStart + keyLength);
    headers[i] = { key, value: readNullableBytes(reader, section, "header value") };
  }
  return headers;
}
