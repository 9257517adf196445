/**
 * A FIFO async mutex: every state-changing log operation (append, roll, truncate, retention,
 * flush, close) runs alone, in arrival order, so file positions and in-memory offsets never
 * interleave across awaits.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `fn` after every previously queued operation has settled. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // A failed operation must not wedge the queue: the caller sees the rejection, the next
    // operation still runs.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
