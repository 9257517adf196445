/**
 * Zig-zag varints as RecordBatch v2 records use them (Kafka's ByteUtils / protobuf sint32,
 * sint64).
 *
 * Byte layout: the zig-zag value ((v << 1) ^ (v >> 63)) in little-endian groups of 7 bits,
 * the high bit of each byte set when another byte follows.
 *
 * ```
 *   varint  (int32):  1..5 bytes, the 5th byte holds bits 28..31 only (<= 0x0f)
 *   varlong (int64):  1..10 bytes, the 10th byte holds bit 63 only (<= 0x01)
 * ```
 *
 * Decoding is strict about bounds: more than 5 (10) bytes, a last byte carrying bits beyond
 * 32 (64), or a varint running off the end of its range throw InvalidRecordError. Non-minimal
 * encodings (e.g. `80 00` for 0) are accepted, as Kafka's readers accept them.
 */
import { InvalidRecordError } from "./errors.ts";

/** Longest valid varint (int32) encoding in bytes. */
export const VARINT_MAX_BYTES = 5;
/** Longest valid varlong (int64) encoding in bytes. */
export const VARLONG_MAX_BYTES = 10;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
// Values whose zig-zag form fits in 49 bits (7 varint bytes) use number arithmetic: exact
// below 2^53 and far cheaper than bigint. Timestamp deltas and lengths always land here.
const FAST_VARLONG_LIMIT = 2 ** 48;

/** Bytes needed to encode the int32 `value` as a zig-zag varint. */
export function varintSize(value: number): number {
  let zz = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (zz >= 0x80) {
    zz >>>= 7;
    size++;
  }
  return size;
}

/** Bytes needed to encode the int64 `value` as a zig-zag varlong. */
export function varlongSize(value: bigint): number {
  if (value > -FAST_VARLONG_LIMIT && value < FAST_VARLONG_LIMIT) {
    const n = Number(value);
    let zz = n >= 0 ? n * 2 : -n * 2 - 1;
    let size = 1;
    while (zz >= 0x80) {
      zz = Math.floor(zz / 128);
      size++;
    }
    return size;
  }
  let zz = zigzag64(value);
  let size = 1;
  while (zz >= 0x80n) {
    zz >>= 7n;
    size++;
  }
  return size;
}

/**
 * Writes the int32 `value` as a zig-zag varint at `offset` and returns the offset after it.
 * The caller sizes `buf` with {@link varintSize}.
 */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new InvalidRecordError(`varint value ${value} is not an int32`);
  }
  let zz = ((value << 1) ^ (value >> 31)) >>> 0;
  let pos = offset;
  while (zz >= 0x80) {
    buf[pos++] = (zz & 0x7f) | 0x80;
    zz >>>= 7;
  }
  buf[pos++] = zz;
  return pos;
}

/**
 * Writes the int64 `value` as a zig-zag varlong at `offset` and returns the offset after it.
 * The caller sizes `buf` with {@link varlongSize}.
 */
export function writeVarlong(buf: Uint8Array, offset: number, value: bigint): number {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new InvalidRecordError(`varlong value ${value} is not an int64`);
  }
  let pos = offset;
  if (value > -FAST_VARLONG_LIMIT && value < FAST_VARLONG_LIMIT) {
    const n = Number(value);
    let zz = n >= 0 ? n * 2 : -n * 2 - 1;
    while (zz >= 0x80) {
      buf[pos++] = (zz % 128) | 0x80;
      zz = Math.floor(zz / 128);
    }
    buf[pos++] = zz;
    return pos;
  }
  let zz = zigzag64(value);
  while (zz >= 0x80n) {
    buf[pos++] = Number(zz & 0x7fn) | 0x80;
    zz >>= 7n;
  }
  buf[pos++] = Number(zz);
  return pos;
}

function zigzag64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/**
 * A bounded cursor over bytes: every read checks it stays below `end` and throws
 * InvalidRecordError otherwise, so no read from untrusted bytes can overrun or allocate
 * more than is present.
 */
export class ByteReader {
  /** The bytes read from. */
  readonly buf: Uint8Array;
  /** Next byte to read. */
  pos: number;
  /** One past the last readable byte. */
  end: number;

  /** Reads `buf` from `start` (default 0) up to `end` (default `buf.length`). */
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`ByteReader range ${start}..${end} outside 0..${buf.length}`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** Bytes left before `end`. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Reads one signed byte. */
  readInt8(): number {
    if (this.pos >= this.end) {
      throw new InvalidRecordError(`truncated: int8 at byte ${this.pos} is past the end`);
    }
    const b = this.buf[this.pos++]!;
    return b > 0x7f ? b - 0x100 : b;
  }

  /** Reads a zig-zag varint (int32). */
  readVarint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let raw = 0;
    for (let i = 0; i < VARINT_MAX_BYTES; i++) {
      if (pos >= this.end) {
        throw new InvalidRecordError(`truncated varint at byte ${this.pos}`);
      }
      const b = buf[pos++]!;
      if (i === VARINT_MAX_BYTES - 1 && b > 0x0f) {
        throw new InvalidRecordError(`varint at byte ${this.pos} overflows 32 bits`);
      }
      raw |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        this.pos = pos;
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    throw new InvalidRecordError(`varint at byte ${this.pos} is longer than 5 bytes`);
  }

  /** Reads a zig-zag varlong (int64) as a bigint. */
  readVarlong(): bigint {
    const buf = this.buf;
    let pos = this.pos;
    let raw = 0;
    let scale = 1;
    // Fast path: up to 7 bytes (49 bits) accumulate exactly in a double.
    for (let i = 0; i < 7; i++) {
      if (pos >= this.end) {
        throw new InvalidRecordError(`truncated varlong at byte ${this.pos}`);
      }
      const b = buf[pos++]!;
      raw += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return BigInt(raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2);
      }
      scale *= 128;
    }
    return this.readVarlongSlow();
  }

  private readVarlongSlow(): bigint {
    let pos = this.pos;
    let raw = 0n;
    for (let i = 0; i < VARLONG_MAX_BYTES; i++) {
      if (pos >= this.end) {
        throw new InvalidRecordError(`truncated varlong at byte ${this.pos}`);
      }
      const b = this.buf[pos++]!;
      if (i === VARLONG_MAX_BYTES - 1 && b > 0x01) {
        throw new InvalidRecordError(`varlong at byte ${this.pos} overflows 64 bits`);
      }
      raw |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        this.pos = pos;
        return (raw >> 1n) ^ -(raw & 1n);
      }
    }
    throw new InvalidRecordError(`varlong at byte ${this.pos} is longer than 10 bytes`);
  }

  /**
   * Advances past `length` bytes and returns where they start. The length is checked
   * against the remaining bytes first, so a lying length never allocates or overruns.
   */
  skip(length: number): number {
    if (length < 0 || length > this.end - this.pos) {
      throw new InvalidRecordError(
        `length ${length} at byte ${this.pos} exceeds the ${this.end - this.pos} bytes remaining`,
      );
    }
    const start = this.pos;
    this.pos += length;
    return start;
  }

  /** Returns the next `length` bytes as a view (no copy) and advances past them. */
  readBytes(length: number): Uint8Array {
    const start = this.skip(length);
    return this.buf.subarray(start, this.pos);
  }
}

/** Decodes one zig-zag varint at `offset` of `buf`; returns the value and the next offset. */
export function readVarint(buf: Uint8Array, offset = 0): { value: number; next: number } {
  const reader = new ByteReader(buf, offset);
  const value = reader.readVarint();
  return { value, next: reader.pos };
}

/** Decodes one zig-zag varlong at `offset` of `buf`; returns the value and the next offset. */
export function readVarlong(buf: Uint8Array, offset = 0): { value: bigint; next: number } {
  const reader = new ByteReader(buf, offset);
  const value = reader.readVarlong();
  return { value, next: reader.pos };
}
