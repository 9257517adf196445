// Goal: inspectBatchRecords (the leader's record check) accepts every Kafka client vector,
// refuses unknown codecs, records that disagree with the header, keyless records when keys are
// required (compacted topics), and oversized decompressed
// sections with the right typed error, and walkRecords agrees with the full record decoder
// on any single-byte mutation of a valid section (it never accepts what decoding refuses).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BATCH_HEADER_BYTES,
  BatchHeaderView,
  CorruptBatchError,
  decodeRecords,
  encodeRecordBatch,
  encodeRecords,
  InvalidRecordError,
  inspectBatchRecords,
  UnsupportedCompressionError,
  walkRecords,
} from "../src/index.ts";
import { loadBatchVectors, vectorBytes } from "./vectors.ts";

const records = Array.from({ length: 5 }, (_, i) => ({
  key: Buffer.from(`key-${i}`),
  value: Buffer.alloc(20, i),
  headers: i % 2 === 0 ? [{ key: "h", value: Buffer.from("v") }] : [],
}));

describe("inspectBatchRecords", () => {
  for (const v of loadBatchVectors()) {
    it(`accepts the ${v.name} vector`, () => {
      expect(() => inspectBatchRecords(new BatchHeaderView(vectorBytes(v)))).not.toThrow();
    });
  }

  it("refuses codec 5 with UnsupportedCompressionError", () => {
    const batch = encodeRecordBatch({ baseTimestamp: 0n, records });
    batch.writeInt16BE(5, 21);
    expect(() => inspectBatchRecords(new BatchHeaderView(batch))).toThrow(
      UnsupportedCompressionError,
    );
  });

  it("refuses a section that decompresses past the limit with CorruptBatchError", () => {
    const batch = encodeRecordBatch({ baseTimestamp: 0n, records, compression: "zstd" });
    expect(() =>
      inspectBatchRecords(new BatchHeaderView(batch), { maxDecompressedBytes: 64 }),
    ).toThrow(CorruptBatchError);
  });

  it("with requireKeys refuses a keyless record, compressed or not", () => {
    for (const compression of ["none", "gzip"] as const) {
      const keyed = encodeRecordBatch({ baseTimestamp: 0n, records, compression });
      expect(() =>
        inspectBatchRecords(new BatchHeaderView(keyed), { requireKeys: true }),
      ).not.toThrow();
      const keyless = encodeRecordBatch({
        baseTimestamp: 0n,
        compression,
        records: [...records, { key: null, value: Buffer.from("x") }],
      });
      expect(() => inspectBatchRecords(new BatchHeaderView(keyless))).not.toThrow();
      expect(() =>
        inspectBatchRecords(new BatchHeaderView(keyless), { requireKeys: true }),
      ).toThrow(/record 5 has no key/);
    }
  });

  it("refuses a header count that the records do not match", () => {
    const batch = encodeRecordBatch({ baseTimestamp: 0n, records, compression: "lz4" });
    batch.writeInt32BE(3, 23); // lastOffsetDelta
    batch.writeInt32BE(4, 57); // recordCount: one record too few
    expect(() => inspectBatchRecords(new BatchHeaderView(batch))).toThrow(InvalidRecordError);
  });
});

describe("walkRecords", () => {
  const section = encodeRecords(records);
  const context = { baseOffset: 0n, baseTimestamp: 0n, logAppendTime: null };

  it("accepts the encoder's section and refuses a wrong count", () => {
    expect(() => walkRecords(section, 5)).not.toThrow();
    expect(() => walkRecords(section, 4)).toThrow(InvalidRecordError);
    expect(() => walkRecords(section, 6)).toThrow(InvalidRecordError);
  });

  it("never accepts a mutation that the full decoder refuses", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: section.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        (at, byte) => {
          const mutated = Buffer.from(section);
          mutated[at] = byte;
          let decoded = true;
          try {
            const out = decodeRecords(mutated, 5, context);
            decoded = out.every((r, i) => r.offsetDelta === i);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidRecordError);
            decoded = false;
          }
          let walked = true;
          try {
            walkRecords(mutated, 5);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidRecordError);
            walked = false;
          }
          expect(walked).toBe(decoded);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("checks the sections of real batches too (header offset 61)", () => {
    const batch = encodeRecordBatch({ baseTimestamp: 0n, records });
    expect(() => walkRecords(batch.subarray(BATCH_HEADER_BYTES), 5)).not.toThrow();
  });
});
