/**
 * Snappy for Kafka: raw snappy blocks and snappy-java's "xerial" framing.
 *
 * Byte layout of the xerial framing (all integers big-endian), as snappy-java's
 * SnappyOutputStream writes it and Kafka's Java client produces it:
 *
 * ```
 *  0  magic               8 bytes  82 53 4e 41 50 50 59 00  ("\x82SNAPPY\0")
 *  8  version             int32    1
 * 12  compatibleVersion   int32    1
 * 16  chunks, repeated:   int32 compressed length, then that many bytes of raw snappy
 * ```
 *
 * A raw snappy block starts with the uncompressed length as an unsigned LEB128 varint.
 * librdkafka writes one raw block with no framing, so readers must accept both; snappy-java
 * tells them apart by the magic, and so do we.
 */
import { compressSync, uncompressSync } from "snappy";
import { CorruptBatchError } from "./errors.ts";

/** snappy-java's stream magic. */
export const XERIAL_MAGIC: Buffer = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Bytes of the xerial header: magic, version, compatible version. */
export const XERIAL_HEADER_BYTES = 16;
/** Uncompressed bytes per xerial chunk: snappy-java's default block size (32 KiB). */
export const XERIAL_CHUNK_BYTES = 32 * 1024;

/** True when `data` starts with the xerial magic. */
export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_MAGIC.length) {
    return false;
  }
  for (let i = 0; i < XERIAL_MAGIC.length; i++) {
    if (data[i] !== XERIAL_MAGIC[i]) {
      return false;
    }
  }
  return true;
}

/** Compresses `data` with xerial framing in 32 KiB chunks, byte-compatible with snappy-java. */
export function snappyXerialCompress(data: Uint8Array): Buffer {
  const parts: Buffer[] = [Buffer.alloc(XERIAL_HEADER_BYTES)];
  XERIAL_MAGIC.copy(parts[0]!, 0);
  parts[0]!.writeInt32BE(1, 8);
  parts[0]!.writeInt32BE(1, 12);
  for (let start = 0; start < data.length; start += XERIAL_CHUNK_BYTES) {
    const chunk = compressSync(data.subarray(start, start + XERIAL_CHUNK_BYTES));
    const length = Buffer.alloc(4);
    length.writeInt32BE(chunk.length, 0);
    parts.push(length, chunk);
  }
  return Buffer.concat(parts);
}

/**
 * Decompresses snappy data in either framing. The declared uncompressed length of every
 * block is checked against `maxBytes` before the block is decompressed, so a small input
 * cannot make us allocate more than `maxBytes`.
 */
export function snappyDecompress(data: Uint8Array, maxBytes: number): Buffer {
  if (!isXerialFramed(data)) {
    return rawBlock(data, maxBytes);
  }
  if (data.length < XERIAL_HEADER_BYTES) {
    throw new CorruptBatchError(`xerial snappy header truncated: ${data.length} bytes`);
  }
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parts: Buffer[] = [];
  let budget = maxBytes;
  let pos = XERIAL_HEADER_BYTES;
  while (pos < view.length) {
    if (view.length - pos < 4) {
      throw new CorruptBatchError(`xerial snappy chunk length truncated at byte ${pos}`);
    }
    const length = view.readInt32BE(pos);
    pos += 4;
    if (length < 0 || length > view.length - pos) {
      throw new CorruptBatchError(
        `xerial snappy chunk length ${length} at byte ${pos - 4} exceeds the ${view.length - pos} bytes remaining`,
      );
    }
    const block = rawBlock(view.subarray(pos, pos + length), budget);
    budget -= block.length;
    parts.push(block);
    pos += length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function rawBlock(block: Uint8Array, maxBytes: number): Buffer {
  const declared = snappyUncompressedLength(block);
  if (declared > maxBytes) {
    throw new CorruptBatchError(
      `snappy block declares ${declared} uncompressed bytes, above the limit of ${maxBytes}`,
    );
  }
  let out: string | Buffer;
  try {
    out = uncompressSync(block, { asBuffer: true });
  } catch (cause) {
    throw new CorruptBatchError(`snappy block is corrupt: ${errorMessage(cause)}`, { cause });
  }
  if (typeof out === "string" || out.length !== declared) {
    throw new CorruptBatchError(
      `snappy block did not decompress to its declared ${declared} bytes`,
    );
  }
  return out;
}

/** Reads the unsigned LEB128 uncompressed length that starts every raw snappy block. */
function snappyUncompressedLength(block: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) {
      throw new CorruptBatchError("snappy block truncated inside its length preamble");
    }
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      if (value > 0xffffffff) {
        throw new CorruptBatchError("snappy block length preamble overflows 32 bits");
      }
      return value;
    }
  }
  throw new CorruptBatchError("snappy block length preamble is longer than 5 bytes");
}

/** The message of an unknown thrown value, for wrapping native errors. */
export function errorMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
