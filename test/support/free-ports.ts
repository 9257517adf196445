// Test helpers: free TCP ports on 127.0.0.1, and a bounded poll for a condition.
import { createServer } from "node:net";

/** `count` distinct ports that were free on 127.0.0.1 a moment ago (bound, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

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
