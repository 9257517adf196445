// Goal: BatchHeaderView reads every header field of real client batches without decoding
// records, stamping baseOffset/epoch keeps the CRC valid, validate() rejects bad magic, bad
// CRC, short lengths and truncation, and iterateBatches stops cleanly at a partial tail.
import { describe, expect, it } from "vitest";
import {
  BatchHeaderView,
  CorruptBatchError,
  crc32c,
  iterateBatches,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_MAGIC,
  scanBatches,
} from "../src/index.ts";
import { batchVector, loadBatchVectors, vectorBytes } from "./vectors.ts";

const CODECS: Record<string, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

describe("BatchHeaderView on client vectors", () => {
  for (const v of loadBatchVectors()) {
    it(`${v.name}: every getter matches`, () => {
      const bytes = vectorBytes(v);
      const view = new BatchHeaderView(bytes).validate();
      const e = v.expect;
      expect(view.baseOffset).toBe(BigInt(e.baseOffset));
      expect(view.batchLength).toBe(e.batchLength);
      expect(view.sizeBytes).toBe(bytes.length);
      expect(view.partitionLeaderEpoch).toBe(e.partitionLeaderEpoch);
      expect(view.magic).toBe(e.magic);
      expect(view.crc).toBe(e.crc);
      expect(view.computeCrc()).toBe(e.crc);
      expect(view.compressionCodec).toBe(CODECS[e.compression]);
      expect(view.isTransactional).toBe(e.transactional);
      expect(view.isControl).toBe(false);
      expect(view.isLogAppendTime).toBe(false);
      expect(view.lastOffsetDelta).toBe(e.lastOffsetDelta);
      expect(view.lastOffset).toBe(BigInt(e.baseOffset) + BigInt(e.lastOffsetDelta));
      expect(view.nextOffset).toBe(view.lastOffset + 1n);
      expect(view.baseTimestamp).toBe(BigInt(e.baseTimestamp));
      expect(view.maxTimestamp).toBe(BigInt(e.maxTimestamp));
      expect(view.producerId).toBe(BigInt(e.producerId));
      expect(view.producerEpoch).toBe(e.producerEpoch);
      expect(view.baseSequence).toBe(e.baseSequence);
      expect(view.recordCount).toBe(e.recordCount);
      expect(view.bytes().equals(bytes)).toBe(true);
    });
  }
});

describe("stamping", () => {
  it("setBaseOffset and setPartitionLeaderEpoch keep the CRC valid", () => {
    const bytes = vectorBytes(batchVector("idempotent"));
    const view = new BatchHeaderView(bytes);
    view.setBaseOffset(9_007_199_254_740_993n);
    view.setPartitionLeaderEpoch(2_000_000_000);
    expect(view.validate().baseOffset).toBe(9_007_199_254_740_993n);
    expect(view.partitionLeaderEpoch).toBe(2_000_000_000);
    expect(view.crc).toBe(crc32c(bytes.subarray(21)));
  });

  it("stamps a batch in the middle of a larger buffer without touching its neighbours", () => {
    const a = vectorBytes(batchVector("single-record"));
    const buf = Buffer.concat([a, a, a]);
    const view = new BatchHeaderView(buf, a.length);
    view.setBaseOffset(77n);
    expect(buf.subarray(0, a.length).equals(a)).toBe(true);
    expect(buf.subarray(2 * a.length).equals(a)).toBe(true);
    expect(scanBatches(buf).batches.map((b) => b.baseOffset)).toEqual([0n, 77n, 0n]);
  });
});

describe("validate rejects", () => {
  const good = () => vectorBytes(batchVector("headers"));

  it("bad magic", () => {
    for (const magic of [0, 1, 3, 0xff]) {
      const bytes = good();
      bytes[OFFSET_MAGIC] = magic;
      expect(() => new BatchHeaderView(bytes).validate()).toThrow(/magic/);
    }
  });

  it("a bad CRC, and a flipped bit after the header", () => {
    const bytes = good();
    bytes.writeUInt32BE((bytes.readUInt32BE(OFFSET_CRC) + 1) >>> 0, OFFSET_CRC);
    expect(() => new BatchHeaderView(bytes).validate()).toThrow(/CRC/);
    const flipped = good();
    flipped[flipped.length - 1]! ^= 0x01;
    expect(() => new BatchHeaderView(flipped).validate()).toThrow(CorruptBatchError);
    // framing alone does not look at the CRC
    expect(() => new BatchHeaderView(flipped).validateFraming()).not.toThrow();
  });

  it("batchLength below the header size, and negative", () => {
    for (const length of [0, 48, -1, -2147483648]) {
      const bytes = good();
      bytes.writeInt32BE(length, OFFSET_BATCH_LENGTH);
      expect(() => new BatchHeaderView(bytes).validate()).toThrow(CorruptBatchError);
    }
  });

  it("truncation at every length", () => {
    const bytes = good();
    for (let n = 0; n < bytes.length; n++) {
      expect(() => new BatchHeaderView(bytes.subarray(0, n)).validate()).toThrow(CorruptBatchError);
    }
  });

  it("a recordCount that cannot fit in the bytes of an uncompressed batch", () => {
    const bytes = good();
    bytes.writeInt32BE(1_000_000, 57);
    bytes.writeUInt32BE(crc32c(bytes.subarray(21)), OFFSET_CRC);
    expect(() => new BatchHeaderView(bytes).validate()).toThrow(/recordCount/);
  });
});

describe("iterateBatches", () => {
  const names = ["single-record", "librdkafka-zstd", "offset-and-epoch", "gzip"];
  const parts = names.map((n) => vectorBytes(batchVector(n)));
  const all = Buffer.concat(parts);

  it("yields each of several concatenated batches", () => {
    const views = [...iterateBatches(all)];
    expect(views.map((v) => v.baseOffset)).toEqual([0n, 0n, 123456789012n, 100n]);
    expect(views.map((v) => v.sizeBytes)).toEqual(parts.map((p) => p.length));
  });

  it("stops cleanly at a partial tail of any length", () => {
    const complete = parts[0]!.length + parts[1]!.length + parts[2]!.length;
    for (let cut = complete; cut < all.length; cut++) {
      const scan = scanBatches(all.subarray(0, cut));
      expect(scan.batches.length).toBe(3);
      expect(scan.validBytes).toBe(complete);
      expect(scan.partialTail).toBe(cut > complete);
    }
  });

  it("throws CorruptBatchError on a complete batch with a bad CRC, unless told not to check", () => {
    const bytes = Buffer.from(all);
    bytes[parts[0]!.length + 70]! ^= 0xff;
    expect(() => [...iterateBatches(bytes)]).toThrow(CorruptBatchError);
    expect([...iterateBatches(bytes, { verifyCrc: false })].length).toBe(4);
  });
});
