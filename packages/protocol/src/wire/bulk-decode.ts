/**
 * The bulk codec's reader (see bulk-codec.ts for the contract): bytes to the plain object
 * proto-loader would give, with `bytes` fields as views of the input.
 */
import { Buffer } from "node:buffer";
import { type FieldSpec, LEN, type MessageSpec, VARINT } from "./bulk-spec.ts";

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

/** A message's default fields: the scalars as one template, the repeated fields' names. */
interface Defaults {
  readonly template: Record<string, unknown>;
  readonly repeated: readonly string[];
}

const defaultsBySpec = new WeakMap<MessageSpec, Defaults>();

/**
 * A fresh object of `spec`'s defaults. Cloning a template made once per spec gives every
 * message one object of its final shape, where adding the fields one by one would grow
 * (reallocate) its property store several times; this runs for every decoded message.
 */
function defaults(spec: MessageSpec): Record<string, unknown> {
  let d = defaultsBySpec.get(spec);
  if (d === undefined) {
    const template: Record<string, unknown> = {};
    const repeated: string[] = [];
    for (const field of spec.fields) {
      if (field.optionalKey !== null) continue;
      if (field.repeated) repeated.push(field.name);
      // Placeholder in field order so the clone keeps protobuf's key order.
      template[field.name] = field.repeated ? null : defaultValue(field);
    }
    d = { template, repeated };
    defaultsBySpec.set(spec, d);
  }
  const out = { ...d.template };
  for (let i = 0; i < d.repeated.length; i++) out[d.repeated[i]!] = [];
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
