// Goal: a cleaning pass over a real log keeps the last value of every key at its offset, leaves
// offset gaps that reads, recovery and truncation handle, keeps tombstones until
// delete.retention.ms, keeps each idempotent producer's last batch, never touches the active
// segment or anything at or past the high watermark, gives up when the log is truncated under
// it, and an interrupted swap is finished (plan committed) or undone (not committed) on open.
import { copyFile, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OffsetMap } from "../src/cleaner/offset-map.ts";
import { cleanedLogPath, commitSwap, SWAP_PLAN_FILE } from "../src/cleaner/swap.ts";
import type { LogConfig } from "../src/config.ts";
import { segmentFilePath } from "../src/files.ts";
import { Log } from "../src/log.ts";
import { CLEAN_SHUTDOWN_FILE, RECOVERY_POINT_CHECKPOINT_FILE } from "../src/log-loader.ts";
import { keyedBatch, lastValues, readAll } from "./cleaner-support.ts";
import { manualClock, tempDir } from "./helpers.ts";

const KEYS = 10;
const ROUNDS = 30;
const CONFIG: Partial<LogConfig> = {
  cleanupPolicy: "compact",
  segmentBytes: 2048,
  deleteRetentionMs: 60_000,
};

let dir: string;
let remove: () => Promise<void>;
let log: Log;
const clock = manualClock(10_000_000);
const leader = { assignOffsets: true, leaderEpoch: 0 } as const;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  log = await Log.open(dir, CONFIG, { clock: clock.now });
});

afterEach(async () => {
  await log.close().catch(() => undefined);
  await remove();
});

/** ROUNDS rounds of one record per key, one batch per record. */
async function writeUpdates(rounds = ROUNDS): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < KEYS; k++) {
      await log.append(
        keyedBatch([[`key-${k}`, `v${round}`]], { timestampMs: clock.now() }),
        leader,
      );
    }
  }
}

function clean(upperBound = log.logEndOffset, map = new OffsetMap(1 << 20)) {
  return log.clean({ nowMs: clock.now(), upperBound, map });
}

describe("cleaning a log", () => {
  it("keeps the last value of every key at its offset and leaves readable gaps", async () => {
    await writeUpdates();
    const before = await readAll(log);
    const bytesBefore = log.sizeBytes;
    const result = await clean();
    expect(result.cleaned).toBe(true);
    expect(result.recordsRemoved).toBeGreaterThan(0);
    const after = await readAll(log);
    expect(lastValues(after.records)).toEqual(lastValues(before.records));
    // Every surviving record is the original at its original offset.
    const byOffset = new Map(before.records.map((r) => [r.offset, r]));
    for (const r of after.records) expect(r).toEqual(byOffset.get(r.offset));
    expect(log.sizeBytes).toBeLessThan(bytesBefore / 2);
    expect(log.logEndOffset).toBe(BigInt(KEYS * ROUNDS));
    // A read inside a removed range returns the next batch that survived.
    const firstKept = after.records[0]!.offset;
    expect(firstKept).toBeGreaterThan(0n);
    const read = await log.read(0n, { maxBytes: 1 });
    expect(read.firstOffset).toBe(firstKept);
    expect(log.firstDirtyOffset).toBe(log.segmentBaseOffsets().at(-1));
  });

  it("never touches the active segment or anything at or past the high watermark", async () => {
    await writeUpdates();
    const active = log.segmentBaseOffsets().at(-1)!;
    const bound = log.segmentBaseOffsets()[3]!;
    const before = await readAll(log);
    await clean(bound + 1n);
    const after = await readAll(log);
    const tail = (records: typeof before.records) => records.filter((r) => r.offset >= bound);
    expect(tail(after.records)).toEqual(tail(before.records));
    expect(log.segmentBaseOffsets().at(-1)).toBe(active);
  });

  it("does nothing for cleanup.policy=delete or when nothing is dirty", async () => {
    await writeUpdates(3);
    await log.updateConfig({ cleanupPolicy: "delete" });
    expect((await clean()).reason).toMatch(/cleanup.policy is delete/);
    await log.updateConfig({ cleanupPolicy: "compact,delete" });
    expect((await clean()).cleaned).toBe(true);
    expect((await clean()).reason).toMatch(/nothing cleanable is dirty/);
  });

  it("cleans again as new updates make the log dirty, keeping the last values", async () => {
    await writeUpdates(10);
    await clean();
    await writeUpdates(10);
    const expected = lastValues((await readAll(log)).records);
    const range = await log.cleanableRange(clock.now(), log.logEndOffset);
    expect(range!.dirtyRatio).toBeGreaterThan(0.5);
    await clean();
    expect(lastValues((await readAll(log)).records)).toEqual(expected);
  });

  it("with a small offset map cleans up to the segment that filled it", async () => {
    await writeUpdates();
    await fillers(100, "unique");
    const expected = lastValues((await readAll(log)).records);
    const tiny = new OffsetMap(30 * 90);
    const result = await clean(log.logEndOffset, tiny);
    expect(result.cleaned).toBe(true);
    expect(result.firstDirtyOffset).toBeLessThan(log.segmentBaseOffsets().at(-1)!);
    expect(lastValues((await readAll(log)).records)).toEqual(expected);
  });

  it("merges small cleaned segments into one on a later pass", async () => {
    await writeUpdates();
    await clean();
    // The closed segments the first pass emptied (all but the active one).
    const cleanedOnce = log.segmentBaseOffsets().length - 1;
    expect(cleanedOnce).toBeGreaterThan(2);
    await writeUpdates();
    const segments = log.segmentBaseOffsets().length;
    await clean();
    expect(log.segmentBaseOffsets().length).toBe(segments - cleanedOnce + 1);
    expect(log.segmentBaseOffsets()[0]).toBe(0n);
  });

  it("recovery, truncation and appends work across the gaps", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await writeUpdates(1);
      await fillers(1, `unique-${round}`);
    }
    await clean();
    const expected = await readAll(log);
    await log.close();
    // A crash-like open: no clean-shutdown marker, no recovery point: every segment rescanned.
    await unlink(path.join(dir, CLEAN_SHUTDOWN_FILE));
    await unlink(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE));
    log = await Log.open(dir, CONFIG, { clock: clock.now });
    expect(log.recoveryReport.bytesTruncated).toBe(0);
    expect(log.recoveryReport.segmentsDeleted).toBe(0);
    expect(await readAll(log)).toEqual(expected);
    // Truncating at an offset inside a gap cuts at the last batch below it.
    const kept = expected.records.map((r) => r.offset);
    const gapInside = kept.find((o, i) => i > 0 && o - kept[i - 1]! > 1n)! - 1n;
    await log.truncateTo(gapInside);
    expect(log.logEndOffset).toBeLessThanOrEqual(gapInside);
    expect(log.firstDirtyOffset).toBeLessThanOrEqual(log.logEndOffset);
    await log.append(keyedBatch([["key-0", "after"]], { timestampMs: clock.now() }), leader);
    const after = await readAll(log);
    expect(after.records.at(-1)).toMatchObject({ key: "key-0", value: "after" });
  });
});

async function fillers(count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++)
    await log.append(keyedBatch([[`${prefix}-${i}`, "x"]], { timestampMs: clock.now() }), leader);
}

describe("tombstones", () => {
  it("stay until delete.retention.ms, then go with every older value of their key", async () => {
    await writeUpdates(5);
    await log.append(keyedBatch([["key-3", null]], { timestampMs: clock.now() }), leader);
    await log.append(keyedBatch([["key-3", "back"]], { timestampMs: clock.now() }), leader);
    await log.append(keyedBatch([["key-4", null]], { timestampMs: clock.now() }), leader);
    await fillers(30, "a"); // rolls past the tombstones
    const valuesOf = async (k: string) =>
      (await readAll(log)).records.filter((r) => r.key === k).map((r) => r.value);
    await clean();
    expect(await valuesOf("key-4")).toEqual([null]);
    expect(await valuesOf("key-3")).toEqual(["back"]);
    clock.advance(60_001);
    await fillers(30, "b");
    await clean();
    expect(await valuesOf("key-4")).toEqual([]);
    expect(await valuesOf("key-3")).toEqual(["back"]);
  });
});

describe("idempotent producer state", () => {
  it("keeps each producer's last batch, emptied if need be, with its sequence", async () => {
    // Producer 7 writes key-0 three times; then a non-idempotent writer overwrites key-0.
    for (let seq = 0; seq < 3; seq++) {
      const batch = keyedBatch([["key-0", `p7-${seq}`]], {
        timestampMs: clock.now(),
        producerId: 7n,
        producerEpoch: 1,
        baseSequence: seq,
      });
      await log.append(batch, leader);
    }
    await log.append(keyedBatch([["key-0", "plain"]], { timestampMs: clock.now() }), leader);
    await fillers(40, "f");
    await clean();
    const { batches, records } = await readAll(log);
    const p7 = batches.filter((b) => b.producerId === 7n);
    expect(p7).toEqual([
      expect.objectContaining({ baseOffset: 2n, lastOffset: 2n, recordCount: 0, baseSequence: 2 }),
    ]);
    expect(records.filter((r) => r.key === "key-0").map((r) => r.value)).toEqual(["plain"]);
  });
});

describe("concurrent changes", () => {
  it("a truncation while a pass runs makes it give up without swapping", async () => {
    await writeUpdates();
    const before = await readAll(log);
    const segments = log.segmentBaseOffsets();
    let truncated = false;
    const result = await log.clean({
      nowMs: clock.now(),
      upperBound: log.logEndOffset,
      map: new OffsetMap(1 << 20),
      io: async () => {
        if (truncated) return;
        truncated = true;
        await log.truncateTo(log.logEndOffset - 1n);
      },
    });
    expect(result.cleaned).toBe(false);
    expect(result.reason).toMatch(/changed while it was cleaned/);
    expect(log.segmentBaseOffsets()).toEqual(segments);
    expect((await readAll(log)).records).toEqual(before.records.slice(0, -1));
    expect((await readdir(dir)).filter((n) => n.endsWith(".cleaned"))).toEqual([]);
  });
});

describe("an interrupted swap", () => {
  async function closedLogWithSegments(): Promise<bigint[]> {
    await writeUpdates(10);
    const bases = log.segmentBaseOffsets();
    await log.close();
    return bases;
  }

  it("is completed on open when its plan was committed", async () => {
    const bases = await closedLogWithSegments();
    const expected = await (async () => {
      const l = await Log.open(dir, CONFIG, { clock: clock.now });
      const all = await readAll(l);
      await l.close();
      return all;
    })();
    // The "cleaned" segment: segments 0 and 1 concatenated (a valid merge), plan committed,
    // and segment 1's files already gone (a crash in the middle of step 3).
    const merged = Buffer.concat([
      await readFile(segmentFilePath(dir, bases[0]!, ".log")),
      await readFile(segmentFilePath(dir, bases[1]!, ".log")),
    ]);
    await writeFile(cleanedLogPath(dir, bases[0]!), merged);
    await commitSwap(dir, { newBase: bases[0]!, replacedBases: [bases[0]!, bases[1]!] });
    await unlink(segmentFilePath(dir, bases[1]!, ".log"));
    await unlink(path.join(dir, CLEAN_SHUTDOWN_FILE));
    log = await Log.open(dir, CONFIG, { clock: clock.now });
    expect(log.recoveryReport.cleanerSwap).toBe("completed");
    expect(log.segmentBaseOffsets()).toEqual([bases[0]!, ...bases.slice(2)]);
    expect(await readAll(log)).toEqual(expected);
    expect(
      (await readdir(dir)).filter((n) => n.includes("cleaned") || n === SWAP_PLAN_FILE),
    ).toEqual([]);
  });

  it("is undone on open when its plan was not committed", async () => {
    const bases = await closedLogWithSegments();
    await copyFile(segmentFilePath(dir, bases[0]!, ".log"), cleanedLogPath(dir, bases[0]!));
    log = await Log.open(dir, CONFIG, { clock: clock.now });
    expect(log.recoveryReport.cleanerSwap).toBe("rolled-back");
    expect(log.segmentBaseOffsets()).toEqual(bases);
    expect((await readdir(dir)).filter((n) => n.endsWith(".cleaned"))).toEqual([]);
  });
});
