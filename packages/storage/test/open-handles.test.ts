// Goal: segments do not each hold a file descriptor for the log's whole life, and an idle
// replica holds none. With a HandleCache of N, reading across many segments (in any order,
// repeatedly) leaves at most N .log files open, the active segments' included, and every read
// returns the right batches; many idle logs with unflushed appends still fit in N (evicted
// after an fsync) and keep accepting appends; index files are never held open; closing the
// log closes everything. Counted from /proc/self/fd (Linux).
import { readdir, readlink } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HandleCache } from "../src/handle-cache.ts";
import { Log } from "../src/log.ts";
import { LogManager } from "../src/log-manager.ts";
import { buildBatch, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let log: Log | undefined;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await log?.close();
  log = undefined;
  await remove();
});

const BATCH_BYTES = buildBatch({ records: 2, valueBytes: 20 }).length;
const leader = { assignOffsets: true, leaderEpoch: 0 } as const;

/** Open descriptors of this process on files under `under` ending in `suffix`. */
async function openFiles(under: string, suffix: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target.startsWith(under) && target.endsWith(suffix)) count++;
  }
  return count;
}

const openLogFiles = (under: string) => openFiles(under, ".log");

describe.runIf(process.platform === "linux")("open segment handles", () => {
  it("keeps at most N sealed segments' files open while reads stay correct", async () => {
    const cache = new HandleCache(3);
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 2 }, { handles: cache });
    for (let i = 0; i < 40; i++)
      await log.append(buildBatch({ records: 2, valueBytes: 20 }), leader);
    expect(log.segmentBaseOffsets().length).toBe(20);
    // One eviction may still be closing (it fsyncs the active segment's appends first).
    expect(await openLogFiles(dir)).toBeLessThanOrEqual(3 + 1);
    // Forwards, backwards, and again: each batch of 2 records starts at an even offset.
    const order = [...Array(40).keys()];
    for (const i of [...order, ...order.reverse(), ...order]) {
      const read = await log.read(BigInt(i * 2), { maxBytes: 1, minOneBatch: true });
      expect(read.records.readBigInt64BE(0)).toBe(BigInt(i * 2));
      expect(read.records.length).toBe(BATCH_BYTES);
      expect(cache.openCount).toBeLessThanOrEqual(3);
      expect(await openLogFiles(dir)).toBeLessThanOrEqual(3 + 1);
    }
    await log.close();
    log = undefined;
    expect(await openLogFiles(dir)).toBe(0);
  });

  it("bounds the handles of logs loaded from disk, across a LogManager's logs", async () => {
    const first = await LogManager.open(dir, { defaultConfig: { segmentBytes: BATCH_BYTES * 2 } });
    for (const p of [0, 1]) {
      const l = await first.getOrCreateLog("t", p);
      for (let i = 0; i < 20; i++)
        await l.append(buildBatch({ records: 2, valueBytes: 20 }), leader);
    }
    await first.close();
    const manager = await LogManager.open(dir, {
      defaultConfig: { segmentBytes: BATCH_BYTES * 2 },
      openSegmentHandlesMax: 4,
    });
    try {
      expect(await openLogFiles(dir)).toBeLessThanOrEqual(4);
      for (const p of [0, 1]) {
        const l = manager.getLog("t", p);
        for (let i = 0; i < 20; i++) {
          const read = await l!.read(BigInt(i * 2), { maxBytes: 1, minOneBatch: true });
          expect(read.records.readBigInt64BE(0)).toBe(BigInt(i * 2));
        }
      }
      expect(await openLogFiles(dir)).toBeLessThanOrEqual(4);
    } finally {
      await manager.close();
    }
  });

  it("fits many idle logs with unflushed appends in N descriptors, and they keep appending", async () => {
    const manager = await LogManager.open(dir, { openSegmentHandlesMax: 5 });
    try {
      const logs = [];
      for (let p = 0; p < 40; p++) {
        const l = await manager.getOrCreateLog("t", p);
        await l.append(buildBatch({ records: 2, valueBytes: 20 }), leader);
        logs.push(l);
      }
      // Evictions close asynchronously (after an fsync of the unflushed append).
      await expect.poll(() => openLogFiles(dir), { timeout: 5_000 }).toBeLessThanOrEqual(5);
      expect(await openFiles(dir, ".index")).toBe(0);
      expect(await openFiles(dir, ".timeindex")).toBe(0);
      // Every log still appends (reopening its active segment) and reads both batches.
      for (const l of logs) {
        await l.append(buildBatch({ records: 2, valueBytes: 20 }), leader);
        const read = await l.read(0n, { maxBytes: 1 << 20, minOneBatch: true });
        expect(read.records.length).toBe(2 * BATCH_BYTES);
        expect(read.records.readBigInt64BE(BATCH_BYTES)).toBe(2n);
      }
      await expect.poll(() => openLogFiles(dir), { timeout: 5_000 }).toBeLessThanOrEqual(5);
    } finally {
      await manager.close();
    }
    // Reopened from disk, every log has both batches: nothing was lost by the evictions.
    const again = await LogManager.open(dir, {});
    try {
      for (let p = 0; p < 40; p++) expect(again.getLog("t", p)?.logEndOffset).toBe(4n);
    } finally {
      await again.close();
    }
  });
});
