/**
 * A partition's producer state kept in step with its log: the I/O edge around the pure
 * {@link ProducerStateMap}. The state "maps" the log up to `mappedEndOffset`; `sync()` reads the
 * batch headers from there to the log end (never decoding a record), so a follower's state
 * comes from the batches it replicated and a new leader's from its own log.
 *
 * Truncation (a follower whose log diverged, a full restart of the log) is detected with an
 * anchor: the offsets and leader epoch of the last mapped batch. Two replicas holding a batch at
 * the same offset with the same leader epoch hold the same log up to it (the leader-epoch
 * invariant of replication), so when the log still holds the anchor the mapped prefix is
 * unchanged; otherwise the state is rebuilt from the log start. The leader's appends are applied
 * right after they are written (`onLeaderAppend`), from the stamped headers, so the leader's
 * state is always a replay of its log.
 */
import { assert, type Logger, Mutex, noopLogger } from "@strand/base";
import { type BatchHeaderView, batchViews, FRAMING_ONLY, iterateBatches } from "@strand/protocol";
import { type Log, LogOffsetOutOfRangeError } from "@strand/storage";
import { ProducerStateMap, producerBatchOf } from "../core/producer-state.ts";

/** Bytes read from the log per step of a sync. */
export const SYNC_READ_BYTES = 1 << 20;

/** The last mapped batch. */
interface Anchor {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly leaderEpoch: number;
}

/** What a sync did. */
export interface SyncReport {
  /** The state was thrown away and rebuilt from the log start. */
  readonly rebuilt: boolean;
  /** Batches read from the log. */
  readonly batchesRead: number;
  /** The log offset the state reflects now. */
  readonly mappedEndOffset: bigint;
}

/** See the module comment. */
export class PartitionProducerState {
  /** The producer ids of the partition. */
  readonly map = new ProducerStateMap();
  readonly #log: Log;
  readonly #logger: Logger;
  /** Serializes syncs (a follower's background sync with a role change). */
  readonly #lock = new Mutex();
  #mappedEnd: bigint;
  #anchor: Anchor | null = null;
  /** False until a sync checked the anchor since the last role change. */
  #verified = false;
  #background: Promise<unknown> | null = null;

  /** Empty state over `log`, mapping nothing yet (the first sync reads the log). */
  constructor(log: Log, logger: Logger = noopLogger) {
    this.#log = log;
    this.#logger = logger;
    this.#mappedEnd = log.logStartOffset;
  }

  /** The log offset the state reflects. */
  get mappedEndOffset(): bigint {
    return this.#mappedEnd;
  }

  /** The replica's role changed: the next sync checks the log still holds what was mapped. */
  invalidate(): void {
    this.#verified = false;
  }

  /** Brings the state to the log end (see the module comment); throws on a storage error. */
  sync(): Promise<SyncReport> {
    return this.#lock.run(async () => {
      try {
        return await this.#sync();
      } catch (error) {
        this.#verified = false;
        throw error;
      }
    });
  }

  /** A sync in the background (follower: after replicated batches); at most one queued. */
  syncInBackground(): void {
    if (this.#background !== null) return;
    this.#background = this.sync()
      .catch((error: unknown) =>
        this.#logger.debug({ dir: this.#log.dir, err: error }, "producer state sync failed"),
      )
      .finally(() => {
        this.#background = null;
      });
  }

  /**
   * Applies batches just appended at `firstOffset`, as leader (headers stamped by the log) or
   * as follower (replicated bytes), so the state follows the log without reading it back.
   */
  onLeaderAppend(records: Buffer, firstOffset: bigint): void {
    if (this.#mappedEnd !== firstOffset) {
      // Not in step (a sync failed earlier): the next sync reads these batches from the log.
      this.#verified = false;
      return;
    }
    for (const view of batchViews(records, FRAMING_ONLY)) this.#applyView(view);
  }

  /** Forgets producer ids idle for `expirationMs`; returns how many. */
  removeExpired(nowMs: number, expirationMs: number): number {
    return this.map.removeExpired(nowMs, expirationMs);
  }

  async #sync(): Promise<SyncReport> {
    let rebuilt = false;
    if (!this.#verified || this.#mappedEnd !== this.#log.logEndOffset) {
      if (!(await this.#anchorHolds())) {
        this.map.clear();
        this.#mappedEnd = this.#log.logStartOffset;
        this.#anchor = null;
        rebuilt = true;
      }
    }
    const batchesRead = await this.#catchUp();
    this.#verified = true;
    if (rebuilt && batchesRead > 0)
      this.#logger.info(
        { dir: this.#log.dir, batchesRead, producers: this.map.size },
        "rebuilt producer state from the log",
      );
    return { rebuilt, batchesRead, mappedEndOffset: this.#mappedEnd };
  }

  /** True when the log still holds the last mapped batch as it was mapped. */
  async #anchorHolds(): Promise<boolean> {
    const log = this.#log;
    if (this.#mappedEnd > log.logEndOffset) return false;
    const anchor = this.#anchor;
    if (anchor === null) return this.map.size === 0;
    if (anchor.baseOffset < log.logStartOffset) return false;
    try {
      const read = await log.read(anchor.baseOffset, { maxBytes: 1 });
      const view = iterateBatches(read.records, { verifyCrc: false }).next().value;
      return (
        view !== undefined &&
        view.baseOffset === anchor.baseOffset &&
        view.lastOffset === anchor.lastOffset &&
        view.partitionLeaderEpoch === anchor.leaderEpoch
      );
    } catch (error) {
      if (error instanceof LogOffsetOutOfRangeError) return false;
      throw error;
    }
  }

  /** Reads batch headers from the mapped end to the log end as it is now. */
  async #catchUp(): Promise<number> {
    const log = this.#log;
    const endOffset = log.logEndOffset;
    // Batches below the log start that were never mapped are gone (retention): skip them.
    if (this.#mappedEnd < log.logStartOffset) this.#mappedEnd = log.logStartOffset;
    let batchesRead = 0;
    while (this.#mappedEnd < endOffset) {
      const before = this.#mappedEnd;
      const read = await log.read(before, { maxBytes: SYNC_READ_BYTES, maxOffset: endOffset });
      for (const view of iterateBatches(read.records, { verifyCrc: false })) {
        // Compaction leaves gaps, so a batch may start past the mapped end, never before it.
        assert(
          view.baseOffset >= this.#mappedEnd,
          `batch at ${view.baseOffset} read while the producer state maps up to ${this.#mappedEnd}`,
        );
        this.#applyView(view);
        batchesRead += 1;
      }
      // Each read returns at least one batch below endOffset, so every turn advances.
      if (this.#mappedEnd === before) break;
    }
    return batchesRead;
  }

  #applyView(view: BatchHeaderView): void {
    const batch = producerBatchOf(view);
    if (batch !== null) this.map.apply(batch);
    this.#mappedEnd = view.nextOffset;
    this.#anchor = {
      baseOffset: view.baseOffset,
      lastOffset: view.lastOffset,
      leaderEpoch: view.partitionLeaderEpoch,
    };
  }
}
