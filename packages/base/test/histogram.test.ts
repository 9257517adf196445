// Goal: the log-bucketed histogram reports percentiles that agree with exact nearest-rank
// percentiles of the sorted values within its bucket precision (2^-S relative), for small
// exact values, wide log-normal-like spreads and heavy tails; min, max, mean are exact.
import { describe, expect, it } from "vitest";
import { Histogram } from "../src/histogram.ts";

/** A seeded PRNG (mulberry32) so a failure replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

const PERCENTILES = [1, 10, 50, 90, 95, 99, 99.9, 99.99, 100];

function check(values: number[], subBits: number): void {
  const h = new Histogram(subBits);
  for (const v of values) h.record(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const p of PERCENTILES) {
    const exact = exactPercentile(sorted, p);
    const reported = h.percentile(p);
    // The reported value lies in the exact value's bucket: within one bucket width.
    const [low, high] = h.rangeOf(exact);
    expect(reported, `p${p}`).toBeGreaterThanOrEqual(low);
    expect(reported, `p${p}`).toBeLessThanOrEqual(high);
    expect(Math.abs(reported - exact), `p${p}`).toBeLessThanOrEqual(
      exact * h.relativePrecision + 1,
    );
  }
  const s = h.summary();
  expect(s.count).toBe(values.length);
  expect(s.min).toBe(sorted[0]);
  expect(s.max).toBe(sorted.at(-1));
  expect(s.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
}

describe("Histogram", () => {
  it("is exact below 2^S", () => {
    const values = Array.from({ length: 1_000 }, (_, i) => i % 128);
    const h = new Histogram(7);
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of PERCENTILES) expect(h.percentile(p)).toBe(exactPercentile(sorted, p));
  });

  for (const seed of [1, 2, 3, 42]) {
    it(`matches sorted-array percentiles within bucket precision (seed ${seed})`, () => {
      const random = prng(seed);
      // Log-uniform over 1 us .. 10 s, plus a 1% tail up to 60 s.
      const values = Array.from({ length: 50_000 }, () =>
        random() < 0.01 ? Math.round(random() * 60_000_000) : Math.round(10 ** (random() * 7)),
      );
      check(values, 7);
      check(values, 3);
    });
  }

  it("buckets tile the value range without gaps or overlaps", () => {
    const h = new Histogram(4);
    let next = 0;
    for (let i = 0; i < 16 * 29; i++) {
      const [low, high] = h.bucketRange(i);
      expect(low).toBe(next);
      expect(high).toBeGreaterThanOrEqual(low);
      expect(h.rangeOf(low)).toEqual([low, high]);
      expect(h.rangeOf(high)).toEqual([low, high]);
      next = high + 1;
    }
    expect(next).toBe(2 ** 32);
  });

  it("clamps out-of-range values and reports zeros when empty", () => {
    const h = new Histogram();
    expect(h.summary()).toMatchObject({ count: 0, p99: 0, max: 0 });
    h.record(-5);
    h.record(2 ** 40);
    expect(h.summary().min).toBe(0);
    expect(h.summary().max).toBe(2 ** 32 - 1);
  });
});
