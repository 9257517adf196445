// Goal: sleep waits, and an abort (before or during) ends it at once: sleep rejects with the
// caller's error, idle resolves false. A shutdown must never wait out a backoff.
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
