// Goal: parked requests come out exactly once: acks=all produces when the partition's HW
// reaches their offset (in offset order), long-poll fetches when min bytes arrive, either
// kind at its deadline (oldest first) or when leadership moves; limits are enforced.
import { describe, expect, it } from "vitest";
import { AcksAllPurgatory, DelayedFetchPurgatory } from "../src/core/purgatory.ts";

const names = (ws: readonly { value: string }[]) => ws.map((w) => w.value);

describe("AcksAllPurgatory", () => {
  it("completes waiters when the HW reaches them, per partition, in offset order", () => {
    const p = new AcksAllPurgatory<string>({ waitersMax: 10 });
    p.register("a-0", { requiredOffset: 5n, deadlineMs: 1_000, value: "a5" });
    p.register("a-0", { requiredOffset: 3n, deadlineMs: 1_000, value: "a3" });
    p.register("a-0", { requiredOffset: 9n, deadlineMs: 1_000, value: "a9" });
    p.register("b-0", { requiredOffset: 1n, deadlineMs: 1_000, value: "b1" });
    expect(names(p.onHighWatermark("a-0", 2n))).toEqual([]);
    expect(names(p.onHighWatermark("a-0", 5n))).toEqual(["a3", "a5"]);
    expect(names(p.onHighWatermark("a-0", 20n))).toEqual(["a9"]);
    expect(p.size).toBe(1);
    expect(names(p.onHighWatermark("b-0", 1n))).toEqual(["b1"]);
    expect(p.size).toBe(0);
  });

  it("expires waiters at their deadline, oldest first, and never completes them again", () => {
    const p = new AcksAllPurgatory<string>({ waitersMax: 10 });
    p.register("a-0", { requiredOffset: 5n, deadlineMs: 300, value: "late" });
    p.register("a-0", { requiredOffset: 6n, deadlineMs: 100, value: "early" });
    p.register("a-0", { requiredOffset: 7n, deadlineMs: 900, value: "later" });
    expect(names(p.expire(99))).toEqual([]);
    expect(names(p.expire(300))).toEqual(["early", "late"]);
    expect(names(p.onHighWatermark("a-0", 10n))).toEqual(["later"]);
    expect(names(p.expire(10_000))).toEqual([]);
  });

  it("hands back every waiter of a partition whose leadership moved", () => {
    const p = new AcksAllPurgatory<string>({ waitersMax: 10 });
    p.register("a-0", { requiredOffset: 5n, deadlineMs: 300, value: "x" });
    p.register("a-1", { requiredOffset: 5n, deadlineMs: 300, value: "y" });
    expect(names(p.removePartition("a-0"))).toEqual(["x"]);
    expect(names(p.expire(300))).toEqual(["y"]);
  });

  it("refuses waiters beyond its limit", () => {
    const p = new AcksAllPurgatory<string>({ waitersMax: 2 });
    for (const v of ["1", "2"]) p.register("a-0", { requiredOffset: 1n, deadlineMs: 1, value: v });
    expect(p.register("a-0", { requiredOffset: 1n, deadlineMs: 1, value: "3" })).toBeNull();
  });

  it("keeps its deadline heap bounded when waiters complete early", () => {
    const p = new AcksAllPurgatory<number>({ waitersMax: 10 });
    for (let i = 1; i <= 10_000; i++) {
      p.register("a-0", { requiredOffset: BigInt(i), deadlineMs: 1e9, value: i });
      expect(p.onHighWatermark("a-0", BigInt(i))).toHaveLength(1);
    }
    expect(p.size).toBe(0);
    expect(p.expire(2e9)).toEqual([]);
  });
});

describe("DelayedFetchPurgatory", () => {
  const watch = (entries: [string, bigint][], minBytes: number, deadlineMs: number, v: string) => ({
    partitions: new Map(entries),
    minBytes,
    bytesAvailable: 0,
    deadlineMs,
    value: v,
  });

  it("completes a fetch once min bytes arrived across its partitions", () => {
    const p = new DelayedFetchPurgatory<string>({ waitersMax: 10 });
    p.register(
      watch(
        [
          ["a-0", 10n],
          ["a-1", 4n],
        ],
        100,
        500,
        "f",
      ),
    );
    expect(names(p.onHighWatermark("a-0", 12n, 60))).toEqual([]);
    expect(names(p.onHighWatermark("a-2", 12n, 60))).toEqual([]); // not watched
    expect(names(p.onHighWatermark("a-1", 6n, 40))).toEqual(["f"]);
    expect(p.size).toBe(0);
    expect(names(p.onHighWatermark("a-0", 20n, 1000))).toEqual([]);
  });

  it("completes a min-bytes-1 fetch on the first new data and expires the others", () => {
    const p = new DelayedFetchPurgatory<string>({ waitersMax: 10 });
    p.register(watch([["a-0", 10n]], 1, 500, "one"));
    p.register(watch([["b-0", 0n]], 1, 200, "idle"));
    expect(names(p.onHighWatermark("a-0", 11n, 70))).toEqual(["one"]);
    expect(names(p.expire(200))).toEqual(["idle"]);
  });

  it("answers fetches of a partition whose leadership moved", () => {
    const p = new DelayedFetchPurgatory<string>({ waitersMax: 10 });
    p.register(
      watch(
        [
          ["a-0", 1n],
          ["a-1", 1n],
        ],
        1_000,
        500,
        "both",
      ),
    );
    expect(names(p.removePartition("a-1"))).toEqual(["both"]);
    expect(names(p.onHighWatermark("a-0", 9n, 5_000))).toEqual([]);
    expect(names(p.expire(500))).toEqual([]);
  });

  it("refuses waiters beyond its limit", () => {
    const p = new DelayedFetchPurgatory<string>({ waitersMax: 1 });
    expect(p.register(watch([["a-0", 0n]], 1, 1, "1"))).not.toBeNull();
    expect(p.register(watch([["a-0", 0n]], 1, 1, "2"))).toBeNull();
  });
});
