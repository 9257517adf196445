// Goal: the cleaner's pure parts decide as Kafka's cleaner does: the offset map keeps each key's
// last offset within its memory bound; the cleanable range stops at the active segment, the
// high watermark and min.compaction.lag.ms; the dirtiest log past its ratio is chosen; groups
// respect segment.bytes; records, tombstones and empty producer batches are kept or dropped by
// the rules; a filtered batch keeps its offsets, producer fields and codec.
import { decodeRecordBatch } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { OFFSET_MAP_ENTRY_OVERHEAD_BYTES, OffsetMap } from "../src/cleaner/offset-map.ts";
import {
  chooseLogToClean,
  cleanableRange,
  groupSegments,
  keepEmptyBatch,
  retainRecord,
  type SegmentSummary,
} from "../src/cleaner/plan.ts";
import { filterBatch } from "../src/cleaner/rewrite.ts";
import { keyedBatch } from "./cleaner-support.ts";

const key = (k: string) => Buffer.from(k);

describe("OffsetMap", () => {
  it("keeps the last offset per key and refuses a new key past its bound", () => {
    const map = new OffsetMap(2 * (OFFSET_MAP_ENTRY_OVERHEAD_BYTES + 1));
    expect(map.put(key("a"), 1n)).toBe(true);
    expect(map.put(key("a"), 5n)).toBe(true);
    expect(map.put(key("b"), 6n)).toBe(true);
    expect(map.put(key("c"), 7n)).toBe(false);
    // An existing key still updates when full.
    expect(map.put(key("b"), 8n)).toBe(true);
    expect(map.get(key("a"))).toBe(5n);
    expect(map.get(key("b"))).toBe(8n);
    expect(map.get(key("c"))).toBeUndefined();
    expect(map.size).toBe(2);
    expect(map.latestOffset).toBe(8n);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.estimatedBytes).toBe(0);
  });

  it("tells keys apart byte for byte (no hashing)", () => {
    const map = new OffsetMap(1 << 20);
    map.put(Buffer.from([0xff, 0x00]), 1n);
    map.put(Buffer.from([0xff]), 2n);
    expect(map.get(Buffer.from([0xff, 0x00]))).toBe(1n);
    expect(map.get(Buffer.from([0xff]))).toBe(2n);
  });
});

function segs(...spec: Array<[number, number, number?]>): SegmentSummary[] {
  return spec.map(([base, size, newestMs]) => ({
    baseOffset: BigInt(base),
    sizeBytes: size,
    newestMs: newestMs ?? 0,
  }));
}

describe("cleanableRange", () => {
  const segments = segs([0, 100], [10, 100], [20, 100], [30, 100], [40, 0]);
  const input = { firstDirtyOffset: 0n, upperBound: 40n, nowMs: 1000, minCompactionLagMs: 0 };

  it("covers every closed segment below the high watermark, never the active one", () => {
    const range = cleanableRange(segments, { ...input, upperBound: 1000n });
    expect(range.cleanableSegments).toBe(4);
    expect(range.firstUncleanableOffset).toBe(40n);
    expect(range.dirtyRatio).toBe(1);
  });

  it("stops at the segment holding the high watermark", () => {
    const range = cleanableRange(segments, { ...input, upperBound: 25n });
    expect(range.cleanableSegments).toBe(2);
    expect(range.firstUncleanableOffset).toBe(20n);
  });

  it("splits clean and dirty bytes at the cleaner checkpoint", () => {
    const range = cleanableRange(segments, { ...input, firstDirtyOffset: 20n });
    expect(range).toMatchObject({ cleanBytes: 200, dirtyBytes: 200, dirtyRatio: 0.5 });
    expect(range.firstDirtyOffset).toBe(20n);
  });

  it("leaves segments younger than min.compaction.lag.ms", () => {
    const young = segs([0, 100, 100], [10, 100, 950], [20, 0]);
    const range = cleanableRange(young, { ...input, minCompactionLagMs: 100 });
    expect(range.cleanableSegments).toBe(1);
  });

  it("has nothing dirty when everything cleanable is clean", () => {
    const range = cleanableRange(segments, { ...input, firstDirtyOffset: 40n });
    expect(range.dirtyBytes).toBe(0);
    expect(range.dirtyRatio).toBe(0);
  });
});

describe("chooseLogToClean", () => {
  const range = (dirtyRatio: number, dirtyBytes = 1) => ({
    firstDirtyOffset: 0n,
    firstUncleanableOffset: 0n,
    cleanableSegments: 1,
    cleanBytes: 0,
    dirtyBytes,
    dirtyRatio,
  });
  it("picks the dirtiest log past its own ratio", () => {
    const chosen = chooseLogToClean([
      { log: "a", range: range(0.6), minCleanableDirtyRatio: 0.5 },
      { log: "b", range: range(0.9), minCleanableDirtyRatio: 0.95 },
      { log: "c", range: range(0.7), minCleanableDirtyRatio: 0.5 },
      { log: "d", range: range(1, 0), minCleanableDirtyRatio: 0 },
    ]);
    expect(chosen?.log).toBe("c");
    expect(chooseLogToClean([{ log: "x", range: range(0.1), minCleanableDirtyRatio: 0.5 }])).toBe(
      undefined,
    );
  });
});

describe("groupSegments", () => {
  it("groups consecutive segments within segment.bytes", () => {
    const segments = segs([0, 40], [10, 40], [20, 40], [30, 90], [40, 10]);
    const ends = [10n, 20n, 30n, 40n, 50n];
    expect(groupSegments(segments, ends, 100)).toEqual([
      [0, 2],
      [2, 3],
      [3, 5],
    ]);
  });
  it("keeps a group's offsets within an int32 of its base", () => {
    const segments = segs([0, 1], [2 ** 31, 1]);
    expect(groupSegments(segments, [2n ** 31n, 2n ** 31n + 5n], 100)).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });
});

describe("retainRecord", () => {
  const ctx = {
    latestOffset: (k: Uint8Array) => (Buffer.from(k).toString() === "a" ? 10n : undefined),
    tombstoneHorizonMs: 500n,
    fallbackTimestampMs: 900n,
  };
  const record = (k: string | null, offset: bigint, tombstone = false, timestampMs = 1000n) => ({
    key: k === null ? null : key(k),
    offset,
    tombstone,
    timestampMs,
  });
  it("drops a record a later one of its key supersedes", () => {
    expect(retainRecord(record("a", 3n), ctx)).toBe(false);
    expect(retainRecord(record("a", 10n), ctx)).toBe(true);
    expect(retainRecord(record("b", 3n), ctx)).toBe(true);
    expect(retainRecord(record(null, 3n), ctx)).toBe(true);
  });
  it("keeps a tombstone until delete.retention.ms passed, by its timestamp", () => {
    expect(retainRecord(record("a", 10n, true, 600n), ctx)).toBe(true);
    expect(retainRecord(record("a", 10n, true, 400n), ctx)).toBe(false);
    // No timestamp: the segment's newest time decides.
    expect(retainRecord(record("b", 1n, true, -1n), ctx)).toBe(true);
    expect(retainRecord(record("b", 1n, true, -1n), { ...ctx, fallbackTimestampMs: 1n })).toBe(
      false,
    );
  });
  it("keeps an emptied batch only when it is its producer's last", () => {
    const last = new Map([[7n, 40n]]);
    expect(keepEmptyBatch(7n, 40n, last)).toBe(true);
    expect(keepEmptyBatch(7n, 30n, last)).toBe(false);
    expect(keepEmptyBatch(-1n, 40n, last)).toBe(false);
  });
});

describe("filterBatch", () => {
  const batch = () => {
    const b = keyedBatch(
      [
        ["a", "1"],
        ["b", "2"],
        ["a", "3"],
      ],
      { producerId: 7n, producerEpoch: 2, baseSequence: 11, compression: "gzip" },
    );
    b.writeBigInt64BE(100n, 0);
    return b;
  };

  it("returns the original bytes when every record stays", () => {
    const original = batch();
    expect(filterBatch(original, () => true, false).bytes).toBe(original);
  });

  it("re-encodes survivors with the same offsets, producer fields and codec", () => {
    const result = filterBatch(batch(), (r) => r.offset !== 100n, false);
    expect(result).toMatchObject({ recordsKept: 2, recordsRemoved: 1 });
    const decoded = decodeRecordBatch(result.bytes!);
    expect(decoded.baseOffset).toBe(100n);
    expect(decoded.lastOffsetDelta).toBe(2);
    expect(decoded.records.map((r) => r.offset)).toEqual([101n, 102n]);
    expect(decoded.compression).toBe("gzip");
    expect(decoded).toMatchObject({ producerId: 7n, producerEpoch: 2, baseSequence: 11 });
  });

  it("drops an emptied batch, or keeps it header-only for its producer", () => {
    expect(filterBatch(batch(), () => false, false).bytes).toBeNull();
    const empty = filterBatch(batch(), () => false, true);
    const decoded = decodeRecordBatch(empty.bytes!);
    expect(decoded.recordCount).toBe(0);
    expect(decoded.lastOffsetDelta).toBe(2);
    expect(decoded).toMatchObject({ producerId: 7n, baseSequence: 11 });
  });
});
