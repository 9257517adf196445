// Goal: zig-zag varints and varlongs encode as Kafka's ByteUtils does, round-trip every
// int32/int64, and reject overlong, out-of-range and truncated input with InvalidRecordError.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ByteReader,
  InvalidRecordError,
  readVarint,
  readVarlong,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
} from "../src/index.ts";

function encodeVarint(v: number): string {
  const buf = Buffer.alloc(varintSize(v));
  expect(writeVarint(buf, 0, v)).toBe(buf.length);
  return buf.toString("hex");
}

function encodeVarlong(v: bigint): string {
  const buf = Buffer.alloc(varlongSize(v));
  expect(writeVarlong(buf, 0, v)).toBe(buf.length);
  return buf.toString("hex");
}

describe("varint (int32)", () => {
  const known: [number, string][] = [
    [0, "00"],
    [-1, "01"],
    [1, "02"],
    [63, "7e"],
    [-64, "7f"],
    [64, "8001"],
    [300, "d804"],
    [2147483647, "feffffff0f"],
    [-2147483648, "ffffffff0f"],
  ];
  for (const [value, hex] of known) {
    it(`${value} <-> ${hex}`, () => {
      expect(encodeVarint(value)).toBe(hex);
      expect(readVarint(Buffer.from(hex, "hex"))).toEqual({ value, next: hex.length / 2 });
    });
  }

  it("round-trips every int32", () => {
    fc.assert(
      fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (v) => {
        const buf = Buffer.from(encodeVarint(v), "hex");
        expect(readVarint(buf)).toEqual({ value: v, next: buf.length });
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects more than 5 bytes, bits beyond 32 and truncation", () => {
    for (const hex of ["808080808000", "ffffffff1f", "ffffffff7f", "80", "", "ffff"]) {
      expect(() => readVarint(Buffer.from(hex, "hex")), hex).toThrow(InvalidRecordError);
    }
  });

  it("accepts non-minimal encodings as Kafka does", () => {
    expect(readVarint(Buffer.from("8000", "hex"))).toEqual({ value: 0, next: 2 });
  });

  it("refuses to encode a value outside int32", () => {
    for (const v of [2147483648, -2147483649, 1.5, Number.NaN]) {
      expect(() => writeVarint(Buffer.alloc(10), 0, v)).toThrow(InvalidRecordError);
    }
  });
});

describe("varlong (int64)", () => {
  const known: [bigint, string][] = [
    [0n, "00"],
    [-1n, "01"],
    [1n, "02"],
    [1700000000000n, "80a0abfef962"],
    [(1n << 62n) - 1n, "feffffffffffffff7f"],
    [(1n << 63n) - 1n, "feffffffffffffffff01"],
    [-(1n << 63n), "ffffffffffffffffff01"],
  ];
  for (const [value, hex] of known) {
    it(`${value} <-> ${hex}`, () => {
      expect(encodeVarlong(value)).toBe(hex);
      expect(readVarlong(Buffer.from(hex, "hex"))).toEqual({ value, next: hex.length / 2 });
    });
  }

  it("round-trips every int64, on both sides of the 49-bit fast path", () => {
    const arb = fc.oneof(
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      fc.bigInt({ min: -(1n << 50n), max: 1n << 50n }),
      fc.bigInt({ min: -1000n, max: 1000n }),
    );
    fc.assert(
      fc.property(arb, (v) => {
        const buf = Buffer.from(encodeVarlong(v), "hex");
        expect(readVarlong(buf)).toEqual({ value: v, next: buf.length });
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects more than 10 bytes, bits beyond 64 and truncation", () => {
    for (const hex of ["8080808080808080808000", "ffffffffffffffffff02", "ffffffffffffff", "80"]) {
      expect(() => readVarlong(Buffer.from(hex, "hex")), hex).toThrow(InvalidRecordError);
    }
  });

  it("refuses to encode a value outside int64", () => {
    expect(() => writeVarlong(Buffer.alloc(12), 0, 1n << 63n)).toThrow(InvalidRecordError);
  });
});

describe("ByteReader", () => {
  it("never reads past its end, even when the buffer goes on", () => {
    const reader = new ByteReader(Buffer.from("0280010203", "hex"), 0, 2);
    expect(reader.readVarint()).toBe(1);
    expect(() => reader.readVarint()).toThrow(InvalidRecordError);
    expect(() => reader.skip(2)).toThrow(InvalidRecordError);
    expect(() => reader.skip(-1)).toThrow(InvalidRecordError);
  });
});
