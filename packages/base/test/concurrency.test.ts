// Goal: forEachConcurrently never has more than `limit` calls in flight, runs every item even
// after a failure and then throws the first failure; a Coalescer serves every request with a
// run that started after it, and N concurrent requests cost at most two runs.
import { describe, expect, it } from "vitest";
import { Coalescer, forEachConcurrently } from "../src/concurrency.ts";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("forEachConcurrently", () => {
  it("keeps at most `limit` calls in flight and runs every item", async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachConcurrently([...Array(50).keys()], 4, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      seen.push(i);
      inFlight--;
    });
    expect(peak).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
  });

  it("runs the rest after a failure, then throws the first one", async () => {
    const seen: number[] = [];
    const run = forEachConcurrently([1, 2, 3, 4, 5], 2, async (i) => {
      seen.push(i);
      if (i === 2 || i === 4) throw new Error(`item ${i}`);
    });
    await expect(run).rejects.toThrow("item 2");
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it("refuses a limit that is not a positive integer", async () => {
    await expect(forEachConcurrently([1], 0, async () => undefined)).rejects.toThrow(RangeError);
  });
});

describe("Coalescer", () => {
  it("serves requests made during a run with one later run", async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const starts: number[] = [];
    const c = new Coalescer(async () => {
      starts.push(starts.length);
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
    });
    const first = c.request();
    const waiting = [c.request(), c.request(), c.request()];
    expect(starts).toHaveLength(1);
    let secondDone = false;
    void Promise.all(waiting).then(() => {
      secondDone = true;
    });
    gates[0]!.resolve();
    await first;
    // The waiters need a run that started after their request: the second one.
    await new Promise((r) => setImmediate(r));
    expect(starts).toHaveLength(2);
    expect(secondDone).toBe(false);
    gates[1]!.resolve();
    await Promise.all(waiting);
    expect(starts).toHaveLength(2);
    // Idle again: a new request starts a run at once.
    const later = c.request();
    expect(starts).toHaveLength(3);
    gates[2]!.resolve();
    await later;
  });

  it("rejects the callers of a failed run and recovers for later ones", async () => {
    let fail = true;
    const c = new Coalescer(async () => {
      if (fail) throw new Error("sync failed");
    });
    await expect(c.request()).rejects.toThrow("sync failed");
    fail = false;
    await expect(c.request()).resolves.toBeUndefined();
  });
});
