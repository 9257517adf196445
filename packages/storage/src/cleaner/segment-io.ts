/**
 * The cleaner's reads and writes of segments (the I/O around plan.ts and rewrite.ts): reading a
 * segment's batches in bounded chunks, building the offset map over the dirty section, finding
 * each producer's last batch, and writing one group of segments as a `.cleaned` file. Called
 * without the log's lock on closed segments the cleaner pinned (closed segments change only by
 * truncation or deletion, which the swap checks for before it commits).
 */
import { constants, open } from "node:fs/promises";
import { assert, writeAt } from "@strand/base";
import { BatchHeaderView, decodeRecordBatch } from "@strand/protocol";
import { INT32_MAX } from "../config.ts";
import { MAX_DECOMPRESSED_BATCH_BYTES } from "../log-validator.ts";
import type { LogSegment } from "../segment.ts";
import type { OffsetMap } from "./offset-map.ts";
import { keepEmptyBatch, retainRecord } from "./plan.ts";
import { filterBatch } from "./rewrite.ts";

/** Bytes read from a segment per step. */
export const CLEANER_READ_BYTES = 1 << 20;
/** Bytes buffered before one write of a cleaned segment. */
const WRITE_BUFFER_BYTES = 1 << 20;

/** Called after every chunk read or written: the cleaner's I/O budget waits here. */
export type IoHook = (bytes: number) => Promise<void>;

/** A closed segment and where it ends (the next segment's base). */
export interface SegmentSpan {
  /** The segment. */
  readonly segment: LogSegment;
  /** Exclusive end: the next segment's base offset. */
  readonly endOffset: bigint;
  /** Its newest record time (ms), the tombstone-age fallback for records without timestamps. */
  readonly newestMs: number;
}

/** Calls `visit` with every batch of `span` (views into a freshly read chunk). */
export async function forEachBatch(
  span: SegmentSpan,
  io: IoHook,
  visit: (batch: Buffer, view: BatchHeaderView) => void | Promise<void>,
): Promise<void> {
  let from = span.segment.baseOffset;
  for (;;) {
    const read = await span.segment.read(from, {
      maxBytes: CLEANER_READ_BYTES,
      maxOffset: span.endOffset,
      minOneBatch: true,
    });
    if (read === undefined || read.records.length === 0) return;
    await io(read.records.length);
    let at = 0;
    while (at < read.records.length) {
      const view = new BatchHeaderView(read.records, at);
      await visit(read.records.subarray(at, at + view.sizeBytes), view);
      at += view.sizeBytes;
    }
    assert(read.nextOffset > from, "a cleaner read must advance");
    from = read.nextOffset;
  }
}

/** Records each idempotent producer's latest batch base offset seen in `view`. */
function noteProducer(view: BatchHeaderView, lastBatchOfProducer: Map<bigint, bigint>): void {
  if (view.producerId >= 0n) lastBatchOfProducer.set(view.producerId, view.baseOffset);
}

/** Header-only pass over already-clean segments: their producers' last batches. */
export async function scanProducers(
  spans: readonly SegmentSpan[],
  lastBatchOfProducer: Map<bigint, bigint>,
  io: IoHook,
): Promise<void> {
  for (const span of spans)
    await forEachBatch(span, io, (_batch, view) => noteProducer(view, lastBatchOfProducer));
}

/**
 * Puts every keyed record of the dirty `spans` into `map`, segment by segment. Returns how many
 * segments were mapped whole; a map that filled inside a segment still holds that segment's
 * first keys, which only makes earlier records of those keys removable (they are superseded by
 * records that stay, since that segment is not rewritten in this pass).
 */
export async function buildOffsetMap(
  spans: readonly SegmentSpan[],
  map: OffsetMap,
  lastBatchOfProducer: Map<bigint, bigint>,
  io: IoHook,
): Promise<number> {
  for (const [index, span] of spans.entries()) {
    let full = false;
    await forEachBatch(span, io, (batch, view) => {
      noteProducer(view, lastBatchOfProducer);
      if (full || view.isControl) return;
      const decoded = decodeRecordBatch(batch, {
        maxDecompressedBytes: MAX_DECOMPRESSED_BATCH_BYTES,
      });
      for (const record of decoded.records) {
        if (record.key !== null && !map.put(record.key, record.offset)) {
          full = true;
          return;
        }
      }
    });
    if (full) return index;
  }
  return spans.length;
}

/** What writing one cleaned segment did. */
export interface CleanedSegment {
  /** Bytes read from the replaced segments. */
  readonly bytesRead: number;
  /** Bytes written to the `.cleaned` file. */
  readonly bytesWritten: number;
  /** Records kept and removed. */
  readonly recordsKept: number;
  readonly recordsRemoved: number;
}

/** Inputs of {@link writeCleanedSegment} besides the segments. */
export interface CleanDecisions {
  /** The offset map of the dirty section. */
  readonly map: OffsetMap;
  /** Each idempotent producer's last batch in the cleaned section. */
  readonly lastBatchOfProducer: ReadonlyMap<bigint, bigint>;
  /** Tombstones written before this (ms) are removed. */
  readonly tombstoneHorizonMs: bigint;
}

/**
 * Rewrites `group` (consecutive closed segments) into `file`, keeping what the retain decisions
 * keep, and fsyncs it. The file is created fresh (a left-over from an earlier attempt is cut).
 */
export async function writeCleanedSegment(
  file: string,
  group: readonly SegmentSpan[],
  decisions: CleanDecisions,
  io: IoHook,
): Promise<CleanedSegment> {
  const handle = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o644);
  let position = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let bytesRead = 0;
  let recordsKept = 0;
  let recordsRemoved = 0;
  const flushPending = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const chunk = Buffer.concat(pending, pendingBytes);
    assert(position + chunk.length <= INT32_MAX, "a cleaned segment would pass int32 positions");
    await writeAt(handle, chunk, position);
    await io(chunk.length);
    position += chunk.length;
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (const span of group) {
      const ctx = {
        latestOffset: (key: Uint8Array) => decisions.map.get(key),
        tombstoneHorizonMs: decisions.tombstoneHorizonMs,
        fallbackTimestampMs: BigInt(Math.floor(span.newestMs)),
      };
      await forEachBatch(span, io, async (batch, view) => {
        bytesRead += batch.length;
        const keepEmpty = keepEmptyBatch(
          view.producerId,
          view.baseOffset,
          decisions.lastBatchOfProducer,
        );
        const result = filterBatch(
          batch,
          (record) =>
            retainRecord(
              {
                offset: record.offset,
                key: record.key,
                tombstone: record.value === null,
                timestampMs: record.timestamp,
              },
              ctx,
            ),
          keepEmpty,
        );
        recordsKept += result.recordsKept;
        recordsRemoved += result.recordsRemoved;
        if (result.bytes === null) return;
        pending.push(result.bytes);
        pendingBytes += result.bytes.length;
        if (pendingBytes >= WRITE_BUFFER_BYTES) await flushPending();
      });
    }
    await flushPending();
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { bytesRead, bytesWritten: position, recordsKept, recordsRemoved };
}
