/**
 * A protobuf codec for the few messages that carry records bytes (produce, fetch, subscribe,
 * replica fetch), driven by field tables built once from the same descriptor protobufjs uses.
 *
 * Why not protobufjs: proto-loader's serializer builds a protobufjs message (`fromObject`,
 * a `Long` per int64) and a writer op list before it copies the bytes; its deserializer builds
 * a message and then a second, plain object (`toObject`, a `Long` and its string per int64).
 * Per records field that is little, but it is several objects per partition per request on
 * the hottest path of the broker. This codec reads straight into the plain object and writes
 * straight into one buffer sized by a first pass.
 *
 * Contract (tested against protobufjs in both directions, test/bulk-codec.test.ts):
 * - `encode(obj)` gives the bytes `Type.encode(Type.fromObject(obj)).finish()` gives: a field
 *   is written when its value is not null/undefined (repeated: when non-empty), in field order.
 * - `decode(bytes)` gives what proto-loader's deserializer gives with longs: String, enums:
 *   String, defaults: true, oneofs: true; a `bytes` field is a subarray of `bytes`, not a copy.
 * - Unknown fields are skipped. Truncated input, over-long varints, lengths past the enclosing
 *   message, invalid wire types and a known field with the wrong wire type throw (protobufjs
 *   reads the last kind of input anyway, as garbage); the broker's lenient definition turns a
 *   throw into INVALID_ARGUMENT.
 */
import { Buffer } from "node:buffer";
import type protobuf from "protobufjs";

/** The scalar kinds the codec supports; a message using another kind is refused at load. */
type Kind =
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool"
  | "string"
  | "bytes"
  | "enum"
  | "message";

const VARINT = 0;
const LEN = 2;

interface FieldSpec {
  readonly id: number;
  readonly name: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  /** proto3 `optional`: absent from decoded objects unless present, plus `_name`. */
  readonly optionalKey: string | null;
  /** The tag written before each value (for packed repeated scalars, the packed tag). */
  readonly tag: number;
  readonly enumNames: ReadonlyMap<number, string> | null;
  readonly enumValues: ReadonlyMap<string, number> | null;
  message: MessageSpec | null;
}

/** One message's field table. */
export interface MessageSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  /** Fields by number (sparse). */
  readonly byId: readonly (FieldSpec | undefined)[];
}

const SCALARS: ReadonlySet<string> = new Set([
  "int32",
  "uint32",
  "int64",
  "uint64",
  "bool",
  "string",
  "bytes",
]);

/**
 * The field table of `type` and of every message it contains (cached per type).
 * @throws Error when a field has a kind this codec does not implement (a proto change that
 * needs code here, caught by the tests at load time).
 */
export function messageSpec(type: protobuf.Type): MessageSpec {
  return specOf(type, new Map());
}

function specOf(type: protobuf.Type, seen: Map<protobuf.Type, MessageSpec>): MessageSpec {
  const cached = seen.get(type);
  if (cached !== undefined) return cached;
  const fields: FieldSpec[] = [];
  const byId: (FieldSpec | undefined)[] = [];
  const spec: MessageSpec = { name: type.fullName, fields, byId };
  seen.set(type, spec);
  const pending: [FieldSpec, protobuf.Type][] = [];
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.map) throw new Error(`${type.fullName}.${field.name}: map fields are not supported`);
    const resolved = field.resolvedType;
    let kind: Kind;
    let enumNames: Map<number, string> | null = null;
    let enumValues: Map<string, number> | null = null;
    if (resolved !== null && "fieldsArray" in resolved) kind = "message";
    else if (resolved !== null) {
      kind = "enum";
      enumValues = new Map(Object.entries(resolved.values));
      enumNames = new Map([...enumValues].map(([name, value]) => [value, name]));
    } else if (SCALARS.has(field.type)) kind = field.type as Kind;
    else throw new Error(`${type.fullName}.${field.name}: type ${field.type} is not supported`);
    const packed = field.repeated && kind !== "message" && kind !== "string" && kind !== "bytes";
    const wire =
      kind === "message" || kind === "string" || kind === "bytes" || packed ? LEN : VARINT;
    const synthetic = field.partOf !== null && field.partOf.name === `_${field.name}`;
    if (field.partOf !== null && !synthetic)
      throw new Error(`${type.fullName}.${field.name}: oneof fields are not supported`);
    const entry: FieldSpec = {
      id: field.id,
      name: field.name,
      kind,
      repeated: field.repeated,
      optionalKey: synthetic ? `_${field.name}` : null,
      tag: (field.id << 3) | wire,
      enumNames,
      enumValues,
      message: null,
    };
    if (kind === "message") pending.push([entry, resolved as protobuf.Type]);
    fields.push(entry);
    byId[field.id] = entry;
  }
  for (const [entry, child] of pending) entry.message = specOf(child, seen);
  // protobufjs writes fields in field-number order, whatever the declaration order.
  fields.sort((a, b) => a.id - b.id);
  return spec;
}

// ------------------------------------------------------------------------------------------
// Decoding

const EMPTY = Buffer.alloc(0);

class Reader {
  pos = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /**
   * A varint's low 32 bits, unsigned (tags, lengths, int32, enums, bools). As protobufjs
   * reads it, so the same bytes are accepted and refused: after a fifth byte that continues,
   * the next five bytes are skipped unread (the high half of a negative int32).
   */
  uint32(end: number): number {
    const buf = this.buf;
    let result = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= end) throw new RangeError("truncated varint");
      const byte = buf[this.pos++] as number;
      result |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) return result >>> 0;
    }
    if (this.pos + 5 > end) throw new RangeError("truncated varint");
    this.pos += 5;
    return result >>> 0;
  }

  /** An int64/uint64 as the decimal string proto-loader gives (longs: String). */
  int64(end: number, signed: boolean): string {
    const start = this.pos;
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    // Seven bytes (49 bits) are exact in a double; longer varints take the bigint path.
    for (let i = 0; i < 7; i++) {
      if (this.pos >= end) throw new RangeError("truncated varint");
      const byte = buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return String(value);
      scale *= 128;
    }
    this.pos = start;
    let big = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new RangeError("truncated varint");
      const byte = buf[this.pos++] as number;
      big |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80)
        return (signed ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big)).toString();
    }
    throw new RangeError("varint longer than 10 bytes");
  }

  /** The end of a length-delimited value starting here, checked against `end`. */
  lengthEnd(end: number): number {
    const length = this.uint32(end);
    const valueEnd = this.pos + length;
    if (valueEnd > end) throw new RangeError(`length ${length} runs past the end of its message`);
    return valueEnd;
  }

  skip(wireType: number, end: number): void {
    switch (wireType) {
      case 0:
        // Any number of continuation bytes, as protobufjs skips them.
        do if (this.pos >= end) throw new RangeError("truncated varint");
        while ((this.buf[this.pos++] as number) >= 0x80);
        return;
      case 1:
        this.advance(8, end);
        return;
      case 2:
        this.pos = this.lengthEnd(end);
        return;
      case 5:
        this.advance(4, end);
        return;
      case 3:
        for (;;) {
          const tag = this.uint32(end);
          if ((tag & 7) === 4) return;
          this.skip(tag & 7, end);
        }
      default:
        throw new RangeError(`invalid wire type ${wireType}`);
    }
  }

  private advance(count: number, end: number): void {
    if (this.pos + count > end) throw new RangeError("truncated fixed-width field");
    this.pos += count;
  }
}

/**
 * Decodes `bytes` as `spec`'s message, as proto-loader's deserializer would (see the module
 * comment); `bytes` fields are subarrays of `bytes`.
 * @throws RangeError on malformed input
 */
export function decodeMessage(spec: MessageSpec, bytes: Uint8Array): Record<string, unknown> {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new Reader(buf);
  return decodeFields(spec, reader, buf.length);
}

function defaults(spec: MessageSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of spec.fields) {
    if (field.optionalKey !== null) continue;
    out[field.name] = field.repeated ? [] : defaultValue(field);
  }
  return out;
}

function defaultValue(field: FieldSpec): unknown {
  switch (field.kind) {
    case "int32":
    case "uint32":
      return 0;
    case "int64":
    case "uint64":
      return "0";
    case "bool":
      return false;
    case "string":
      return "";
    case "bytes":
      return EMPTY;
    case "enum":
      return field.enumNames?.get(0) ?? 0;
    case "message":
      return null;
  }
}

function decodeFields(spec: MessageSpec, reader: Reader, end: number): Record<string, unknown> {
  const out = defaults(spec);
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    const wireType = tag & 7;
    const field = spec.byId[tag >>> 3];
    if (field === undefined) {
      reader.skip(wireType, end);
      continue;
    }
    if (field.repeated) decodeRepeated(field, reader, wireType, end, out[field.name] as unknown[]);
    else {
      expectWireType(spec, field, wireType, field.tag & 7);
      out[field.name] = decodeValue(field, reader, end);
      if (field.optionalKey !== null) out[field.optionalKey] = field.name;
    }
  }
  return out;
}

function decodeRepeated(
  field: FieldSpec,
  reader: Reader,
  wireType: number,
  end: number,
  into: unknown[],
): void {
  const packable = field.kind !== "message" && field.kind !== "string" && field.kind !== "bytes";
  if (packable && wireType === LEN) {
    const packedEnd = reader.lengthEnd(end);
    while (reader.pos < packedEnd) into.push(decodeValue(field, reader, packedEnd));
    return;
  }
  if (wireType !== (packable ? VARINT : LEN))
    throw new RangeError(`field ${field.name} has wire type ${wireType}`);
  into.push(decodeValue(field, reader, end));
}

function expectWireType(spec: MessageSpec, field: FieldSpec, got: number, want: number): void {
  if (got !== want)
    throw new RangeError(`${spec.name}.${field.name} has wire type ${got}, expected ${want}`);
}

function decodeValue(field: FieldSpec, reader: Reader, end: number): unknown {
  switch (field.kind) {
    case "int32":
      return reader.uint32(end) | 0;
    case "uint32":
      return reader.uint32(end);
    case "int64":
      return reader.int64(end, true);
    case "uint64":
      return reader.int64(end, false);
    case "bool":
      return reader.uint32(end) !== 0;
    case "enum": {
      const value = reader.uint32(end) | 0;
      return field.enumNames?.get(value) ?? value;
    }
    case "string": {
      const valueEnd = reader.lengthEnd(end);
      const text = reader.buf.toString("utf8", reader.pos, valueEnd);
      reader.pos = valueEnd;
      return text;
    }
    case "bytes": {
      const valueEnd = reader.lengthEnd(end);
      const bytes = valueEnd === reader.pos ? EMPTY : reader.buf.subarray(reader.pos, valueEnd);
      reader.pos = valueEnd;
      return bytes;
    }
    case "message": {
      const valueEnd = reader.lengthEnd(end);
      const message = decodeFields(field.message as MessageSpec, reader, valueEnd);
      reader.pos = valueEnd;
      return message;
    }
  }
}

// ------------------------------------------------------------------------------------------
// Encoding: a sizing pass records each nested message's length (pre-order), the writing pass
// consumes them in the same order into one buffer of the exact size.

/**
 * Encodes `value` as `spec`'s message, byte for byte as protobufjs's `encode(fromObject())`
 * (see the module comment); each `bytes` field is copied once, into the returned buffer.
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

/** An int64/uint64 input as fromObject accepts it: a non-negative safe number, or a bigint. */
function int64Input(value: unknown, unsigned: boolean): number | bigint {
  if (typeof value === "number") {
    const whole = Number.isFinite(value) ? Math.trunc(value) : 0;
    if (whole >= 0 && Number.isSafeInteger(whole)) return whole;
    // Long.fromNumber saturates outside the int64 range.
    const clamped = Math.min(Math.max(whole, -(2 ** 63)), 2 ** 63 - 1024);
    return BigInt.asUintN(64, BigInt(clamped));
  }
  if (typeof value === "string") {
    if (value.length <= 15 && /^\d+$/.test(value)) return Number(value);
    return BigInt.asUintN(64, BigInt(value));
  }
  if (typeof value === "bigint") return BigInt.asUintN(64, value);
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

function sizeFields(spec: MessageSpec, value: Record<string, unknown>, sizes: number[]): number {
  let size = 0;
  for (const field of spec.fields) {
    const v = value[field.name];
    if (v == null) continue;
    const tagSize = varintSize(field.tag);
    if (field.repeated) {
      if (!Array.isArray(v)) throw new TypeError(`.${field.name}: array expected`);
      if (v.length === 0) continue;
      if (field.kind === "message") {
        for (const item of v) size += tagSize + sizeMessageValue(field, item, sizes);
      } else if ((field.tag & 7) === LEN && field.kind !== "string" && field.kind !== "bytes") {
        let packed = 0;
        for (const item of v) packed += scalarSize(field, item);
        sizes.push(packed);
        size += tagSize + varintSize(packed) + packed;
      } else for (const item of v) size += tagSize + scalarSize(field, item);
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
      this.bigVarint(BigInt.asUintN(64, BigInt(value)));
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
  for (const field of spec.fields) {
    const v = value[field.name];
    if (v == null) continue;
    if (field.repeated) {
      const items = v as unknown[];
      if (items.length === 0) continue;
      if (field.kind === "message") {
        for (const item of items) {
          writer.varint(field.tag);
          writeMessageValue(field, item, writer);
        }
      } else if ((field.tag & 7) === LEN && field.kind !== "string" && field.kind !== "bytes") {
        writer.varint(field.tag);
        writer.varint(writer.nextSize());
        for (const item of items) writeScalar(field, item, writer);
      } else
        for (const item of items) {
          writer.varint(field.tag);
          writeScalar(field, item, writer);
        }
      continue;
    }
    if (field.kind === "enum" && enumInput(field, v) === null) continue;
    writer.varint(field.tag);
    if (field.kind === "message") writeMessageValue(field, v, writer);
    else writeScalar(field, v, writer);
  }
}
