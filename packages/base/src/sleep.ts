/** Abortable waits: every wait in Strand can be cut short by a shutdown or a caller's signal. */

/**
 * Sleeps `ms`. When `signal` fires first (or already has), rejects with `abortError(reason)`,
 * by default the signal's own reason (as `node:timers/promises` does).
 */
export function sleep(
  ms: number,
  signal?: AbortSignal,
  abortError: (reason: unknown) => unknown = (reason) => reason,
): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(abortError(signal.reason));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits `ms` or until `signal` fires, whichever is first, and never rejects: for loops that
 * check their own stop condition after each wait. Resolves true when the full time passed.
 */
export function idle(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (elapsed: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(elapsed);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
