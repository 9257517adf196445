/**
 * Helpers over a log's ordered segment list, shared by {@link Log}, the loader and retention:
 * lookup by offset, whole-segment deletion, and the ordering invariant.
 */
import { assert, type Logger } from "@strand/base";
import type { Clock } from "./clock.ts";
import type { LogConfig } from "./config.ts";
import type { HandleCache } from "./handle-cache.ts";
import type { LogSegment, SegmentContext } from "./segment.ts";

/** Index of the last segment whose base offset is <= `offset` (0 when below all). */
export function floorSegmentIndex(segments: readonly LogSegment[], offset: bigint): number {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

/** Base offsets strictly increase along the log; the binary search above depends on it. */
export function assertSegmentOrder(segments: readonly LogSegment[]): void {
  assert(segments.length > 0, "a log always has an active segment");
  for (let i = 1; i < segments.length; i++) {
    assert(
      segments[i]!.baseOffset > segments[i - 1]!.baseOffset,
      `segment ${segments[i]!.baseOffset} does not follow segment ${segments[i - 1]!.baseOffset}`,
    );
  }
}

/** Deletes the files of segments already removed from the list; returns their bytes. */
export async function deleteSegments(segments: readonly LogSegment[]): Promise<number> {
  let bytes = 0;
  for (const segment of segments) {
    bytes += segment.sizeBytes;
    await segment.deleteFiles();
    await segment.release();
  }
  return bytes;
}

/** Closes segments without deleting them, ignoring errors (open failed, or closing). */
export async function releaseSegments(segments: readonly LogSegment[]): Promise<void> {
  for (const segment of segments) await segment.release().catch(() => undefined);
}

/** What a new or reopened segment needs, with the clock read now. */
export function segmentContext(
  dir: string,
  config: LogConfig,
  logger: Logger,
  clock: Clock,
  handles?: HandleCache,
): SegmentContext {
  const ctx = { dir, indexIntervalBytes: config.indexIntervalBytes, logger, nowMs: clock() };
  return handles === undefined ? ctx : { ...ctx, handles };
}
