// Goal: the sparse offset and time indexes find the floor entry at every boundary (empty
// index, before the first entry, exact hit, between entries, after the last), persist
// exactly their entries, and refuse to load files that are corrupt (bad size, entries not
// increasing, positions beyond the log, more entries than the log could index).
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OffsetIndex, TimeIndex } from "../src/indexes.ts";
import { tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

function offsetIndex(entries: Array<[number, number]>): OffsetIndex {
  const index = new OffsetIndex(path.join(dir, "0.index"));
  for (const [relativeOffset, position] of entries) index.append(relativeOffset, position);
  return index;
}

describe("OffsetIndex lookup", () => {
  const index = () =>
    offsetIndex([
      [10, 4100],
      [20, 8300],
      [35, 12500],
    ]);

  it("empty index: no entry (scan from position 0)", () => {
    expect(offsetIndex([]).lookup(0)).toBeUndefined();
    expect(offsetIndex([]).lookup(1000)).toBeUndefined();
  });
  it("before the first entry: no entry", () => {
    expect(index().lookup(0)).toBeUndefined();
    expect(index().lookup(9)).toBeUndefined();
  });
  it("exact hits", () => {
    expect(index().lookup(10)).toEqual({ relativeOffset: 10, position: 4100 });
    expect(index().lookup(20)).toEqual({ relativeOffset: 20, position: 8300 });
    expect(index().lookup(35)).toEqual({ relativeOffset: 35, position: 12500 });
  });
  it("between entries: the floor", () => {
    expect(index().lookup(11)).toEqual({ relativeOffset: 10, position: 4100 });
    expect(index().lookup(34)).toEqual({ relativeOffset: 20, position: 8300 });
  });
  it("after the last entry: the last", () => {
    expect(index().lookup(36)).toEqual({ relativeOffset: 35, position: 12500 });
    expect(index().lookup(2 ** 31 - 1)).toEqual({ relativeOffset: 35, position: 12500 });
  });
  it("a single entry", () => {
    const one = offsetIndex([[5, 100]]);
    expect(one.lookup(4)).toBeUndefined();
    expect(one.lookup(5)).toEqual({ relativeOffset: 5, position: 100 });
    expect(one.lookup(6)).toEqual({ relativeOffset: 5, position: 100 });
  });
  it("many entries agree with a linear scan", () => {
    const entries: Array<[number, number]> = Array.from({ length: 1000 }, (_, i) => [
      i * 7 + 3,
      i * 4097 + 61,
    ]);
    const big = offsetIndex(entries);
    for (let target = 0; target < 7100; target += 13) {
      const expected = entries.filter(([o]) => o <= target).at(-1);
      expect(big.lookup(target)).toEqual(
        expected ? { relativeOffset: expected[0], position: expected[1] } : undefined,
      );
    }
  });
  it("refuses entries that do not increase", () => {
    const index1 = offsetIndex([[10, 100]]);
    expect(() => index1.append(10, 200)).toThrow(/assertion/);
    expect(() => index1.append(11, 100)).toThrow(/assertion/);
  });
  it("truncateToPosition drops entries at or after the position", () => {
    const idx = index();
    idx.truncateToPosition(8300);
    expect(idx.count).toBe(1);
    idx.truncateToPosition(0);
    expect(idx.count).toBe(0);
  });
});

describe("OffsetIndex files", () => {
  it("persists exactly its entries and reloads them", async () => {
    const idx = offsetIndex([
      [10, 4100],
      [20, 8300],
    ]);
    await idx.persist({ sync: true });
    idx.append(30, 9000);
    await idx.persist({ sync: false });
    expect((await stat(idx.path)).size).toBe(24);
    const loaded = await OffsetIndex.load(idx.path, 10_000);
    expect(loaded.ok).toBe(true);
    if (loaded.ok) expect(loaded.index.lookup(25)).toEqual({ relativeOffset: 20, position: 8300 });
  });

  it("truncation shrinks the file on the next persist", async () => {
    const idx = offsetIndex([
      [10, 4100],
      [20, 8300],
    ]);
    await idx.persist({ sync: false });
    idx.truncateToPosition(8300);
    await idx.persist({ sync: false });
    expect((await stat(idx.path)).size).toBe(8);
  });

  it.each([
    ["missing", null, /missing/],
    ["size not a multiple of 8", Buffer.alloc(9), /multiple/],
    ["too many entries for the log", Buffer.alloc(8 * 100), /cannot index/],
    ["position beyond the log", entries([[1, 99_999]]), /out of range/],
    [
      "offsets not increasing",
      entries([
        [5, 100],
        [5, 200],
      ]),
      /not after/,
    ],
    [
      "positions not increasing",
      entries([
        [5, 200],
        [6, 100],
      ]),
      /not after/,
    ],
    ["negative offset", entries([[-1, 100]]), /out of range/],
  ])("rejects a %s index", async (_name, content, reason) => {
    const file = path.join(dir, "x.index");
    if (content) await writeFile(file, content);
    const loaded = await OffsetIndex.load(file, 1000);
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.reason).toMatch(reason);
  });
});

function entries(list: Array<[number, number]>): Buffer {
  const buffer = Buffer.alloc(list.length * 8);
  list.forEach(([o, p], i) => {
    buffer.writeInt32BE(o, i * 8);
    buffer.writeInt32BE(p, i * 8 + 4);
  });
  return buffer;
}

describe("TimeIndex", () => {
  function timeIndex(list: Array<[bigint, number]>): TimeIndex {
    const index = new TimeIndex(path.join(dir, "0.timeindex"));
    for (const [ts, rel] of list) index.maybeAppend(ts, rel);
    return index;
  }
  const idx = () =>
    timeIndex([
      [100n, 0],
      [200n, 10],
      [300n, 25],
    ]);

  it("lookup at every boundary", () => {
    expect(timeIndex([]).lookup(500n)).toBeUndefined();
    expect(idx().lookup(99n)).toBeUndefined();
    expect(idx().lookup(100n)).toEqual({ timestamp: 100n, relativeOffset: 0 });
    expect(idx().lookup(250n)).toEqual({ timestamp: 200n, relativeOffset: 10 });
    expect(idx().lookup(300n)).toEqual({ timestamp: 300n, relativeOffset: 25 });
    expect(idx().lookup(10_000n)).toEqual({ timestamp: 300n, relativeOffset: 25 });
  });

  it("only appends growing timestamps", () => {
    const index = idx();
    expect(index.maybeAppend(300n, 30)).toBe(false);
    expect(index.maybeAppend(250n, 30)).toBe(false);
    expect(index.maybeAppend(301n, 30)).toBe(true);
    expect(index.count).toBe(4);
  });

  it("truncates by relative offset", () => {
    const index = idx();
    index.truncateToRelativeOffset(10);
    expect(index.count).toBe(1);
    expect(index.lastEntry()).toEqual({ timestamp: 100n, relativeOffset: 0 });
  });

  it("round-trips through its file and rejects garbage", async () => {
    const index = idx();
    await index.persist({ sync: true });
    expect((await readFile(index.path)).length).toBe(36);
    const loaded = await TimeIndex.load(index.path, 10_000);
    expect(loaded.ok && loaded.index.count).toBe(3);
    await writeFile(index.path, Buffer.alloc(13));
    expect((await TimeIndex.load(index.path, 10_000)).ok).toBe(false);
    const backwards = Buffer.alloc(24);
    backwards.writeBigInt64BE(200n, 0);
    backwards.writeBigInt64BE(100n, 12);
    await writeFile(index.path, backwards);
    expect((await TimeIndex.load(index.path, 10_000)).ok).toBe(false);
  });
});
