// Goal: sleep waits, and an abort (before or during) ends it at once: sleep rejects with the
// caller's error, idle resolves false. A shutdown must never wait out a backoff.
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { idle, sleep } from "../src/sleep.ts";

describe("sleep", () => {
  it("resolves after the time", async () => {
    const start = performance.now();
    await sleep(20);
    expect(performance.now() - start).toBeGreaterThanOrEqual(15);
  });

  it("rejects with the signal's reason when aborted during the wait", async () => {
    const ac = new AbortController();
    const start = performance.now();
    const p = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(new Error("stop")), 10);
    await expect(p).rejects.toThrow("stop");
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it("rejects at once with the mapped error when already aborted", async () => {
    const ac = new AbortController();
    ac.abort("why");
    await expect(
      sleep(10_000, ac.signal, (r) => new Error(`aborted: ${String(r)}`)),
    ).rejects.toThrow("aborted: why");
  });
});

describe("idle", () => {
  it("resolves true after the full time, false when aborted", async () => {
    expect(await idle(5, new AbortController().signal)).toBe(true);
    const ac = new AbortController();
    const p = idle(10_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(await idle(10_000, ac.signal)).toBe(false);
  });
});

describe("sleep and idle on one long-lived signal", () => {
  it("end every pending wait on abort, through one listener", async () => {
    const ac = new AbortController();
    const start = performance.now();
    const sleeps = Array.from({ length: 3 }, () => sleep(10_000, ac.signal));
    const idles = Array.from({ length: 3 }, () => idle(10_000, ac.signal));
    // Waits that finished on their own must not fire (or hold anything) when the signal aborts.
    await sleep(1, ac.signal);
    expect(await idle(1, ac.signal)).toBe(true);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
    ac.abort(new Error("shutdown"));
    for (const p of sleeps) await expect(p).rejects.toThrow("shutdown");
    expect(await Promise.all(idles)).toEqual([false, false, false]);
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});
