// Goal: the tail cache answers reads with exactly the bytes a file read returns, stays within
// its broker-wide bound, shares it fairly between partitions, and never serves bytes the log
// no longer holds (roll, truncation after divergence, full truncation at a new start).
import path from "node:path";
import { iterateBatches } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Log, type ReadOptions } from "../src/log.ts";
import { TailCache, TailCacheBudget } from "../src/tail-cache.ts";
import { buildBatch, buildBatches, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

const BATCH = buildBatch({ records: 3 }).length;
const leader = (epoch = 1) => ({ assignOffsets: true, leaderEpoch: epoch });

/** Appends the same batches to a cached and an uncached log. */
async function twin(budgetBytes: number, config = {}) {
  const budget = new TailCacheBudget(budgetBytes);
  const cached = await Log.open(path.join(dir, "cached"), config, { tailCache: budget });
  const plain = await Log.open(path.join(dir, "plain"), config);
  const append = async (batches: Buffer, epoch = 1) => {
    await cached.append(Buffer.from(batches), leader(epoch));
    await plain.append(Buffer.from(batches), leader(epoch));
  };
  const close = async () => {
    await cached.close();
    await plain.close();
  };
  return { budget, cached, plain, append, close };
}

function offsetsOf(records: Buffer): bigint[] {
  return [...iterateBatches(records)].map((b) => b.baseOffset);
}

describe("reads from the cache and from the file", () => {
  it("return identical bytes and offsets for every start, bound and size", async () => {
    const t = await twin(1 << 20, { segmentBytes: BATCH * 40 });
    // Appends of 1, 2 and 3 batches so reads cross chunk boundaries.
    for (let i = 0; i < 30; i++) await t.append(buildBatches((i % 3) + 1, { records: 3 }));
    expect(t.cached.logEndOffset).toBe(t.plain.logEndOffset);
    const end = t.plain.logEndOffset;
    const variants: ReadOptions[] = [];
    for (const maxBytes of [0, 1, BATCH, BATCH * 2 + 5, BATCH * 7, 1 << 20])
      for (const minOneBatch of [true, false])
        for (const maxOffset of [undefined, end - 4n, end - 20n])
          variants.push({ maxBytes, minOneBatch, maxOffset });
    for (let start = 0n; start < end; start += 1n) {
      for (const options of variants) {
        const a = await t.cached.read(start, options);
        const b = await t.plain.read(start, options);
        expect(
          a.records.equals(b.records),
          `start ${start} ${JSON.stringify(options, (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
        ).toBe(true);
        expect([a.firstOffset, a.nextOffset]).toEqual([b.firstOffset, b.nextOffset]);
      }
    }
    const stats = t.budget.stats();
    expect(stats.hits).toBeGreaterThan(0);
    expect(stats.misses).toBeGreaterThan(0); // older segments and evicted chunks read the file
    await t.close();
  });

  it("a consumer reading from the start crosses from the file into the cache", async () => {
    const t = await twin(BATCH * 4);
    for (let i = 0; i < 20; i++) await t.append(buildBatch({ records: 3 }));
    const seen: bigint[] = [];
    let next = 0n;
    for (let turn = 0; turn < 100 && next < t.cached.logEndOffset; turn++) {
      const read = await t.cached.read(next, { maxBytes: BATCH * 3 });
      seen.push(...offsetsOf(read.records));
      next = read.nextOffset;
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i * 3)));
    const { hits, misses } = t.budget.stats();
    expect(hits).toBeGreaterThan(0);
    expect(misses).toBeGreaterThan(0);
    await t.close();
  });

  it("with a capacity of 0 nothing is cached", async () => {
    const t = await twin(0);
    await t.append(buildBatch({ records: 3 }));
    await t.cached.read(0n, { maxBytes: 1 << 20 });
    expect(t.budget.stats()).toEqual({ bytes: 0, hits: 0, misses: 1 });
    await t.close();
  });
});

describe("invalidation", () => {
  it("truncation after a divergence drops the cut batches: the new ones are served", async () => {
    const t = await twin(1 << 20);
    for (let i = 0; i < 6; i++) await t.append(buildBatch({ records: 3 }));
    await t.cached.truncateTo(9n);
    await t.plain.truncateTo(9n);
    // The new leader's batches at the same offsets carry another epoch and other values.
    await t.append(buildBatches(2, { records: 3, valueBytes: 17 }), 2);
    for (const start of [0n, 9n, 12n, 14n]) {
      const a = await t.cached.read(start, { maxBytes: 1 << 20 });
      const b = await t.plain.read(start, { maxBytes: 1 << 20 });
      expect(a.records.equals(b.records)).toBe(true);
    }
    const tail = await t.cached.read(9n, { maxBytes: 1 << 20 });
    expect([...iterateBatches(tail.records)].map((b) => b.partitionLeaderEpoch)).toEqual([2, 2]);
    await t.close();
  });

  it("a full truncation at a new start (follower below the leader's log start) empties it", async () => {
    const t = await twin(1 << 20);
    for (let i = 0; i < 4; i++) await t.append(buildBatch({ records: 3 }));
    await t.cached.truncateFullyAndStartAt(100n);
    expect(t.budget.stats().bytes).toBe(0);
    await t.cached.append(buildBatch({ records: 3, baseOffset: 100n }), {
      assignOffsets: false,
      leaderEpoch: 1,
    });
    const read = await t.cached.read(100n, { maxBytes: 1 << 20 });
    expect(offsetsOf(read.records)).toEqual([100n]);
    await t.close();
  });

  it("holds a leader's appends only: a follower's append empties it, reads stay exact", async () => {
    const t = await twin(1 << 20);
    await t.append(buildBatches(2, { records: 3 }));
    expect(t.budget.stats().bytes).toBe(BATCH * 2);
    const follow = async (log: Log) =>
      log.append(buildBatch({ records: 3, baseOffset: 6n, leaderEpoch: 1 }), {
        assignOffsets: false,
        leaderEpoch: 1,
      });
    await follow(t.cached);
    await follow(t.plain);
    expect(t.budget.stats().bytes).toBe(0);
    // Leading again: new appends are cached after the uncached follower batch.
    await t.append(buildBatch({ records: 3 }), 2);
    expect(t.budget.stats().bytes).toBe(BATCH);
    for (const start of [0n, 6n, 9n]) {
      const a = await t.cached.read(start, { maxBytes: 1 << 20 });
      const b = await t.plain.read(start, { maxBytes: 1 << 20 });
      expect(a.records.equals(b.records)).toBe(true);
    }
    await t.close();
  });

  it("a roll empties it, so it only ever holds the active segment (never what the cleaner rewrites)", async () => {
    const t = await twin(1 << 20, { segmentBytes: BATCH * 3 });
    for (let i = 0; i < 7; i++) await t.append(buildBatch({ records: 3 }));
    const bases = t.cached.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(1);
    // Only the active segment's batch (offset 18) is cached: one batch's bytes.
    expect(t.budget.stats().bytes).toBe(BATCH);
    await t.close();
  });

  it("close releases the memory", async () => {
    const t = await twin(1 << 20);
    await t.append(buildBatches(3, { records: 3 }));
    expect(t.budget.stats().bytes).toBe(BATCH * 3);
    await t.close();
    expect(t.budget.stats().bytes).toBe(0);
  });
});

describe("the budget", () => {
  /** Batches of `count` offsets from `base`, as one append. */
  const chunk = (base: bigint, batches = 1) =>
    buildBatches(batches, { records: 1, baseOffset: base });
  const ONE = chunk(0n).length;

  it("never holds more than its capacity and evicts the oldest first", () => {
    const budget = new TailCacheBudget(ONE * 10);
    const cache = new TailCache(budget);
    for (let i = 0; i < 100; i++) {
      cache.append(chunk(BigInt(i)));
      expect(budget.stats().bytes).toBeLessThanOrEqual(ONE * 10);
    }
    expect(cache.firstOffset).toBe(90n);
    expect(cache.endOffset).toBe(100n);
    expect(cache.read(89n, { maxBytes: 1 << 20, maxOffset: 100n, minOneBatch: true })).toBe(
      undefined,
    );
    const hit = cache.read(95n, { maxBytes: 1 << 20, maxOffset: 100n, minOneBatch: true });
    expect(hit?.firstOffset).toBe(95n);
    expect(hit?.nextOffset).toBe(100n);
  });

  it("shares the capacity fairly: a hot partition does not push out a quiet one's tail", () => {
    const budget = new TailCacheBudget(ONE * 10);
    const quiet = new TailCache(budget);
    const hot = new TailCache(budget);
    quiet.append(chunk(0n, 2));
    for (let i = 0; i < 1000; i++) hot.append(chunk(BigInt(i)));
    expect(quiet.firstOffset).toBe(0n);
    expect(quiet.bytes).toBe(ONE * 2);
    expect(hot.bytes).toBeLessThanOrEqual(ONE * 5);
    expect(budget.stats().bytes).toBe(quiet.bytes + hot.bytes);
  });

  it("an append larger than a fair share is not cached and drops what is older", () => {
    const budget = new TailCacheBudget(ONE * 4);
    const cache = new TailCache(budget);
    cache.append(chunk(0n));
    cache.append(chunk(1n, 5));
    expect(cache.bytes).toBe(0);
    expect(cache.read(3n, { maxBytes: 1 << 20, maxOffset: 10n, minOneBatch: true })).toBe(
      undefined,
    );
    cache.append(chunk(6n));
    expect(cache.firstOffset).toBe(6n);
  });

  it("holds what it counts: a batch viewed in a large received buffer is copied out", () => {
    // gRPC hands a message's records as a view of a 64 KiB socket read: caching the view
    // would keep the whole read alive while the budget counts only the view.
    const budget = new TailCacheBudget(ONE * 10);
    const cache = new TailCache(budget);
    const received = Buffer.alloc(64 * 1024);
    const batch = chunk(0n);
    batch.copy(received, 1000);
    cache.append(received.subarray(1000, 1000 + batch.length));
    received.fill(0);
    const hit = cache.read(0n, { maxBytes: 1 << 20, maxOffset: 1n, minOneBatch: true });
    expect(hit?.records.equals(batch)).toBe(true);
    expect(hit?.records.buffer.byteLength).toBeLessThanOrEqual(2 * batch.length);
    // A batch that is (nearly) its whole buffer is cached as it is, without a copy.
    const own = Buffer.allocUnsafeSlow(ONE);
    chunk(1n).copy(own);
    cache.append(own);
    const same = cache.read(1n, { maxBytes: 1 << 20, maxOffset: 2n, minOneBatch: true });
    expect(same?.records.buffer).toBe(own.buffer);
  });

  it("keeps its bookkeeping bounded over many evictions", () => {
    const budget = new TailCacheBudget(ONE * 3);
    const caches = Array.from({ length: 5 }, () => new TailCache(budget));
    for (let i = 0; i < 20_000; i++) caches[i % 5]!.append(chunk(BigInt(Math.floor(i / 5))));
    expect(budget.stats().bytes).toBeLessThanOrEqual(ONE * 3);
    for (const c of caches) c.clear();
    expect(budget.stats().bytes).toBe(0);
  });
});
