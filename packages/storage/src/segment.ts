/**
 * One log segment: `<base>.log` (batches back to back, exactly as received), `<base>.index`
 * and `<base>.timeindex`. Only the last segment of a log is written; older ones are sealed
 * and change only by truncation or deletion. Every method is called under the log's mutex
 * except reads, which pin the segment with retain()/release() so deletion cannot close its
 * file under them (unlinked files stay readable on POSIX while a handle is open). Every
 * segment's `.log` handle, the active one's included, is opened on demand and may be closed by
 * the logs' shared {@link HandleCache} when idle (bounded descriptors: an idle replica costs
 * none); the index files are open only while they are written.
 */
import { writeSync } from "node:fs";
import { constants, type FileHandle, open } from "node:fs/promises";
import type { Logger } from "@strand/base";
import { assert, readAt, unlinkIfExists } from "@strand/base";
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, BatchHeaderView } from "@strand/protocol";
import { INT32_MAX } from "./config.ts";
import { LogStorageError } from "./errors.ts";
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFilePath, TIME_INDEX_SUFFIX } from "./files.ts";
import type { CachedFile, HandleCache } from "./handle-cache.ts";
import { OffsetIndex, TimeIndex } from "./indexes.ts";
import { type ScanMode, type ScanStop, scanFileBatches } from "./scan.ts";

/** Where a batch lies in a segment. */
export interface BatchLocation {
  /** Byte position of the batch in the .log file. */
  readonly position: number;
  /** The batch's base offset. */
  readonly baseOffset: bigint;
  /** The batch's last offset. */
  readonly lastOffset: bigint;
  /** The batch's size including the log overhead. */
  readonly sizeBytes: number;
  /** The batch's max timestamp. */
  readonly maxTimestamp: bigint;
}

/** Bytes read from one segment: whole batches only. */
export interface SegmentRead {
  /** Concatenated whole batches (a view of one buffer, no copy). */
  readonly records: Buffer;
  /** Base offset of the first batch returned. */
  readonly firstOffset: bigint;
  /** Offset after the last batch returned (firstOffset when none). */
  readonly nextOffset: bigint;
}

/** Options of {@link LogSegment.read}. */
export interface SegmentReadOptions {
  /** Soft byte limit (whole batches only). */
  readonly maxBytes: number;
  /** Exclusive bound: no batch starting at or after it. */
  readonly maxOffset: bigint;
  /** Return the first batch even when it is larger than maxBytes. */
  readonly minOneBatch: boolean;
}

/** What recovering a segment found. */
export interface SegmentRecovery {
  /** Offset after the last valid batch, or undefined when no batch survived. */
  readonly nextOffset: bigint | undefined;
  /** Bytes cut from the end of the file. */
  readonly truncatedBytes: number;
  /** Why the scan stopped. */
  readonly stop: ScanStop;
}

/** Context a segment needs from its log. */
export interface SegmentContext {
  /** The partition folder. */
  readonly dir: string;
  /** index.interval.bytes of the log. */
  readonly indexIntervalBytes: number;
  /** The log's logger. */
  readonly logger: Logger;
  /** Clock reading at creation or load (segment.ms without timestamps). */
  readonly nowMs: number;
  /** Bounds sealed segments' open handles; without one every handle stays open. */
  readonly handles?: HandleCache;
}

/** A segment of a partition log. */
export class LogSegment implements CachedFile {
  /** Offset of the segment's first batch; also its file name. */
  readonly baseOffset: bigint;
  /** Clock time at which the segment was created or loaded (for segment.ms without timestamps). */
  readonly createdMs: number;
  private readonly ctx: SegmentContext;
  private handle: FileHandle | null;
  private opening: Promise<FileHandle> | null = null;
  /** Operations using the handle now (the cache must not close it under them). */
  private inUse = 0;
  /** Kept open: deleted (its file can no longer be reopened) or closed for good. */
  private pinnedOpen = false;
  /** Appends so far; tells an eviction's fsync whether an append raced it. */
  private appendCount = 0;
  /** An fsync failure met while evicting the handle, reported by the next use. */
  private evictionFailure: Error | undefined;
  private size: number;
  private offsetIndexValue: OffsetIndex | undefined;
  private timeIndexValue: TimeIndex | undefined;
  private bytesSinceLastIndexEntry = 0;
  private maxTimestampSoFar: bigint | undefined;
  private offsetOfMaxTimestampSoFar = 0;
  private firstBatchTimestampValue: bigint | undefined;
  private dirty = false;
  private refCount = 1;
  /** Replaced by a cleaned segment: its files now belong to the new one, never write them. */
  private detached = false;

  private constructor(
    ctx: SegmentContext,
    baseOffset: bigint,
    handle: FileHandle,
    sizeBytes: number,
  ) {
    this.ctx = ctx;
    this.baseOffset = baseOffset;
    this.handle = handle;
    this.size = sizeBytes;
    this.createdMs = ctx.nowMs;
  }

  /** Creates a new empty segment; fails if its log file already exists. */
  static async create(ctx: SegmentContext, baseOffset: bigint): Promise<LogSegment> {
    const file = segmentFilePath(ctx.dir, baseOffset, LOG_SUFFIX);
    const handle = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
    const segment = new LogSegment(ctx, baseOffset, handle, 0);
    ctx.handles?.touch(segment);
    segment.offsetIndexValue = new OffsetIndex(segmentFilePath(ctx.dir, baseOffset, INDEX_SUFFIX));
    segment.timeIndexValue = new TimeIndex(segmentFilePath(ctx.dir, baseOffset, TIME_INDEX_SUFFIX));
    segment.maxTimestampSoFar = -1n;
    await segment.offsetIndexValue.persist({ sync: false });
    await segment.timeIndexValue.persist({ sync: false });
    return segment;
  }

  /** Opens an existing segment; indexes load lazily (and are checked) on first use. */
  static async open(ctx: SegmentContext, baseOffset: bigint): Promise<LogSegment> {
    const file = segmentFilePath(ctx.dir, baseOffset, LOG_SUFFIX);
    const handle = await open(file, "r+");
    const { size } = await handle.stat();
    if (size > INT32_MAX) {
      await handle.close();
      throw new LogStorageError(
        `segment ${file} is ${size} bytes, beyond the int32 position limit`,
      );
    }
    const segment = new LogSegment(ctx, baseOffset, handle, size);
    ctx.handles?.touch(segment);
    return segment;
  }

  /** True while the handle must stay open (see {@link CachedFile}). */
  get busy(): boolean {
    return this.inUse > 0 || this.pinnedOpen;
  }

  /**
   * Closes the `.log` handle of an idle segment (the cache's eviction, or the last release).
   * Unflushed appends are fsynced first through the descriptor that wrote them, so a
   * write-back error is seen by this process (a later descriptor may never see it); a failed
   * fsync keeps the handle open and fails the segment's next use.
   */
  async closeHandle(): Promise<void> {
    const handle = this.handle;
    if (handle === null) return;
    if (this.dirty) {
      const appendsBefore = this.appendCount;
      try {
        await handle.sync();
      } catch (error) {
        this.evictionFailure = error instanceof Error ? error : new Error(String(error));
        return;
      }
      if (this.appendCount !== appendsBefore) return; // appended meanwhile: stay open
      this.dirty = false;
    }
    // A use that started during the fsync keeps the handle.
    if (this.inUse > 0 || this.handle !== handle) return;
    this.handle = null;
    await handle.close();
  }

  /** Runs `fn` with the `.log` handle, opening it first if the cache closed it. */
  private async withFile<T>(fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    this.inUse += 1;
    try {
      return await fn(await this.file());
    } finally {
      this.inUse -= 1;
    }
  }

  private async file(): Promise<FileHandle> {
    if (this.evictionFailure !== undefined) throw this.evictionFailure;
    if (this.handle === null) {
      this.opening ??= open(segmentFilePath(this.ctx.dir, this.baseOffset, LOG_SUFFIX), "r+");
      try {
        this.handle = await this.opening;
      } finally {
        this.opening = null;
      }
    }
    if (!this.pinnedOpen) this.ctx.handles?.touch(this);
    return this.handle;
  }

  /** Size of the .log file in bytes. */
  get sizeBytes(): number {
    return this.size;
  }

  /** Offset relative to the base, checked to fit the int32 index field. */
  relativeOffset(offset: bigint): number {
    const relative = offset - this.baseOffset;
    assert(
      relative >= 0n && relative <= BigInt(INT32_MAX),
      `offset ${offset} outside segment ${this.baseOffset}`,
    );
    return Number(relative);
  }

  /** True when `offset` can be stored relative to this segment's base. */
  canHoldOffset(offset: bigint): boolean {
    const relative = offset - this.baseOffset;
    return relative >= 0n && relative <= BigInt(INT32_MAX);
  }

  /** Loads (or rebuilds) both indexes; returns true when a rebuild was needed. */
  async loadIndexes(): Promise<boolean> {
    if (this.offsetIndexValue && this.timeIndexValue) return false;
    const offsets = await OffsetIndex.load(
      segmentFilePath(this.ctx.dir, this.baseOffset, INDEX_SUFFIX),
      this.size,
    );
    const times = await TimeIndex.load(
      segmentFilePath(this.ctx.dir, this.baseOffset, TIME_INDEX_SUFFIX),
      this.size,
    );
    if (offsets.ok && times.ok) {
      this.offsetIndexValue = offsets.index;
      this.timeIndexValue = times.index;
      this.bytesSinceLastIndexEntry = this.size - (offsets.index.lastEntry()?.position ?? 0);
      return false;
    }
    const reason = [
      offsets.ok ? "" : `offset index: ${offsets.reason}`,
      times.ok ? "" : `time index: ${times.reason}`,
    ];
    this.ctx.logger.warn(
      { segment: this.baseOffset.toString(), reason: reason.filter(Boolean).join("; ") },
      "segment index is missing or corrupt; rebuilding it from the log",
    );
    await this.rebuildIndexes();
    return true;
  }

  private async indexes(): Promise<{ offsets: OffsetIndex; times: TimeIndex }> {
    await this.loadIndexes();
    return { offsets: this.offsetIndexValue!, times: this.timeIndexValue! };
  }

  /** Rebuilds both indexes from a header walk of the whole log file, and persists them. */
  async rebuildIndexes(): Promise<void> {
    this.resetIndexes();
    const stop = await this.withFile((handle) =>
      scanFileBatches(handle, { startPosition: 0, endPosition: this.size }, "headers", (v, at) => {
        this.indexBatch(v, at);
        return true;
      }),
    );
    if (stop.reason !== "end") {
      throw new LogStorageError(
        `segment ${this.baseOffset} is corrupt at byte ${stop.position}: ${stop.detail}`,
      );
    }
    await this.persistIndexes({ sync: true });
  }

  private resetIndexes(): void {
    this.offsetIndexValue ??= new OffsetIndex(
      segmentFilePath(this.ctx.dir, this.baseOffset, INDEX_SUFFIX),
    );
    this.timeIndexValue ??= new TimeIndex(
      segmentFilePath(this.ctx.dir, this.baseOffset, TIME_INDEX_SUFFIX),
    );
    this.offsetIndexValue.clear();
    this.timeIndexValue.clear();
    this.offsetIndexValue.markRewrite();
    this.timeIndexValue.markRewrite();
    this.bytesSinceLastIndexEntry = 0;
    this.maxTimestampSoFar = -1n;
    this.offsetOfMaxTimestampSoFar = 0;
    this.firstBatchTimestampValue = undefined;
  }

  /**
   * Index bookkeeping for one batch at `position`, in append order (Kafka's rule): an offset
   * entry when more than index.interval.bytes were written since the last one, and a time
   * entry beside it when the largest timestamp grew.
   */
  private indexBatch(view: BatchHeaderView, position: number): void {
    const relative = this.relativeOffset(view.baseOffset);
    const maxTimestamp = view.maxTimestamp;
    if (this.firstBatchTimestampValue === undefined) this.firstBatchTimestampValue = maxTimestamp;
    if (this.maxTimestampSoFar === undefined || maxTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = maxTimestamp;
      this.offsetOfMaxTimestampSoFar = relative;
    }
    if (this.bytesSinceLastIndexEntry > this.ctx.indexIntervalBytes) {
      this.offsetIndexValue!.append(relative, position);
      if (this.maxTimestampSoFar >= 0n) {
        this.timeIndexValue!.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      }
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += view.sizeBytes;
  }

  /**
   * Appends already-validated, already-stamped batches: one positioned write of the
   * caller's bytes, then a header walk (no record work) for the sparse indexes.
   */
  async append(batches: Buffer): Promise<void> {
    // Every append runs this: once the indexes and tail state are loaded and the handle is
    // open (the steady state of the active segment), write without the async helpers and
    // their promises.
    if (!this.offsetIndexValue || !this.timeIndexValue) await this.loadIndexes();
    if (!this.tailStateKnown) await this.ensureTailState();
    const position = this.size;
    assert(position + batches.length <= INT32_MAX, "segment would exceed int32 positions");
    if (this.handle !== null && this.evictionFailure === undefined) {
      if (!this.pinnedOpen) this.ctx.handles?.touch(this);
      writeAllSync(this.handle, batches, position);
    } else await this.withFile(async (handle) => writeAllSync(handle, batches, position));
    this.size += batches.length;
    this.dirty = true;
    this.appendCount += 1;
    let at = 0;
    // Bounded by the buffer: every batch was validated, so sizeBytes >= the header size.
    while (at < batches.length) {
      const view = new BatchHeaderView(batches, at);
      this.indexBatch(view, position + at);
      at += view.sizeBytes;
    }
    assert(at === batches.length, "appended bytes are not whole batches");
  }

  /**
   * Recomputes the largest timestamp and first-batch timestamp of a loaded segment: the last
   * time-index entry covers every batch up to the last offset-index entry, so only the tail
   * after that entry needs a header walk.
   */
  private async ensureTailState(): Promise<void> {
    if (this.maxTimestampSoFar !== undefined) return;
    const { offsets, times } = await this.indexes();
    const lastTime = times.lastEntry();
    let maxTimestamp = lastTime?.timestamp ?? -1n;
    let offsetOfMax = lastTime?.relativeOffset ?? 0;
    const startPosition = offsets.lastEntry()?.position ?? 0;
    const stop = await this.walk(startPosition, "headers", (view) => {
      if (view.maxTimestamp > maxTimestamp) {
        maxTimestamp = view.maxTimestamp;
        offsetOfMax = this.relativeOffset(view.baseOffset);
      }
      return true;
    });
    this.checkWalk(stop);
    this.maxTimestampSoFar = maxTimestamp;
    this.offsetOfMaxTimestampSoFar = offsetOfMax;
    if (this.size > 0) this.firstBatchTimestampValue = (await this.locateFirst())?.maxTimestamp;
  }

  private async locateFirst(): Promise<BatchLocation | undefined> {
    let found: BatchLocation | undefined;
    await this.walk(0, "headers", (view, position) => {
      found = locationOf(view, position);
      return false;
    });
    return found;
  }

  /** Largest batch timestamp in the segment (-1n when none carries one). */
  async largestTimestamp(): Promise<bigint> {
    await this.ensureTailState();
    return this.maxTimestampSoFar!;
  }

  /** True once the tail state is loaded: {@link knownFirstBatchTimestamp} may be used. */
  get tailStateKnown(): boolean {
    return this.maxTimestampSoFar !== undefined;
  }

  /** {@link firstBatchTimestamp} without a promise, once {@link tailStateKnown}. */
  knownFirstBatchTimestamp(): bigint | undefined {
    assert(this.tailStateKnown, "the segment's tail state is not loaded");
    return this.firstBatchTimestampValue;
  }

  /** maxTimestamp of the first batch, undefined when empty (segment.ms roll rule). */
  async firstBatchTimestamp(): Promise<bigint | undefined> {
    await this.ensureTailState();
    return this.firstBatchTimestampValue;
  }

  /** Next offset after the last batch (walks the tail from the last index entry). */
  async readNextOffset(): Promise<bigint | undefined> {
    const { offsets } = await this.indexes();
    let next: bigint | undefined;
    const stop = await this.walk(offsets.lastEntry()?.position ?? 0, "headers", (view) => {
      next = view.nextOffset;
      return true;
    });
    this.checkWalk(stop);
    return next;
  }

  private walk(
    startPosition: number,
    mode: ScanMode,
    visit: (view: BatchHeaderView, position: number) => boolean,
  ) {
    return this.withFile((handle) =>
      scanFileBatches(handle, { startPosition, endPosition: this.size }, mode, visit),
    );
  }

  private checkWalk(stop: ScanStop): void {
    if (stop.reason === "torn" || stop.reason === "corrupt") {
      throw new LogStorageError(
        `segment ${this.baseOffset} is ${stop.reason} at byte ${stop.position} (${stop.detail}); restart to recover it`,
      );
    }
  }

  /**
   * The first batch whose last offset is >= `target` (the batch containing it, or the next
   * one), found by index floor lookup then a header walk of at most about one index interval.
   * An index entry that does not point at its batch is treated as a corrupt index.
   */
  async translateOffset(target: bigint, retried = false): Promise<BatchLocation | undefined> {
    const { offsets } = await this.indexes();
    const distance = target - this.baseOffset;
    const relative =
      distance <= 0n ? 0 : Number(distance > BigInt(INT32_MAX) ? INT32_MAX : distance);
    const entry = offsets.lookup(relative);
    let found: BatchLocation | undefined;
    let mismatch = false;
    const stop = await this.walk(entry?.position ?? 0, "headers", (view, position) => {
      if (
        entry &&
        position === entry.position &&
        view.baseOffset !== this.baseOffset + BigInt(entry.relativeOffset)
      ) {
        mismatch = true;
        return false;
      }
      if (view.lastOffset < target) return true;
      found = locationOf(view, position);
      return false;
    });
    if (mismatch && !retried) {
      this.ctx.logger.warn(
        { segment: this.baseOffset.toString() },
        "offset index entry points at the wrong batch; rebuilding",
      );
      await this.rebuildIndexes();
      return this.translateOffset(target, true);
    }
    if (mismatch)
      throw new LogStorageError(
        `segment ${this.baseOffset} index disagrees with its log after a rebuild`,
      );
    this.checkWalk(stop);
    return found;
  }

  /**
   * The first batch whose max timestamp is >= `timestamp`: time-index floor entry, then
   * offset-index position, then a header walk.
   */
  async findByTimestamp(timestamp: bigint): Promise<BatchLocation | undefined> {
    const { times } = await this.indexes();
    const entry = times.lookup(timestamp);
    const start = entry
      ? await this.translateOffset(this.baseOffset + BigInt(entry.relativeOffset))
      : undefined;
    let found: BatchLocation | undefined;
    const stop = await this.walk(start?.position ?? 0, "headers", (view, position) => {
      if (view.maxTimestamp < timestamp) return true;
      found = locationOf(view, position);
      return false;
    });
    this.checkWalk(stop);
    return found;
  }

  /** Reads whole batches starting at the batch containing `startOffset`. */
  async read(startOffset: bigint, options: SegmentReadOptions): Promise<SegmentRead | undefined> {
    const first = await this.translateOffset(startOffset);
    if (first === undefined) return undefined;
    const empty = {
      records: Buffer.alloc(0),
      firstOffset: first.baseOffset,
      nextOffset: first.baseOffset,
    };
    if (first.baseOffset >= options.maxOffset) return empty;
    const end = this.size;
    let wantBytes = Math.min(options.maxBytes, end - first.position);
    if (first.sizeBytes > wantBytes) {
      if (!options.minOneBatch) return empty;
      wantBytes = first.sizeBytes;
    }
    // Not pooled: the slice we return must not share memory with unrelated small buffers.
    const buffer = Buffer.allocUnsafeSlow(wantBytes);
    const readBytes = await this.withFile((handle) =>
      readAt(handle, buffer, wantBytes, first.position),
    );
    let at = 0;
    let nextOffset = first.baseOffset;
    // Each turn advances by a whole batch (>= header size) or stops.
    while (readBytes - at >= BATCH_HEADER_BYTES) {
      const view = new BatchHeaderView(buffer, at);
      const size = view.batchLength + BATCH_LOG_OVERHEAD_BYTES;
      if (
        size < BATCH_HEADER_BYTES ||
        at + size > readBytes ||
        view.baseOffset >= options.maxOffset
      )
        break;
      nextOffset = view.nextOffset;
      at += size;
    }
    return { records: buffer.subarray(0, at), firstOffset: first.baseOffset, nextOffset };
  }

  /**
   * Cuts the segment before the batch containing `offset` (Kafka truncates whole batches).
   * Returns the bytes removed. The log file is fsynced so removed data cannot reappear.
   */
  async truncateTo(offset: bigint): Promise<number> {
    const location = await this.translateOffset(offset);
    if (location === undefined) return 0;
    const { offsets, times } = await this.indexes();
    const removedBytes = this.size - location.position;
    await this.withFile(async (handle) => {
      await handle.truncate(location.position);
      await handle.sync();
    });
    this.size = location.position;
    offsets.truncateToPosition(location.position);
    times.truncateToRelativeOffset(this.relativeOffset(location.baseOffset));
    this.bytesSinceLastIndexEntry = this.size - (offsets.lastEntry()?.position ?? 0);
    this.maxTimestampSoFar = undefined;
    this.firstBatchTimestampValue = undefined;
    await this.ensureTailState();
    await this.persistIndexes({ sync: true });
    return removedBytes;
  }

  /**
   * Re-validates every batch (framing, CRC, offsets increasing from the segment base — gaps
   * allowed, as compaction leaves them — epochs via `onBatch`), rebuilds both indexes from
   * what is valid, and cuts the file at the first torn or corrupt batch. `endOffset` (the next
   * segment's base) bounds every batch, so a flipped baseOffset — outside the CRC — is still
   * caught in a closed segment; in the last segment only an overlap with the next batch is.
   */
  async recover(
    onBatch: (view: BatchHeaderView) => string | undefined,
    endOffset?: bigint,
  ): Promise<SegmentRecovery> {
    this.resetIndexes();
    let expected = this.baseOffset;
    let problem: string | undefined;
    const stop = await this.walk(0, "crc", (view, position) => {
      problem =
        view.baseOffset < expected
          ? `batch offset ${view.baseOffset}, expected at least ${expected}`
          : endOffset !== undefined && view.lastOffset >= endOffset
            ? `batch offsets ${view.baseOffset}..${view.lastOffset} reach the next segment's base ${endOffset}`
            : undefined;
      problem ??= this.canHoldOffset(view.lastOffset)
        ? onBatch(view)
        : "offset overflows the segment";
      if (problem !== undefined) return false;
      this.indexBatch(view, position);
      expected = view.nextOffset;
      return true;
    });
    const finalStop: ScanStop =
      problem === undefined ? stop : { ...stop, reason: "corrupt", detail: problem };
    const truncatedBytes = this.size - finalStop.position;
    await this.withFile(async (handle) => {
      if (truncatedBytes > 0) await handle.truncate(finalStop.position);
      await handle.sync();
    });
    this.size = finalStop.position;
    await this.persistIndexes({ sync: true });
    return { nextOffset: this.size > 0 ? expected : undefined, truncatedBytes, stop: finalStop };
  }

  /** fsyncs the log file if it has unflushed appends. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    await this.withFile((handle) => handle.sync());
    this.dirty = false;
  }

  private async persistIndexes(options: { sync: boolean }): Promise<void> {
    if (this.detached) return;
    await this.offsetIndexValue?.persist(options);
    await this.timeIndexValue?.persist(options);
  }

  /**
   * Makes the segment durable and self-describing before it stops being written (roll,
   * close): final time-index entry for the largest timestamp, indexes and log fsynced.
   */
  async seal(): Promise<void> {
    if (this.offsetIndexValue === undefined && !this.dirty) return;
    await this.ensureTailState();
    if (this.maxTimestampSoFar! >= 0n) {
      this.timeIndexValue!.maybeAppend(this.maxTimestampSoFar!, this.offsetOfMaxTimestampSoFar);
    }
    await this.persistIndexes({ sync: true });
    await this.flush();
  }

  /** Drops the in-memory indexes of a sealed segment; they reload on next use. */
  async unloadIndexes(): Promise<void> {
    await this.persistIndexes({ sync: false });
    this.offsetIndexValue = undefined;
    this.timeIndexValue = undefined;
  }

  /** Last-modified time of the .log file in ms (retention fallback when no timestamps). */
  async lastModifiedMs(): Promise<number> {
    return this.withFile(async (handle) => (await handle.stat()).mtimeMs);
  }

  /** Pins the file open for a read. */
  retain(): void {
    assert(this.refCount > 0, "retain on a closed segment");
    this.refCount += 1;
  }

  /** Unpins; the last release closes the files. */
  async release(): Promise<void> {
    assert(this.refCount > 0, "release on a closed segment");
    this.refCount -= 1;
    if (this.refCount > 0) return;
    this.pinnedOpen = true;
    this.ctx.handles?.forget(this);
    // Closed for good: the log flushed what it must before (close, or a deletion that makes
    // the bytes moot), so no fsync here.
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }

  /** Readers may still hold this segment: keep its file open, it cannot be reopened later. */
  private async pinOpen(): Promise<void> {
    // Pinned before opening, so the cache cannot close it again in between.
    if (!this.pinnedOpen && this.refCount > 0) {
      this.pinnedOpen = true;
      this.ctx.handles?.forget(this);
      await this.file().catch(() => undefined);
    }
  }

  /**
   * Prepares a segment the cleaner is about to replace: its indexes are loaded into memory and
   * its `.log` handle pinned open, so readers that still hold it keep reading the old bytes
   * after its files are unlinked or renamed over; nothing of it is written again.
   */
  async detachForReplacement(): Promise<void> {
    await this.loadIndexes();
    await this.pinOpen();
    this.detached = true;
  }

  /** Unlinks the three files; handles close when the last reader releases. */
  async deleteFiles(): Promise<void> {
    await this.pinOpen();
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      await unlinkIfExists(segmentFilePath(this.ctx.dir, this.baseOffset, suffix));
    }
  }
}

function locationOf(view: BatchHeaderView, position: number): BatchLocation {
  return {
    position,
    baseOffset: view.baseOffset,
    lastOffset: view.lastOffset,
    sizeBytes: view.sizeBytes,
    maxTimestamp: view.maxTimestamp,
  };
}

/**
 * Writes all of `bytes` at `position` on the event loop thread. A write to the page cache of
 * a few KiB to a MiB costs less CPU than handing it to the libuv pool and back (measured in
 * docs/performance.md), and on a loaded machine each pool hand-off waits for a time slice.
 * Durability is unchanged: this is the same pwrite, and fsync still follows the flush policy.
 */
function writeAllSync(handle: FileHandle, bytes: Buffer, position: number): void {
  let done = 0;
  // Each turn writes >= 1 byte (asserted), so the loop is bounded by bytes.length.
  while (done < bytes.length) {
    const written = writeSync(handle.fd, bytes, done, bytes.length - done, position + done);
    assert(written > 0, "write made no progress");
    done += written;
  }
}
