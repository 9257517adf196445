/**
 * Iterates the batches in a byte range (a fetch response, a segment slice) without
 * decoding records. Stops cleanly at a trailing partial batch: a reader that asked for a
 * byte limit may legitimately receive one.
 */
import { BATCH_LOG_OVERHEAD_BYTES, BatchHeaderView } from "./batch-header.ts";

/** Options for {@link iterateBatches}. */
export interface IterateBatchesOptions {
  /** Validate each batch's CRC (default true). Framing is always checked. */
  readonly verifyCrc?: boolean;
}

/** Result of scanning a byte range: the complete batches and where the valid prefix ends. */
export interface BatchScan {
  readonly batches: BatchHeaderView[];
  /** Bytes covered by complete batches from the start of the range. */
  readonly validBytes: number;
  /** True when bytes after `validBytes` form a partial (truncated) batch. */
  readonly partialTail: boolean;
}

/**
 * Yields a view of each complete batch in `buffer`. A trailing partial batch ends the
 * iteration silently; a complete batch that fails validation throws CorruptBatchError.
 */
export function* iterateBatches(
  buffer: Buffer,
  options: IterateBatchesOptions = {},
): Generator<BatchHeaderView, void, undefined> {
  const verifyCrc = options.verifyCrc ?? true;
  let position = 0;
  while (buffer.length - position >= BATCH_LOG_OVERHEAD_BYTES) {
    const view = new BatchHeaderView(buffer, position);
    const length = view.batchLength;
    if (length >= 0 && view.sizeBytes > buffer.length - position) {
      return; // partial tail
    }
    if (verifyCrc) {
      view.validate();
    } else {
      view.validateFraming();
    }
    yield view;
    position += view.sizeBytes;
  }
}

/** Scans `buffer` and reports its complete batches and whether a partial tail follows. */
export function scanBatches(buffer: Buffer, options: IterateBatchesOptions = {}): BatchScan {
  const batches = batchViews(buffer, options);
  let validBytes = 0;
  for (let i = 0; i < batches.length; i++) validBytes += batches[i]!.sizeBytes;
  return { batches, validBytes, partialTail: validBytes < buffer.length };
}

/** Headers only: {@link iterateBatches} without CRC checks, the option object shared. */
export const FRAMING_ONLY: IterateBatchesOptions = { verifyCrc: false };

/**
 * The views {@link iterateBatches} yields, as an array: the same checks, without a
 * generator and an iterator result per batch (the broker walks every appended buffer's
 * headers several times per produce).
 */
export function batchViews(buffer: Buffer, options: IterateBatchesOptions = {}): BatchHeaderView[] {
  const verifyCrc = options.verifyCrc ?? true;
  const views: BatchHeaderView[] = [];
  let position = 0;
  while (buffer.length - position >= BATCH_LOG_OVERHEAD_BYTES) {
    const view = new BatchHeaderView(buffer, position);
    const length = view.batchLength;
    if (length >= 0 && view.sizeBytes > buffer.length - position) break; // partial tail
    if (verifyCrc) view.validate();
    else view.validateFraming();
    views.push(view);
    position += view.sizeBytes;
  }
  return views;
}
