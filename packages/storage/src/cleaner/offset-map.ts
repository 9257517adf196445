/**
 * The cleaner's offset map (Kafka's SkimpyOffsetMap): record key -> the largest offset at which
 * the key was seen in the dirty section of a log. Bounded by an estimate of the memory it holds,
 * so one cleaning pass never costs more than `log.cleaner.dedupe.buffer.size`; when it is full
 * the pass cleans only up to the segment that filled it.
 *
 * Keys are kept exactly (as latin1 strings, one char per byte), not hashed as Kafka does: a hash
 * collision would make the cleaner drop a live key's last value, and exact keys rule that out.
 */
import { assert } from "@strand/base";

/** Estimated bytes a Map entry costs beyond its key's bytes (string header, bigint, slot). */
export const OFFSET_MAP_ENTRY_OVERHEAD_BYTES = 80;

/** See the module comment. */
export class OffsetMap {
  /** Upper bound of {@link OffsetMap.estimatedBytes}. */
  readonly maxBytes: number;
  readonly #offsets = new Map<string, bigint>();
  #bytes = 0;
  #latest = -1n;

  /** An empty map holding at most about `maxBytes`. */
  constructor(maxBytes: number) {
    assert(Number.isSafeInteger(maxBytes) && maxBytes > 0, `offset map size ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  /** Distinct keys held. */
  get size(): number {
    return this.#offsets.size;
  }

  /** Estimated memory held (keys plus per-entry overhead). */
  get estimatedBytes(): number {
    return this.#bytes;
  }

  /** Largest offset put since the last clear, -1 when none. */
  get latestOffset(): bigint {
    return this.#latest;
  }

  /**
   * Records that `key` was seen at `offset` (offsets are put in increasing order). Returns
   * false, recording nothing, when a new key would pass the size bound.
   */
  put(key: Uint8Array, offset: bigint): boolean {
    const k = keyString(key);
    if (!this.#offsets.has(k)) {
      const cost = key.length + OFFSET_MAP_ENTRY_OVERHEAD_BYTES;
      if (this.#bytes + cost > this.maxBytes) return false;
      this.#bytes += cost;
    }
    this.#offsets.set(k, offset);
    if (offset > this.#latest) this.#latest = offset;
    return true;
  }

  /** The last offset recorded for `key`, or undefined. */
  get(key: Uint8Array): bigint | undefined {
    return this.#offsets.get(keyString(key));
  }

  /** Forgets everything (before the next pass reuses the map). */
  clear(): void {
    this.#offsets.clear();
    this.#bytes = 0;
    this.#latest = -1n;
  }
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}
