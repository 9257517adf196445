/**
 * Walks the batches of a byte range of a segment file with bounded memory. Used by recovery
 * (full CRC check), index rebuilds and offset lookups (headers only). Every length read from
 * disk is checked against the bytes actually left in the range before it drives a read or an
 * allocation, so a corrupt length ends the walk instead of allocating gigabytes.
 */

import type { FileHandle } from "node:fs/promises";
import { readAt } from "@strand/base";
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchHeaderView,
  CorruptBatchError,
  MAGIC_V2,
} from "@strand/protocol";

/** "crc": framing and CRC of every batch (reads all bytes); "headers": framing of headers only. */
export type ScanMode = "crc" | "headers";

/** Why a walk stopped. */
export type ScanStopReason = "end" | "torn" | "corrupt" | "visitor";

/** Where and why a walk stopped. */
export interface ScanStop {
  /** Position of the first byte not covered by a complete, valid, visited batch. */
  readonly position: number;
  /** "end" means the whole range was valid. */
  readonly reason: ScanStopReason;
  /** Human detail for torn and corrupt stops. */
  readonly detail?: string;
}

/**
 * Called per batch; the view is only valid during the call. Return false to stop; the
 * batch is then not counted as walked (stop.position is its start).
 */
export type BatchVisitor = (view: BatchHeaderView, position: number) => boolean | undefined;

const CHUNK_BYTES = 64 * 1024;
const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES;

/** Reads windows of the file; grows only to hold one batch, which fits inside the range. */
class Window {
  buffer: Buffer;
  start = 0;
  length = 0;
  private readonly handle: FileHandle;

  constructor(handle: FileHandle, capacity: number) {
    this.handle = handle;
    this.buffer = Buffer.alloc(capacity);
  }

  /** Ensures [position, position + need) is buffered; false if the file ends first. */
  async ensure(position: number, need: number, rangeEnd: number): Promise<boolean> {
    if (position >= this.start && position + need <= this.start + this.length) return true;
    const readBytes = Math.min(Math.max(need, CHUNK_BYTES), rangeEnd - position);
    if (readBytes > this.buffer.length) this.buffer = Buffer.alloc(readBytes);
    this.start = position;
    this.length = await readAt(this.handle, this.buffer, readBytes, position);
    return this.length >= need;
  }
}

/**
 * Walks batches in [startPosition, endPosition) of `handle`, calling `visit` for each valid one.
 * Stops at the end, at a torn (incomplete) batch, at the first invalid one, or when `visit`
 * returns false.
 */
export async function scanFileBatches(
  handle: FileHandle,
  range: { readonly startPosition: number; readonly endPosition: number },
  mode: ScanMode,
  visit: BatchVisitor,
): Promise<ScanStop> {
  const { endPosition } = range;
  const window = new Window(
    handle,
    Math.min(CHUNK_BYTES, Math.max(0, endPosition - range.startPosition)),
  );
  let position = range.startPosition;
  // Each turn advances by >= BATCH_HEADER_BYTES or returns: bounded by the range size.
  while (position < endPosition) {
    const remaining = endPosition - position;
    if (remaining < BATCH_HEADER_BYTES) {
      return {
        position,
        reason: "torn",
        detail: `${remaining} trailing bytes cannot hold a batch header`,
      };
    }
    if (!(await window.ensure(position, BATCH_HEADER_BYTES, endPosition))) {
      return { position, reason: "torn", detail: "file ended inside a batch header" };
    }
    const header = new BatchHeaderView(window.buffer, position - window.start);
    const batchLength = header.batchLength;
    if (batchLength < MIN_BATCH_LENGTH || header.magic !== MAGIC_V2) {
      return {
        position,
        reason: "corrupt",
        detail: `bad batchLength ${batchLength} or magic ${header.magic}`,
      };
    }
    const sizeBytes = batchLength + BATCH_LOG_OVERHEAD_BYTES;
    if (sizeBytes > remaining) {
      return {
        position,
        reason: "torn",
        detail: `batch of ${sizeBytes} bytes, only ${remaining} left`,
      };
    }
    const checked = await checkBatch(window, position, sizeBytes, mode, endPosition);
    if (typeof checked === "string") return { position, reason: "corrupt", detail: checked };
    if (checked === undefined)
      return { position, reason: "torn", detail: "file ended inside a batch" };
    if (visit(checked, position) === false) return { position, reason: "visitor" };
    position += sizeBytes;
  }
  return { position, reason: "end" };
}

/** Validates one batch per `mode`; returns its view, an error string, or undefined if torn. */
async function checkBatch(
  window: Window,
  position: number,
  sizeBytes: number,
  mode: ScanMode,
  endPosition: number,
): Promise<BatchHeaderView | string | undefined> {
  if (mode === "headers") {
    const view = new BatchHeaderView(window.buffer, position - window.start);
    if (view.recordCount < 0 || view.lastOffsetDelta < 0)
      return "negative recordCount or lastOffsetDelta";
    return view;
  }
  if (!(await window.ensure(position, sizeBytes, endPosition))) return undefined;
  // Validate over exactly the batch's bytes so a neighbour can never satisfy the bounds check.
  const start = position - window.start;
  const view = new BatchHeaderView(window.buffer.subarray(start, start + sizeBytes), 0);
  try {
    view.validate();
  } catch (error) {
    if (error instanceof CorruptBatchError) return error.message;
    throw error;
  }
  return view;
}
