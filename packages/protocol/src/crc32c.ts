/**
 * CRC-32C (Castagnoli), as RecordBatch v2 uses. Backed by @node-rs/crc32, a native SIMD
 * implementation: a JavaScript loop would be the broker's hottest path.
 */
import { crc32c as nativeCrc32c } from "@node-rs/crc32";

/** CRC-32C of `bytes`, optionally continuing from `initial`. Returns an unsigned 32-bit value. */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  return nativeCrc32c(bytes, initial) >>> 0;
}
