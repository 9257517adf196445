/**
 * The Raft state machine of a controller voter: every committed Raft entry is one metadata
 * log batch. Normal entries are decoded and replayed through `Controller.apply`; Raft's own
 * entries (a new leader's no-op, a voter change) are replayed as empty batches, so the image
 * offset is always the Raft applied index. Each applied batch is kept, as stored, in a
 * bounded in-memory tail that FetchMetadata streams serve; snapshots are the image written
 * as records (`imageToRecords`), restored with `Controller.loadSnapshot`.
 */

import { assert } from "@strand/base";
import type { Entry, Index, SnapshotMeta, StateMachine } from "@strand/raft";
import { decodeMetadataBatch, encodeMetadataBatch } from "../codec.ts";
import type { Controller } from "../controller.ts";
import type { MetadataDelta } from "../image.ts";
import { imageToRecords } from "../snapshot.ts";
import { type MetadataOffset, metadataOffset } from "../types.ts";

/** One committed batch of the metadata log, exactly as stored in Raft. */
export interface LoggedBatch {
  /** The Raft index. */
  readonly offset: MetadataOffset;
  /** The Raft term. */
  readonly epoch: number;
  /** The encoded MetadataRecordBatch (empty for Raft's own entries). */
  readonly bytes: Uint8Array;
}

/** Default bound of the in-memory tail of committed batches served to followers. */
export const DEFAULT_CACHED_BATCHES_MAX = 100_000;

const EMPTY = new Uint8Array(0);

/** Options of {@link MetadataStateMachine}. */
export interface MetadataStateMachineOptions {
  readonly controller: Controller;
  /** Batches kept behind a snapshot for followers that lag a little. */
  readonly keepBehindSnapshot: number;
  /** Hard bound of the tail; default {@link DEFAULT_CACHED_BATCHES_MAX}. */
  readonly cachedBatchesMax?: number;
  /** Called after each batch is applied (activation checks, metrics). */
  readonly onApplied?: (batch: LoggedBatch, delta: MetadataDelta) => void;
}

/** See the module comment. */
export class MetadataStateMachine implements StateMachine {
  readonly #controller: Controller;
  readonly #keepBehindSnapshot: number;
  readonly #cachedMax: number;
  readonly #onApplied: (batch: LoggedBatch, delta: MetadataDelta) => void;
  #tail: LoggedBatch[] = [];
  #waiters: (() => void)[] = [];

  constructor(o: MetadataStateMachineOptions) {
    this.#controller = o.controller;
    this.#keepBehindSnapshot = o.keepBehindSnapshot;
    this.#cachedMax = o.cachedBatchesMax ?? DEFAULT_CACHED_BATCHES_MAX;
    this.#onApplied = o.onApplied ?? (() => {});
    assert(this.#keepBehindSnapshot >= 0 && this.#cachedMax >= 1, "bad cache bounds");
  }

  /** The last applied offset (the committed image's offset). */
  get appliedOffset(): MetadataOffset {
    return this.#controller.image.offset;
  }

  /** The first offset still in the tail (appliedOffset + 1 when it is empty). */
  get firstCachedOffset(): number {
    return this.#tail[0]?.offset ?? this.appliedOffset + 1;
  }

  apply(entry: Entry, at: Index): void {
    assert(entry.index === at, "entry index mismatch");
    assert(at === this.appliedOffset + 1, `apply ${at} after ${this.appliedOffset}`);
    const bytes = entry.type === "normal" ? entry.data : EMPTY;
    // A batch that does not decode on a committed entry is a broken invariant: crash.
    const records = bytes.length === 0 ? [] : decodeMetadataBatch(bytes);
    const batch: LoggedBatch = { offset: metadataOffset(at), epoch: entry.term, bytes };
    const delta = this.#controller.apply(records, { offset: batch.offset, epoch: batch.epoch });
    this.#tail.push(batch);
    if (this.#tail.length > this.#cachedMax) this.#tail.shift();
    this.#onApplied(batch, delta);
    this.#wakeAll();
  }

  snapshot(): Uint8Array {
    const image = this.#controller.image;
    const keepFrom = image.offset - this.#keepBehindSnapshot;
    const drop = this.#tail.findIndex((b) => b.offset > keepFrom);
    this.#tail = drop < 0 ? [] : this.#tail.slice(drop);
    return encodeMetadataBatch(imageToRecords(image));
  }

  restore(data: Uint8Array, meta: SnapshotMeta): void {
    const records = data.length === 0 ? [] : decodeMetadataBatch(data);
    this.#controller.loadSnapshot(records, {
      offset: metadataOffset(meta.index),
      epoch: meta.term,
    });
    this.#tail = [];
    this.#wakeAll();
  }

  /** Committed batches with offset > `after`, at most `countMax`; null if no longer held. */
  batchesAfter(after: number, countMax: number): readonly LoggedBatch[] | null {
    if (after >= this.appliedOffset) return [];
    const start = after + 1 - this.firstCachedOffset;
    if (start < 0) return null;
    const out = this.#tail.slice(start, start + countMax);
    assert(out[0]?.offset === after + 1, "cached tail has a gap");
    return out;
  }

  /** Resolves at the next applied batch or restored snapshot (or on {@link wakeAll}). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes every {@link changed} waiter (on apply, restore, or shutdown). */
  wakeAll(): void {
    this.#wakeAll();
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
