/**
 * A FIFO async mutex: critical sections run alone, in call order, so state that spans awaits
 * (file positions, in-memory offsets, replica state) never interleaves.
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` after every earlier call has settled; queues synchronously, so call order is
   * run order. A failed section rejects only its own caller: the queue is never wedged and
   * the next section still runs.
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
