// Goal: `consume -e` stops exactly at the end offsets taken at its start: partitions that
// start at their end are done at once, records at or past the end are not printed, and a
// partition is done once the consumer's position reaches its end; `--compression` takes the
// SDK's codec names only.
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/args.ts";
import { compressionOf } from "../src/commands/common.ts";
import { EndTracker } from "../src/commands/consume.ts";

describe("EndTracker", () => {
  it("is done at once when every partition starts at its end", () => {
    const ends = new Map([
      [0, 0n],
      [1, 5n],
    ]);
    expect(new EndTracker(ends, (p) => ends.get(p) ?? 0n).done).toBe(true);
  });

  it("tracks each partition up to its end and filters later records", () => {
    const t = new EndTracker(
      new Map([
        [0, 3n],
        [1, 2n],
        [2, 0n],
      ]),
      () => 0n,
    );
    expect(t.open).toEqual([0, 1]);
    expect(t.wanted(0, 2n)).toBe(true);
    expect(t.wanted(0, 3n)).toBe(false);
    expect(t.reached(0, null)).toBe(false);
    expect(t.reached(0, 2n)).toBe(false);
    expect(t.reached(0, 4n)).toBe(true);
    expect(t.reached(0, 4n)).toBe(false); // reported once
    expect(t.done).toBe(false);
    expect(t.reached(1, 2n)).toBe(true);
    expect(t.done).toBe(true);
  });

  it("keeps a partition with an unknown start (a timestamp) open until its position shows", () => {
    const t = new EndTracker(new Map([[0, 4n]]), () => null);
    expect(t.open).toEqual([0]);
    expect(t.reached(0, 4n)).toBe(true);
  });
});

describe("compressionOf", () => {
  it("accepts the SDK codecs and refuses others as a usage error", () => {
    for (const c of ["none", "gzip", "snappy", "lz4", "zstd"] as const)
      expect(compressionOf(c)).toBe(c);
    expect(() => compressionOf("brotli")).toThrow(UsageError);
  });
});
