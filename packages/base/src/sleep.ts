/** Abortable waits: every wait in Strand can be cut short by a shutdown or a caller's signal. */

import { onAbort } from "./abort.ts";

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
    // Registered through onAbort: the signal is often a long-lived one (see abort.ts).
    const forget =
      signal === undefined
        ? null
        : onAbort(signal, () => {
            clearTimeout(timer);
            reject(abortError(signal.reason));
          });
    const timer = setTimeout(() => {
      forget?.();
      resolve();
    }, ms);
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
      forget();
      resolve(elapsed);
    };
    const forget = onAbort(signal, () => finish(false));
    const timer = setTimeout(() => finish(true), ms);
  });
}
