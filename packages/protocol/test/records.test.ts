// Goal: the records-section decoder rejects each way a record can lie about its size (a
// declared length that differs from what its fields consume, lengths past the end, counts
// that cannot fit, trailing bytes, null header keys) with InvalidRecordError, before
// allocating anything the bytes do not back.
import { describe, expect, it } from "vitest";
import { decodeRecords, encodeRecords, InvalidRecordError } from "../src/index.ts";

const context = { baseOffset: 10n, baseTimestamp: 1000n, logAppendTime: null };
const decode = (hex: string, count: number) =>
  decodeRecords(Buffer.from(hex, "hex"), count, context);

describe("decodeRecords", () => {
  it("decodes a minimal record: null key, null value, no headers", () => {
    const [r] = decode("0c0000000101" + "00", 1);
    expect(r).toMatchObject({ offset: 10n, timestamp: 1000n, key: null, value: null, headers: [] });
  });

  it("encodeRecords writes the same minimal record", () => {
    expect(encodeRecords([{ key: null, value: null }]).toString("hex")).toBe("0c000000010100");
  });

  it("decodes an empty key, an empty value, a null header value and a repeated header key", () => {
    const bytes = encodeRecords([
      {
        key: Buffer.alloc(0),
        value: Buffer.alloc(0),
        headers: [
          { key: "k", value: null },
          { key: "k", value: Buffer.from("v") },
        ],
      },
    ]);
    const [r] = decodeRecords(bytes, 1, context);
    expect(r!.key!.length).toBe(0);
    expect(r!.value!.length).toBe(0);
    expect(r!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ["k", null],
      ["k", "v"],
    ]);
  });

  const bad: [string, string, number][] = [
    ["declared length longer than its fields", "0e000000010100" + "00", 1],
    ["declared length shorter than its fields", "0a000000010100", 1],
    ["record length past the end", "7f000000010100", 1],
    ["negative record length", "01000000010100", 1],
    ["key length past the record", "0e0000000a01" + "0000", 1],
    ["key length below -1", "0c0000000301" + "00", 1],
    ["header count that cannot fit", "0c00000001017f", 1],
    ["negative header count", "0c000000010101", 1],
    ["null header key", "1000000001010201" + "01", 1],
    ["recordCount larger than the bytes allow", "0c000000010100", 2],
    ["bytes after the declared records", "0c000000010100" + "0c000000010100", 1],
    ["truncated varint", "0c0000000101", 1],
  ];
  for (const [what, hex, count] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => decode(hex, count)).toThrow(InvalidRecordError);
    });
  }

  it("rejects a recordCount of millions before allocating an array for it", () => {
    expect(() => decode("0c000000010100", 2_000_000_000)).toThrow(/cannot fit/);
  });
});
