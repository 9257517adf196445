/**
 * The record accumulator: records wait per partition in batches of up to `batchSizeBytes`
 * until the batch is full, `lingerMs` has passed since its first record, or a flush asks
 * for everything. Batches of one partition leave strictly in order; with idempotence up to
 * `maxInFlightPerPartition` requests of a partition are in flight, and the broker's sequence
 * check keeps them in order (producer.ts explains the retry rules); without it, one request.
 * Also the partitioners: keyed records use Kafka's murmur2 (`partitionForKey`), keyless
 * records a sticky partition that moves on when its batch fills (KIP-480).
 */
import { assert } from "@strand/base";
import type { RecordInput } from "@strand/protocol";
import type { RecordMetadata } from "./types.ts";

/** Bytes a record costs beyond its key, value and headers (varints, attributes, deltas). */
export const RECORD_OVERHEAD_BYTES = 21;
/** Most records in one batch (an int32 count in the header; kept modest). */
export const BATCH_RECORDS_MAX = 100_000;

/**
 * One send() call waiting for its records. Kept small: an application may have thousands
 * pending, so it holds one promise and no per-send closures (`onSettled` is shared).
 */
export class PendingSend {
  /** One slot per message, filled as batches complete. */
  readonly results: (RecordMetadata | undefined)[];
  /** The promise send() returns. */
  readonly promise: Promise<RecordMetadata[]>;
  /** Called once when the send settles (the producer's shared bookkeeping). */
  readonly #onSettled: (pending: PendingSend) => void;
  /** Undoes what was set up for this send only (its own abort listener), if anything. */
  detach: (() => void) | null = null;
  #remaining: number;
  #settled = false;
  #resolve!: (value: RecordMetadata[]) => void;
  #reject!: (error: unknown) => void;

  constructor(count: number, onSettled: (pending: PendingSend) => void = () => {}) {
    assert(count > 0, "a send has at least one message");
    this.results = new Array(count);
    this.#remaining = count;
    this.#onSettled = onSettled;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** True once resolved or rejected (e.g. aborted): its unsent records are dropped. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Records message `index`'s outcome. */
  complete(index: number, metadata: RecordMetadata): void {
    if (this.#settled) return;
    assert(this.results[index] === undefined, `message ${index} completed twice`);
    this.results[index] = metadata;
    if (--this.#remaining === 0) {
      this.#settle();
      // Every slot is filled now.
      this.#resolve(this.results as RecordMetadata[]);
    }
  }

  /** Fails the whole send (the first error wins). */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settle();
    this.#reject(error);
  }

  #settle(): void {
    this.#settled = true;
    this.detach?.();
    this.detach = null;
    this.#onSettled(this);
  }
}

/** One record in a batch, with the send it belongs to. */
export interface BatchEntry {
  /** Key, value, headers. */
  readonly record: RecordInput;
  /** Create time, ms. */
  readonly timestamp: bigint;
  /** Estimated encoded size. */
  readonly bytes: number;
  /** The send() waiting for it. */
  readonly pending: PendingSend;
  /** Its index in that send's messages. */
  readonly index: number;
}

/**
 * Where a batch is: waiting to be sent (again), in a request, or acknowledged but not yet
 * settled because an earlier batch of its partition is not (sends settle in partition order).
 */
export type BatchState = "queued" | "sending" | "done";

/** A batch for one partition. */
export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  /** Acks of every record in it (sends with other acks start a new batch). */
  readonly acks: string;
  /** When the first record arrived (Date.now ms): linger and delivery timeout count from it. */
  readonly createdMs: number;
  readonly entries: BatchEntry[] = [];
  /** Estimated encoded size. */
  bytes = 0;
  /** No more records will be added. */
  closed = false;
  /** The encoded bytes, fixed at first send so retries resend the same batch. */
  encoded: Buffer | null = null;
  /** Records in `encoded`, in order (aborted ones dropped before encoding). */
  sent: BatchEntry[] = [];
  /** The last retriable error, reported if the delivery timeout expires. */
  lastError: unknown = null;
  /** See {@link BatchState}. */
  state: BatchState = "queued";
  /** With state "done": the offset of its first record (-1n: unknown, e.g. acks none). */
  baseOffset = -1n;
  /** The sequence number of its first record once encoded (-1: none, no idempotence). */
  baseSequence = -1;
  /** Made by splitting a batch the leader found too large: never merged again. */
  split = false;

  constructor(topic: string, partition: number, acks: string, createdMs: number) {
    this.topic = topic;
    this.partition = partition;
    this.acks = acks;
    this.createdMs = createdMs;
  }
}

/** A partition's queue of batches and its retry state. */
export class PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  /** Unsettled batches in order: "done" or "sending" ones first, then "queued" ones. */
  readonly batches: ProducerBatch[] = [];
  /** Produce requests carrying this partition's batches that have not ended. */
  requests = 0;
  /**
   * A request failed or came back out of order: nothing more is sent until every request of
   * the partition has ended, then every unsettled batch is sent again from the head, in order.
   */
  resend = false;
  /** After a resend, one request at a time until a request succeeds (Kafka does the same). */
  careful = false;
  /** Not before this time (Date.now ms): backoff after a retriable error. */
  retryAtMs = 0;
  /** Consecutive retriable failures (the backoff exponent). */
  attempts = 0;
  /** Consecutive immediate retries at hinted leaders. */
  hops = 0;
  /** Batches the leader refused as MESSAGE_TOO_LARGE, split at the next resend. */
  readonly tooLarge = new Set<ProducerBatch>();
  /**
   * Batches from `from` on are encoded again from sequence `sequence` at the next resend: the
   * leader refused an earlier batch without appending it, so their sequences left a gap.
   */
  resequence: { readonly from: ProducerBatch; readonly sequence: number } | null = null;
  /**
   * A request of several batches was refused as MESSAGE_TOO_LARGE: one batch per request
   * until a request succeeds, so the oversized batch fails (or is split) alone.
   */
  oneBatch = false;
  /** Merges of backlogged batches stay below this (learnt from MESSAGE_TOO_LARGE answers). */
  mergeCapBytes = Number.POSITIVE_INFINITY;
  /**
   * The leader (id, epoch) the partition's last request went to: a later metadata answer
   * naming another leader or a newer epoch means that request can be given up (leader probe).
   */
  sentTo: { readonly leaderId: number; readonly leaderEpoch: number } | null = null;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }
}

/** Options of the accumulator. */
export interface AccumulatorOptions {
  /** Close a batch at this estimated size. */
  readonly batchSizeBytes: number;
}

/** Per-partition batches; see the module comment. */
export class Accumulator {
  readonly queues = new Map<string, PartitionQueue>();
  /** The same queues by topic, then partition: the per-record path builds no key strings. */
  readonly #byTopic = new Map<string, (PartitionQueue | undefined)[]>();
  readonly #options: AccumulatorOptions;

  constructor(options: AccumulatorOptions) {
    assert(options.batchSizeBytes > 0, "batchSizeBytes must be positive");
    this.#options = options;
  }

  /** The queue of a partition, created on first use. */
  queue(topic: string, partition: number): PartitionQueue {
    let list = this.#byTopic.get(topic);
    if (list === undefined) {
      list = [];
      this.#byTopic.set(topic, list);
    }
    let q = list[partition];
    if (q === undefined) {
      q = new PartitionQueue(topic, partition);
      list[partition] = q;
      this.queues.set(`${topic}\u0000${partition}`, q);
    }
    return q;
  }

  /** The open (not closed) batch of a partition, if any. */
  openBatch(topic: string, partition: number): ProducerBatch | undefined {
    const batches = this.#byTopic.get(topic)?.[partition]?.batches;
    const last = batches === undefined ? undefined : batches[batches.length - 1];
    return last !== undefined && !last.closed ? last : undefined;
  }

  /** True when `bytes` more would overflow the partition's open, non-empty batch. */
  wouldOverflow(topic: string, partition: number, bytes: number): boolean {
    const open = this.openBatch(topic, partition);
    return (
      open !== undefined &&
      open.entries.length > 0 &&
      open.bytes + bytes > this.#options.batchSizeBytes
    );
  }

  /**
   * Appends an entry to its partition's open batch (a new one when none, when the acks
   * differ, or when it would overflow). Returns the batch (a new one holds only `entry`).
   */
  append(
    topic: string,
    partition: number,
    acks: string,
    entry: BatchEntry,
    nowMs: number,
  ): ProducerBatch {
    const q = this.queue(topic, partition);
    let batch = this.openBatch(topic, partition);
    if (
      batch === undefined ||
      batch.acks !== acks ||
      batch.entries.length >= BATCH_RECORDS_MAX ||
      this.wouldOverflow(topic, partition, entry.bytes)
    ) {
      if (batch !== undefined) batch.closed = true;
      batch = new ProducerBatch(topic, partition, acks, nowMs);
      q.batches.push(batch);
    }
    batch.entries.push(entry);
    batch.bytes += entry.bytes;
    if (batch.bytes >= this.#options.batchSizeBytes) batch.closed = true;
    return batch;
  }
}

/** Chooses partitions: explicit, keyed (murmur2) or sticky (KIP-480). */
export class StickyPartitioner {
  readonly #sticky = new Map<string, number>();
  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  /** The current sticky partition of `topic` (chosen at random the first time). */
  current(topic: string, numPartitions: number): number {
    let p = this.#sticky.get(topic);
    if (p === undefined || p >= numPartitions) {
      p = Math.floor(this.#random() * numPartitions);
      this.#sticky.set(topic, p);
    }
    return p;
  }

  /** Moves `topic` to another partition (a different one when there are several). */
  next(topic: string, numPartitions: number): number {
    const previous = this.current(topic, numPartitions);
    let p = previous;
    if (numPartitions > 1) {
      p = Math.floor(this.#random() * (numPartitions - 1));
      if (p >= previous) p++;
    }
    assert(p >= 0 && p < numPartitions, `sticky partition ${p} out of range`);
    this.#sticky.set(topic, p);
    return p;
  }
}
