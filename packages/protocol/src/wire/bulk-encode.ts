/**
 * The bulk codec's writer (see bulk-codec.ts for the contract): a plain object to the bytes
 * protobufjs would write. A sizing pass records each nested message's length (pre-order), the
 * writing pass consumes them in the same order into one buffer of the exact size.
 */
import { Buffer } from "node:buffer";
import { type FieldSpec, LEN, type MessageSpec } from "./bulk-spec.ts";

/**
 * Encodes `value` as `spec`'s message, byte for byte as protobufjs's `encode(fromObject())`
 * (see bulk-codec.ts); each `bytes` field is copied once, into the returned buffer.
 * @throws TypeError where `fromObject` throws (a non-object message, a non-array repeated
 * field), and on an int64 that is not an integer string, number or bigint
 */
export function encodeMessage(spec: MessageSpec, value: object): Buffer {
  const sizes: number[] = [];
  const size = sizeFields(spec, value as Record<string, unknown>, sizes);
  const writer = new Writer(Buffer.allocUnsafe(size), sizes);
  writeFields(spec, value as Record<string, unknown>, writer);
  if (writer.pos !== size) throw new Error(`${spec.name}: wrote ${writer.pos} of ${size} bytes`);
  return writer.buf;
}

function varintSize(value: number): number {
  if (value < 0) return 10;
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  for (let rest = Math.floor(value / 0x800000000); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

function bigVarintSize(value: bigint): number {
  let size = 1;
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Hoisted: a regex literal in the function body is a new RegExp object per evaluation. */
const SAFE_DECIMAL = /^-?\d{1,15}$/;

/** An int64/uint64 input as fromObject accepts it: a non-negative safe number, or a bigint. */
function int64Input(value: unknown, unsigned: boolean): number | bigint {
  if (typeof value === "number") {
    const whole = Number.isFinite(value) ? Math.trunc(value) : 0;
    // A negative safe integer stays a number too: Writer.varint writes its 64-bit two's
    // complement without a BigInt.
    if (Number.isSafeInteger(whole)) return whole;
    // Long.fromNumber saturates outside the int64 range.
    const clamped = Math.min(Math.max(whole, -(2 ** 63)), 2 ** 63 - 1024);
    return BigInt.asUintN(64, BigInt(clamped));
  }
  if (typeof value === "string") {
    // Up to 15 digits is always a safe integer; "-1" (no offset, no timestamp) is common.
    if (value.length <= 16 && SAFE_DECIMAL.test(value)) return Number(value);
    return BigInt.asUintN(64, BigInt(value));
  }
  if (typeof value === "bigint")
    // A safe non-negative bigint (offsets, timestamps) as a number writes the same varint
    // without allocating the wrapped copy asUintN makes.
    return value >= 0n && value <= MAX_SAFE ? Number(value) : BigInt.asUintN(64, value);
  if (typeof value === "object" && value !== null && "low" in value && "high" in value) {
    const long = value as { low: number; high: number };
    return (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  }
  throw new TypeError(`not an ${unsigned ? "uint64" : "int64"}: ${String(value)}`);
}

function bytesInput(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "base64");
  throw new TypeError(`${name}: bytes expected`);
}

/** An enum input as fromObject maps it; null when fromObject would leave the field unset. */
function enumInput(field: FieldSpec, value: unknown): number | null {
  if (typeof value === "number") return value | 0;
  return field.enumValues?.get(String(value)) ?? null;
}

function scalarSize(field: FieldSpec, value: unknown): number {
  switch (field.kind) {
    case "int32":
      return varintSize((value as number) | 0);
    case "uint32":
      return varintSize((value as number) >>> 0);
    case "int64":
    case "uint64": {
      const n = int64Input(value, field.kind === "uint64");
      return typeof n === "number" ? varintSize(n) : bigVarintSize(n);
    }
    case "bool":
      return 1;
    case "enum": {
      const n = enumInput(field, value);
      return n === null ? 0 : varintSize(n);
    }
    case "string": {
      const length = Buffer.byteLength(String(value));
      return varintSize(length) + length;
    }
    case "bytes": {
      const length = bytesInput(value, field.name).length;
      return varintSize(length) + length;
    }
    case "message":
      throw new Error("unreachable: messages are sized by sizeMessageValue");
  }
}

function sizeMessageValue(field: FieldSpec, value: unknown, sizes: number[]): number {
  if (typeof value !== "object") throw new TypeError(`.${field.name}: object expected`);
  const slot = sizes.length;
  sizes.push(0);
  const inner = sizeFields(field.message as MessageSpec, value as Record<string, unknown>, sizes);
  sizes[slot] = inner;
  return varintSize(inner) + inner;
}

// The field and item loops here and in writeFields index instead of `for...of`: they run for
// every message of every request and answer, and an iterator per loop showed up as a top
// allocation site of the broker.
function sizeFields(spec: MessageSpec, value: Record<string, unknown>, sizes: number[]): number {
  let size = 0;
  const fields = spec.fields;
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f]!;
    const v = value[field.name];
    if (v == null) continue;
    const tagSize = varintSize(field.tag);
    if (field.repeated) {
      if (!Array.isArray(v)) throw new TypeError(`.${field.name}: array expected`);
      if (v.length === 0) continue;
      if (field.kind === "message") {
        for (let i = 0; i < v.length; i++) size += tagSize + sizeMessageValue(field, v[i], sizes);
      } else if ((field.tag & 7) === LEN && field.kind !== "string" && field.kind !== "bytes") {
        let packed = 0;
        for (let i = 0; i < v.length; i++) packed += scalarSize(field, v[i]);
        sizes.push(packed);
        size += tagSize + varintSize(packed) + packed;
      } else for (let i = 0; i < v.length; i++) size += tagSize + scalarSize(field, v[i]);
      continue;
    }
    if (field.kind === "message") size += tagSize + sizeMessageValue(field, v, sizes);
    else if (field.kind === "enum" && enumInput(field, v) === null) continue;
    else size += tagSize + scalarSize(field, v);
  }
  return size;
}

class Writer {
  pos = 0;
  readonly buf: Buffer;
  readonly #sizes: readonly number[];
  #next = 0;
  constructor(buf: Buffer, sizes: readonly number[]) {
    this.buf = buf;
    this.#sizes = sizes;
  }

  /** The next nested length recorded by the sizing pass. */
  nextSize(): number {
    return this.#sizes[this.#next++] as number;
  }

  varint(value: number): void {
    const buf = this.buf;
    if (value < 0) {
      this.negativeVarint(value);
      return;
    }
    while (value >= 0x80000000) {
      buf[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    while (value >= 0x80) {
      buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[this.pos++] = value;
  }

  /**
   * A negative safe integer as the 10-byte varint of its 64-bit two's complement (what
   * protobufjs writes), from its two 32-bit halves as protobufjs's LongBits does.
   */
  negativeVarint(value: number): void {
    const buf = this.buf;
    let lo = value >>> 0;
    let hi = Math.floor(value / 0x100000000) >>> 0;
    while (hi !== 0) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  bigVarint(value: bigint): void {
    while (value >= 0x80n) {
      this.buf[this.pos++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.buf[this.pos++] = Number(value);
  }
}

function writeScalar(field: FieldSpec, value: unknown, writer: Writer): void {
  switch (field.kind) {
    case "int32":
      writer.varint((value as number) | 0);
      return;
    case "uint32":
      writer.varint((value as number) >>> 0);
      return;
    case "int64":
    case "uint64": {
      const n = int64Input(value, field.kind === "uint64");
      if (typeof n === "number") writer.varint(n);
      else writer.bigVarint(n);
      return;
    }
    case "bool":
      writer.varint(value ? 1 : 0);
      return;
    case "enum":
      writer.varint(enumInput(field, value) as number);
      return;
    case "string": {
      const text = String(value);
      writer.varint(Buffer.byteLength(text));
      writer.pos += writer.buf.write(text, writer.pos, "utf8");
      return;
    }
    case "bytes": {
      const bytes = bytesInput(value, field.name);
      writer.varint(bytes.length);
      writer.buf.set(bytes, writer.pos);
      writer.pos += bytes.length;
      return;
    }
    case "message":
      throw new Error("unreachable: messages are written by writeMessageValue");
  }
}

function writeMessageValue(field: FieldSpec, value: unknown, writer: Writer): void {
  writer.varint(writer.nextSize());
  writeFields(field.message as MessageSpec, value as Record<string, unknown>, writer);
}

function writeFields(spec: MessageSpec, value: Record<string, unknown>, writer: Writer): void {
  const fields = spec.fields;
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f]!;
    const v = value[field.name];
    if (v == null) continue;
    if (field.repeated) {
      const items = v as unknown[];
      if (items.length === 0) continue;
      if (field.kind === "message") {
        for (let i = 0; i < items.length; i++) {
          writer.varint(field.tag);
          writeMessageValue(field, items[i], writer);
        }
      } else if ((field.tag & 7) === LEN && field.kind !== "string" && field.kind !== "bytes") {
        writer.varint(field.tag);
        writer.varint(writer.nextSize());
        for (let i = 0; i < items.length; i++) writeScalar(field, items[i], writer);
      } else
        for (let i = 0; i < items.length; i++) {
          writer.varint(field.tag);
          writeScalar(field, items[i], writer);
        }
      continue;
    }
    if (field.kind === "enum" && enumInput(field, v) === null) continue;
    writer.varint(field.tag);
    if (field.kind === "message") writeMessageValue(field, v, writer);
    else writeScalar(field, v, writer);
  }
}
