/**
 * The two sparse per-segment indexes, Kafka's layout (big-endian):
 *
 * ```
 * .index      8 bytes/entry   relativeOffset int32 | position int32
 * .timeindex 12 bytes/entry   timestamp int64      | relativeOffset int32
 * ```
 *
 * relativeOffset = batch baseOffset - segment baseOffset; position = byte position of that
 * batch in the .log file. An offset-index entry is added before a batch when more than
 * index.interval.bytes were appended since the previous entry, so the first batch of a
 * segment is never indexed (position 0 is implied). A time-index entry (largest timestamp so
 * far, offset of the batch that first reached it) is added beside each offset-index entry
 * when the timestamp grew, and once more when the segment is sealed, so a sealed segment's
 * last time entry is its largest timestamp.
 *
 * Entries live in memory (appends are cheap) and reach the file on flush, seal and close; an
 * unflushed tail is rebuilt by recovery, which rescans every segment after the recovery point.
 */
import { constants, open, stat } from "node:fs/promises";
import { assert, isErrno, readAt, writeAt } from "@strand/base";
import { BATCH_HEADER_BYTES } from "@strand/protocol";

/** Bytes of one offset-index entry. */
export const OFFSET_INDEX_ENTRY_BYTES = 8;
/** Bytes of one time-index entry. */
export const TIME_INDEX_ENTRY_BYTES = 12;

const INITIAL_CAPACITY_ENTRIES = 64;

/** Outcome of loading an index file: its entries, or why it must be rebuilt. */
export type IndexLoad<T> =
  | { readonly ok: true; readonly index: T }
  | { readonly ok: false; readonly reason: string };

/** Entries held in a growable buffer plus the file they persist to. */
abstract class SparseIndexFile {
  /** Path of the index file. */
  readonly path: string;
  protected data: Buffer;
  protected entryCount = 0;
  private persistedCount = 0;

  protected constructor(path: string, entryBytes: number, data?: Buffer) {
    this.path = path;
    this.data = data ?? Buffer.alloc(INITIAL_CAPACITY_ENTRIES * entryBytes);
    if (data) {
      this.entryCount = data.length / entryBytes;
      this.persistedCount = this.entryCount;
    }
  }

  protected abstract get entryBytes(): number;

  /** Number of entries. */
  get count(): number {
    return this.entryCount;
  }

  /** Makes room for one more entry, doubling the buffer when full. */
  protected reserve(): number {
    const at = this.entryCount * this.entryBytes;
    if (at + this.entryBytes > this.data.length) {
      const grown = Buffer.alloc(
        Math.max(this.data.length * 2, INITIAL_CAPACITY_ENTRIES * this.entryBytes),
      );
      this.data.copy(grown, 0, 0, at);
      this.data = grown;
    }
    this.entryCount += 1;
    return at;
  }

  /** Keeps the first `count` entries. */
  protected truncateEntries(count: number): void {
    assert(count >= 0 && count <= this.entryCount, "index truncation beyond its entries");
    this.entryCount = count;
    this.persistedCount = Math.min(this.persistedCount, count);
  }

  /** Forgets everything persisted so the next persist rewrites the file from scratch. */
  markRewrite(): void {
    this.persistedCount = 0;
  }

  /**
   * Writes entries not yet on disk, trims the file to the entry count, optionally fsyncs.
   * The file is open only for the duration: a node with thousands of idle replicas would
   * otherwise hold two index descriptors per replica for nothing (entries live in memory and
   * persist only at roll, truncation, recovery and close).
   */
  async persist(options: { sync: boolean }): Promise<void> {
    // O_RDWR without O_APPEND: positioned writes must land where asked, not at the end.
    const handle = await open(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      const from = this.persistedCount * this.entryBytes;
      const to = this.entryCount * this.entryBytes;
      if (to > from) await writeAt(handle, this.data.subarray(from, to), from);
      await handle.truncate(to);
      this.persistedCount = this.entryCount;
      if (options.sync) await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Largest entry index whose key is <= `key`, or -1: binary search over sorted keys. */
  protected floorIndex(key: bigint | number, keyAt: (i: number) => bigint | number): number {
    let low = 0;
    let high = this.entryCount - 1;
    let found = -1;
    // Halves [low, high] each turn: at most 32 iterations for int32-sized indexes.
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (keyAt(mid) <= key) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }
}

/** One offset-index entry. */
export interface OffsetIndexEntry {
  /** Batch base offset minus the segment base offset. */
  readonly relativeOffset: number;
  /** Byte position of the batch in the segment's .log file. */
  readonly position: number;
}

/** Sparse offset index: relative offset -> file position, both strictly increasing. */
export class OffsetIndex extends SparseIndexFile {
  /** Creates an empty index persisting to `path`. */
  constructor(path: string, data?: Buffer) {
    super(path, OFFSET_INDEX_ENTRY_BYTES, data);
  }

  protected get entryBytes(): number {
    return OFFSET_INDEX_ENTRY_BYTES;
  }

  /** The entry at `i` (0-based). */
  entry(i: number): OffsetIndexEntry {
    assert(i >= 0 && i < this.entryCount, `offset index entry ${i} out of range`);
    const at = i * OFFSET_INDEX_ENTRY_BYTES;
    return { relativeOffset: this.data.readInt32BE(at), position: this.data.readInt32BE(at + 4) };
  }

  /** The last entry, if any. */
  lastEntry(): OffsetIndexEntry | undefined {
    return this.entryCount === 0 ? undefined : this.entry(this.entryCount - 1);
  }

  /** Adds an entry; both fields must exceed the previous entry's. */
  append(relativeOffset: number, position: number): void {
    const last = this.lastEntry();
    assert(
      last === undefined || (relativeOffset > last.relativeOffset && position > last.position),
      `offset index entry (${relativeOffset}, ${position}) is not after (${last?.relativeOffset}, ${last?.position})`,
    );
    const at = this.reserve();
    this.data.writeInt32BE(relativeOffset, at);
    this.data.writeInt32BE(position, at + 4);
  }

  /** The entry with the largest relative offset <= `relativeOffset`, or undefined (use 0). */
  lookup(relativeOffset: number): OffsetIndexEntry | undefined {
    const i = this.floorIndex(relativeOffset, (k) =>
      this.data.readInt32BE(k * OFFSET_INDEX_ENTRY_BYTES),
    );
    return i < 0 ? undefined : this.entry(i);
  }

  /** Drops entries whose position is >= `position` (the log was truncated there). */
  truncateToPosition(position: number): void {
    const i = this.floorIndex(position - 1, (k) =>
      this.data.readInt32BE(k * OFFSET_INDEX_ENTRY_BYTES + 4),
    );
    this.truncateEntries(i + 1);
  }

  /** Drops every entry. */
  clear(): void {
    this.truncateEntries(0);
  }

  /**
   * Loads and checks an index file against its log size: size a multiple of 8, at most one
   * entry per minimal batch, keys and positions strictly increasing, positions inside the log.
   */
  static async load(path: string, logSizeBytes: number): Promise<IndexLoad<OffsetIndex>> {
    const data = await loadIndexBytes(path, OFFSET_INDEX_ENTRY_BYTES, logSizeBytes);
    if (typeof data === "string") return { ok: false, reason: data };
    let previous: OffsetIndexEntry | undefined;
    for (let at = 0; at < data.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const entry = { relativeOffset: data.readInt32BE(at), position: data.readInt32BE(at + 4) };
      if (entry.relativeOffset < 0 || entry.position < 0 || entry.position >= logSizeBytes) {
        return {
          ok: false,
          reason: `entry ${at / 8} (${entry.relativeOffset}, ${entry.position}) is out of range`,
        };
      }
      if (
        previous &&
        (entry.relativeOffset <= previous.relativeOffset || entry.position <= previous.position)
      ) {
        return { ok: false, reason: `entry ${at / 8} is not after the previous entry` };
      }
      previous = entry;
    }
    return { ok: true, index: new OffsetIndex(path, data) };
  }
}

/** One time-index entry. */
export interface TimeIndexEntry {
  /** Largest batch timestamp seen up to this entry's batch. */
  readonly timestamp: bigint;
  /** Relative offset of the first batch that reached `timestamp`. */
  readonly relativeOffset: number;
}

/** Sparse time index: timestamps strictly increasing, relative offsets non-decreasing. */
export class TimeIndex extends SparseIndexFile {
  /** Creates an empty index persisting to `path`. */
  constructor(path: string, data?: Buffer) {
    super(path, TIME_INDEX_ENTRY_BYTES, data);
  }

  protected get entryBytes(): number {
    return TIME_INDEX_ENTRY_BYTES;
  }

  /** The entry at `i` (0-based). */
  entry(i: number): TimeIndexEntry {
    assert(i >= 0 && i < this.entryCount, `time index entry ${i} out of range`);
    const at = i * TIME_INDEX_ENTRY_BYTES;
    return {
      timestamp: this.data.readBigInt64BE(at),
      relativeOffset: this.data.readInt32BE(at + 8),
    };
  }

  /** The last entry, if any. */
  lastEntry(): TimeIndexEntry | undefined {
    return this.entryCount === 0 ? undefined : this.entry(this.entryCount - 1);
  }

  /** Adds an entry only if `timestamp` exceeds the last entry's; returns whether it did. */
  maybeAppend(timestamp: bigint, relativeOffset: number): boolean {
    const last = this.lastEntry();
    if (last !== undefined && timestamp <= last.timestamp) return false;
    assert(
      last === undefined || relativeOffset >= last.relativeOffset,
      "time index offsets went backwards",
    );
    const at = this.reserve();
    this.data.writeBigInt64BE(timestamp, at);
    this.data.writeInt32BE(relativeOffset, at + 8);
    return true;
  }

  /** The entry with the largest timestamp <= `timestamp`, or undefined (start at 0). */
  lookup(timestamp: bigint): TimeIndexEntry | undefined {
    const i = this.floorIndex(timestamp, (k) =>
      this.data.readBigInt64BE(k * TIME_INDEX_ENTRY_BYTES),
    );
    return i < 0 ? undefined : this.entry(i);
  }

  /** Drops entries whose relative offset is >= `relativeOffset`. */
  truncateToRelativeOffset(relativeOffset: number): void {
    const i = this.floorIndex(relativeOffset - 1, (k) =>
      this.data.readInt32BE(k * TIME_INDEX_ENTRY_BYTES + 8),
    );
    this.truncateEntries(i + 1);
  }

  /** Drops every entry. */
  clear(): void {
    this.truncateEntries(0);
  }

  /** Loads and checks a time index: size a multiple of 12, timestamps up, offsets not down. */
  static async load(path: string, logSizeBytes: number): Promise<IndexLoad<TimeIndex>> {
    const data = await loadIndexBytes(path, TIME_INDEX_ENTRY_BYTES, logSizeBytes);
    if (typeof data === "string") return { ok: false, reason: data };
    let previous: TimeIndexEntry | undefined;
    for (let at = 0; at < data.length; at += TIME_INDEX_ENTRY_BYTES) {
      const entry = {
        timestamp: data.readBigInt64BE(at),
        relativeOffset: data.readInt32BE(at + 8),
      };
      if (entry.relativeOffset < 0)
        return { ok: false, reason: `entry ${at / 12} has a negative offset` };
      if (
        previous &&
        (entry.timestamp <= previous.timestamp || entry.relativeOffset < previous.relativeOffset)
      ) {
        return { ok: false, reason: `entry ${at / 12} is not after the previous entry` };
      }
      previous = entry;
    }
    return { ok: true, index: new TimeIndex(path, data) };
  }
}

/**
 * Reads an index file whole after checking its size: missing, a size that is not a multiple
 * of the entry size, or more entries than the log could hold batches all return a reason
 * instead of bytes, so garbage never drives an allocation larger than the log itself.
 */
async function loadIndexBytes(
  path: string,
  entryBytes: number,
  logSizeBytes: number,
): Promise<Buffer | string> {
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(path)).size;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return "index file is missing";
    throw error;
  }
  if (sizeBytes % entryBytes !== 0) return `size ${sizeBytes} is not a multiple of ${entryBytes}`;
  const entriesMax = Math.floor(logSizeBytes / BATCH_HEADER_BYTES);
  if (sizeBytes / entryBytes > entriesMax) {
    return `${sizeBytes / entryBytes} entries cannot index a ${logSizeBytes}-byte log`;
  }
  const data = Buffer.alloc(sizeBytes);
  const handle = await open(path, "r");
  try {
    const read = await readAt(handle, data, sizeBytes, 0);
    if (read !== sizeBytes) return "index file shrank while reading";
  } finally {
    await handle.close();
  }
  return data;
}
