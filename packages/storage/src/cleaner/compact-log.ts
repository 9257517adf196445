/**
 * One cleaning pass over one log (Kafka's Cleaner.clean): under the log's lock, measure the
 * cleanable range and pin its segments; without the lock, build the offset map over the dirty
 * section and write each group of segments as a `.cleaned` file; under the lock again, check
 * nothing was truncated or deleted meanwhile and swap each group in (swap.ts); finally move the
 * cleaner checkpoint (first dirty offset) to the end of what was mapped.
 *
 * The active segment is never cleaned, nor anything at or past `upperBound` (the high
 * watermark: records a new leader may truncate must not make older values of their keys go).
 */
import { type Logger, unlinkIfExists } from "@strand/base";
import { isCompacted, type LogConfig } from "../config.ts";
import { LogSegment, type SegmentContext } from "../segment.ts";
import type { OffsetMap } from "./offset-map.ts";
import { type CleanableRange, cleanableRange, groupSegments, type SegmentSummary } from "./plan.ts";
import {
  buildOffsetMap,
  type CleanedSegment,
  type IoHook,
  type SegmentSpan,
  scanProducers,
  writeCleanedSegment,
} from "./segment-io.ts";
import { cleanedLogPath, commitSwap, completeSwap } from "./swap.ts";

/** What the cleaner needs of a log's internals; {@link Log} provides it. */
export interface CleanerAccess {
  /** The partition folder. */
  readonly dir: string;
  /** The log's logger. */
  readonly logger: Logger;
  /** Runs `fn` under the log's lock and failure funnel. */
  locked<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** The config in force (under the lock). */
  config(): LogConfig;
  /** The segment list, oldest first (under the lock). */
  segments(): readonly LogSegment[];
  /** The log start offset (under the lock). */
  logStartOffset(): bigint;
  /** The cleaner checkpoint (under the lock). */
  firstDirtyOffset(): bigint;
  /** Counts truncations, so a pass notices one that happened while it ran (under the lock). */
  truncations(): number;
  /** Context for opening the cleaned segment. */
  segmentContext(): SegmentContext;
  /** Replaces `count` segments from `index` by `segment` in the list (under the lock). */
  replaceSegments(index: number, count: number, segment: LogSegment): void;
  /** Moves the cleaner checkpoint and persists it (under the lock). */
  setFirstDirtyOffset(offset: bigint): Promise<void>;
}

/** Options of one pass. */
export interface CleanOptions {
  /** The cleaner's clock (ms): min.compaction.lag.ms and delete.retention.ms count from it. */
  readonly nowMs: number;
  /** Exclusive bound of what may be cleaned: the partition's high watermark. */
  readonly upperBound: bigint;
  /** The offset map to fill (cleared first; reused across passes to bound memory). */
  readonly map: OffsetMap;
  /** Called after every chunk read or written (the I/O budget). */
  readonly io?: IoHook;
}

/** What a pass did. */
export interface CleanResult {
  /** False when nothing was cleaned; `reason` says why. */
  readonly cleaned: boolean;
  /** Why nothing (more) was cleaned, when so. */
  readonly reason?: string;
  /** Segments replaced. */
  readonly segmentsCleaned: number;
  /** Bytes read from them, and written as cleaned segments. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Records removed. */
  readonly recordsRemoved: number;
  /** The cleaner checkpoint afterwards. */
  readonly firstDirtyOffset: bigint;
}

const noIo: IoHook = async () => undefined;

/** The cleanable range of `log` now, or undefined when its policy does not compact. */
export function measureCleanable(
  log: CleanerAccess,
  nowMs: number,
  upperBound: bigint,
): Promise<CleanableRange | undefined> {
  return log.locked("measure cleanable", async () => {
    const config = log.config();
    if (!isCompacted(config)) return undefined;
    return rangeOf(log, config, nowMs, upperBound, await summaries(log, config));
  });
}

function rangeOf(
  log: CleanerAccess,
  config: LogConfig,
  nowMs: number,
  upperBound: bigint,
  segmentSummaries: readonly SegmentSummary[],
): CleanableRange {
  // Retention or DeleteRecords may have moved the log start past the checkpoint.
  let firstDirtyOffset = log.firstDirtyOffset();
  if (firstDirtyOffset < log.logStartOffset()) firstDirtyOffset = log.logStartOffset();
  return cleanableRange(segmentSummaries, {
    firstDirtyOffset,
    upperBound,
    nowMs,
    minCompactionLagMs: config.minCompactionLagMs,
  });
}

/** Segment summaries; newest times are read only when min.compaction.lag.ms needs them. */
async function summaries(log: CleanerAccess, config: LogConfig): Promise<SegmentSummary[]> {
  const result: SegmentSummary[] = [];
  for (const segment of log.segments()) {
    const newestMs = config.minCompactionLagMs > 0 ? await newestMsOf(segment) : 0;
    result.push({ baseOffset: segment.baseOffset, sizeBytes: segment.sizeBytes, newestMs });
  }
  return result;
}

async function newestMsOf(segment: LogSegment): Promise<number> {
  const largest = await segment.largestTimestamp();
  return largest >= 0n ? Number(largest) : await segment.lastModifiedMs();
}

interface PassStart {
  readonly range: CleanableRange;
  readonly spans: SegmentSpan[];
  readonly truncations: number;
  readonly config: LogConfig;
}

/** Runs one pass (see the module comment). */
export async function compactLog(log: CleanerAccess, options: CleanOptions): Promise<CleanResult> {
  const start = await log.locked("clean", () => startPass(log, options));
  if (typeof start === "string") return nothing(log, start);
  try {
    return await runPass(log, options, start);
  } finally {
    for (const span of start.spans) await span.segment.release();
  }
}

async function startPass(log: CleanerAccess, options: CleanOptions): Promise<PassStart | string> {
  const config = log.config();
  if (!isCompacted(config)) return `cleanup.policy is ${config.cleanupPolicy}`;
  const segments = log.segments();
  const range = rangeOf(
    log,
    config,
    options.nowMs,
    options.upperBound,
    await summaries(log, config),
  );
  if (range.dirtyBytes === 0) return "nothing cleanable is dirty";
  const spans: SegmentSpan[] = [];
  for (let i = 0; i < range.cleanableSegments; i++) {
    const segment = segments[i]!;
    spans.push({
      segment,
      endOffset: segments[i + 1]!.baseOffset,
      newestMs: await newestMsOf(segment),
    });
  }
  for (const span of spans) span.segment.retain();
  return { range, spans, truncations: log.truncations(), config };
}

async function runPass(
  log: CleanerAccess,
  options: CleanOptions,
  start: PassStart,
): Promise<CleanResult> {
  const io = options.io ?? noIo;
  const { spans, range, config } = start;
  const map = options.map;
  map.clear();
  const producers = new Map<bigint, bigint>();
  const firstDirtyIndex = spans.findIndex((s) => s.endOffset > range.firstDirtyOffset);
  await scanProducers(spans.slice(0, firstDirtyIndex), producers, io);
  const mapped = await buildOffsetMap(spans.slice(firstDirtyIndex), map, producers, io);
  if (mapped === 0) {
    log.logger.warn(
      { dir: log.dir, maxBytes: map.maxBytes },
      "the cleaner's offset map cannot hold the keys of one segment; raise log.cleaner.dedupe.buffer.size",
    );
    return nothing(log, "offset map too small for one segment");
  }
  const rewrite = spans.slice(0, firstDirtyIndex + mapped);
  const cleanEnd = rewrite.at(-1)!.endOffset;
  const groups = groupSegments(
    rewrite.map((s) => ({
      baseOffset: s.segment.baseOffset,
      sizeBytes: s.segment.sizeBytes,
      newestMs: s.newestMs,
    })),
    rewrite.map((s) => s.endOffset),
    config.segmentBytes,
  );
  const decisions = {
    map,
    lastBatchOfProducer: producers,
    tombstoneHorizonMs: BigInt(options.nowMs) - BigInt(config.deleteRetentionMs),
  };
  let totals = { segmentsCleaned: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0 };
  for (const [from, to] of groups) {
    const group = rewrite.slice(from, to);
    const file = cleanedLogPath(log.dir, group[0]!.segment.baseOffset);
    let written: CleanedSegment;
    let swapped: boolean;
    try {
      written = await writeCleanedSegment(file, group, decisions, io);
      swapped = await log.locked("clean swap", () => swapGroup(log, group, start.truncations));
    } catch (error) {
      // Not committed (or the log is offline and its next open decides): drop the file.
      await unlinkIfExists(file).catch(() => undefined);
      throw error;
    }
    if (!swapped) {
      await unlinkIfExists(file);
      return {
        ...totals,
        cleaned: totals.segmentsCleaned > 0,
        reason: "the log changed while it was cleaned",
        firstDirtyOffset: range.firstDirtyOffset,
      };
    }
    totals = {
      segmentsCleaned: totals.segmentsCleaned + group.length,
      bytesRead: totals.bytesRead + written.bytesRead,
      bytesWritten: totals.bytesWritten + written.bytesWritten,
      recordsRemoved: totals.recordsRemoved + written.recordsRemoved,
    };
  }
  await log.locked("clean checkpoint", async () => {
    if (log.truncations() === start.truncations) await log.setFirstDirtyOffset(cleanEnd);
  });
  log.logger.info(
    { dir: log.dir, ...totals, firstDirtyOffset: cleanEnd.toString() },
    "cleaned log",
  );
  return { ...totals, cleaned: true, firstDirtyOffset: cleanEnd };
}

/**
 * Under the lock: swaps `group`'s cleaned file in, unless a truncation happened since the pass
 * started or the group's segments are no longer consecutive closed segments of the log.
 */
async function swapGroup(
  log: CleanerAccess,
  group: readonly SegmentSpan[],
  truncations: number,
): Promise<boolean> {
  const segments = log.segments();
  const at = segments.indexOf(group[0]!.segment);
  const intact =
    log.truncations() === truncations &&
    at >= 0 &&
    at + group.length < segments.length &&
    group.every((span, j) => segments[at + j] === span.segment);
  if (!intact) return false;
  const newBase = group[0]!.segment.baseOffset;
  const plan = { newBase, replacedBases: group.map((s) => s.segment.baseOffset) };
  for (const span of group) await span.segment.detachForReplacement();
  await commitSwap(log.dir, plan);
  await completeSwap(log.dir, plan);
  const cleaned = await LogSegment.open(log.segmentContext(), newBase);
  await cleaned.rebuildIndexes();
  await cleaned.seal();
  await cleaned.unloadIndexes();
  log.replaceSegments(at, group.length, cleaned);
  // The list's references; the pass's own are released when it ends.
  for (const span of group) await span.segment.release();
  return true;
}

function nothing(log: CleanerAccess, reason: string): CleanResult {
  return {
    cleaned: false,
    reason,
    segmentsCleaned: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRemoved: 0,
    firstDirtyOffset: log.firstDirtyOffset(),
  };
}
