/**
 * LZ4 for Kafka (codec 3): the standard LZ4 frame format, through lz4-napi (lz4_flex).
 *
 * Byte layout of one frame (little-endian), as the LZ4 frame spec and Kafka >= 0.10 use it:
 *
 * ```
 *  magic          04 22 4d 18
 *  FLG            bits 7-6 version (01), 5 block independence, 4 block checksum,
 *                 3 content size, 2 content checksum, 1 reserved (0), 0 dictionary id
 *  BD             bits 6-4 max block size (4 = 64 KiB .. 7 = 4 MiB), others reserved (0)
 *  [content size] uint64, when FLG bit 3
 *  [dict id]      uint32, when FLG bit 0
 *  HC             header checksum: (xxh32(FLG..) >> 8) & 0xff
 *  blocks         uint32 size (high bit: stored uncompressed; 0: EndMark), data,
 *                 [uint32 block checksum when FLG bit 4]
 *  [checksum]     uint32 content checksum after the EndMark, when FLG bit 2
 * ```
 *
 * lz4-napi's decoder has no output limit, so before decoding we walk the block headers and
 * bound the output from them: a stored block yields its size, a compressed block at most
 * min(max block size, 255 x its size + 16) (LZ4's best case ratio is below 255:1). Frames
 * larger than the limit are rejected without decompressing.
 *
 * lz4-napi writes FLG 0x60 (version 1, independent blocks, no checksums, no content size)
 * and picks the maximum block size from the input: BD 0x40 (64 KiB) up to 64 KiB, 0x50
 * (256 KiB) up to 256 KiB, 0x70 (4 MiB) above. For batches up to 64 KiB the frame header is
 * byte-identical to librdkafka's and the Java client's (04 22 4d 18 60 40 82); larger block
 * sizes are part of the LZ4 frame spec and accepted by the Java client's
 * KafkaLZ4BlockInputStream (BD 4..7) and by librdkafka (liblz4), so nothing Kafka reads
 * rejects them.
 */
import { compressFrameSync, decompressFrameSync } from "lz4-napi";
import { CorruptBatchError } from "./errors.ts";
import { errorMessage } from "./snappy-xerial.ts";

const LZ4_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const MAX_LZ4_RATIO = 255;

/** Compresses `data` as one LZ4 frame without checksums, as Kafka's clients write it. */
export function lz4FrameCompress(data: Uint8Array): Buffer {
  return compressFrameSync(asBuffer(data), { blockChecksums: false, contentChecksum: false });
}

/** Decompresses LZ4 frames, refusing input whose block headers allow more than `maxBytes`. */
export function lz4FrameDecompress(data: Uint8Array, maxBytes: number): Buffer {
  const view = asBuffer(data);
  const bound = lz4FrameOutputBound(view);
  if (bound > maxBytes) {
    throw new CorruptBatchError(
      `lz4 frame may decompress to ${bound} bytes, above the limit of ${maxBytes}`,
    );
  }
  let out: Buffer;
  try {
    out = decompressFrameSync(view);
  } catch (cause) {
    throw new CorruptBatchError(`lz4 frame is corrupt: ${errorMessage(cause)}`, { cause });
  }
  if (out.length > maxBytes) {
    throw new CorruptBatchError(`lz4 frame decompressed to ${out.length} bytes, above the limit`);
  }
  return out;
}

/**
 * Upper bound of the decompressed size of the LZ4 frames in `buf`, from their block headers
 * alone. Throws CorruptBatchError when the frame structure is malformed or truncated.
 */
export function lz4FrameOutputBound(buf: Buffer): number {
  let pos = 0;
  let bound = 0;
  // Each iteration consumes at least 8 bytes, so the loop ends within buf.length / 8 rounds.
  while (pos < buf.length) {
    need(buf, pos, 4);
    const magic = buf.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(buf, pos + 4, 4);
      const size = buf.readUInt32LE(pos + 4);
      need(buf, pos + 8, size);
      pos += 8 + size;
      continue;
    }
    if (magic !== LZ4_MAGIC) {
      throw new CorruptBatchError(`bad lz4 frame magic 0x${magic.toString(16)} at byte ${pos}`);
    }
    const frame = frameBound(buf, pos + 4);
    bound += frame.bound;
    pos = frame.next;
  }
  if (pos === 0) {
    throw new CorruptBatchError("empty lz4 data: no frame");
  }
  return bound;
}

function frameBound(buf: Buffer, start: number): { bound: number; next: number } {
  need(buf, start, 2);
  const flg = buf[start]!;
  const bd = buf[start + 1]!;
  if (flg >> 6 !== 1 || (flg & 0x02) !== 0 || (bd & 0x8f) !== 0 || bd >> 4 < 4) {
    throw new CorruptBatchError(
      `unsupported lz4 frame descriptor FLG 0x${hex(flg)} BD 0x${hex(bd)}`,
    );
  }
  const blockMax = 1 << (8 + 2 * (bd >> 4));
  const blockChecksum = (flg & 0x10) !== 0;
  let pos = start + 2 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
  need(buf, start, pos - start);
  let bound = 0;
  for (;;) {
    need(buf, pos, 4);
    const word = buf.readUInt32LE(pos);
    pos += 4;
    if (word === 0) {
      break;
    }
    const size = word & 0x7fffffff;
    const stored = word >>> 31 === 1;
    if (size > blockMax) {
      throw new CorruptBatchError(`lz4 block of ${size} bytes exceeds its frame's ${blockMax}`);
    }
    need(buf, pos, size + (blockChecksum ? 4 : 0));
    pos += size + (blockChecksum ? 4 : 0);
    bound += stored ? size : Math.min(blockMax, size * MAX_LZ4_RATIO + 16);
  }
  if ((flg & 0x04) !== 0) {
    need(buf, pos, 4);
    pos += 4;
  }
  return { bound, next: pos };
}

function need(buf: Buffer, pos: number, count: number): void {
  if (count < 0 || pos + count > buf.length) {
    throw new CorruptBatchError(`lz4 frame truncated: need ${count} bytes at byte ${pos}`);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
