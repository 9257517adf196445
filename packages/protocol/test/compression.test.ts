// Goal: each Kafka codec decodes what real clients write (both snappy framings, LZ4 frames
// as librdkafka and Java write them), encodes as the Java client does, bounds its output
// against zip bombs, and unknown codecs raise UnsupportedCompressionError.
import { gzipSync, zstdCompressSync } from "node:zlib";
import { compressFrameSync } from "lz4-napi";
import { compressSync as snappyRaw } from "snappy";
import { describe, expect, it } from "vitest";
import {
  COMPRESSION_NAMES,
  CorruptBatchError,
  compress,
  compressionName,
  crc32c,
  decodeRecordBatch,
  decompress,
  encodeRecordBatch,
  UnsupportedCompressionError,
  XERIAL_CHUNK_BYTES,
  XERIAL_MAGIC,
} from "../src/index.ts";
import { batchVector, vectorBytes } from "./vectors.ts";

const recordsSection = () => vectorBytes(batchVector("librdkafka-none")).subarray(61);
const jsonish = (bytes: number) =>
  Buffer.from(
    Array.from(
      { length: Math.ceil(bytes / 20) },
      (_, i) => `{"id":${i},"event":"click","n":${i % 7}}`,
    ).join(""),
  ).subarray(0, bytes);

describe("round trips", () => {
  for (const codec of COMPRESSION_NAMES) {
    it(`${codec}: empty, small and multi-chunk inputs`, () => {
      for (const input of [Buffer.alloc(0), recordsSection(), jsonish(200_000)]) {
        expect(decompress(codec, compress(codec, input)).equals(input)).toBe(true);
      }
    });
  }
});

describe("snappy", () => {
  it("writes xerial framing with 32 KiB chunks, as snappy-java does", () => {
    const input = jsonish(XERIAL_CHUNK_BYTES * 2 + 10);
    const out = compress("snappy", input);
    expect(out.subarray(0, 16).toString("hex")).toBe(
      `${XERIAL_MAGIC.toString("hex")}0000000100000001`,
    );
    let pos = 16;
    const chunks: number[] = [];
    while (pos < out.length) {
      const length = out.readInt32BE(pos);
      chunks.push(decompress("snappy", out.subarray(pos + 4, pos + 4 + length)).length);
      pos += 4 + length;
    }
    expect(chunks).toEqual([XERIAL_CHUNK_BYTES, XERIAL_CHUNK_BYTES, 10]);
  });

  it("reads raw snappy (librdkafka) and hand-built xerial frames (Java client)", () => {
    const input = recordsSection();
    expect(decompress("snappy", snappyRaw(input)).equals(input)).toBe(true);
    const a = snappyRaw(input.subarray(0, 1000));
    const b = snappyRaw(input.subarray(1000));
    const header = Buffer.from(`${XERIAL_MAGIC.toString("hex")}0000000100000001`, "hex");
    const len = (n: number) => Buffer.from(n.toString(16).padStart(8, "0"), "hex");
    const framed = Buffer.concat([header, len(a.length), a, len(b.length), b]);
    expect(decompress("snappy", framed).equals(input)).toBe(true);
  });

  it("rejects truncated or lying xerial chunks", () => {
    const framed = compress("snappy", recordsSection());
    for (const cut of [10, 17, 30, framed.length - 1]) {
      expect(() => decompress("snappy", framed.subarray(0, cut))).toThrow(CorruptBatchError);
    }
    const lying = Buffer.from(framed);
    lying.writeInt32BE(0x7fffffff, 16);
    expect(() => decompress("snappy", lying)).toThrow(CorruptBatchError);
  });
});

describe("lz4", () => {
  it("writes the frame header librdkafka writes (FLG 0x60, BD 0x40, HC 0x82) for batches <= 64 KiB", () => {
    const out = compress("lz4", recordsSection());
    const rdkafka = vectorBytes(batchVector("librdkafka-lz4")).subarray(61);
    expect(out.subarray(0, 7).toString("hex")).toBe("04224d18604082");
    expect(rdkafka.subarray(0, 7).toString("hex")).toBe("04224d18604082");
    expect(out.subarray(-4).toString("hex")).toBe("00000000");
  });

  it("picks a larger maximum block size above 64 KiB (256 KiB here), one every Kafka reader accepts", () => {
    const out = compress("lz4", jsonish(200_000));
    expect(out.subarray(0, 6).toString("hex")).toBe("04224d186050");
  });

  it("reads frames with block and content checksums", () => {
    const input = recordsSection();
    const framed = compressFrameSync(input, { blockChecksums: true, contentChecksum: true });
    expect(decompress("lz4", framed).equals(input)).toBe(true);
  });

  it("rejects bad magic, truncation and a bad descriptor", () => {
    const framed = compress("lz4", recordsSection());
    for (const cut of [0, 3, 6, 9, framed.length - 1]) {
      expect(() => decompress("lz4", framed.subarray(0, cut))).toThrow(CorruptBatchError);
    }
    const bad = Buffer.from(framed);
    bad[4] = 0x20; // version 0
    expect(() => decompress("lz4", bad)).toThrow(CorruptBatchError);
  });
});

describe("zip bombs are refused without allocating their output", () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  const limit = { maxDecompressedBytes: 1024 * 1024 };
  const bombs: [string, Buffer][] = [
    ["gzip", gzipSync(zeros)],
    ["zstd", zstdCompressSync(zeros)],
    ["snappy", snappyRaw(zeros)],
    ["lz4", compressFrameSync(zeros)],
  ];
  for (const [codec, bomb] of bombs) {
    it(`${codec}: ${bomb.length} bytes expanding to 8 MiB, limit 1 MiB`, () => {
      expect(() => decompress(codec as "gzip", bomb, limit)).toThrow(CorruptBatchError);
      expect(decompress(codec as "gzip", bomb).length).toBe(zeros.length);
    });
  }

  it("decodeRecordBatch passes its limit through", () => {
    const batch = encodeRecordBatch({
      compression: "zstd",
      baseTimestamp: 0n,
      records: [{ key: null, value: Buffer.alloc(2 * 1024 * 1024), headers: [] }],
    });
    expect(batch.length).toBeLessThan(1000);
    expect(() => decodeRecordBatch(batch, { maxDecompressedBytes: 1024 * 1024 })).toThrow(
      CorruptBatchError,
    );
    expect(decodeRecordBatch(batch).records[0]!.value!.length).toBe(2 * 1024 * 1024);
  });
});

describe("unknown codecs", () => {
  it("codec numbers 5, 6 and 7 raise UnsupportedCompressionError", () => {
    for (const id of [5, 6, 7]) {
      expect(() => compressionName(id)).toThrow(UnsupportedCompressionError);
      const bytes = vectorBytes(batchVector("single-record"));
      bytes.writeInt16BE(id, 21);
      bytes.writeUInt32BE(crc32c(bytes.subarray(21)), 17);
      expect(() => decodeRecordBatch(bytes)).toThrow(UnsupportedCompressionError);
    }
  });
});
