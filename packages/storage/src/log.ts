/**
 * A partition log: a folder of segments plus checkpoints, as Kafka's UnifiedLog/LocalLog.
 *
 * ```
 * <topic>-<partition>/
 *   00000000000000000000.log        batches, exactly the bytes producers/leaders sent
 *   00000000000000000000.index      sparse offset index
 *   00000000000000000000.timeindex  sparse time index
 *   00000000000000001200.log ...    next segment, named by its base offset
 *   recovery-point-offset-checkpoint  offsets below this are fsynced
 *   log-start-offset-checkpoint       offsets below this are deleted
 *   leader-epoch-checkpoint           epoch -> start offset
 *   .clean-shutdown                   present only between close() and the next open
 * ```
 *
 * Invariants: segments are sorted by base offset and do not overlap (each segment's batches lie
 * at or after its base offset and below the next segment's); offsets strictly increase along
 * the log, with gaps only where the cleaner removed records (log-cleaner.ts) or a follower
 * copied a compacted leader's gaps; a leader's appends are contiguous from the log end; epochs
 * never decrease along the log; logStartOffset <= logEndOffset. They
 * are asserted where they can break, and the assertions stay on in production: a broken one
 * takes the log offline through the failure funnel.
 *
 * Split as Kafka splits UnifiedLog: opening and crash recovery live in log-loader.ts
 * (LogLoader), batch validation in log-validator.ts (LogValidator), the retention policy in
 * log-retention.ts. This class keeps the lock, the failure funnel, append, roll, flush, read,
 * truncation, and applying deletions.
 */

import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  AssertionFailure,
  assert,
  fsyncDir,
  type Logger,
  Mutex,
  noopLogger,
  writeFileAtomic,
} from "@strand/base";
import { StrandError } from "@strand/protocol";
import {
  type CleanerAccess,
  type CleanOptions,
  type CleanResult,
  compactLog,
  measureCleanable,
} from "./cleaner/compact-log.ts";
import type { CleanableRange } from "./cleaner/plan.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type LogConfig, resolveLogConfig } from "./config.ts";
import { LogOffsetOutOfRangeError, LogStorageError } from "./errors.ts";
import { readOffsetCheckpoint, writeOffsetCheckpoint } from "./files.ts";
import type { HandleCache } from "./handle-cache.ts";
import type { EpochEndOffset, EpochEntry, LeaderEpochCache } from "./leader-epoch-cache.ts";
import {
  CLEAN_SHUTDOWN_FILE,
  CLEANER_CHECKPOINT_FILE,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  type LoadedLog,
  LogLoader,
  RECOVERY_POINT_CHECKPOINT_FILE,
  type RecoveryReport,
} from "./log-loader.ts";
import {
  type DeletionResult,
  deletableSegmentCount,
  retentionDeleteCount,
} from "./log-retention.ts";
import { type BatchesInfo, checkLeaderEpoch, validateBatches } from "./log-validator.ts";
import { LogSegment, type SegmentContext } from "./segment.ts";
import {
  assertSegmentOrder,
  deleteSegments,
  floorSegmentIndex,
  releaseSegments,
  segmentContext,
} from "./segment-list.ts";
import { TailCache, type TailCacheBudget } from "./tail-cache.ts";

/** Dependencies injected into a log. */
export interface LogOptions {
  /** Structured logger (pino-compatible); default drops everything. */
  readonly logger?: Logger;
  /** Wall clock in ms; default Date.now. Drives segment.ms and flush.ms. */
  readonly clock?: Clock;
  /** Bounds sealed segments' open file handles (shared by a LogManager's logs). */
  readonly handles?: HandleCache;
  /** Called once when the failure funnel takes the log offline (the broker reports it). */
  readonly onOffline?: (error: Error) => void;
  /** The broker-wide tail cache bound (shared by a LogManager's logs); none: no cache. */
  readonly tailCache?: TailCacheBudget;
}

/** Options of {@link Log.append}. */
export interface AppendOptions {
  /** Leader path: stamp offsets from the log end offset and `leaderEpoch` into every batch. */
  readonly assignOffsets: boolean;
  /** The leader's epoch; used (and must be >= the latest cached epoch) when assignOffsets. */
  readonly leaderEpoch: number;
}

/** What an append wrote. */
export interface AppendResult {
  /** Base offset of the first batch. */
  readonly firstOffset: bigint;
  /** Last offset of the last batch. */
  readonly lastOffset: bigint;
  /** Largest maxTimestamp over the batches (-1n when none carries one). */
  readonly maxTimestamp: bigint;
  /** Bytes written to the segment. */
  readonly appendedBytes: number;
  /** Number of batches written. */
  readonly batchCount: number;
}

/** Options of {@link Log.read}. */
export interface ReadOptions {
  /** Soft byte limit: whole batches only; see minOneBatch. */
  readonly maxBytes: number;
  /** Exclusive upper bound (the high watermark): no batch starting at or after it. */
  readonly maxOffset?: bigint;
  /** Return the first batch even if larger than maxBytes (default true), as Kafka. */
  readonly minOneBatch?: boolean;
}

/** Result of {@link Log.read}. */
export interface ReadResult {
  /** Whole batches, back to back; empty at the log end or the maxOffset bound. */
  readonly records: Buffer;
  /** Base offset of the first batch returned (may be below the requested offset). */
  readonly firstOffset: bigint;
  /** Offset after the last batch returned: where the next read continues. */
  readonly nextOffset: bigint;
  /** Log start offset at read time. */
  readonly logStartOffset: bigint;
  /** Log end offset at read time. */
  readonly logEndOffset: bigint;
}

/** Result of truncateTo. */
export interface TruncationResult {
  /** Bytes removed from the end of the log, deleted segments included. */
  readonly bytesRemoved: number;
  /** Segments deleted whole. */
  readonly segmentsDeleted: number;
  /** Log end offset afterwards (the start of the batch containing the target, at most). */
  readonly logEndOffset: bigint;
}

/** The first batch at or after a timestamp. */
export interface TimestampOffset {
  /** Base offset of the batch (never below the log start offset). */
  readonly offset: bigint;
  /** The batch's maxTimestamp. */
  readonly timestamp: bigint;
}

/** A partition log. Create with {@link Log.open}. */
export class Log {
  /** The partition folder. */
  readonly dir: string;
  private configValue: LogConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly handles: HandleCache | undefined;
  private readonly onOffline: ((error: Error) => void) | undefined;
  private readonly mutex = new Mutex();
  /** Recent batches of the active segment, ending at the log end (tail-cache.ts). */
  private readonly tail: TailCache | undefined;
  private segments: LogSegment[];
  private readonly epochCache: LeaderEpochCache;
  private logStartOffsetValue: bigint;
  private logEndOffsetValue: bigint;
  private recoveryPointValue: bigint;
  private checkpointedRecoveryPoint: bigint;
  private unflushedMessages = 0;
  private lastFlushMs: number;
  private failure: Error | undefined;
  private closed = false;
  private readonly report: RecoveryReport;
  /** The cleaner checkpoint: below it the log holds at most one record per key. */
  private firstDirtyOffsetValue: bigint;
  /** Truncations so far; a cleaning pass that saw the count change does not swap. */
  private truncationCount = 0;

  private constructor(dir: string, config: LogConfig, options: LogOptions, loaded: LoadedLog) {
    this.dir = dir;
    this.configValue = config;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.handles = options.handles;
    this.onOffline = options.onOffline;
    this.tail = options.tailCache === undefined ? undefined : new TailCache(options.tailCache);
    this.lastFlushMs = this.clock();
    this.segments = loaded.segments;
    this.epochCache = loaded.epochCache;
    this.logStartOffsetValue = loaded.logStartOffset;
    this.logEndOffsetValue = loaded.logEndOffset;
    this.recoveryPointValue = loaded.recoveryPoint;
    // The loader wrote every checkpoint, the recovery point included.
    this.checkpointedRecoveryPoint = loaded.recoveryPoint;
    this.report = loaded.report;
    this.firstDirtyOffsetValue = loaded.logStartOffset;
  }

  /**
   * Opens (creating if needed) the log in `dir`, recovering it if it was not closed cleanly
   * (see {@link LogLoader}). Throws InvalidLogConfigError for bad config and LogStorageError
   * for unusable files.
   */
  static async open(
    dir: string,
    config: Partial<LogConfig> = {},
    options: LogOptions = {},
  ): Promise<Log> {
    const resolved = resolveLogConfig(config);
    const logger = options.logger ?? noopLogger;
    try {
      await mkdir(dir, { recursive: true });
      const clock = options.clock ?? systemClock;
      const loaded = await LogLoader.load(dir, resolved, logger, clock, options.handles);
      const log = new Log(dir, resolved, options, loaded);
      await log.loadCleanerCheckpoint();
      return log;
    } catch (error) {
      throw toStorageError(`opening log ${dir}`, error);
    }
  }

  /** The resolved configuration in force (replaced by {@link Log.updateConfig}). */
  get config(): LogConfig {
    return this.configValue;
  }

  /**
   * Replaces settings at run time (a topic's config was altered): `overrides` are merged over
   * the current config and checked by {@link resolveLogConfig}; a bad value throws
   * InvalidLogConfigError and changes nothing. Taken under the log's lock, so an append in
   * progress finishes under the old values; after it, segment.bytes and segment.ms drive the
   * next roll decision, flush.* the next flush decision, retention.* the next retention pass
   * and max.message.bytes the next append. Nothing already written is rewritten.
   */
  updateConfig(overrides: Partial<LogConfig>): Promise<LogConfig> {
    return this.mutex.run(async () => {
      this.checkUsable();
      const next = resolveLogConfig({ ...this.configValue, ...overrides });
      if (!sameConfig(next, this.configValue)) {
        this.logger.info({ dir: this.dir, config: next }, "log config updated");
        this.configValue = next;
      }
      return next;
    });
  }

  /** First offset still in the log. */
  get logStartOffset(): bigint {
    return this.logStartOffsetValue;
  }

  /** Offset the next appended batch gets. */
  get logEndOffset(): bigint {
    return this.logEndOffsetValue;
  }

  /** Offsets below this were fsynced (as known in memory; the checkpoint may lag). */
  get recoveryPoint(): bigint {
    return this.recoveryPointValue;
  }

  /** What the last open found and repaired. */
  get recoveryReport(): RecoveryReport {
    return this.report;
  }

  /** Total bytes of all segment files. */
  get sizeBytes(): number {
    return this.segments.reduce((sum, s) => sum + s.sizeBytes, 0);
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): bigint[] {
    return this.segments.map((s) => s.baseOffset);
  }

  /** A copy of the leader-epoch cache entries, oldest first. */
  epochEntries(): EpochEntry[] {
    return this.epochCache.entries();
  }

  /** The latest leader epoch in the cache, or -1. */
  latestEpoch(): number {
    return this.epochCache.latestEpoch();
  }

  /** Kafka's OffsetsForLeaderEpoch for this log (see {@link LeaderEpochCache.endOffsetForEpoch}). */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochCache.endOffsetForEpoch(epoch, this.logEndOffsetValue);
  }

  private segmentContext(): SegmentContext {
    return segmentContext(this.dir, this.config, this.logger, this.clock, this.handles);
  }

  private activeSegment(): LogSegment {
    const active = this.segments.at(-1);
    assert(active !== undefined, "a log always has an active segment");
    return active;
  }

  /** Runs a state-changing operation alone; I/O failures take the log offline. */
  private exclusive<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      this.checkUsable();
      try {
        return await fn();
      } catch (error) {
        throw this.fail(operation, error);
      }
    });
  }

  private checkUsable(): void {
    if (this.failure) {
      throw new LogStorageError(
        `log ${this.dir} is offline after an earlier failure: ${this.failure.message}`,
        {
          cause: this.failure,
        },
      );
    }
    if (this.closed) throw new LogStorageError(`log ${this.dir} is closed`);
  }

  /**
   * The single funnel for errors: input errors (bad batches, out-of-range offsets) leave the
   * log usable; anything else (I/O errors, corrupt files, broken invariants) means the files
   * may not match memory, so the log goes offline until it is reopened and recovered.
   */
  private fail(operation: string, error: unknown): unknown {
    if (error instanceof StrandError && !(error instanceof LogStorageError)) return error;
    const wrapped =
      error instanceof AssertionFailure
        ? error
        : toStorageError(`${operation} on ${this.dir}`, error);
    const first = this.failure === undefined;
    this.failure = wrapped as Error;
    this.tail?.clear();
    this.logger.error({ dir: this.dir, operation, err: wrapped }, "log failed and is now offline");
    if (first) this.onOffline?.(this.failure);
    return wrapped;
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends whole RecordBatch v2 batches. Every batch is validated (framing + CRC). Leader
   * path (`assignOffsets`): baseOffset and partitionLeaderEpoch are stamped in place in the
   * caller's buffer, after the client checks of log-validator.ts (codec, records against the
   * header, timestamps, no control/transactional batches). Follower path: the first batch
   * must start at the log end offset and each next one where the previous ended, headers
   * only. The buffer is written with one write; nothing is copied. A leader's log keeps a
   * reference to it in its tail cache: the caller hands the buffer over and must not modify it
   * after.
   */
  append(batches: Buffer, options: AppendOptions): Promise<AppendResult> {
    return this.exclusive("append", async () => {
      const info = validateBatches(batches, options, {
        config: this.config,
        logEndOffset: this.logEndOffsetValue,
        epochCache: this.epochCache,
        nowMs: this.clock(),
      });
      // Offsets are never reused: the append starts at the log end (a follower's may skip a
      // compacted gap past it) and moves it.
      assert(
        info.firstOffset >= this.logEndOffsetValue && info.lastOffset >= info.firstOffset,
        `append of offsets ${info.firstOffset}..${info.lastOffset} at log end ${this.logEndOffsetValue}`,
      );
      const segment = await this.maybeRoll(info, batches.length);
      assert(segment === this.activeSegment(), "appends go to the last segment only");
      await segment.append(batches);
      const previousEnd = this.logEndOffsetValue;
      // The cache and the log end move together (no await between): a read sees both or neither.
      // Only a leader's appends are cached: a follower serves no reads, and caching its
      // appends cost a copy of every replicated byte (they are views of a larger message).
      // Cleared instead, so the cache stays contiguous up to the log end.
      if (options.assignOffsets) this.tail?.append(batches);
      else this.tail?.clear();
      this.logEndOffsetValue = info.lastOffset + 1n;
      await this.recordEpochs(previousEnd, info.epochStarts);
      this.unflushedMessages += Number(info.lastOffset - info.firstOffset + 1n);
      await this.maybeFlushLocked();
      return {
        firstOffset: info.firstOffset,
        lastOffset: info.lastOffset,
        maxTimestamp: info.maxTimestamp,
        appendedBytes: batches.length,
        batchCount: info.batchCount,
      };
    });
  }

  /** Makes the epoch cache describe the appended batches, persisting it when it changed. */
  private async recordEpochs(
    previousEnd: bigint,
    epochStarts: readonly EpochEntry[],
  ): Promise<void> {
    if (epochStarts.length === 0) return;
    // Entries at or past the old log end were "became leader" markers with no data behind
    // them; the appended batches now say which epochs wrote there.
    this.epochCache.truncateFromEnd(previousEnd);
    for (const entry of epochStarts) this.epochCache.assign(entry.epoch, entry.startOffset);
    await this.epochCache.persist();
  }

  /**
   * Records that this replica became leader in `epoch`: the epoch starts at the log end
   * offset (Kafka's maybeAssignEpochStartOffset), so OffsetsForLeaderEpoch answers for it
   * before the first batch of the epoch is appended.
   */
  assignLeaderEpoch(epoch: number): Promise<void> {
    return this.exclusive("assign leader epoch", async () => {
      checkLeaderEpoch(epoch, this.epochCache);
      if (this.epochCache.assign(epoch, this.logEndOffsetValue)) await this.epochCache.persist();
    });
  }

  /**
   * Rolls before appending when the active segment (if not empty) would pass segment.bytes,
   * is older than segment.ms, or cannot hold the new offsets in its int32 relative index.
   */
  private async maybeRoll(info: BatchesInfo, appendBytes: number): Promise<LogSegment> {
    const active = this.activeSegment();
    if (active.sizeBytes === 0) return active;
    // Runs per append: the first timestamp without a promise once the segment knows it.
    const firstTimestamp = active.tailStateKnown
      ? active.knownFirstBatchTimestamp()
      : await active.firstBatchTimestamp();
    const reason = this.rollReason(active, info, appendBytes, firstTimestamp);
    if (reason === undefined) return active;
    return this.roll(info.firstOffset, reason);
  }

  private rollReason(
    active: LogSegment,
    info: BatchesInfo,
    appendBytes: number,
    firstTimestamp: bigint | undefined,
  ): string | undefined {
    if (active.sizeBytes > this.config.segmentBytes - appendBytes) return "segment.bytes";
    if (!active.canHoldOffset(info.lastOffset)) return "relative offset overflow";
    // Kafka's rule: age measured between the first batch's timestamp and the new batches'
    // when batches carry timestamps (replicas then roll alike), else by the clock.
    const waitedMs =
      firstTimestamp !== undefined && firstTimestamp >= 0n && info.maxTimestamp >= 0n
        ? Number(info.maxTimestamp - firstTimestamp)
        : this.clock() - active.createdMs;
    return waitedMs > this.config.segmentMs ? "segment.ms" : undefined;
  }

  private async roll(baseOffset: bigint, reason: string): Promise<LogSegment> {
    const previous = this.activeSegment();
    assert(
      baseOffset >= this.logEndOffsetValue,
      "a new segment starts at the log end offset or at the first batch past a gap",
    );
    assert(
      baseOffset > previous.baseOffset,
      `new segment ${baseOffset} does not follow segment ${previous.baseOffset}`,
    );
    await previous.seal();
    const segment = await LogSegment.create(this.segmentContext(), baseOffset);
    // The cache holds the active segment only, so the cleaner (sealed segments) never
    // rewrites bytes it still serves.
    this.tail?.clear();
    this.segments.push(segment);
    await fsyncDir(this.dir);
    await previous.unloadIndexes();
    // seal() fsynced the previous segment, so everything up to the log end is durable. Not the
    // new base: a follower's roll at a batch past a compacted gap starts beyond the log end.
    this.recoveryPointValue = this.logEndOffsetValue;
    this.unflushedMessages = 0;
    await this.checkpointRecoveryPointLocked();
    this.logger.info(
      { dir: this.dir, baseOffset: baseOffset.toString(), reason },
      "rolled a new segment",
    );
    return segment;
  }

  // ---------------------------------------------------------------- flush

  private async maybeFlushLocked(): Promise<void> {
    const due =
      this.config.fsyncOnAppend ||
      this.unflushedMessages >= this.config.flushMessages ||
      this.clock() - this.lastFlushMs >= this.config.flushMs;
    if (due) await this.flushLocked();
  }

  private async flushLocked(): Promise<void> {
    assert(
      this.recoveryPointValue <= this.logEndOffsetValue,
      `recovery point ${this.recoveryPointValue} is beyond the log end ${this.logEndOffsetValue}`,
    );
    const from = floorSegmentIndex(this.segments, this.recoveryPointValue);
    for (const segment of this.segments.slice(from)) await segment.flush();
    this.recoveryPointValue = this.logEndOffsetValue;
    this.unflushedMessages = 0;
    this.lastFlushMs = this.clock();
  }

  /** fsyncs everything appended so far, advances the recovery point and checkpoints it. */
  flush(): Promise<void> {
    return this.exclusive("flush", async () => {
      await this.flushLocked();
      await this.checkpointRecoveryPointLocked();
    });
  }

  /** Flushes if flush.ms elapsed since the last flush (called by a timer); true if it did. */
  flushIfDue(nowMs: number): Promise<boolean> {
    return this.exclusive("flush", async () => {
      if (this.recoveryPointValue === this.logEndOffsetValue) return false;
      if (nowMs - this.lastFlushMs < this.config.flushMs) return false;
      await this.flushLocked();
      return true;
    });
  }

  /** Persists the in-memory recovery point if it moved (periodic, like Kafka's checkpointer). */
  checkpointRecoveryPoint(): Promise<void> {
    return this.exclusive("checkpoint", () => this.checkpointRecoveryPointLocked());
  }

  private async checkpointRecoveryPointLocked(): Promise<void> {
    if (this.checkpointedRecoveryPoint === this.recoveryPointValue) return;
    // A checkpoint past the log end would let recovery skip data appended after a crash.
    assert(
      this.recoveryPointValue <= this.logEndOffsetValue,
      `recovery point ${this.recoveryPointValue} checkpointed beyond the log end ${this.logEndOffsetValue}`,
    );
    await writeOffsetCheckpoint(
      path.join(this.dir, RECOVERY_POINT_CHECKPOINT_FILE),
      this.recoveryPointValue,
    );
    this.checkpointedRecoveryPoint = this.recoveryPointValue;
  }

  // ---------------------------------------------------------------- read

  /**
   * Reads whole batches starting with the batch that contains `startOffset`, from one
   * segment, up to `maxBytes` (at least one batch when minOneBatch) and never a batch that
   * starts at or after `maxOffset`. Throws LogOffsetOutOfRangeError outside
   * [logStartOffset, logEndOffset]. Reads do not wait for appends.
   */
  read(startOffset: bigint, options: ReadOptions): Promise<ReadResult> {
    // Not async: most reads (every follower and consumer at the tail) are answered by the
    // tail cache at once, and an async function's frame and promise cost more than the
    // settled promise handed back here. Throws still become rejections.
    try {
      return this.readFromTail(startOffset, options) ?? this.readSegments(startOffset, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The checks of {@link read} and its answer when no segment needs reading (an empty read
   * or a tail-cache hit), as a settled promise; undefined when the segments must be read.
   */
  private readFromTail(startOffset: bigint, options: ReadOptions): Promise<ReadResult> | undefined {
    this.checkUsable();
    const logStartOffset = this.logStartOffsetValue;
    const logEndOffset = this.logEndOffsetValue;
    if (startOffset < logStartOffset || startOffset > logEndOffset) {
      throw new LogOffsetOutOfRangeError(startOffset, { logStartOffset, logEndOffset });
    }
    assert(
      Number.isSafeInteger(options.maxBytes) && options.maxBytes >= 0,
      "maxBytes must be a non-negative integer",
    );
    const maxOffset =
      options.maxOffset !== undefined && options.maxOffset < logEndOffset
        ? options.maxOffset
        : logEndOffset;
    if (startOffset >= maxOffset) {
      const records = Buffer.alloc(0);
      const nextOffset = startOffset;
      return Promise.resolve({
        records,
        firstOffset: startOffset,
        nextOffset,
        logStartOffset,
        logEndOffset,
      });
    }
    const cached = this.tail?.read(startOffset, {
      maxBytes: options.maxBytes,
      maxOffset,
      minOneBatch: options.minOneBatch ?? true,
    });
    if (cached !== undefined) return Promise.resolve({ ...cached, logStartOffset, logEndOffset });
    return undefined;
  }

  private async readSegments(startOffset: bigint, options: ReadOptions): Promise<ReadResult> {
    const logStartOffset = this.logStartOffsetValue;
    const logEndOffset = this.logEndOffsetValue;
    const maxOffset =
      options.maxOffset !== undefined && options.maxOffset < logEndOffset
        ? options.maxOffset
        : logEndOffset;
    const empty = () => ({
      records: Buffer.alloc(0),
      firstOffset: startOffset,
      nextOffset: startOffset,
      logStartOffset,
      logEndOffset,
    });
    // Pin the candidate segments synchronously so retention cannot close them mid-read.
    const candidates = this.segments.slice(floorSegmentIndex(this.segments, startOffset));
    for (const segment of candidates) segment.retain();
    try {
      for (const segment of candidates) {
        const segmentOptions = {
          maxBytes: options.maxBytes,
          maxOffset,
          minOneBatch: options.minOneBatch ?? true,
        };
        const result = await segment.read(startOffset, segmentOptions);
        if (result !== undefined) return { ...result, logStartOffset, logEndOffset };
      }
      return empty();
    } catch (error) {
      throw this.fail("read", error);
    } finally {
      for (const segment of candidates) await segment.release();
    }
  }

  /**
   * The first batch whose maxTimestamp is >= `timestamp` (Kafka's ListOffsets by time, at
   * batch granularity), or undefined when every batch is older.
   */
  async offsetForTimestamp(timestamp: bigint): Promise<TimestampOffset | undefined> {
    this.checkUsable();
    const candidates = [...this.segments];
    for (const segment of candidates) segment.retain();
    try {
      for (const segment of candidates) {
        if ((await segment.largestTimestamp()) < timestamp) continue;
        const found = await segment.findByTimestamp(timestamp);
        if (found === undefined) continue;
        const offset = bigintMax(found.baseOffset, this.logStartOffsetValue);
        return { offset, timestamp: found.maxTimestamp };
      }
      return undefined;
    } catch (error) {
      throw this.fail("offsetForTimestamp", error);
    } finally {
      for (const segment of candidates) await segment.release();
    }
  }

  // ---------------------------------------------------------------- truncation and deletion

  /**
   * Removes every batch at or after `offset` (the whole batch containing it, as Kafka), across
   * segments, fixing indexes, the epoch cache and the recovery point. At or past the log end
   * no batch goes, only epochs that start at the log end (and so hold no batch); below the
   * log start it empties the log and restarts it at `offset`.
   */
  truncateTo(offset: bigint): Promise<TruncationResult> {
    return this.exclusive("truncate", async () => {
      assert(offset >= 0n, `truncation offset ${offset} is negative`);
      if (offset >= this.logEndOffsetValue) {
        // No batch goes, but an epoch this replica recorded when it became leader and then
        // appended nothing in does (Kafka's UnifiedLog.truncateTo): a later leader never saw
        // that epoch, so a follower still naming it as its last would diverge on every fetch.
        if (this.epochCache.truncateFromEnd(this.logEndOffsetValue))
          await this.epochCache.persist();
        return { bytesRemoved: 0, segmentsDeleted: 0, logEndOffset: this.logEndOffsetValue };
      }
      if (offset < this.logStartOffsetValue) {
        const bytesRemoved = this.sizeBytes;
        const segmentsDeleted = this.segments.length;
        await this.truncateFullyLocked(offset);
        return { bytesRemoved, segmentsDeleted, logEndOffset: offset };
      }
      // Before the first await: a concurrent read must not be served bytes being cut.
      this.tail?.clear();
      let bytesRemoved = 0;
      let segmentsDeleted = 0;
      // Delete newest first so a crash mid-way leaves a contiguous prefix.
      while (this.segments.length > 1 && this.activeSegment().baseOffset >= offset) {
        bytesRemoved += await deleteSegments([this.segments.pop()!]);
        segmentsDeleted += 1;
      }
      const active = this.activeSegment();
      bytesRemoved += await active.truncateTo(offset);
      this.logEndOffsetValue = (await active.readNextOffset()) ?? active.baseOffset;
      assert(
        this.logEndOffsetValue <= offset,
        `truncation to ${offset} left the log end at ${this.logEndOffsetValue}`,
      );
      await this.afterTruncation();
      this.logger.info(
        { dir: this.dir, offset: offset.toString(), bytesRemoved, segmentsDeleted },
        "truncated log",
      );
      return { bytesRemoved, segmentsDeleted, logEndOffset: this.logEndOffsetValue };
    });
  }

  /** Epoch cache, recovery point and cleaner checkpoint after the log end moved down. */
  private async afterTruncation(): Promise<void> {
    this.truncationCount += 1;
    // Data appended past the cut is dirty: a checkpoint above it would let the cleaner
    // treat it as deduplicated (and drop tombstones whose older values it never removed).
    if (this.firstDirtyOffsetValue > this.logEndOffsetValue)
      await this.setFirstDirtyOffsetLocked(this.logEndOffsetValue);
    if (this.epochCache.truncateFromEnd(this.logEndOffsetValue)) await this.epochCache.persist();
    if (this.recoveryPointValue > this.logEndOffsetValue)
      this.recoveryPointValue = this.logEndOffsetValue;
    this.unflushedMessages = Number(this.logEndOffsetValue - this.recoveryPointValue);
    // A checkpoint above the new end would let a crash skip re-validating data appended
    // after this truncation, so it is lowered now rather than at the next periodic write.
    if (this.checkpointedRecoveryPoint > this.recoveryPointValue)
      await this.checkpointRecoveryPointLocked();
  }

  /**
   * Deletes every segment and restarts the log empty at `offset` (a follower whose fetch
   * offset fell below the leader's log start offset does this).
   */
  truncateFullyAndStartAt(offset: bigint): Promise<void> {
    return this.exclusive("truncate fully", () => this.truncateFullyLocked(offset));
  }

  private async truncateFullyLocked(offset: bigint): Promise<void> {
    assert(offset >= 0n, `start offset ${offset} is negative`);
    await this.replaceAllSegments(offset);
    this.logStartOffsetValue = offset;
    this.epochCache.clear();
    await this.epochCache.persist();
    await writeOffsetCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT_FILE), offset);
    this.recoveryPointValue = offset;
    this.unflushedMessages = 0;
    await this.checkpointRecoveryPointLocked();
    this.truncationCount += 1;
    await this.setFirstDirtyOffsetLocked(offset);
    this.logger.info({ dir: this.dir, offset: offset.toString() }, "truncated log fully");
  }

  private async replaceAllSegments(offset: bigint): Promise<void> {
    const old = this.segments;
    this.segments = [];
    this.tail?.clear();
    await deleteSegments(old);
    this.segments.push(await LogSegment.create(this.segmentContext(), offset));
    await fsyncDir(this.dir);
    this.logEndOffsetValue = offset;
  }

  /**
   * Advances the log start offset to `offset` (DeleteRecords), persists it, trims the epoch
   * cache, and deletes closed segments wholly below it. `offset` must be <= the log end.
   */
  deleteRecordsBefore(offset: bigint): Promise<DeletionResult> {
    return this.exclusive("delete records", async () => {
      if (offset > this.logEndOffsetValue) {
        throw new LogOffsetOutOfRangeError(offset, {
          logStartOffset: this.logStartOffsetValue,
          logEndOffset: this.logEndOffsetValue,
        });
      }
      if (offset > this.logStartOffsetValue) await this.advanceLogStart(offset);
      return this.deleteOldSegments(0);
    });
  }

  /**
   * Applies retention.ms and retention.bytes (see {@link retentionDeleteCount}), deleting
   * whole closed segments from the oldest, never the active one.
   */
  applyRetention(nowMs: number): Promise<DeletionResult> {
    return this.exclusive("retention", async () =>
      this.deleteOldSegments(await retentionDeleteCount(this.segments, this.config, nowMs)),
    );
  }

  private async advanceLogStart(offset: bigint): Promise<void> {
    assert(offset <= this.logEndOffsetValue, "log start offset beyond the log end");
    assert(offset >= this.logStartOffsetValue, "log start offset moving backwards");
    this.logStartOffsetValue = offset;
    // Checkpoint first: if we crash before deleting files, open() still hides them.
    await writeOffsetCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT_FILE), offset);
    if (this.epochCache.truncateFromStart(offset)) await this.epochCache.persist();
  }

  /**
   * Deletes the `count` oldest segments plus any closed segment wholly below the log start
   * offset; never the active segment.
   */
  private async deleteOldSegments(count: number): Promise<DeletionResult> {
    const deleteCount = deletableSegmentCount(this.segments, count, this.logStartOffsetValue);
    const doomed = this.segments.slice(0, deleteCount);
    if (doomed.length > 0) {
      const newStart = this.segments[deleteCount]!.baseOffset;
      if (newStart > this.logStartOffsetValue) await this.advanceLogStart(newStart);
      this.segments = this.segments.slice(deleteCount);
    }
    assert(
      this.segments[0]!.baseOffset <= this.logStartOffsetValue,
      `log start ${this.logStartOffsetValue} is below the first segment ${this.segments[0]!.baseOffset}`,
    );
    const bytesDeleted = await deleteSegments(doomed);
    if (doomed.length > 0) {
      this.logger.info(
        { dir: this.dir, segments: doomed.length, bytesDeleted },
        "deleted old segments",
      );
    }
    return {
      segmentsDeleted: doomed.length,
      bytesDeleted,
      logStartOffset: this.logStartOffsetValue,
    };
  }

  // ---------------------------------------------------------------- compaction

  /**
   * The cleanable part of a compacted log (see cleaner/plan.ts), bounded by `upperBound` (the
   * high watermark); undefined when cleanup.policy does not compact.
   */
  cleanableRange(nowMs: number, upperBound: bigint): Promise<CleanableRange | undefined> {
    return measureCleanable(this.cleanerAccess(), nowMs, upperBound);
  }

  /**
   * One cleaning pass (cleaner/compact-log.ts): keeps the last record of every key below
   * `options.upperBound` in closed segments, drops tombstones older than delete.retention.ms,
   * and swaps the rewritten segments in atomically. Offsets never change; gaps appear.
   */
  clean(options: CleanOptions): Promise<CleanResult> {
    return compactLog(this.cleanerAccess(), options);
  }

  /** The cleaner checkpoint: where the part not yet cleaned starts. */
  get firstDirtyOffset(): bigint {
    return this.firstDirtyOffsetValue;
  }

  private cleanerAccess(): CleanerAccess {
    return {
      dir: this.dir,
      logger: this.logger,
      locked: (operation, fn) => this.exclusive(operation, fn),
      config: () => this.configValue,
      segments: () => this.segments,
      logStartOffset: () => this.logStartOffsetValue,
      firstDirtyOffset: () => this.firstDirtyOffsetValue,
      truncations: () => this.truncationCount,
      segmentContext: () => this.segmentContext(),
      replaceSegments: (index, count, segment) => {
        this.segments.splice(index, count, segment);
        assertSegmentOrder(this.segments);
        const cachedFrom = this.tail?.firstOffset;
        assert(
          cachedFrom === undefined || cachedFrom >= this.activeSegment().baseOffset,
          "the tail cache holds bytes of a segment the cleaner rewrote",
        );
      },
      setFirstDirtyOffset: (offset) => this.setFirstDirtyOffsetLocked(offset),
    };
  }

  /** Reads the cleaner checkpoint; missing or unreadable means "nothing is clean yet". */
  private async loadCleanerCheckpoint(): Promise<void> {
    const file = path.join(this.dir, CLEANER_CHECKPOINT_FILE);
    const stored = await readOffsetCheckpoint(file).catch((error: unknown) => {
      this.logger.warn({ dir: this.dir, err: error }, "cleaner checkpoint unreadable; ignoring it");
      return undefined;
    });
    if (stored === undefined) return;
    const clamped = bigintMax(stored, this.logStartOffsetValue);
    this.firstDirtyOffsetValue = bigintMin(clamped, this.logEndOffsetValue);
  }

  private async setFirstDirtyOffsetLocked(offset: bigint): Promise<void> {
    assert(offset <= this.logEndOffsetValue, `first dirty offset ${offset} past the log end`);
    this.firstDirtyOffsetValue = offset;
    await writeOffsetCheckpoint(path.join(this.dir, CLEANER_CHECKPOINT_FILE), offset);
  }

  private async writeAllCheckpoints(): Promise<void> {
    await this.epochCache.persist();
    await writeOffsetCheckpoint(
      path.join(this.dir, LOG_START_OFFSET_CHECKPOINT_FILE),
      this.logStartOffsetValue,
    );
    await this.checkpointRecoveryPointLocked();
  }
  // ---------------------------------------------------------------- close

  /**
   * Flushes everything, writes every checkpoint and then the clean-shutdown marker, and
   * closes the files. The next open skips recovery. Idempotent.
   */
  close(): Promise<void> {
    return this.mutex.run(async () => {
      if (this.closed) return;
      if (this.failure) {
        this.closed = true;
        await this.releaseSegments();
        return;
      }
      try {
        await this.activeSegment().seal();
        await this.flushLocked();
        await this.writeAllCheckpoints();
        await writeFileAtomic(path.join(this.dir, CLEAN_SHUTDOWN_FILE), "");
      } catch (error) {
        throw this.fail("close", error);
      } finally {
        this.closed = true;
        await this.releaseSegments();
      }
    });
  }

  private async releaseSegments(): Promise<void> {
    this.tail?.clear();
    const segments = this.segments;
    this.segments = [];
    await releaseSegments(segments);
  }
}

function sameConfig(a: LogConfig, b: LogConfig): boolean {
  return (Object.keys(a) as Array<keyof LogConfig>).every((k) => a[k] === b[k]);
}

function bigintMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function bigintMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** Wraps anything that is not already a Strand error or assertion into a LogStorageError. */
function toStorageError(context: string, error: unknown): Error {
  if (error instanceof StrandError || error instanceof AssertionFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LogStorageError(`${context} failed: ${message}`, { cause: error });
}
