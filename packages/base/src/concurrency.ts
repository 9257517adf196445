/**
 * Small concurrency tools for I/O that is slow one at a time and safe side by side: creating
 * thousands of partition logs (each several fsyncs) serially took tens of seconds, while the
 * disk and the libuv thread pool overlap them well.
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in order of start. Every call
 * runs even when one fails; the first failure is then thrown (callers that must keep going
 * past a failure catch inside `fn`).
 */
export async function forEachConcurrently<T>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); next.done !== true; next = iterator.next()) {
      try {
        await fn(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * Coalesces concurrent requests for one idempotent operation (e.g. fsync of a directory): a
 * request made while a run is in flight is served by the next run, which starts once the
 * current one ends, so every caller is covered by a run that began after its request and N
 * concurrent callers cost at most two runs.
 */
export class Coalescer {
  readonly #run: () => Promise<void>;
  #inFlight: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(run: () => Promise<void>) {
    this.#run = run;
  }

  /** Resolves after a run that started after this call completed (rejects if it failed). */
  request(): Promise<void> {
    if (this.#inFlight === undefined) return this.#start();
    this.#next ??= this.#inFlight.then(
      () => this.#start(),
      () => this.#start(),
    );
    return this.#next;
  }

  #start(): Promise<void> {
    this.#next = undefined;
    const run = this.#run().finally(() => {
      if (this.#inFlight === run) this.#inFlight = undefined;
    });
    this.#inFlight = run;
    return run;
  }
}
