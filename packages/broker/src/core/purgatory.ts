/**
 * Request purgatories (Kafka's `DelayedOperationPurgatory`), as pure data structures: requests
 * that wait for the high watermark (acks=all produces) or for data (long-poll fetches) are
 * parked here, keyed by partition, each with a deadline. The broker feeds events in (HW moved,
 * time passed, leadership lost) and answers the waiters that come out. No timers: the caller
 * calls `expire(nowMs)` on its tick.
 *
 * Partitions are keyed by a string the caller chooses (e.g. `${topicId}:${partition}`).
 * Every purgatory has a waiter limit, checked in `register` (null when full).
 */

import { assert } from "@strand/base";

interface Deadline {
  readonly id: number;
  readonly deadlineMs: number;
}

/**
 * Waiters ordered by deadline: a binary min-heap with lazy deletion. Completed waiters stay in
 * the heap until popped; it is rebuilt when stale entries outnumber live ones.
 */
class DeadlineQueue<W extends Deadline> {
  readonly #live = new Map<number, W>();
  #heap: Deadline[] = [];

  get size(): number {
    return this.#live.size;
  }

  get(id: number): W | undefined {
    return this.#live.get(id);
  }

  add(waiter: W): void {
    assert(!this.#live.has(waiter.id), `waiter ${waiter.id} added twice`);
    this.#live.set(waiter.id, waiter);
    this.#push({ id: waiter.id, deadlineMs: waiter.deadlineMs });
  }

  delete(id: number): boolean {
    const deleted = this.#live.delete(id);
    if (this.#heap.length > 2 * this.#live.size + 64) this.#rebuild();
    return deleted;
  }

  /** Removes and returns the waiters whose deadline is at or before `nowMs`, oldest first. */
  popExpired(nowMs: number): W[] {
    const expired: W[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.deadlineMs <= nowMs) {
      const top = this.#pop();
      const waiter = this.#live.get(top.id);
      if (waiter === undefined) continue;
      this.#live.delete(top.id);
      expired.push(waiter);
    }
    return expired;
  }

  #rebuild(): void {
    this.#heap = [];
    for (const w of this.#live.values()) this.#push({ id: w.id, deadlineMs: w.deadlineMs });
  }

  #push(entry: Deadline): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.deadlineMs <= heap[i]!.deadlineMs) break;
      swap(heap, parent, i);
      i = parent;
    }
  }

  #pop(): Deadline {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]!.deadlineMs < heap[m]!.deadlineMs) m = l;
      if (r < heap.length && heap[r]!.deadlineMs < heap[m]!.deadlineMs) m = r;
      if (m === i) return top;
      swap(heap, m, i);
      i = m;
    }
  }
}

/** Limits of a purgatory. */
export interface PurgatoryOptions {
  /** Most waiters parked at once; `register` returns null beyond it. */
  readonly waitersMax: number;
}

/** An acks=all produce waiting for one partition's HW. */
export interface AcksAllWaiter<T> {
  /** Unique within the purgatory. */
  readonly id: number;
  /** The partition key. */
  readonly partition: string;
  /** Done when the HW reaches this offset (the batch's last offset + 1). */
  readonly requiredOffset: bigint;
  /** Answer REQUEST_TIMED_OUT at this time. */
  readonly deadlineMs: number;
  /** The caller's request context. */
  readonly value: T;
}

/** What a caller parks: the waiter without its id and partition. */
export type AcksAllRegistration<T> = Omit<AcksAllWaiter<T>, "id" | "partition">;

/** acks=all produces waiting for the high watermark. */
export class AcksAllPurgatory<T> {
  readonly #waitersMax: number;
  readonly #queue = new DeadlineQueue<AcksAllWaiter<T>>();
  // Per partition, waiters sorted by requiredOffset.
  readonly #byPartition = new Map<string, AcksAllWaiter<T>[]>();
  #nextId = 1;

  /** An empty purgatory. */
  constructor(options: PurgatoryOptions) {
    assert(options.waitersMax > 0, "waitersMax must be positive");
    this.#waitersMax = options.waitersMax;
  }

  /** Waiters parked now. */
  get size(): number {
    return this.#queue.size;
  }

  /** Parks a waiter; null when the purgatory is full (answer the produce at once). */
  register(partition: string, registration: AcksAllRegistration<T>): AcksAllWaiter<T> | null {
    if (this.#queue.size >= this.#waitersMax) return null;
    assert(registration.requiredOffset > 0n, "required offset must be positive");
    const waiter: AcksAllWaiter<T> = { ...registration, id: this.#nextId++, partition };
    const list = this.#byPartition.get(partition) ?? [];
    let i = list.length;
    while (i > 0 && list[i - 1]!.requiredOffset > waiter.requiredOffset) i--;
    list.splice(i, 0, waiter);
    this.#byPartition.set(partition, list);
    this.#queue.add(waiter);
    return waiter;
  }

  /** The partition's HW is now `highWatermark`: the waiters it satisfies, in offset order. */
  onHighWatermark(partition: string, highWatermark: bigint): AcksAllWaiter<T>[] {
    const list = this.#byPartition.get(partition);
    if (list === undefined) return [];
    let n = 0;
    while (n < list.length && list[n]!.requiredOffset <= highWatermark) n++;
    const done = list.splice(0, n);
    if (list.length === 0) this.#byPartition.delete(partition);
    for (const w of done) this.#queue.delete(w.id);
    return done;
  }

  /** Waiters whose deadline passed (answer REQUEST_TIMED_OUT), oldest deadline first. */
  expire(nowMs: number): AcksAllWaiter<T>[] {
    const expired = this.#queue.popExpired(nowMs);
    for (const w of expired) this.#unindex(w);
    return expired;
  }

  /** Leadership of the partition moved away: every waiter on it (answer NOT_LEADER). */
  removePartition(partition: string): AcksAllWaiter<T>[] {
    const list = this.#byPartition.get(partition) ?? [];
    this.#byPartition.delete(partition);
    for (const w of list) this.#queue.delete(w.id);
    return list;
  }

  #unindex(waiter: AcksAllWaiter<T>): void {
    const list = this.#byPartition.get(waiter.partition);
    const i = list?.indexOf(waiter) ?? -1;
    assert(list !== undefined && i >= 0, `waiter ${waiter.id} missing from its partition`);
    list.splice(i, 1);
    if (list.length === 0) this.#byPartition.delete(waiter.partition);
  }
}

/** A long-poll fetch waiting for data on any of its partitions. */
export interface DelayedFetchWaiter<T> {
  /** Unique within the purgatory. */
  readonly id: number;
  /** Partition key -> the fetch offset the request read from. */
  readonly partitions: ReadonlyMap<string, bigint>;
  /** Answer once this many bytes are available across the partitions. */
  readonly minBytes: number;
  /** Bytes available so far (what the first read found plus what arrived since). */
  readonly bytesAvailable: number;
  /** Answer with what there is at this time. */
  readonly deadlineMs: number;
  /** The caller's request context. */
  readonly value: T;
}

/** What a caller parks: the waiter without its id. */
export type DelayedFetchRegistration<T> = Omit<DelayedFetchWaiter<T>, "id">;

interface MutableFetchWaiter<T> extends DelayedFetchWaiter<T> {
  bytesAvailable: number;
}

/**
 * Long-poll fetches (consumer Fetch, or ReplicaFetch) waiting for `minBytes`. The consumer
 * instance is fed high-watermark advances; the replica-fetch instance is fed the leader's
 * log-end advances through the same `onHighWatermark`.
 */
export class DelayedFetchPurgatory<T> {
  readonly #waitersMax: number;
  readonly #queue = new DeadlineQueue<MutableFetchWaiter<T>>();
  readonly #byPartition = new Map<string, Set<number>>();
  #nextId = 1;

  /** An empty purgatory. */
  constructor(options: PurgatoryOptions) {
    assert(options.waitersMax > 0, "waitersMax must be positive");
    this.#waitersMax = options.waitersMax;
  }

  /** Waiters parked now. */
  get size(): number {
    return this.#queue.size;
  }

  /** Parks a fetch; null when the purgatory is full (answer at once with what there is). */
  register(registration: DelayedFetchRegistration<T>): DelayedFetchWaiter<T> | null {
    if (this.#queue.size >= this.#waitersMax) return null;
    assert(registration.partitions.size > 0, "a delayed fetch watches at least one partition");
    const waiter: MutableFetchWaiter<T> = { ...registration, id: this.#nextId++ };
    for (const key of waiter.partitions.keys()) {
      const ids = this.#byPartition.get(key) ?? new Set<number>();
      ids.add(waiter.id);
      this.#byPartition.set(key, ids);
    }
    this.#queue.add(waiter);
    return waiter;
  }

  /**
   * `bytes` more became readable on `partition`, up to `highWatermark`: every waiter reading
   * below it counts them; those that reach `minBytes` are returned (answer them now).
   */
  onHighWatermark(
    partition: string,
    highWatermark: bigint,
    bytes: number,
  ): DelayedFetchWaiter<T>[] {
    assert(bytes >= 0, "negative byte count");
    const ids = this.#byPartition.get(partition);
    if (ids === undefined) return [];
    const done: DelayedFetchWaiter<T>[] = [];
    for (const id of [...ids]) {
      const waiter = this.#queue.get(id)!;
      if (waiter.partitions.get(partition)! >= highWatermark) continue;
      waiter.bytesAvailable += bytes;
      if (waiter.bytesAvailable < waiter.minBytes) continue;
      this.#remove(waiter);
      done.push(waiter);
    }
    return done;
  }

  /** Waiters whose deadline passed (answer with what there is), oldest deadline first. */
  expire(nowMs: number): DelayedFetchWaiter<T>[] {
    const expired = this.#queue.popExpired(nowMs);
    for (const w of expired) this.#unindex(w);
    return expired;
  }

  /** Leadership of the partition moved away: the waiters reading it (answer them now). */
  removePartition(partition: string): DelayedFetchWaiter<T>[] {
    const ids = [...(this.#byPartition.get(partition) ?? [])];
    const removed = ids.map((id) => {
      const waiter = this.#queue.get(id)!;
      this.#remove(waiter);
      return waiter;
    });
    this.#byPartition.delete(partition);
    return removed;
  }

  #remove(waiter: MutableFetchWaiter<T>): void {
    this.#queue.delete(waiter.id);
    this.#unindex(waiter);
  }

  #unindex(waiter: DelayedFetchWaiter<T>): void {
    for (const key of waiter.partitions.keys()) {
      // An emptied set stays (until removePartition): a replica fetch session parks the
      // same thousands of partitions every round, and re-creating their sets each time was
      // most of an idle leader's garbage.
      this.#byPartition.get(key)?.delete(waiter.id);
    }
  }
}

/** Swaps two heap slots through a temporary; a destructuring swap allocates (deadline-timer.ts). */
function swap(heap: Deadline[], a: number, b: number): void {
  const t = heap[a]!;
  heap[a] = heap[b]!;
  heap[b] = t;
}
