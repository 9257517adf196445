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
 * Invariants: segments are sorted by base offset and contiguous (each segment's first batch
 * is its base offset, the next segment starts at the previous one's end); offsets in the log
 * are contiguous; epochs never decrease along the log; logStartOffset <= logEndOffset.
 */
import { mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import {
  AssertionFailure,
  assert,
  fsyncDir,
  type Logger,
  Mutex,
  noopLogger,
  TMP_SUFFIX,
  unlinkIfExists,
  writeFileAtomic,
} from "@strand/base";
import {
  BatchHeaderView,
  CorruptBatchError,
  InvalidRecordError,
  StrandError,
} from "@strand/protocol";
import { type Clock, systemClock } from "./clock.ts";
import { type LogConfig, resolveLogConfig } from "./config.ts";
import {
  InvalidAppendError,
  LogOffsetOutOfRangeError,
  LogStorageError,
  RecordTooLargeError,
} from "./errors.ts";
import { parseSegmentFileName, readOffsetCheckpoint, writeOffsetCheckpoint } from "./files.ts";
import {
  type EpochEndOffset,
  type EpochEntry,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LeaderEpochCache,
} from "./leader-epoch-cache.ts";
import { LogSegment, type SegmentContext } from "./segment.ts";

/** Marker written by close() after everything is durable; its presence skips recovery. */
export const CLEAN_SHUTDOWN_FILE = ".clean-shutdown";
/** Per-log recovery point checkpoint. */
export const RECOVERY_POINT_CHECKPOINT_FILE = "recovery-point-offset-checkpoint";
/** Per-log log start offset checkpoint. */
export const LOG_START_OFFSET_CHECKPOINT_FILE = "log-start-offset-checkpoint";

/** Dependencies injected into a log. */
export interface LogOptions {
  /** Structured logger (pino-compatible); default drops everything. */
  readonly logger?: Logger;
  /** Wall clock in ms; default Date.now. Drives segment.ms and flush.ms. */
  readonly clock?: Clock;
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

/** What open() found and repaired; also logged as one warn line when anything was repaired. */
export interface RecoveryReport {
  /** True when a clean-shutdown marker was found, so no segment was re-validated. */
  readonly cleanShutdown: boolean;
  /** Recovery point read from the checkpoint (0 when missing or unreadable). */
  readonly recoveryPointOffset: bigint;
  /** Segments whose batches were re-validated. */
  readonly segmentsRecovered: number;
  /** Batches re-validated. */
  readonly batchesRecovered: number;
  /** Bytes cut from the end of the segment holding the first torn or corrupt batch. */
  readonly bytesTruncated: number;
  /** Segments deleted because they followed a torn or corrupt batch. */
  readonly segmentsDeleted: number;
  /** Bytes in those deleted segments. */
  readonly bytesDeleted: number;
  /** Indexes found missing or corrupt in segments that were not re-validated, and rebuilt. */
  readonly indexesRebuilt: number;
  /** Checkpoints that were unreadable and replaced (their names). */
  readonly checkpointsReset: readonly string[];
  /** Why the scan stopped early, when it did. */
  readonly stopDetail?: string;
  /** Log start offset after open. */
  readonly logStartOffset: bigint;
  /** Log end offset after open. */
  readonly logEndOffset: bigint;
}

/** Result of retention or deleteRecordsBefore. */
export interface DeletionResult {
  /** Whole segments deleted. */
  readonly segmentsDeleted: number;
  /** Bytes in them. */
  readonly bytesDeleted: number;
  /** Log start offset afterwards. */
  readonly logStartOffset: bigint;
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

interface BatchesInfo {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly maxTimestamp: bigint;
  readonly batchCount: number;
  readonly epochStarts: EpochEntry[];
}

interface MutableReport {
  cleanShutdown: boolean;
  recoveryPointOffset: bigint;
  segmentsRecovered: number;
  batchesRecovered: number;
  bytesTruncated: number;
  segmentsDeleted: number;
  bytesDeleted: number;
  indexesRebuilt: number;
  checkpointsReset: string[];
  stopDetail?: string;
}

/** A partition log. Create with {@link Log.open}. */
export class Log {
  /** The partition folder. */
  readonly dir: string;
  /** The resolved configuration. */
  readonly config: LogConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly mutex = new Mutex();
  private segments: LogSegment[] = [];
  private epochCache: LeaderEpochCache;
  private logStartOffsetValue = 0n;
  private logEndOffsetValue = 0n;
  private recoveryPointValue = 0n;
  private checkpointedRecoveryPoint = -1n;
  private unflushedMessages = 0;
  private lastFlushMs: number;
  private failure: Error | undefined;
  private closed = false;
  private report: RecoveryReport | undefined;

  private constructor(dir: string, config: LogConfig, options: LogOptions) {
    this.dir = dir;
    this.config = config;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.lastFlushMs = this.clock();
    this.epochCache = new LeaderEpochCache(
      path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE),
      [],
      this.logger,
    );
  }

  /**
   * Opens (creating if needed) the log in `dir`, recovering it if it was not closed cleanly.
   * Throws InvalidLogConfigError for bad config and LogStorageError for unusable files.
   */
  static async open(
    dir: string,
    config: Partial<LogConfig> = {},
    options: LogOptions = {},
  ): Promise<Log> {
    const log = new Log(dir, resolveLogConfig(config), options);
    try {
      await mkdir(dir, { recursive: true });
      await log.load();
    } catch (error) {
      await log.releaseSegments();
      throw toStorageError(`opening log ${dir}`, error);
    }
    return log;
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
    assert(this.report !== undefined, "recovery report read before open finished");
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
    return {
      dir: this.dir,
      indexIntervalBytes: this.config.indexIntervalBytes,
      logger: this.logger,
      nowMs: this.clock(),
    };
  }

  private activeSegment(): LogSegment {
    const active = this.segments.at(-1);
    assert(active !== undefined, "a log always has an active segment");
    return active;
  }

  /** Index of the last segment whose base offset is <= `offset` (0 when below all). */
  private floorSegmentIndex(offset: bigint): number {
    let low = 0;
    let high = this.segments.length - 1;
    let found = 0;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
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
    this.failure = wrapped as Error;
    this.logger.error({ dir: this.dir, operation, err: wrapped }, "log failed and is now offline");
    return wrapped;
  }

  // ---------------------------------------------------------------- open and recovery

  private async load(): Promise<void> {
    const names = await readdir(this.dir);
    const report: MutableReport = {
      cleanShutdown: names.includes(CLEAN_SHUTDOWN_FILE),
      recoveryPointOffset: 0n,
      segmentsRecovered: 0,
      batchesRecovered: 0,
      bytesTruncated: 0,
      segmentsDeleted: 0,
      bytesDeleted: 0,
      indexesRebuilt: 0,
      checkpointsReset: [],
    };
    const bases = await this.removeLeftovers(names);
    const checkpoints = await this.readCheckpoints(report, bases.length > 0);
    report.recoveryPointOffset = checkpoints.recoveryPoint;
    for (const base of bases)
      this.segments.push(await LogSegment.open(this.segmentContext(), base));
    if (this.segments.length > 0 && (!report.cleanShutdown || checkpoints.fullScan)) {
      await this.recoverSegments(checkpoints.fullScan ? 0n : checkpoints.recoveryPoint, report);
    }
    await this.checkIndexes(report);
    if (this.segments.length === 0) {
      this.segments.push(
        await LogSegment.create(this.segmentContext(), checkpoints.logStartOffset ?? 0n),
      );
    }
    await this.settleOffsets(checkpoints.logStartOffset);
    await this.writeAllCheckpoints();
    await unlinkIfExists(path.join(this.dir, CLEAN_SHUTDOWN_FILE));
    await fsyncDir(this.dir);
    this.finishReport(report);
  }

  /** Deletes interrupted checkpoint writes and index files without a log; returns log bases. */
  private async removeLeftovers(names: readonly string[]): Promise<bigint[]> {
    const logBases = new Set<bigint>();
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (parsed?.kind === "log") logBases.add(parsed.baseOffset);
    }
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      const orphanIndex =
        parsed !== undefined && parsed.kind !== "log" && !logBases.has(parsed.baseOffset);
      if (name.endsWith(TMP_SUFFIX) || orphanIndex) {
        this.logger.info({ dir: this.dir, file: name }, "deleting leftover file");
        await unlinkIfExists(path.join(this.dir, name));
      }
    }
    return [...logBases].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Reads the three checkpoints. An unreadable checkpoint is reported and replaced by the
   * safe choice: recovery point 0 (re-validate everything), log start offset from the first
   * segment, and for the epoch cache a full scan that rebuilds it from the batches' epochs.
   */
  private async readCheckpoints(
    report: MutableReport,
    hasSegments: boolean,
  ): Promise<{ recoveryPoint: bigint; logStartOffset: bigint | undefined; fullScan: boolean }> {
    const read = async <T>(name: string, reader: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await reader();
      } catch (error) {
        if (!(error instanceof LogStorageError)) throw error;
        this.logger.warn(
          { dir: this.dir, file: name, err: error.message },
          "checkpoint unreadable; ignoring it",
        );
        report.checkpointsReset.push(name);
        return undefined;
      }
    };
    const recoveryPoint = await read(RECOVERY_POINT_CHECKPOINT_FILE, () =>
      readOffsetCheckpoint(path.join(this.dir, RECOVERY_POINT_CHECKPOINT_FILE)),
    );
    const logStartOffset = await read(LOG_START_OFFSET_CHECKPOINT_FILE, () =>
      readOffsetCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT_FILE)),
    );
    const epochPath = path.join(this.dir, LEADER_EPOCH_CHECKPOINT_FILE);
    // A missing epoch checkpoint beside existing segments is as bad as a corrupt one.
    const epochFileExists = await stat(epochPath).then(
      () => true,
      () => false,
    );
    const cache =
      epochFileExists || !hasSegments
        ? await read(LEADER_EPOCH_CHECKPOINT_FILE, () =>
            LeaderEpochCache.load(epochPath, this.logger),
          )
        : undefined;
    this.epochCache = cache ?? new LeaderEpochCache(epochPath, [], this.logger);
    return {
      recoveryPoint: recoveryPoint ?? 0n,
      logStartOffset,
      fullScan: hasSegments && cache === undefined,
    };
  }

  /**
   * Re-validates every segment from the one holding `recoveryPoint` to the end, cutting the
   * log at the first torn or corrupt batch and deleting every later segment. The epoch cache
   * tail is rebuilt from the batches scanned.
   */
  private async recoverSegments(recoveryPoint: bigint, report: MutableReport): Promise<void> {
    const first = this.floorSegmentIndex(recoveryPoint);
    this.epochCache.truncateFromEnd(this.segments[first]!.baseOffset);
    let expected: bigint | undefined;
    for (let i = first; i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      if (expected !== undefined && segment.baseOffset !== expected) {
        report.stopDetail = `segment ${segment.baseOffset} does not start at ${expected}`;
        await this.dropSegmentsFrom(i, report);
        return;
      }
      const recovery = await segment.recover((view) => this.recoverBatchEpoch(view, report));
      report.segmentsRecovered += 1;
      report.bytesTruncated += recovery.truncatedBytes;
      expected = recovery.nextOffset ?? segment.baseOffset;
      if (recovery.stop.reason !== "end") {
        report.stopDetail = `segment ${segment.baseOffset} byte ${recovery.stop.position}: ${recovery.stop.detail}`;
        await this.dropSegmentsFrom(i + 1, report);
        return;
      }
    }
  }

  /** Epoch bookkeeping for one recovered batch; a string reports corruption. */
  private recoverBatchEpoch(view: BatchHeaderView, report: MutableReport): string | undefined {
    const epoch = view.partitionLeaderEpoch;
    const latest = this.epochCache.latestEpoch();
    if (epoch < latest) return `leader epoch ${epoch} below the previous batch's ${latest}`;
    if (epoch > latest) this.epochCache.assign(epoch, view.baseOffset);
    report.batchesRecovered += 1;
    return undefined;
  }

  private async dropSegmentsFrom(index: number, report: MutableReport): Promise<void> {
    const dropped = this.segments.splice(index);
    for (const segment of dropped) {
      report.segmentsDeleted += 1;
      report.bytesDeleted += segment.sizeBytes;
      await segment.deleteFiles();
      await segment.release();
    }
  }

  /**
   * Checks every segment's indexes (rebuilding missing or corrupt ones), then unloads those
   * of sealed segments so memory holds only the active segment's indexes.
   */
  private async checkIndexes(report: MutableReport): Promise<void> {
    for (const [i, segment] of this.segments.entries()) {
      if (await segment.loadIndexes()) report.indexesRebuilt += 1;
      if (i < this.segments.length - 1) await segment.unloadIndexes();
    }
  }

  /** Sets log end, log start and recovery point after load, and trims the epoch cache. */
  private async settleOffsets(checkpointedStart: bigint | undefined): Promise<void> {
    const active = this.activeSegment();
    this.logEndOffsetValue = (await active.readNextOffset()) ?? active.baseOffset;
    const firstBase = this.segments[0]!.baseOffset;
    let start =
      checkpointedStart !== undefined && checkpointedStart > firstBase
        ? checkpointedStart
        : firstBase;
    if (start > this.logEndOffsetValue) {
      this.logger.warn(
        {
          dir: this.dir,
          logStartOffset: start.toString(),
          logEndOffset: this.logEndOffsetValue.toString(),
        },
        "log start offset beyond the recovered log end; starting the log empty at it",
      );
      await this.replaceAllSegments(start);
      start = this.logEndOffsetValue;
    }
    this.logStartOffsetValue = start;
    this.epochCache.truncateFromStart(start);
    // An entry past the log end describes no batch: the data it announced was lost.
    this.epochCache.truncateFromEnd(this.logEndOffsetValue + 1n);
    // Recovered segments were fsynced by recovery; earlier ones were flushed before the
    // recovery point was checkpointed; after a clean close everything was flushed.
    this.recoveryPointValue = this.logEndOffsetValue;
  }

  private async writeAllCheckpoints(): Promise<void> {
    await this.epochCache.persist();
    await writeOffsetCheckpoint(
      path.join(this.dir, LOG_START_OFFSET_CHECKPOINT_FILE),
      this.logStartOffsetValue,
    );
    await this.checkpointRecoveryPointLocked();
  }

  private finishReport(report: MutableReport): void {
    this.report = Object.freeze({
      ...report,
      checkpointsReset: Object.freeze([...report.checkpointsReset]),
      logStartOffset: this.logStartOffsetValue,
      logEndOffset: this.logEndOffsetValue,
    });
    const fields = { dir: this.dir, ...stringifyBigints(this.report) };
    const repaired =
      report.bytesTruncated +
        report.segmentsDeleted +
        report.indexesRebuilt +
        report.checkpointsReset.length >
      0;
    if (repaired) this.logger.warn(fields, "log recovered: truncated, dropped or rebuilt files");
    else
      this.logger.info(
        fields,
        report.cleanShutdown ? "log opened after a clean shutdown" : "log recovered",
      );
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends whole RecordBatch v2 batches. Every batch is validated (framing + CRC). Leader
   * path (`assignOffsets`): baseOffset and partitionLeaderEpoch are stamped in place in the
   * caller's buffer. Follower path: the first batch must start at the log end offset and
   * each next one where the previous ended. The buffer is written with one write; the only
   * per-batch work is header reads (no record is decoded, nothing is copied).
   */
  append(batches: Buffer, options: AppendOptions): Promise<AppendResult> {
    return this.exclusive("append", async () => {
      const info = this.validateBatches(batches, options);
      const segment = await this.maybeRoll(info, batches.length);
      await segment.append(batches);
      this.logEndOffsetValue = info.lastOffset + 1n;
      await this.recordEpochs(info.firstOffset, info.epochStarts);
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

  /** One header pass: validate, check limits and order, stamp (leader), collect epochs. */
  private validateBatches(batches: Buffer, options: AppendOptions): BatchesInfo {
    if (batches.length === 0)
      throw new CorruptBatchError("append of zero bytes: at least one batch is required");
    if (batches.length > this.config.segmentBytes) {
      throw new RecordTooLargeError(
        `append of ${batches.length} bytes exceeds segment.bytes ${this.config.segmentBytes}`,
      );
    }
    let latestEpoch = options.assignOffsets
      ? this.checkLeaderEpoch(options.leaderEpoch)
      : this.epochBefore(this.logEndOffsetValue);
    const epochStarts: EpochEntry[] = [];
    let next = this.logEndOffsetValue;
    let maxTimestamp = -1n;
    let position = 0;
    let batchCount = 0;
    // Each turn consumes one validated batch (>= header size) or throws.
    while (position < batches.length) {
      const view = new BatchHeaderView(batches, position).validate();
      if (view.sizeBytes > this.config.maxMessageBytes) {
        throw new RecordTooLargeError(
          `batch of ${view.sizeBytes} bytes exceeds max.message.bytes ${this.config.maxMessageBytes}`,
        );
      }
      if (options.assignOffsets) {
        stampBatch(view, next, options.leaderEpoch);
      } else {
        latestEpoch = this.checkFollowerBatch(view, next, latestEpoch, epochStarts);
      }
      if (view.maxTimestamp > maxTimestamp) maxTimestamp = view.maxTimestamp;
      next = view.nextOffset;
      position += view.sizeBytes;
      batchCount += 1;
    }
    if (options.assignOffsets && options.leaderEpoch > this.epochCache.latestEpoch()) {
      epochStarts.push({ epoch: options.leaderEpoch, startOffset: this.logEndOffsetValue });
    }
    return {
      firstOffset: this.logEndOffsetValue,
      lastOffset: next - 1n,
      maxTimestamp,
      batchCount,
      epochStarts,
    };
  }

  private checkLeaderEpoch(epoch: number): number {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 2 ** 31 - 1) {
      throw new InvalidAppendError(`leader epoch ${epoch} is not a non-negative int32`);
    }
    const latest = this.epochCache.latestEpoch();
    if (epoch < latest)
      throw new InvalidAppendError(
        `leader epoch ${epoch} is older than the log's latest epoch ${latest}`,
      );
    return epoch;
  }

  /** Epoch of the last batch before `offset` (cache entries at or past it announce no data). */
  private epochBefore(offset: bigint): number {
    return this.epochCache.entries().findLast((e) => e.startOffset < offset)?.epoch ?? -1;
  }

  private checkFollowerBatch(
    view: BatchHeaderView,
    expected: bigint,
    latestEpoch: number,
    epochStarts: EpochEntry[],
  ): number {
    if (view.baseOffset !== expected) {
      throw new InvalidAppendError(
        `follower batch starts at offset ${view.baseOffset}, the log continues at ${expected}`,
      );
    }
    const epoch = view.partitionLeaderEpoch;
    if (epoch < latestEpoch) {
      throw new InvalidAppendError(
        `batch at offset ${expected} has leader epoch ${epoch}, below the log's ${latestEpoch}`,
      );
    }
    if (epoch > latestEpoch) epochStarts.push({ epoch, startOffset: expected });
    return epoch;
  }

  /** Makes the epoch cache describe the appended batches, persisting it when it changed. */
  private async recordEpochs(
    firstOffset: bigint,
    epochStarts: readonly EpochEntry[],
  ): Promise<void> {
    if (epochStarts.length === 0) return;
    // Entries at or past the old log end were "became leader" markers with no data behind
    // them; the appended batches now say which epochs wrote there.
    this.epochCache.truncateFromEnd(firstOffset);
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
      this.checkLeaderEpoch(epoch);
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
    const reason = await this.rollReason(active, info, appendBytes);
    if (reason === undefined) return active;
    return this.roll(info.firstOffset, reason);
  }

  private async rollReason(
    active: LogSegment,
    info: BatchesInfo,
    appendBytes: number,
  ): Promise<string | undefined> {
    if (active.sizeBytes > this.config.segmentBytes - appendBytes) return "segment.bytes";
    if (!active.canHoldOffset(info.lastOffset)) return "relative offset overflow";
    // Kafka's rule: age measured between the first batch's timestamp and the new batches'
    // when batches carry timestamps (replicas then roll alike), else by the clock.
    const firstTimestamp = await active.firstBatchTimestamp();
    const waitedMs =
      firstTimestamp !== undefined && firstTimestamp >= 0n && info.maxTimestamp >= 0n
        ? Number(info.maxTimestamp - firstTimestamp)
        : this.clock() - active.createdMs;
    return waitedMs > this.config.segmentMs ? "segment.ms" : undefined;
  }

  private async roll(baseOffset: bigint, reason: string): Promise<LogSegment> {
    const previous = this.activeSegment();
    assert(baseOffset === this.logEndOffsetValue, "a new segment starts at the log end offset");
    await previous.seal();
    const segment = await LogSegment.create(this.segmentContext(), baseOffset);
    this.segments.push(segment);
    await fsyncDir(this.dir);
    await previous.unloadIndexes();
    // seal() fsynced the previous segment, so everything before the new one is durable.
    this.recoveryPointValue = baseOffset;
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
    const from = this.floorSegmentIndex(this.recoveryPointValue);
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
  async read(startOffset: bigint, options: ReadOptions): Promise<ReadResult> {
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
    const empty = {
      records: Buffer.alloc(0),
      firstOffset: startOffset,
      nextOffset: startOffset,
      logStartOffset,
      logEndOffset,
    };
    if (startOffset >= maxOffset) return empty;
    // Pin the candidate segments synchronously so retention cannot close them mid-read.
    const candidates = this.segments.slice(this.floorSegmentIndex(startOffset));
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
      return empty;
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
   * segments, fixing indexes, the epoch cache and the recovery point. A no-op at or past the
   * log end; below the log start it empties the log and restarts it at `offset`.
   */
  truncateTo(offset: bigint): Promise<TruncationResult> {
    return this.exclusive("truncate", async () => {
      assert(offset >= 0n, `truncation offset ${offset} is negative`);
      if (offset >= this.logEndOffsetValue) {
        return { bytesRemoved: 0, segmentsDeleted: 0, logEndOffset: this.logEndOffsetValue };
      }
      if (offset < this.logStartOffsetValue) {
        const bytesRemoved = this.sizeBytes;
        const segmentsDeleted = this.segments.length;
        await this.truncateFullyLocked(offset);
        return { bytesRemoved, segmentsDeleted, logEndOffset: offset };
      }
      let bytesRemoved = 0;
      let segmentsDeleted = 0;
      // Delete newest first so a crash mid-way leaves a contiguous prefix.
      while (this.segments.length > 1 && this.activeSegment().baseOffset >= offset) {
        const removed = this.segments.pop()!;
        bytesRemoved += removed.sizeBytes;
        segmentsDeleted += 1;
        await removed.deleteFiles();
        await removed.release();
      }
      const active = this.activeSegment();
      bytesRemoved += await active.truncateTo(offset);
      this.logEndOffsetValue = (await active.readNextOffset()) ?? active.baseOffset;
      await this.afterTruncation();
      this.logger.info(
        { dir: this.dir, offset: offset.toString(), bytesRemoved, segmentsDeleted },
        "truncated log",
      );
      return { bytesRemoved, segmentsDeleted, logEndOffset: this.logEndOffsetValue };
    });
  }

  /** Epoch cache and recovery point after the log end moved down. */
  private async afterTruncation(): Promise<void> {
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
    this.logger.info({ dir: this.dir, offset: offset.toString() }, "truncated log fully");
  }

  private async replaceAllSegments(offset: bigint): Promise<void> {
    const old = this.segments;
    this.segments = [];
    for (const segment of old) {
      await segment.deleteFiles();
      await segment.release();
    }
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

  private async advanceLogStart(offset: bigint): Promise<void> {
    assert(offset <= this.logEndOffsetValue, "log start offset beyond the log end");
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
    let deleteCount = Math.min(count, this.segments.length - 1);
    while (
      deleteCount < this.segments.length - 1 &&
      this.segments[deleteCount + 1]!.baseOffset <= this.logStartOffsetValue
    ) {
      deleteCount += 1;
    }
    const doomed = this.segments.slice(0, deleteCount);
    if (doomed.length > 0) {
      const newStart = this.segments[deleteCount]!.baseOffset;
      if (newStart > this.logStartOffsetValue) await this.advanceLogStart(newStart);
      this.segments = this.segments.slice(deleteCount);
    }
    let bytesDeleted = 0;
    for (const segment of doomed) {
      bytesDeleted += segment.sizeBytes;
      await segment.deleteFiles();
      await segment.release();
    }
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

  /**
   * Applies retention.ms (by each closed segment's largest timestamp, else its file mtime)
   * and retention.bytes, deleting whole closed segments from the oldest, never the active one.
   */
  applyRetention(nowMs: number): Promise<DeletionResult> {
    return this.exclusive("retention", async () => {
      const closed = this.segments.slice(0, -1);
      let count = 0;
      if (this.config.retentionMs >= 0) {
        for (const segment of closed) {
          const largest = await segment.largestTimestamp();
          const newestMs = largest >= 0n ? Number(largest) : await segment.lastModifiedMs();
          if (nowMs - newestMs <= this.config.retentionMs) break;
          count += 1;
        }
      }
      if (this.config.retentionBytes >= 0) {
        let excess = this.sizeBytes - this.config.retentionBytes;
        let bySize = 0;
        for (const segment of closed) {
          if (excess - segment.sizeBytes < 0) break;
          excess -= segment.sizeBytes;
          bySize += 1;
        }
        count = Math.max(count, bySize);
      }
      return this.deleteOldSegments(count);
    });
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
    const segments = this.segments;
    this.segments = [];
    for (const segment of segments) await segment.release().catch(() => undefined);
  }
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

/** The larger of two offsets (Math.max does not take bigints). */
function bigintMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Wraps anything that is not already a Strand error or assertion into a LogStorageError. */
function toStorageError(context: string, error: unknown): Error {
  if (error instanceof StrandError || error instanceof AssertionFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LogStorageError(`${context} failed: ${message}`, { cause: error });
}

function stringifyBigints(report: RecoveryReport): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(report).map(([key, value]) => [
      key,
      typeof value === "bigint" ? value.toString() : value,
    ]),
  );
}
