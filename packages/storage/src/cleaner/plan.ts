/**
 * The log cleaner's decisions, pure (no I/O, no clock): which part of a log may be cleaned and
 * how dirty it is, which log to clean next, how segments are grouped into cleaned segments,
 * and which records and batches survive. Kafka: LogCleanerManager.cleanableOffsets,
 * grabFilthiestCompactedLog, groupSegmentsBySize and the retain decisions of Cleaner.
 */
import { INT32_MAX } from "../config.ts";

/** What planning needs to know of one segment. */
export interface SegmentSummary {
  /** The segment's base offset. */
  readonly baseOffset: bigint;
  /** Its `.log` size. */
  readonly sizeBytes: number;
  /** When its newest record was written (largest batch timestamp, else file mtime), ms. */
  readonly newestMs: number;
}

/** Inputs of {@link cleanableRange} besides the segments. */
export interface CleanableInput {
  /** Everything below it was cleaned by an earlier pass (the cleaner checkpoint). */
  readonly firstDirtyOffset: bigint;
  /** Never clean at or past it: the high watermark (uncommitted data may be truncated). */
  readonly upperBound: bigint;
  /** The cleaner's clock, ms. */
  readonly nowMs: number;
  /** min.compaction.lag.ms of the log. */
  readonly minCompactionLagMs: number;
}

/** The cleanable part of a log. */
export interface CleanableRange {
  /** Where the dirty section starts (a segment base, or the first segment's base). */
  readonly firstDirtyOffset: bigint;
  /** Where the dirty section ends: the base of the first segment that may not be cleaned. */
  readonly firstUncleanableOffset: bigint;
  /** Segments [0, cleanableSegments) may be rewritten by this pass. */
  readonly cleanableSegments: number;
  /** Bytes of segments wholly below firstDirtyOffset. */
  readonly cleanBytes: number;
  /** Bytes of segments in [firstDirtyOffset, firstUncleanableOffset). */
  readonly dirtyBytes: number;
  /** dirtyBytes / (cleanBytes + dirtyBytes); 0 when nothing is dirty. */
  readonly dirtyRatio: number;
}

/**
 * The cleanable range of a log whose segments are `segments` (oldest first, the last one
 * active). A segment is cleanable when it is closed, lies wholly below `upperBound` (the next
 * segment starts at or below it) and its newest record is at least min.compaction.lag.ms old;
 * the first segment that is not ends the range.
 */
export function cleanableRange(
  segments: readonly SegmentSummary[],
  input: CleanableInput,
): CleanableRange {
  let cleanable = 0;
  while (cleanable < segments.length - 1) {
    const next = segments[cleanable + 1]!;
    const segment = segments[cleanable]!;
    if (next.baseOffset > input.upperBound) break;
    if (input.nowMs - segment.newestMs < input.minCompactionLagMs) break;
    cleanable += 1;
  }
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let firstDirtyIndex = cleanable;
  for (let i = 0; i < cleanable; i++) {
    const segmentEnd = segments[i + 1]!.baseOffset;
    if (segmentEnd <= input.firstDirtyOffset) {
      cleanBytes += segments[i]!.sizeBytes;
    } else {
      if (firstDirtyIndex === cleanable) firstDirtyIndex = i;
      dirtyBytes += segments[i]!.sizeBytes;
    }
  }
  const total = cleanBytes + dirtyBytes;
  return {
    firstDirtyOffset: segments[firstDirtyIndex]!.baseOffset,
    firstUncleanableOffset: segments[cleanable]!.baseOffset,
    cleanableSegments: cleanable,
    cleanBytes,
    dirtyBytes,
    dirtyRatio: total === 0 ? 0 : dirtyBytes / total,
  };
}

/** One log as the cleaner sees it when choosing. */
export interface CleaningCandidate<T> {
  /** The caller's handle of the log. */
  readonly log: T;
  /** Its cleanable range. */
  readonly range: CleanableRange;
  /** Its min.cleanable.dirty.ratio. */
  readonly minCleanableDirtyRatio: number;
}

/**
 * The dirtiest log whose dirty ratio reached its min.cleanable.dirty.ratio and that has dirty
 * bytes at all, or undefined (Kafka's grabFilthiestCompactedLog).
 */
export function chooseLogToClean<T>(
  candidates: readonly CleaningCandidate<T>[],
): CleaningCandidate<T> | undefined {
  let best: CleaningCandidate<T> | undefined;
  for (const candidate of candidates) {
    const { range } = candidate;
    if (range.dirtyBytes === 0 || range.dirtyRatio < candidate.minCleanableDirtyRatio) continue;
    if (best === undefined || range.dirtyRatio > best.range.dirtyRatio) best = candidate;
  }
  return best;
}

/**
 * Groups consecutive segments to be rewritten into one cleaned segment each: a group's input
 * bytes stay within `maxBytes` (segment.bytes; cleaning only shrinks) and its offsets within an
 * int32 of its first base, so the cleaned segment's relative index still fits. `ends[i]` is
 * where segment i ends (the next segment's base). Returns [start, end) index pairs.
 */
export function groupSegments(
  segments: readonly SegmentSummary[],
  ends: readonly bigint[],
  maxBytes: number,
): Array<readonly [number, number]> {
  const groups: Array<readonly [number, number]> = [];
  let start = 0;
  while (start < segments.length) {
    let end = start + 1;
    let bytes = segments[start]!.sizeBytes;
    while (end < segments.length) {
      const size = segments[end]!.sizeBytes;
      const span = ends[end]! - 1n - segments[start]!.baseOffset;
      if (bytes + size > maxBytes || span > BigInt(INT32_MAX)) break;
      bytes += size;
      end += 1;
    }
    groups.push([start, end]);
    start = end;
  }
  return groups;
}

/** A record as the retain decision sees it. */
export interface RecordFacts {
  /** Its absolute offset. */
  readonly offset: bigint;
  /** Its key; null for a keyless record. */
  readonly key: Uint8Array | null;
  /** True for a tombstone (null value). */
  readonly tombstone: boolean;
  /** Its timestamp (ms), or -1 when it carries none. */
  readonly timestampMs: bigint;
}

/** What the retain decision needs besides the record. */
export interface RetainContext {
  /** Last offset of each key in the dirty section. */
  readonly latestOffset: (key: Uint8Array) => bigint | undefined;
  /** Tombstones written before this time (ms) have outlived delete.retention.ms. */
  readonly tombstoneHorizonMs: bigint;
  /** Timestamp used for a record without one: its segment's newest time (ms). */
  readonly fallbackTimestampMs: bigint;
}

/**
 * Keeps a record unless a later record of the same key exists in the dirty section, or it is a
 * tombstone older than delete.retention.ms. Keyless records are kept: the leader refuses them on
 * compacted logs, so they were written before the topic became compacted.
 */
export function retainRecord(record: RecordFacts, ctx: RetainContext): boolean {
  if (record.key === null) return true;
  const latest = ctx.latestOffset(record.key);
  if (latest !== undefined && latest > record.offset) return false;
  if (!record.tombstone) return true;
  const written = record.timestampMs >= 0n ? record.timestampMs : ctx.fallbackTimestampMs;
  return written >= ctx.tombstoneHorizonMs;
}

/**
 * Whether a batch whose records were all removed still stays, empty: when it is the last batch
 * of its idempotent producer in the cleaned section, so a rebuild of producer state from the log
 * still finds that producer's epoch and last sequence (Kafka keeps it the same way).
 */
export function keepEmptyBatch(
  producerId: bigint,
  baseOffset: bigint,
  lastBatchOfProducer: ReadonlyMap<bigint, bigint>,
): boolean {
  return producerId >= 0n && lastBatchOfProducer.get(producerId) === baseOffset;
}
