// Test helpers: free TCP ports on 127.0.0.1 (from the shared cluster launcher), and a bounded
// poll for a condition.
export { freePorts } from "../../scripts/lib/cluster.ts";

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined/false, or
 * fails after `timeoutMs` with `what` in the message. Errors thrown by `check` count as "not
 * yet" (e.g. a node that is not up), and the last one is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let round = 0; round < 1_000_000; round++) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last === null ? "" : `: ${String(last)}`}`,
  );
}
