/**
 * Opening a partition log, as Kafka's LogLoader: delete leftovers, read the checkpoints,
 * re-validate what a crash may have torn, check the indexes, and settle the offsets. The
 * result is the state a {@link Log} starts from; nothing here runs after open.
 */

import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { assert, fsyncDir, type Logger, TMP_SUFFIX, unlinkIfExists } from "@strand/base";
import type { BatchHeaderView } from "@strand/protocol";
import { recoverSwap, type SwapRecovery } from "./cleaner/swap.ts";
import type { Clock } from "./clock.ts";
import type { LogConfig } from "./config.ts";
import { LogStorageError } from "./errors.ts";
import { parseSegmentFileName, readOffsetCheckpoint, writeOffsetCheckpoint } from "./files.ts";
import type { HandleCache } from "./handle-cache.ts";
import { LEADER_EPOCH_CHECKPOINT_FILE, LeaderEpochCache } from "./leader-epoch-cache.ts";
import { LogSegment, type SegmentContext } from "./segment.ts";
import {
  assertSegmentOrder,
  deleteSegments,
  floorSegmentIndex,
  releaseSegments,
  segmentContext,
} from "./segment-list.ts";

/** Marker written by close() after everything is durable; its presence skips recovery. */
export const CLEAN_SHUTDOWN_FILE = ".clean-shutdown";
/** Per-log recovery point checkpoint. */
export const RECOVERY_POINT_CHECKPOINT_FILE = "recovery-point-offset-checkpoint";
/** Per-log log start offset checkpoint. */
export const LOG_START_OFFSET_CHECKPOINT_FILE = "log-start-offset-checkpoint";
/** Per-log cleaner checkpoint: the first offset not yet cleaned (compacted logs). */
export const CLEANER_CHECKPOINT_FILE = "cleaner-offset-checkpoint";

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
  /** A cleaner swap a crash interrupted: finished (plan committed) or undone (not committed). */
  readonly cleanerSwap: SwapRecovery;
  /** Log start offset after open. */
  readonly logStartOffset: bigint;
  /** Log end offset after open. */
  readonly logEndOffset: bigint;
}

/** The state a log starts from after loading; every checkpoint already matches it. */
export interface LoadedLog {
  /** Segments in base offset order; the last is the active one. */
  readonly segments: LogSegment[];
  /** The epoch cache, trimmed to [logStartOffset, logEndOffset]. */
  readonly epochCache: LeaderEpochCache;
  /** First offset still in the log. */
  readonly logStartOffset: bigint;
  /** Offset the next batch gets. */
  readonly logEndOffset: bigint;
  /** Everything below it is durable; equal to the log end after load, and checkpointed. */
  readonly recoveryPoint: bigint;
  /** What the load found and repaired. */
  readonly report: RecoveryReport;
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
  cleanerSwap: SwapRecovery;
}

interface Checkpoints {
  readonly recoveryPoint: bigint;
  readonly logStartOffset: bigint | undefined;
  /** The epoch checkpoint was lost: re-validate every segment to rebuild it. */
  readonly fullScan: boolean;
}

/** Loads one log folder (which must exist). Used once per {@link Log.open}. */
export class LogLoader {
  private segments: LogSegment[] = [];
  private epochCache: LeaderEpochCache;
  private logStartOffset = 0n;
  private logEndOffset = 0n;
  private readonly report: MutableReport = {
    cleanShutdown: false,
    recoveryPointOffset: 0n,
    segmentsRecovered: 0,
    batchesRecovered: 0,
    bytesTruncated: 0,
    segmentsDeleted: 0,
    bytesDeleted: 0,
    indexesRebuilt: 0,
    checkpointsReset: [],
    cleanerSwap: "none",
  };

  private readonly dir: string;
  private readonly config: LogConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly handles: HandleCache | undefined;

  private constructor(
    dir: string,
    config: LogConfig,
    logger: Logger,
    clock: Clock,
    handles: HandleCache | undefined,
  ) {
    this.dir = dir;
    this.handles = handles;
    this.config = config;
    this.logger = logger;
    this.clock = clock;
    this.epochCache = new LeaderEpochCache(
      path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE),
      [],
      logger,
    );
  }

  /**
   * Loads the log in `dir`, recovering it if it was not closed cleanly, and leaves every
   * checkpoint matching the returned state. On failure no segment stays open.
   */
  static async load(
    dir: string,
    config: LogConfig,
    logger: Logger,
    clock: Clock,
    handles?: HandleCache,
  ): Promise<LoadedLog> {
    const loader = new LogLoader(dir, config, logger, clock, handles);
    try {
      return await loader.load();
    } catch (error) {
      await releaseSegments(loader.segments);
      throw error;
    }
  }

  private async load(): Promise<LoadedLog> {
    // First, so the segments below are one consistent set (the old one or the cleaned one).
    this.report.cleanerSwap = await recoverSwap(this.dir, this.logger);
    const names = await readdir(this.dir);
    this.report.cleanShutdown = names.includes(CLEAN_SHUTDOWN_FILE);
    const bases = await this.removeLeftovers(names);
    const checkpoints = await this.readCheckpoints(bases.length > 0);
    this.report.recoveryPointOffset = checkpoints.recoveryPoint;
    for (const base of bases) this.segments.push(await LogSegment.open(this.context(), base));
    if (this.segments.length > 0 && (!this.report.cleanShutdown || checkpoints.fullScan)) {
      await this.recoverSegments(checkpoints.fullScan ? 0n : checkpoints.recoveryPoint);
    }
    await this.checkIndexes();
    if (this.segments.length === 0) {
      this.segments.push(await LogSegment.create(this.context(), checkpoints.logStartOffset ?? 0n));
    }
    await this.settleOffsets(checkpoints.logStartOffset);
    await this.writeCheckpoints();
    await unlinkIfExists(path.join(this.dir, CLEAN_SHUTDOWN_FILE));
    await fsyncDir(this.dir);
    return this.result();
  }

  private context(): SegmentContext {
    return segmentContext(this.dir, this.config, this.logger, this.clock, this.handles);
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
  private async readCheckpoints(hasSegments: boolean): Promise<Checkpoints> {
    const recoveryPoint = await this.readCheckpoint(RECOVERY_POINT_CHECKPOINT_FILE, () =>
      readOffsetCheckpoint(path.join(this.dir, RECOVERY_POINT_CHECKPOINT_FILE)),
    );
    const logStartOffset = await this.readCheckpoint(LOG_START_OFFSET_CHECKPOINT_FILE, () =>
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
        ? await this.readCheckpoint(LEADER_EPOCH_CHECKPOINT_FILE, () =>
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

  /** Runs `reader`; an unreadable checkpoint is logged, reported and read as undefined. */
  private async readCheckpoint<T>(
    name: string,
    reader: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    try {
      return await reader();
    } catch (error) {
      if (!(error instanceof LogStorageError)) throw error;
      this.logger.warn(
        { dir: this.dir, file: name, err: error.message },
        "checkpoint unreadable; ignoring it",
      );
      this.report.checkpointsReset.push(name);
      return undefined;
    }
  }

  /**
   * Re-validates every segment from the one holding `recoveryPoint` to the end, cutting the
   * log at the first torn or corrupt batch and deleting every later segment. The epoch cache
   * tail is rebuilt from the batches scanned.
   */
  private async recoverSegments(recoveryPoint: bigint): Promise<void> {
    const first = floorSegmentIndex(this.segments, recoveryPoint);
    this.epochCache.truncateFromEnd(this.segments[first]!.baseOffset);
    let expected: bigint | undefined;
    for (let i = first; i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      // A compacted segment may end before the next one starts (its last batches were
      // cleaned away); overlapping segments are corrupt.
      if (expected !== undefined && segment.baseOffset < expected) {
        this.report.stopDetail = `segment ${segment.baseOffset} starts below ${expected}`;
        await this.dropSegmentsFrom(i);
        return;
      }
      const recovery = await segment.recover(
        (view) => this.recoverBatchEpoch(view),
        this.segments[i + 1]?.baseOffset,
      );
      this.report.segmentsRecovered += 1;
      this.report.bytesTruncated += recovery.truncatedBytes;
      expected = recovery.nextOffset ?? segment.baseOffset;
      if (recovery.stop.reason !== "end") {
        this.report.stopDetail = `segment ${segment.baseOffset} byte ${recovery.stop.position}: ${recovery.stop.detail}`;
        await this.dropSegmentsFrom(i + 1);
        return;
      }
    }
  }

  /** Epoch bookkeeping for one recovered batch; a string reports corruption. */
  private recoverBatchEpoch(view: BatchHeaderView): string | undefined {
    const epoch = view.partitionLeaderEpoch;
    const latest = this.epochCache.latestEpoch();
    if (epoch < latest) return `leader epoch ${epoch} below the previous batch's ${latest}`;
    if (epoch > latest) this.epochCache.assign(epoch, view.baseOffset);
    this.report.batchesRecovered += 1;
    return undefined;
  }

  private async dropSegmentsFrom(index: number): Promise<void> {
    const dropped = this.segments.splice(index);
    this.report.segmentsDeleted += dropped.length;
    this.report.bytesDeleted += await deleteSegments(dropped);
  }

  /**
   * Checks every segment's indexes (rebuilding missing or corrupt ones), then unloads those
   * of sealed segments so memory holds only the active segment's indexes.
   */
  private async checkIndexes(): Promise<void> {
    for (const [i, segment] of this.segments.entries()) {
      if (await segment.loadIndexes()) this.report.indexesRebuilt += 1;
      if (i < this.segments.length - 1) await segment.unloadIndexes();
    }
  }

  /** Sets log end and log start after load, and trims the epoch cache to them. */
  private async settleOffsets(checkpointedStart: bigint | undefined): Promise<void> {
    const active = this.segments.at(-1)!;
    this.logEndOffset = (await active.readNextOffset()) ?? active.baseOffset;
    const firstBase = this.segments[0]!.baseOffset;
    let start =
      checkpointedStart !== undefined && checkpointedStart > firstBase
        ? checkpointedStart
        : firstBase;
    if (start > this.logEndOffset) {
      this.logger.warn(
        {
          dir: this.dir,
          logStartOffset: start.toString(),
          logEndOffset: this.logEndOffset.toString(),
        },
        "log start offset beyond the recovered log end; starting the log empty at it",
      );
      await this.startEmptyAt(start);
      start = this.logEndOffset;
    }
    this.logStartOffset = start;
    this.epochCache.truncateFromStart(start);
    // An entry past the log end describes no batch: the data it announced was lost.
    this.epochCache.truncateFromEnd(this.logEndOffset + 1n);
  }

  private async startEmptyAt(offset: bigint): Promise<void> {
    const old = this.segments;
    this.segments = [];
    await deleteSegments(old);
    this.segments.push(await LogSegment.create(this.context(), offset));
    await fsyncDir(this.dir);
    this.logEndOffset = offset;
  }

  /**
   * Recovered segments were fsynced by recovery; earlier ones were flushed before the
   * recovery point was checkpointed; after a clean close everything was flushed. So the
   * recovery point written here is the log end.
   */
  private async writeCheckpoints(): Promise<void> {
    await this.epochCache.persist();
    await writeOffsetCheckpoint(
      path.join(this.dir, LOG_START_OFFSET_CHECKPOINT_FILE),
      this.logStartOffset,
    );
    await writeOffsetCheckpoint(
      path.join(this.dir, RECOVERY_POINT_CHECKPOINT_FILE),
      this.logEndOffset,
    );
  }

  private result(): LoadedLog {
    assertSegmentOrder(this.segments);
    assert(
      this.logStartOffset <= this.logEndOffset,
      `loaded log start ${this.logStartOffset} is beyond its end ${this.logEndOffset}`,
    );
    const report: RecoveryReport = Object.freeze({
      ...this.report,
      checkpointsReset: Object.freeze([...this.report.checkpointsReset]),
      logStartOffset: this.logStartOffset,
      logEndOffset: this.logEndOffset,
    });
    this.logReport(report);
    return {
      segments: this.segments,
      epochCache: this.epochCache,
      logStartOffset: this.logStartOffset,
      logEndOffset: this.logEndOffset,
      recoveryPoint: this.logEndOffset,
      report,
    };
  }

  private logReport(report: RecoveryReport): void {
    const fields = { dir: this.dir, ...stringifyBigints(report) };
    const repaired =
      report.bytesTruncated +
        report.segmentsDeleted +
        report.indexesRebuilt +
        report.checkpointsReset.length >
        0 || report.cleanerSwap !== "none";
    if (repaired) this.logger.warn(fields, "log recovered: truncated, dropped or rebuilt files");
    else
      this.logger.info(
        fields,
        report.cleanShutdown ? "log opened after a clean shutdown" : "log recovered",
      );
  }
}

function stringifyBigints(report: RecoveryReport): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(report).map(([key, value]) => [
      key,
      typeof value === "bigint" ? value.toString() : value,
    ]),
  );
}
