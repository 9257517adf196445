// Goal: the leader and follower append paths assign/check offsets and epochs and write the
// caller's bytes unchanged apart from the stamped fields; reads return whole batches from the
// batch containing the requested offset, honouring maxBytes, maxOffset and minOneBatch, and
// reject offsets outside [logStartOffset, logEndOffset] with OFFSET_OUT_OF_RANGE.
import { BatchHeaderView, CorruptBatchError, ErrorCode, iterateBatches } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  InvalidAppendError,
  LogOffsetOutOfRangeError,
  RecordTooLargeError,
} from "../src/errors.ts";
import { Log } from "../src/log.ts";
import { buildBatch, buildBatches, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let log: Log;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  log = await Log.open(dir);
});

afterEach(async () => {
  await log.close();
  await remove();
});

function offsetsOf(records: Buffer): bigint[] {
  return [...iterateBatches(records)].map((b) => b.baseOffset);
}

describe("append", () => {
  it("assigns offsets sequentially from the log end and stamps the leader epoch", async () => {
    const first = await log.append(buildBatch({ records: 3, baseOffset: 99n }), {
      assignOffsets: true,
      leaderEpoch: 4,
    });
    expect(first).toMatchObject({ firstOffset: 0n, lastOffset: 2n, batchCount: 1 });
    const batches = buildBatches(2, { records: 5 });
    const second = await log.append(batches, { assignOffsets: true, leaderEpoch: 4 });
    expect(second).toMatchObject({
      firstOffset: 3n,
      lastOffset: 12n,
      appendedBytes: batches.length,
      batchCount: 2,
    });
    expect(log.logEndOffset).toBe(13n);
    // Stamped in place: the caller's buffer now holds the assigned offsets, CRC still valid.
    const views = [...iterateBatches(batches)];
    expect(views.map((v) => [v.baseOffset, v.partitionLeaderEpoch])).toEqual([
      [3n, 4],
      [8n, 4],
    ]);
    expect(log.epochEntries()).toEqual([{ epoch: 4, startOffset: 0n }]);
  });

  it("reports the largest maxTimestamp of the appended batches", async () => {
    const batches = Buffer.concat([
      buildBatch({ timestamp: 50n }),
      buildBatch({ timestamp: 70n }),
      buildBatch({ timestamp: 60n }),
    ]);
    const result = await log.append(batches, { assignOffsets: true, leaderEpoch: 0 });
    expect(result.maxTimestamp).toBe(70n);
  });

  it("rejects a corrupt CRC, a torn batch, an empty buffer and writes nothing", async () => {
    const bad = buildBatch({ records: 2 });
    bad[bad.length - 1]! ^= 0xff;
    await expect(log.append(bad, { assignOffsets: true, leaderEpoch: 0 })).rejects.toBeInstanceOf(
      CorruptBatchError,
    );
    const torn = buildBatch().subarray(0, 40);
    await expect(log.append(torn, { assignOffsets: true, leaderEpoch: 0 })).rejects.toBeInstanceOf(
      CorruptBatchError,
    );
    await expect(
      log.append(Buffer.alloc(0), { assignOffsets: true, leaderEpoch: 0 }),
    ).rejects.toBeInstanceOf(CorruptBatchError);
    const trailing = Buffer.concat([buildBatch(), Buffer.alloc(5)]);
    await expect(
      log.append(trailing, { assignOffsets: true, leaderEpoch: 0 }),
    ).rejects.toBeInstanceOf(CorruptBatchError);
    expect(log.logEndOffset).toBe(0n);
    expect(log.sizeBytes).toBe(0);
    // Input errors leave the log usable.
    await log.append(buildBatch(), { assignOffsets: true, leaderEpoch: 0 });
    expect(log.logEndOffset).toBe(1n);
  });

  it("rejects a batch larger than maxMessageBytes", async () => {
    await log.close();
    log = await Log.open(dir, { maxMessageBytes: 200 });
    const big = buildBatch({ records: 10, valueBytes: 50 });
    await expect(log.append(big, { assignOffsets: true, leaderEpoch: 0 })).rejects.toBeInstanceOf(
      RecordTooLargeError,
    );
  });

  it("rejects a leader epoch older than the latest", async () => {
    await log.append(buildBatch(), { assignOffsets: true, leaderEpoch: 5 });
    await expect(
      log.append(buildBatch(), { assignOffsets: true, leaderEpoch: 4 }),
    ).rejects.toBeInstanceOf(InvalidAppendError);
  });

  it("follower path: keeps offsets, refuses overlap and reorder, records epochs", async () => {
    await log.append(buildBatches(2, { baseOffset: 0n, records: 2, leaderEpoch: 1 }), {
      assignOffsets: false,
      leaderEpoch: -1,
    });
    expect(log.logEndOffset).toBe(4n);
    const overlap = buildBatch({ baseOffset: 3n, leaderEpoch: 1 });
    await expect(
      log.append(overlap, { assignOffsets: false, leaderEpoch: -1 }),
    ).rejects.toBeInstanceOf(InvalidAppendError);
    const nonMonotonic = Buffer.concat([
      buildBatch({ baseOffset: 4n, leaderEpoch: 2 }),
      buildBatch({ baseOffset: 4n, leaderEpoch: 2 }),
    ]);
    await expect(
      log.append(nonMonotonic, { assignOffsets: false, leaderEpoch: -1 }),
    ).rejects.toBeInstanceOf(InvalidAppendError);
    const epochBack = buildBatch({ baseOffset: 4n, leaderEpoch: 0 });
    await expect(
      log.append(epochBack, { assignOffsets: false, leaderEpoch: -1 }),
    ).rejects.toBeInstanceOf(InvalidAppendError);
    const twoEpochs = Buffer.concat([
      buildBatch({ baseOffset: 4n, leaderEpoch: 2 }),
      buildBatch({ baseOffset: 5n, leaderEpoch: 3 }),
    ]);
    await log.append(twoEpochs, { assignOffsets: false, leaderEpoch: -1 });
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 4n },
      { epoch: 3, startOffset: 5n },
    ]);
  });

  it("follower path: a roll at a batch past a gap starts the segment there", async () => {
    await log.close();
    log = await Log.open(dir, { segmentBytes: buildBatch().length * 2 });
    const follower = { assignOffsets: false, leaderEpoch: -1 } as const;
    await log.append(buildBatches(2, { baseOffset: 0n, leaderEpoch: 1 }), follower);
    await log.append(buildBatch({ baseOffset: 100n, leaderEpoch: 1 }), follower);
    expect(log.segmentBaseOffsets()).toEqual([0n, 100n]);
    expect(log.logEndOffset).toBe(101n);
    expect(log.recoveryPoint).toBeLessThanOrEqual(log.logEndOffset);
    await log.append(buildBatch({ baseOffset: 101n, leaderEpoch: 1 }), follower);
    expect((await log.read(2n, { maxBytes: 1 })).firstOffset).toBe(100n);
  });

  it("follower path: copies a compacted leader's offset gap, and reads skip it", async () => {
    await log.append(buildBatches(2, { baseOffset: 0n, records: 2, leaderEpoch: 1 }), {
      assignOffsets: false,
      leaderEpoch: -1,
    });
    const pastGap = Buffer.concat([
      buildBatch({ baseOffset: 9n, leaderEpoch: 2 }),
      buildBatch({ baseOffset: 12n, leaderEpoch: 2 }),
    ]);
    const appended = await log.append(pastGap, { assignOffsets: false, leaderEpoch: -1 });
    expect(appended.firstOffset).toBe(9n);
    expect(log.logEndOffset).toBe(13n);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 9n },
    ]);
    // A fetch inside the removed range returns the next batch.
    const read = await log.read(5n, { maxBytes: 1 });
    expect(read.firstOffset).toBe(9n);
    expect(read.nextOffset).toBe(10n);
    const between = await log.read(10n, { maxBytes: 1 });
    expect(between.firstOffset).toBe(12n);
  });

  it("a follower append replaces a became-leader marker at the log end", async () => {
    await log.append(buildBatch({ leaderEpoch: 1 }), { assignOffsets: false, leaderEpoch: -1 });
    await log.assignLeaderEpoch(5);
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 1n });
    await log.append(buildBatch({ baseOffset: 1n, leaderEpoch: 4 }), {
      assignOffsets: false,
      leaderEpoch: -1,
    });
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 1n },
    ]);
  });
});

describe("read", () => {
  beforeEach(async () => {
    // 10 batches of 3 records: offsets 0..29, batch i covers 3i..3i+2.
    await log.append(buildBatches(10, { records: 3 }), { assignOffsets: true, leaderEpoch: 0 });
  });

  it("reads from the start and returns every batch when maxBytes allows", async () => {
    const result = await log.read(0n, { maxBytes: 1 << 20 });
    expect(offsetsOf(result.records)).toEqual([0n, 3n, 6n, 9n, 12n, 15n, 18n, 21n, 24n, 27n]);
    expect(result).toMatchObject({
      firstOffset: 0n,
      nextOffset: 30n,
      logStartOffset: 0n,
      logEndOffset: 30n,
    });
  });

  it("a read inside a batch returns the containing batch", async () => {
    const result = await log.read(7n, { maxBytes: 1 << 20 });
    expect(result.firstOffset).toBe(6n);
    expect(offsetsOf(result.records)[0]).toBe(6n);
  });

  it("maxBytes returns whole batches only", async () => {
    const batchBytes = buildBatch({ records: 3 }).length;
    const result = await log.read(0n, { maxBytes: batchBytes * 2 + batchBytes / 2 });
    expect(offsetsOf(result.records)).toEqual([0n, 3n]);
    expect(result.records.length).toBe(batchBytes * 2);
    expect(result.nextOffset).toBe(6n);
  });

  it("minOneBatch returns one batch larger than maxBytes; without it, nothing", async () => {
    const one = await log.read(3n, { maxBytes: 1 });
    expect(offsetsOf(one.records)).toEqual([3n]);
    const none = await log.read(3n, { maxBytes: 1, minOneBatch: false });
    expect(none.records.length).toBe(0);
  });

  it("maxOffset (high watermark) excludes batches starting at or after it", async () => {
    const result = await log.read(0n, { maxBytes: 1 << 20, maxOffset: 9n });
    expect(offsetsOf(result.records)).toEqual([0n, 3n, 6n]);
    expect(result.nextOffset).toBe(9n);
    const atHw = await log.read(9n, { maxBytes: 1 << 20, maxOffset: 9n });
    expect(atHw.records.length).toBe(0);
  });

  it("reading at the log end returns nothing; beyond it or below the start is out of range", async () => {
    const atEnd = await log.read(30n, { maxBytes: 100 });
    expect(atEnd.records.length).toBe(0);
    expect(atEnd.nextOffset).toBe(30n);
    const error = await log.read(31n, { maxBytes: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogOffsetOutOfRangeError);
    expect((error as LogOffsetOutOfRangeError).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    await expect(log.read(-1n, { maxBytes: 100 })).rejects.toBeInstanceOf(LogOffsetOutOfRangeError);
  });

  it("returns the exact bytes that were appended", async () => {
    const more = buildBatch({ records: 2, valueBytes: 33 });
    const { firstOffset } = await log.append(more, { assignOffsets: true, leaderEpoch: 0 });
    const result = await log.read(firstOffset, { maxBytes: 1 << 20 });
    expect(Buffer.compare(result.records, more)).toBe(0);
    new BatchHeaderView(result.records).validate();
  });
});
