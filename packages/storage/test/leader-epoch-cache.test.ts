// Goal: the leader-epoch cache answers OffsetsForLeaderEpoch exactly as Kafka's
// LeaderEpochFileCache.endOffsetFor in every case, keeps epochs and start offsets strictly
// increasing through assign, truncateFromEnd and truncateFromStart, and survives a checkpoint
// round trip; a malformed checkpoint is refused with a storage error.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogStorageError } from "../src/errors.ts";
import { LeaderEpochCache, UNDEFINED_EPOCH } from "../src/leader-epoch-cache.ts";
import { recordingLogger, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

function cache(entries: Array<[number, bigint]> = []): LeaderEpochCache {
  const c = new LeaderEpochCache(path.join(dir, "leader-epoch-checkpoint"));
  for (const [epoch, start] of entries) c.assign(epoch, start);
  return c;
}

const undef = { epoch: UNDEFINED_EPOCH, endOffset: -1n };

describe("assign", () => {
  it("adds new epochs, ignores a repeat of the latest", () => {
    const c = cache([
      [1, 0n],
      [3, 10n],
    ]);
    expect(c.assign(3, 15n)).toBe(false);
    expect(c.assign(4, 20n)).toBe(true);
    expect(c.entries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 3, startOffset: 10n },
      { epoch: 4, startOffset: 20n },
    ]);
  });

  it("removes conflicting entries (epoch or start not below the new one), with a warning", () => {
    const logger = recordingLogger();
    const c = new LeaderEpochCache(path.join(dir, "x"), [], logger);
    c.assign(1, 0n);
    c.assign(5, 10n);
    c.assign(4, 10n); // lower epoch at the same start: the log says epoch 4 wrote offset 10
    expect(c.entries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 10n },
    ]);
    expect(logger.lines.some((l) => l.level === "warn")).toBe(true);
  });

  it("refuses a negative epoch or start offset", () => {
    expect(() => cache().assign(-2, 0n)).toThrow(/assertion/);
    expect(() => cache().assign(1, -1n)).toThrow(/assertion/);
  });
});

describe("endOffsetForEpoch (Kafka's OffsetsForLeaderEpoch)", () => {
  const logEnd = 100n;
  const c = () =>
    cache([
      [2, 10n],
      [4, 30n],
      [7, 60n],
    ]);

  it("empty cache: undefined", () => {
    expect(cache().endOffsetForEpoch(0, logEnd)).toEqual(undef);
    expect(cache().endOffsetForEpoch(5, logEnd)).toEqual(undef);
  });
  it("UNDEFINED_EPOCH requested: undefined", () => {
    expect(c().endOffsetForEpoch(UNDEFINED_EPOCH, logEnd)).toEqual(undef);
  });
  it("the latest epoch: the log end offset", () => {
    expect(c().endOffsetForEpoch(7, logEnd)).toEqual({ epoch: 7, endOffset: 100n });
  });
  it("an epoch in the cache: the next epoch's start", () => {
    expect(c().endOffsetForEpoch(2, logEnd)).toEqual({ epoch: 2, endOffset: 30n });
    expect(c().endOffsetForEpoch(4, logEnd)).toEqual({ epoch: 4, endOffset: 60n });
  });
  it("an epoch between cached ones: the largest smaller epoch, ending where the next starts", () => {
    expect(c().endOffsetForEpoch(3, logEnd)).toEqual({ epoch: 2, endOffset: 30n });
    expect(c().endOffsetForEpoch(5, logEnd)).toEqual({ epoch: 4, endOffset: 60n });
    expect(c().endOffsetForEpoch(6, logEnd)).toEqual({ epoch: 4, endOffset: 60n });
  });
  it("below the first epoch: the requested epoch, ending at the first epoch's start", () => {
    expect(c().endOffsetForEpoch(0, logEnd)).toEqual({ epoch: 0, endOffset: 10n });
    expect(c().endOffsetForEpoch(1, logEnd)).toEqual({ epoch: 1, endOffset: 10n });
  });
  it("above the latest epoch: undefined (the requester knows a newer epoch than this log)", () => {
    expect(c().endOffsetForEpoch(8, logEnd)).toEqual(undef);
  });
  it("finds the divergence point of two logs", () => {
    // Leader wrote epochs 2@10, 4@30, 7@60. A follower that last fetched epoch 5 (which the
    // leader never had) learns epoch 4 ended at 60 and truncates there.
    const leader = c();
    const answer = leader.endOffsetForEpoch(5, logEnd);
    expect(answer).toEqual({ epoch: 4, endOffset: 60n });
  });
});

describe("truncation", () => {
  it("truncateFromEnd drops entries starting at or after the offset", () => {
    const c = cache([
      [2, 10n],
      [4, 30n],
      [7, 60n],
    ]);
    expect(c.truncateFromEnd(60n)).toBe(true);
    expect(c.entries().map((e) => e.epoch)).toEqual([2, 4]);
    expect(c.truncateFromEnd(31n)).toBe(false);
    expect(c.truncateFromEnd(0n)).toBe(true);
    expect(c.entries()).toEqual([]);
  });

  it("truncateFromStart keeps the covering epoch moved up to the new start", () => {
    const c = cache([
      [2, 10n],
      [4, 30n],
      [7, 60n],
    ]);
    expect(c.truncateFromStart(5n)).toBe(false);
    expect(c.truncateFromStart(10n)).toBe(false);
    expect(c.truncateFromStart(45n)).toBe(true);
    expect(c.entries()).toEqual([
      { epoch: 4, startOffset: 45n },
      { epoch: 7, startOffset: 60n },
    ]);
    expect(c.truncateFromStart(60n)).toBe(true);
    expect(c.entries()).toEqual([{ epoch: 7, startOffset: 60n }]);
    expect(c.truncateFromStart(500n)).toBe(true);
    expect(c.entries()).toEqual([{ epoch: 7, startOffset: 500n }]);
  });
});

describe("checkpoint", () => {
  it("round-trips in Kafka's text format", async () => {
    const c = cache([
      [0, 0n],
      [3, 1500n],
    ]);
    await c.persist();
    const reloaded = await LeaderEpochCache.load(c.path);
    expect(reloaded.entries()).toEqual(c.entries());
    const { readFile } = await import("node:fs/promises");
    expect(await readFile(c.path, "utf8")).toBe("0\n2\n0 0\n3 1500\n");
  });

  it("a missing file is an empty cache", async () => {
    expect((await LeaderEpochCache.load(path.join(dir, "nope"))).entries()).toEqual([]);
  });

  it.each([
    ["wrong version", "1\n0\n"],
    ["count mismatch", "0\n2\n1 0\n"],
    ["non-numeric", "0\n1\nx 0\n"],
    ["not increasing", "0\n2\n3 10\n2 20\n"],
    ["negative offset", "0\n1\n1 -5\n"],
  ])("refuses a checkpoint with %s", async (_name, content) => {
    const file = path.join(dir, "bad");
    await writeFile(file, content);
    await expect(LeaderEpochCache.load(file)).rejects.toBeInstanceOf(LogStorageError);
  });
});
