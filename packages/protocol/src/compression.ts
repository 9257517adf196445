/**
 * The four Kafka compression codecs, synchronous in both directions. The codec number lives
 * in bits 0-2 of a batch's attributes and applies to the whole records section:
 *
 * ```
 *  0 none   1 gzip (RFC 1952)   2 snappy (xerial-framed or raw)   3 lz4 (LZ4 frame)
 *  4 zstd (one zstd frame)      5..7 unknown: UnsupportedCompressionError
 * ```
 *
 * Decompression output is always bounded (`maxDecompressedBytes`) so a small hostile batch
 * (a "zip bomb") cannot make a reader allocate gigabytes.
 */
// A namespace import, not named ones: a Node.js without zstd (< 22.15) must still link this
// module, so that the SDK's and the CLI's version check can say "Strand needs Node.js >= X".
import * as zlib from "node:zlib";
import { CorruptBatchError, UnsupportedCompressionError } from "./errors.ts";
import { lz4FrameCompress, lz4FrameDecompress } from "./lz4-frame.ts";
import { errorMessage, snappyDecompress, snappyXerialCompress } from "./snappy-xerial.ts";

/** Codec names by codec number (the index). */
export const COMPRESSION_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/** Name of a supported compression codec. */
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/** Default limit on the decompressed records section of one batch: 64 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Options for {@link decompress}. */
export interface DecompressOptions {
  /** Largest decompressed output accepted; larger output is CorruptBatchError. */
  readonly maxDecompressedBytes?: number;
}

/** Options for {@link compress}. */
export interface CompressOptions {
  /** Codec level for gzip (1-9, default 6) and zstd (default 3, as Kafka's Java client). */
  readonly level?: number;
}

// zstd decoders allocate their window before producing output; a window larger than the
// output limit can only come from a hostile frame, so cap it (2^27 is zstd's own default).
const ZSTD_WINDOW_LOG_MIN = 10;
const ZSTD_WINDOW_LOG_MAX = 27;

/** The codec number (attributes bits 0-2) of `name`. */
export function compressionCodecId(name: CompressionName): number {
  const id = COMPRESSION_NAMES.indexOf(name);
  if (id < 0) {
    throw new UnsupportedCompressionError(`unknown compression codec name "${String(name)}"`);
  }
  return id;
}

/** The codec name of codec number `id`; 5, 6 and 7 throw UnsupportedCompressionError. */
export function compressionName(id: number): CompressionName {
  const name = COMPRESSION_NAMES[id];
  if (name === undefined) {
    throw new UnsupportedCompressionError(
      `compression codec ${id} is not one of 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd`,
    );
  }
  return name;
}

/** Compresses `data` with `codec` the way Kafka's Java client does. "none" copies nothing. */
export function compress(
  codec: CompressionName,
  data: Uint8Array,
  options: CompressOptions = {},
): Buffer {
  switch (codec) {
    case "none":
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case "gzip":
      return zlib.gzipSync(data, options.level === undefined ? {} : { level: options.level });
    case "snappy":
      return snappyXerialCompress(data);
    case "lz4":
      return lz4FrameCompress(data);
    case "zstd":
      return zlib.zstdCompressSync(data, {
        params: { [zlib.constants.ZSTD_c_compressionLevel]: options.level ?? 3 },
      });
    default:
      return unknownCodec(codec);
  }
}

/**
 * Decompresses `data` compressed with `codec`. Malformed input and output above the limit
 * throw CorruptBatchError; nothing else escapes.
 */
export function decompress(
  codec: CompressionName,
  data: Uint8Array,
  options: DecompressOptions = {},
): Buffer {
  const maxBytes = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  switch (codec) {
    case "none":
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case "gzip":
      return zlibCall("gzip", maxBytes, () => zlib.gunzipSync(data, { maxOutputLength: maxBytes }));
    case "snappy":
      return snappyDecompress(data, maxBytes);
    case "lz4":
      return lz4FrameDecompress(data, maxBytes);
    case "zstd":
      return zlibCall("zstd", maxBytes, () =>
        zlib.zstdDecompressSync(data, {
          maxOutputLength: maxBytes,
          params: { [zlib.constants.ZSTD_d_windowLogMax]: zstdWindowLogMax(maxBytes) },
        }),
      );
    default:
      return unknownCodec(codec);
  }
}

function zstdWindowLogMax(maxBytes: number): number {
  const log = Math.ceil(Math.log2(Math.max(maxBytes, 1)));
  return Math.min(ZSTD_WINDOW_LOG_MAX, Math.max(ZSTD_WINDOW_LOG_MIN, log));
}

function zlibCall(codec: string, maxBytes: number, run: () => Buffer): Buffer {
  try {
    return run();
  } catch (cause) {
    const tooLarge = (cause as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE";
    throw new CorruptBatchError(
      tooLarge
        ? `${codec} data decompresses to more than the limit of ${maxBytes} bytes`
        : `${codec} data is corrupt: ${errorMessage(cause)}`,
      { cause },
    );
  }
}

function unknownCodec(codec: never): never {
  throw new UnsupportedCompressionError(`unknown compression codec "${String(codec)}"`);
}
