// Goal: properties that must hold for any input, checked with fast-check in bounded runs:
// encode/decode round-trips arbitrary batches with every codec; any single changed byte in
// the CRC-covered region fails validate(); any truncation stops iteration cleanly; and
// arbitrary or mutated bytes only ever raise a typed StrandError (never another exception,
// never a hang), even when the CRC is fixed up so the record decoder sees the garbage.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BatchHeaderView,
  COMPRESSION_NAMES,
  CorruptBatchError,
  CRC_START,
  crc32c,
  type DecodedRecord,
  decodeRecordBatch,
  encodeRecordBatch,
  OFFSET_CRC,
  type RecordBatchInput,
  type RecordInput,
  StrandError,
  scanBatches,
} from "../src/index.ts";

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const int32 = fc.integer({ min: -2147483648, max: 2147483647 });
const bytesOrNull = fc.option(
  fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u)),
  { nil: null },
);
const header = fc.record({
  key: fc.string({ unit: "grapheme", maxLength: 8 }),
  value: bytesOrNull,
});
const record: fc.Arbitrary<RecordInput> = fc.record(
  {
    offsetDelta: fc.integer({ min: 0, max: 2147483647 }),
    timestampDelta: fc.bigInt({ min: -(1n << 61n), max: 1n << 61n }),
    attributes: fc.integer({ min: -128, max: 127 }),
    key: bytesOrNull,
    value: bytesOrNull,
    headers: fc.array(header, { maxLength: 4 }),
  },
  { requiredKeys: ["key", "value"] },
);
const batch: fc.Arbitrary<RecordBatchInput> = fc.record(
  {
    baseOffset: int64,
    partitionLeaderEpoch: int32,
    compression: fc.constantFrom(...COMPRESSION_NAMES),
    timestampType: fc.constantFrom("CreateTime" as const, "LogAppendTime" as const),
    isTransactional: fc.boolean(),
    isControl: fc.boolean(),
    baseTimestamp: fc.bigInt({ min: -(1n << 61n), max: 1n << 61n }),
    producerId: int64,
    producerEpoch: fc.integer({ min: -32768, max: 32767 }),
    baseSequence: int32,
    records: fc.array(record, { maxLength: 12 }),
  },
  { requiredKeys: ["baseTimestamp", "records"] },
);

function hex(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b).toString("hex");
}

function normalRecord(r: RecordInput | DecodedRecord, index: number) {
  return {
    offsetDelta: r.offsetDelta ?? index,
    timestampDelta: r.timestampDelta ?? 0n,
    attributes: r.attributes ?? 0,
    key: hex(r.key),
    value: hex(r.value),
    headers: (r.headers ?? []).map((h) => ({ key: h.key, value: hex(h.value) })),
  };
}

/** Runs `fn`; a thrown StrandError is an accepted outcome, any other exception fails. */
function typedOrOk(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof StrandError)) {
      throw error;
    }
  }
}

function fixCrc(buf: Buffer): Buffer {
  if (buf.length >= CRC_START) {
    buf.writeUInt32BE(crc32c(buf.subarray(CRC_START)), OFFSET_CRC);
  }
  return buf;
}

describe("properties", () => {
  it("encode then decode returns the batch, for every codec", () => {
    fc.assert(
      fc.property(batch, (input) => {
        const bytes = encodeRecordBatch(input);
        const out = decodeRecordBatch(bytes);
        expect(out.sizeBytes).toBe(bytes.length);
        expect(out.baseOffset).toBe(input.baseOffset ?? 0n);
        expect(out.partitionLeaderEpoch).toBe(input.partitionLeaderEpoch ?? -1);
        expect(out.compression).toBe(input.compression ?? "none");
        expect(out.timestampType).toBe(input.timestampType ?? "CreateTime");
        expect(out.isTransactional).toBe(input.isTransactional ?? false);
        expect(out.isControl).toBe(input.isControl ?? false);
        expect(out.baseTimestamp).toBe(input.baseTimestamp);
        expect(out.producerId).toBe(input.producerId ?? -1n);
        expect(out.producerEpoch).toBe(input.producerEpoch ?? -1);
        expect(out.baseSequence).toBe(input.baseSequence ?? -1);
        expect(out.recordCount).toBe(input.records.length);
        expect(out.records.map(normalRecord)).toEqual(input.records.map(normalRecord));
        // and the decoded form re-encodes to the same bytes
        expect(encodeRecordBatch(out).equals(bytes)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("any single changed byte in the CRC-covered region fails validate()", () => {
    fc.assert(
      fc.property(batch, fc.nat(), fc.integer({ min: 1, max: 255 }), (input, at, xor) => {
        const bytes = encodeRecordBatch(input);
        const index = CRC_START + (at % (bytes.length - CRC_START));
        bytes[index]! ^= xor;
        expect(() => new BatchHeaderView(bytes).validate()).toThrow(CorruptBatchError);
      }),
      { numRuns: 500 },
    );
  });

  it("any truncation of concatenated batches stops iteration cleanly after the complete ones", () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 3 }), fc.nat(), (inputs, at) => {
        const parts = inputs.map((b) => encodeRecordBatch(b));
        const all = Buffer.concat(parts);
        const cut = at % (all.length + 1);
        const scan = scanBatches(all.subarray(0, cut));
        let complete = 0;
        let bytes = 0;
        for (const p of parts) {
          if (bytes + p.length > cut) break;
          bytes += p.length;
          complete++;
        }
        expect(scan.batches.length).toBe(complete);
        expect(scan.validBytes).toBe(bytes);
        if (cut < all.length) {
          const last = parts[complete]!;
          const partial = all.subarray(bytes, cut);
          expect(partial.length).toBeLessThan(last.length);
          expect(() => decodeRecordBatch(partial)).toThrow(CorruptBatchError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("arbitrary bytes give a typed error or a clean stop", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (raw, crcFixed) => {
        const buf = Buffer.from(raw);
        if (crcFixed) fixCrc(buf);
        typedOrOk(() => scanBatches(buf));
        typedOrOk(() => decodeRecordBatch(buf));
        typedOrOk(() => decodeRecordBatch(buf, { verifyCrc: false }));
      }),
      { numRuns: 1000 },
    );
  });

  it("mutated valid batches with a fixed-up CRC give a typed error or decode", () => {
    const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(batch, mutation, fc.nat({ max: 7 }), (input, edits, codec) => {
        const bytes = encodeRecordBatch(input);
        for (const [at, value] of edits) {
          bytes[12 + (at % (bytes.length - 12))] = value;
        }
        // Steer the codec bits half of the time, so each decompressor sees garbage.
        if (codec < 5 || codec === 7) bytes[22] = (bytes[22]! & ~7) | codec;
        fixCrc(bytes);
        typedOrOk(() => decodeRecordBatch(bytes));
        typedOrOk(() => decodeRecordBatch(bytes, { maxDecompressedBytes: 64 }));
      }),
      { numRuns: 800 },
    );
  });
});
