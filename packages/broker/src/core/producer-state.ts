/**
 * Idempotent producer state of one partition (Kafka's ProducerStateManager, without
 * transactions). Pure: no clock, no I/O. For each producer id: its epoch and the metadata of
 * its last {@link BATCHES_PER_PRODUCER_MAX} batches (sequence range, offset range, timestamp).
 *
 * - {@link ProducerStateMap.apply} replays one batch as it is in the log; it is the only
 *   mutation, so the state after the leader's appends equals a replay of the same log.
 * - {@link checkBatches} decides, before a leader append, whether each idempotent batch of a
 *   produce is new (append), a retried duplicate (answer the original offsets, do not
 *   append) or refused (error code), taking earlier batches of the same produce into account.
 *
 * Sequence numbers are int32 counted per partition from 0 and wrap from 2^31 - 1 to 0.
 */
import { assert } from "@strand/base";
import {
  type BatchHeaderView,
  batchViews,
  ErrorCode,
  type ErrorCodeInfo,
  FRAMING_ONLY,
} from "@strand/protocol";

/** Batches remembered per producer id (Kafka's NUM_BATCHES_TO_RETAIN, the in-flight limit). */
export const BATCHES_PER_PRODUCER_MAX = 5;
/** Largest sequence number; the one after it is 0. */
export const SEQUENCE_MAX = 2 ** 31 - 1;

/** The idempotence fields of one batch, read from its header. */
export interface ProducerBatch {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** The batch's maxTimestamp (what expiration counts from, as Kafka). */
  readonly timestampMs: bigint;
}

/** What is remembered of one batch. */
export interface BatchMetadata {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly timestampMs: bigint;
}

/** One producer id's state in a partition. */
export interface ProducerEntry {
  readonly producerId: bigint;
  readonly epoch: number;
  /** Oldest first; at most {@link BATCHES_PER_PRODUCER_MAX}; empty right after an epoch bump. */
  readonly batches: readonly BatchMetadata[];
  /** Timestamp of the newest batch. */
  readonly lastTimestampMs: bigint;
}

/** Why a batch is refused. */
export interface BatchRefusal {
  readonly error: ErrorCodeInfo;
  readonly message: string;
}

/** The offsets of batches in the log. */
export interface OffsetRange {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
}

/** The verdict on the batches of one produce to one partition. */
export type AppendCheck =
  /** Append `records` from byte `skipBytes`; the `duplicates` leading batches were retries. */
  | {
      readonly kind: "append";
      readonly skipBytes: number;
      /**
       * The original offsets of each retried leading batch, in produce order (empty when
       * none). Not contiguous in general: other producers' batches may lie between them.
       */
      readonly duplicates: readonly OffsetRange[];
    }
  | ({ readonly kind: "refuse" } & BatchRefusal);

/** `seq + increment` in the int32 sequence space (wraps past {@link SEQUENCE_MAX} to 0). */
export function incrementSequence(seq: number, increment: number): number {
  assert(seq >= 0 && seq <= SEQUENCE_MAX && increment >= 0, `bad sequence ${seq}+${increment}`);
  if (seq > SEQUENCE_MAX - increment) return increment - (SEQUENCE_MAX - seq) - 1;
  return seq + increment;
}

/** The idempotence fields of a (validated) batch header, or null when it has no producer id. */
export function producerBatchOf(view: BatchHeaderView): ProducerBatch | null {
  const producerId = view.producerId;
  if (producerId < 0n) return null;
  const firstSeq = view.baseSequence;
  return {
    producerId,
    producerEpoch: view.producerEpoch,
    firstSeq,
    lastSeq: firstSeq < 0 ? firstSeq : incrementSequence(firstSeq, view.lastOffsetDelta),
    firstOffset: view.baseOffset,
    lastOffset: view.lastOffset,
    timestampMs: view.maxTimestamp,
  };
}

/** `entry` after `batch` (a new object; `entry` is not changed). */
export function entryAfter(entry: ProducerEntry | undefined, batch: ProducerBatch): ProducerEntry {
  const meta: BatchMetadata = {
    firstSeq: batch.firstSeq,
    lastSeq: batch.lastSeq,
    firstOffset: batch.firstOffset,
    lastOffset: batch.lastOffset,
    timestampMs: batch.timestampMs,
  };
  const kept =
    entry === undefined || batch.producerEpoch !== entry.epoch
      ? []
      : entry.batches.slice(-(BATCHES_PER_PRODUCER_MAX - 1));
  return {
    producerId: batch.producerId,
    epoch: batch.producerEpoch,
    batches: [...kept, meta],
    lastTimestampMs: batch.timestampMs,
  };
}

/** The batch of `entry` with the same sequence range as `batch` in the same epoch, if any. */
export function findDuplicate(
  entry: ProducerEntry | undefined,
  batch: ProducerBatch,
): BatchMetadata | undefined {
  if (entry === undefined || entry.epoch !== batch.producerEpoch) return undefined;
  return entry.batches.find((b) => b.firstSeq === batch.firstSeq && b.lastSeq === batch.lastSeq);
}

/** Why `batch` cannot follow `entry` (epoch and sequence rules), or null when it can. */
export function refusalOf(
  entry: ProducerEntry | undefined,
  batch: ProducerBatch,
): BatchRefusal | null {
  const who = `producer ${batch.producerId} epoch ${batch.producerEpoch}`;
  const range = `sequences ${batch.firstSeq}..${batch.lastSeq}`;
  if (batch.producerEpoch < 0 || batch.firstSeq < 0) {
    return {
      error: ErrorCode.INVALID_RECORD,
      message: `${who}: an idempotent batch needs an epoch and a base sequence >= 0`,
    };
  }
  if (entry === undefined) {
    if (batch.firstSeq === 0) return null;
    return {
      error: ErrorCode.UNKNOWN_PRODUCER_ID,
      message: `${who} has no state in this partition and its batch starts at sequence ${batch.firstSeq}, not 0`,
    };
  }
  if (batch.producerEpoch < entry.epoch) {
    return {
      error: ErrorCode.INVALID_PRODUCER_EPOCH,
      message: `${who} is older than the partition's epoch ${entry.epoch} for this producer id`,
    };
  }
  const latest = entry.batches.at(-1);
  const expected =
    batch.producerEpoch > entry.epoch || latest === undefined
      ? 0
      : incrementSequence(latest.lastSeq, 1);
  if (batch.firstSeq === expected) return null;
  return {
    error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    message: `${who}: ${range} arrived but the next expected sequence is ${expected}`,
  };
}

/** The producer ids of one partition and their state. */
export class ProducerStateMap {
  readonly #producers = new Map<bigint, ProducerEntry>();

  /** Producer ids with state. */
  get size(): number {
    return this.#producers.size;
  }

  /** One producer id's state. */
  entry(producerId: bigint): ProducerEntry | undefined {
    return this.#producers.get(producerId);
  }

  /** Every entry, by producer id (tests, snapshots). */
  entries(): ReadonlyMap<bigint, ProducerEntry> {
    return this.#producers;
  }

  /**
   * Replays one batch of the log. A batch of an older epoch than the entry's can only come
   * from a log written before the bump was checked; it is skipped, as Kafka's replay does.
   */
  apply(batch: ProducerBatch): void {
    const entry = this.#producers.get(batch.producerId);
    if (entry !== undefined && batch.producerEpoch < entry.epoch) return;
    this.#producers.set(batch.producerId, entryAfter(entry, batch));
  }

  /** Restores one entry (from a snapshot). */
  restore(entry: ProducerEntry): void {
    assert(entry.batches.length <= BATCHES_PER_PRODUCER_MAX, "too many batches in an entry");
    this.#producers.set(entry.producerId, entry);
  }

  /** Forgets producers whose newest batch is older than `expirationMs` before `nowMs`. */
  removeExpired(nowMs: number, expirationMs: number): number {
    const horizonMs = BigInt(Math.floor(nowMs - expirationMs));
    let removed = 0;
    for (const [id, entry] of this.#producers) {
      if (entry.lastTimestampMs < horizonMs) {
        this.#producers.delete(id);
        removed += 1;
      }
    }
    return removed;
  }

  /** Forgets everything (before a rebuild). */
  clear(): void {
    this.#producers.clear();
  }
}

/**
 * The verdict on the batches of one produce to one partition, checked in order against
 * `state` and the earlier batches of the same produce. Retried duplicates may only lead the
 * produce (the retry of an earlier produce); a duplicate after a new batch is out of order.
 * Header reads only; `records` must be framed batches (the log validates CRCs on append).
 */
export function checkBatches(state: ProducerStateMap, records: Buffer): AppendCheck {
  const pending = new Map<bigint, ProducerEntry>();
  let skipBytes = 0;
  let leading = true;
  const duplicates: OffsetRange[] = [];
  for (const view of batchViews(records, FRAMING_ONLY)) {
    const batch = producerBatchOf(view);
    if (batch === null) {
      leading = false;
      continue;
    }
    const entry = pending.get(batch.producerId) ?? state.entry(batch.producerId);
    const found = pending.has(batch.producerId) ? undefined : findDuplicate(entry, batch);
    if (found !== undefined && leading) {
      // Nothing is appended, so the log's CRC check will not run: check this batch here.
      view.validate();
      duplicates.push({ firstOffset: found.firstOffset, lastOffset: found.lastOffset });
      skipBytes += view.sizeBytes;
      continue;
    }
    leading = false;
    const refusal =
      found !== undefined
        ? {
            error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `producer ${batch.producerId}: sequences ${batch.firstSeq}..${batch.lastSeq} were written already but follow new batches in the same produce`,
          }
        : refusalOf(entry, batch);
    if (refusal !== null) {
      view.validate(); // a corrupt header answers CORRUPT_MESSAGE, not a sequence error
      return { kind: "refuse", ...refusal };
    }
    pending.set(batch.producerId, entryAfter(entry, batch));
  }
  assert(skipBytes <= records.length, "skipped past the end of the produce");
  return { kind: "append", skipBytes, duplicates };
}

/** True when some batch in `records` carries a producer id (header reads only). */
export function hasProducerIds(records: Buffer): boolean {
  for (const view of batchViews(records, FRAMING_ONLY)) {
    if (view.producerId >= 0n) return true;
  }
  return false;
}
