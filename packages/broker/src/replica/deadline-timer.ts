/**
 * One timer per replica manager for every purgatory deadline (Kafka's timing wheel, in
 * small): deadlines go into a min-heap; a single unref'd setTimeout fires at the earliest one
 * and calls `onDeadline(nowMs)`, which expires whatever is due in the purgatories. Deadlines of
 * waiters completed early stay in the heap and cause at most one spurious wake-up each.
 */
import { assert } from "@strand/base";

/** Most deadlines held; beyond it the oldest-first order is kept but new ones coalesce. */
const DEADLINES_MAX = 1_000_000;

/** A single timer driving many deadlines. */
export class DeadlineTimer {
  readonly #heap: number[] = [];
  readonly #onDeadline: (nowMs: number) => void;
  readonly #clock: () => number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #armedAtMs = Number.POSITIVE_INFINITY;
  #closed = false;

  /** `onDeadline` runs with the clock's time whenever a deadline may have passed. */
  constructor(clock: () => number, onDeadline: (nowMs: number) => void) {
    this.#clock = clock;
    this.#onDeadline = onDeadline;
  }

  /** Makes sure `onDeadline` runs at (or soon after) `deadlineMs`. */
  schedule(deadlineMs: number): void {
    if (this.#closed) return;
    if (this.#heap.length < DEADLINES_MAX) this.#push(deadlineMs);
    this.#arm();
  }

  /** Stops the timer for good. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #arm(): void {
    const next = this.#heap[0];
    if (next === undefined || next >= this.#armedAtMs) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#armedAtMs = next;
    const delayMs = Math.max(0, next - this.#clock());
    this.#timer = setTimeout(() => this.#fire(), delayMs);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = null;
    this.#armedAtMs = Number.POSITIVE_INFINITY;
    if (this.#closed) return;
    const nowMs = this.#clock();
    // setTimeout may fire a millisecond before the wall clock reaches the deadline: then
    // nothing is due yet, so re-arm instead of waking the purgatories for nothing.
    let due = false;
    while (this.#heap.length > 0 && this.#heap[0]! <= nowMs) {
      this.#pop();
      due = true;
    }
    if (due) this.#onDeadline(nowMs);
    this.#arm();
  }

  #push(value: number): void {
    const heap = this.#heap;
    heap.push(value);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      swap(heap, parent, i);
      i = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    assert(heap.length > 0, "pop from an empty deadline heap");
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]! < heap[m]!) m = l;
      if (r < heap.length && heap[r]! < heap[m]!) m = r;
      if (m === i) return;
      swap(heap, m, i);
      i = m;
    }
  }
}

/**
 * Swaps two heap slots through a temporary: a destructuring swap (`[a, b] = [b, a]`) builds
 * an array and iterates it unless optimized away, and this runs per deadline on every fetch.
 */
function swap(heap: number[], a: number, b: number): void {
  const t = heap[a]!;
  heap[a] = heap[b]!;
  heap[b] = t;
}
