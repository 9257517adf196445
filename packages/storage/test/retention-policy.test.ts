// Goal: the retention policy and the segment-list helpers on their own, with stand-in
// segments: what retention.ms, retention.bytes and the log start condemn, that the active
// segment is never condemned, and that segment order is guarded by an assertion.
import { AssertionFailure } from "@strand/base";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../src/config.ts";
import { deletableSegmentCount, retentionDeleteCount } from "../src/log-retention.ts";
import type { LogSegment } from "../src/segment.ts";
import { assertSegmentOrder, floorSegmentIndex } from "../src/segment-list.ts";

/** A stand-in segment: only the fields the policy reads. */
function segment(baseOffset: bigint, sizeBytes: number, newestMs: number): LogSegment {
  return {
    baseOffset,
    sizeBytes,
    largestTimestamp: async () => BigInt(newestMs),
    lastModifiedMs: async () => newestMs,
  } as unknown as LogSegment;
}

const config = (overrides: Partial<LogConfig>): LogConfig => ({
  ...DEFAULT_LOG_CONFIG,
  retentionMs: -1,
  retentionBytes: -1,
  ...overrides,
});

describe("retentionDeleteCount", () => {
  const segments = [segment(0n, 100, 1_000), segment(10n, 100, 2_000), segment(20n, 100, 3_000)];

  it("condemns leading closed segments older than retention.ms, never the active one", async () => {
    expect(await retentionDeleteCount(segments, config({ retentionMs: 500 }), 2_600)).toBe(2);
    expect(await retentionDeleteCount(segments, config({ retentionMs: 500 }), 99_000)).toBe(2);
    expect(await retentionDeleteCount(segments, config({ retentionMs: 500 }), 1_400)).toBe(0);
  });

  it("condemns oldest segments while the rest stays at or above retention.bytes", async () => {
    expect(await retentionDeleteCount(segments, config({ retentionBytes: 200 }), 0)).toBe(1);
    expect(await retentionDeleteCount(segments, config({ retentionBytes: 199 }), 0)).toBe(1);
    expect(await retentionDeleteCount(segments, config({ retentionBytes: 100 }), 0)).toBe(2);
  });

  it("takes the larger count when both limits apply, and none when neither does", async () => {
    const both = config({ retentionMs: 500, retentionBytes: 200 });
    expect(await retentionDeleteCount(segments, both, 2_600)).toBe(2);
    expect(await retentionDeleteCount(segments, config({}), 99_000)).toBe(0);
  });
});

describe("deletableSegmentCount", () => {
  const segments = [segment(0n, 1, 0), segment(10n, 1, 0), segment(20n, 1, 0)];

  it("adds closed segments wholly below the log start", () => {
    expect(deletableSegmentCount(segments, 0, 0n)).toBe(0);
    expect(deletableSegmentCount(segments, 0, 10n)).toBe(1);
    expect(deletableSegmentCount(segments, 0, 15n)).toBe(1);
    expect(deletableSegmentCount(segments, 0, 25n)).toBe(2);
  });

  it("caps the count so the active segment stays", () => {
    expect(deletableSegmentCount(segments, 10, 0n)).toBe(2);
  });
});

describe("segment list", () => {
  it("finds the segment holding an offset", () => {
    const segments = [segment(0n, 1, 0), segment(10n, 1, 0), segment(20n, 1, 0)];
    expect(floorSegmentIndex(segments, 0n)).toBe(0);
    expect(floorSegmentIndex(segments, 19n)).toBe(1);
    expect(floorSegmentIndex(segments, 500n)).toBe(2);
  });

  it("asserts strictly increasing base offsets and a non-empty list", () => {
    expect(() => assertSegmentOrder([segment(0n, 1, 0), segment(10n, 1, 0)])).not.toThrow();
    expect(() => assertSegmentOrder([segment(10n, 1, 0), segment(10n, 1, 0)])).toThrow(
      AssertionFailure,
    );
    expect(() => assertSegmentOrder([])).toThrow(AssertionFailure);
  });
});
