/**
 * Append validation, as Kafka's LogValidator: one pass over the batch headers that checks
 * framing, CRC and size limits, offset order (follower) and leader epochs, and stamps offsets
 * and the epoch in place (leader).
 *
 * The leader also checks what clients send (`checkClientBatch`): a known codec, records that
 * match the header (count, offset deltas 0..n-1, lengths; compressed sections decompressed
 * within a bound), sane timestamps, no control or transactional batches, and on compacted
 * logs a key on every record. Followers skip
 * it: they copy bytes the leader already validated. Nothing is copied; only a compressed
 * batch allocates (its decompressed section, dropped after the walk).
 */
import {
  ATTR_DELETE_HORIZON,
  BatchHeaderView,
  CorruptBatchError,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  InvalidRecordError,
  InvalidTimestampError,
  inspectBatchRecords,
} from "@strand/protocol";
import { isCompacted, type LogConfig } from "./config.ts";
import { InvalidAppendError, RecordTooLargeError } from "./errors.ts";
import type { EpochEntry, LeaderEpochCache } from "./leader-epoch-cache.ts";
import type { AppendOptions } from "./log.ts";

/** What validation learned about the batches of one append. */
export interface BatchesInfo {
  /**
   * Base offset of the first batch: the log end offset on the leader path; on the follower
   * path at or past it (a compacted leader's log has gaps).
   */
  readonly firstOffset: bigint;
  /** Last offset of the last batch. */
  readonly lastOffset: bigint;
  /** Largest maxTimestamp, -1n when none. */
  readonly maxTimestamp: bigint;
  /** Number of batches. */
  readonly batchCount: number;
  /** Epochs that start within the batches, for the epoch cache. */
  readonly epochStarts: EpochEntry[];
}

/** The log state validation reads. */
export interface ValidationContext {
  /** Size limits. */
  readonly config: LogConfig;
  /** Where the batches must start. */
  readonly logEndOffset: bigint;
  /** Epoch order is checked against it; it is not changed here. */
  readonly epochCache: LeaderEpochCache;
  /** Wall clock (ms) that client timestamps are checked against. */
  readonly nowMs: number;
}

/**
 * Largest distance (ms) a client batch's maxTimestamp may be ahead of the broker's clock:
 * one year. A timestamp far in the future (INT64_MAX in the worst case) keeps its segment
 * from ever being deleted by retention.ms. Kafka checks it only when
 * message.timestamp.after.max.ms is set; Strand always applies this loose bound.
 */
export const MAX_TIMESTAMP_AHEAD_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * Largest decompressed records section of one client batch: 64 MiB, the SDK decoder's own
 * limit, so every batch the leader accepts a consumer can decode.
 */
export const MAX_DECOMPRESSED_BATCH_BYTES = DEFAULT_MAX_DECOMPRESSED_BYTES;

/** One header pass: validate, check limits and order, stamp (leader), collect epochs. */
export function validateBatches(
  batches: Buffer,
  options: AppendOptions,
  log: ValidationContext,
): BatchesInfo {
  if (batches.length === 0)
    throw new CorruptBatchError("append of zero bytes: at least one batch is required");
  if (batches.length > log.config.segmentBytes) {
    throw new RecordTooLargeError(
      `append of ${batches.length} bytes exceeds segment.bytes ${log.config.segmentBytes}`,
    );
  }
  let latestEpoch = options.assignOffsets
    ? checkLeaderEpoch(options.leaderEpoch, log.epochCache)
    : epochBefore(log.logEndOffset, log.epochCache);
  const epochStarts: EpochEntry[] = [];
  let next = log.logEndOffset;
  let firstOffset: bigint | undefined;
  let maxTimestamp = -1n;
  let position = 0;
  let batchCount = 0;
  // Each turn consumes one validated batch (>= header size) or throws.
  while (position < batches.length) {
    const view = new BatchHeaderView(batches, position).validate();
    if (view.sizeBytes > log.config.maxMessageBytes) {
      throw new RecordTooLargeError(
        `batch of ${view.sizeBytes} bytes exceeds max.message.bytes ${log.config.maxMessageBytes}`,
      );
    }
    if (options.assignOffsets) {
      checkClientBatch(view, log.nowMs, isCompacted(log.config));
      stampBatch(view, next, options.leaderEpoch);
    } else {
      latestEpoch = checkFollowerBatch(view, next, latestEpoch, epochStarts);
    }
    firstOffset ??= view.baseOffset;
    if (view.maxTimestamp > maxTimestamp) maxTimestamp = view.maxTimestamp;
    next = view.nextOffset;
    position += view.sizeBytes;
    batchCount += 1;
  }
  if (options.assignOffsets && options.leaderEpoch > log.epochCache.latestEpoch()) {
    epochStarts.push({ epoch: options.leaderEpoch, startOffset: log.logEndOffset });
  }
  return {
    firstOffset: firstOffset ?? log.logEndOffset,
    lastOffset: next - 1n,
    maxTimestamp,
    batchCount,
    epochStarts,
  };
}

export function checkLeaderEpoch(epoch: number, epochCache: LeaderEpochCache): number {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 2 ** 31 - 1) {
    throw new InvalidAppendError(`leader epoch ${epoch} is not a non-negative int32`);
  }
  const latest = epochCache.latestEpoch();
  if (epoch < latest)
    throw new InvalidAppendError(
      `leader epoch ${epoch} is older than the log's latest epoch ${latest}`,
    );
  return epoch;
}

/** Epoch of the last batch before `offset` (cache entries at or past it announce no data). */
function epochBefore(offset: bigint, epochCache: LeaderEpochCache): number {
  return epochCache.entries().findLast((e) => e.startOffset < offset)?.epoch ?? -1;
}

function checkFollowerBatch(
  view: BatchHeaderView,
  expected: bigint,
  latestEpoch: number,
  epochStarts: EpochEntry[],
): number {
  // A gap is allowed (the leader's compacted log skips offsets); overlap or reorder is not.
  if (view.baseOffset < expected) {
    throw new InvalidAppendError(
      `follower batch starts at offset ${view.baseOffset}, below the log's next offset ${expected}`,
    );
  }
  const epoch = view.partitionLeaderEpoch;
  if (epoch < latestEpoch) {
    throw new InvalidAppendError(
      `batch at offset ${view.baseOffset} has leader epoch ${epoch}, below the log's ${latestEpoch}`,
    );
  }
  if (epoch > latestEpoch) epochStarts.push({ epoch, startOffset: view.baseOffset });
  return epoch;
}

/** Stamps the leader path fields; both are outside the CRC, which stays valid. */
function stampBatch(view: BatchHeaderView, baseOffset: bigint, leaderEpoch: number): void {
  // Kafka rejects a client batch whose offset span disagrees with its record count.
  if (view.recordCount !== view.lastOffsetDelta + 1) {
    throw new InvalidRecordError(
      `batch declares ${view.recordCount} records but lastOffsetDelta ${view.lastOffsetDelta}`,
    );
  }
  view.setBaseOffset(baseOffset);
  view.setPartitionLeaderEpoch(leaderEpoch);
}

/**
 * The leader's checks of a client batch, cheapest first (see the module comment). Throws
 * InvalidRecordError, InvalidTimestampError, UnsupportedCompressionError or
 * CorruptBatchError naming the problem; each maps to its wire code.
 */
function checkClientBatch(view: BatchHeaderView, nowMs: number, requireKeys: boolean): void {
  if (view.isControl) {
    throw new InvalidRecordError(
      "control batches are written by the broker only; a client may not send one",
    );
  }
  if (view.isTransactional) {
    throw new InvalidRecordError(
      "transactional batches are refused: Strand does not support transactions yet",
    );
  }
  checkTimestamps(view, nowMs);
  inspectBatchRecords(view, { maxDecompressedBytes: MAX_DECOMPRESSED_BATCH_BYTES, requireKeys });
}

function checkTimestamps(view: BatchHeaderView, nowMs: number): void {
  const base = view.baseTimestamp;
  const max = view.maxTimestamp;
  // -1 is Kafka's "no timestamp"; anything lower is garbage.
  if (base < -1n || max < -1n) {
    throw new InvalidTimestampError(
      `baseTimestamp ${base} or maxTimestamp ${max} is below -1 (no timestamp)`,
    );
  }
  const limit = BigInt(nowMs) + BigInt(MAX_TIMESTAMP_AHEAD_MS);
  if (max > limit) {
    throw new InvalidTimestampError(
      `maxTimestamp ${max} is more than a year ahead of the broker clock ${nowMs}`,
    );
  }
  // With a delete horizon, baseTimestamp is not a record timestamp.
  if ((view.attributes & ATTR_DELETE_HORIZON) === 0 && base > max) {
    throw new InvalidTimestampError(
      `baseTimestamp ${base} is after maxTimestamp ${max}: the largest timestamp cannot be below the first`,
    );
  }
}
