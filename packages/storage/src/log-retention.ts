/**
 * Retention policy of a partition log: which of the oldest closed segments retention.ms,
 * retention.bytes and the log start offset condemn. {@link Log} applies the verdict under its
 * lock (advance the log start, drop the segments); the active segment is never condemned.
 */
import { assert } from "@strand/base";
import { hasDeleteRetention, type LogConfig } from "./config.ts";
import type { LogSegment } from "./segment.ts";

/** Result of retention or deleteRecordsBefore. */
export interface DeletionResult {
  /** Whole segments deleted. */
  readonly segmentsDeleted: number;
  /** Bytes in them. */
  readonly bytesDeleted: number;
  /** Log start offset afterwards. */
  readonly logStartOffset: bigint;
}

/**
 * How many of the oldest closed segments retention.ms (by each segment's largest timestamp,
 * else its file mtime) and retention.bytes condemn: the larger of the two counts. None under
 * cleanup.policy=compact alone (Kafka's rule: a compacted topic keeps every key's last value).
 */
export async function retentionDeleteCount(
  segments: readonly LogSegment[],
  config: LogConfig,
  nowMs: number,
): Promise<number> {
  if (!hasDeleteRetention(config)) return 0;
  const closed = segments.slice(0, -1);
  const byTime =
    config.retentionMs >= 0 ? await expiredCount(closed, config.retentionMs, nowMs) : 0;
  if (config.retentionBytes < 0) return byTime;
  const totalBytes = segments.reduce((sum, s) => sum + s.sizeBytes, 0);
  return Math.max(byTime, oversizeCount(closed, totalBytes - config.retentionBytes));
}

/** Leading closed segments whose newest batch is older than retention.ms. */
async function expiredCount(
  closed: readonly LogSegment[],
  retentionMs: number,
  nowMs: number,
): Promise<number> {
  let count = 0;
  for (const segment of closed) {
    const largest = await segment.largestTimestamp();
    const newestMs = largest >= 0n ? Number(largest) : await segment.lastModifiedMs();
    if (nowMs - newestMs <= retentionMs) break;
    count += 1;
  }
  return count;
}

/** Leading closed segments whose removal still leaves the log at or above the limit. */
function oversizeCount(closed: readonly LogSegment[], excessBytes: number): number {
  let excess = excessBytes;
  let count = 0;
  for (const segment of closed) {
    if (excess - segment.sizeBytes < 0) break;
    excess -= segment.sizeBytes;
    count += 1;
  }
  return count;
}

/**
 * The number of oldest segments to delete: `count` (capped so the active segment stays) plus
 * every further closed segment wholly below `logStartOffset` (its successor starts at or
 * below it).
 */
export function deletableSegmentCount(
  segments: readonly LogSegment[],
  count: number,
  logStartOffset: bigint,
): number {
  let deleteCount = Math.min(count, segments.length - 1);
  while (
    deleteCount < segments.length - 1 &&
    segments[deleteCount + 1]!.baseOffset <= logStartOffset
  ) {
    deleteCount += 1;
  }
  assert(deleteCount < segments.length, "retention would delete the active segment");
  return deleteCount;
}
