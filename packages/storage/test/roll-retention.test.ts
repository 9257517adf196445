// Goal: segments roll on segment.bytes, on segment.ms (by batch timestamps when they exist,
// else by the injected clock) and never when empty; the sparse index gets an entry about every
// index.interval.bytes and reads through it land on the right batch in every segment;
// retention by time and by size deletes whole closed segments (never the active one) and
// advances the log start offset; deleteRecordsBefore advances and persists it.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { iterateBatches } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogOffsetOutOfRangeError } from "../src/errors.ts";
import { Log } from "../src/log.ts";
import { buildBatch, manualClock, tempDir } from "./helpers.ts";

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

async function appendMany(target: Log, count: number, timestamp = 1000n): Promise<void> {
  for (let i = 0; i < count; i++)
    await target.append(buildBatch({ records: 2, valueBytes: 20, timestamp }), leader);
}

describe("roll", () => {
  it("rolls on segment.bytes and names files by 20-digit base offset", async () => {
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 3 });
    await appendMany(log, 7);
    expect(log.segmentBaseOffsets()).toEqual([0n, 6n, 12n]);
    const names = (await readdir(dir)).filter((n) => /^\d{20}\./.test(n)).sort();
    expect(names).toContain("00000000000000000006.log");
    expect(names).toContain("00000000000000000006.index");
    expect(names).toContain("00000000000000000012.timeindex");
    // The recovery point advanced with each roll: older segments were fsynced.
    expect(log.recoveryPoint).toBe(12n);
  });

  it("rolls on segment.ms by the clock when batches carry no timestamp", async () => {
    const clock = manualClock();
    log = await Log.open(dir, { segmentMs: 1000 }, { clock: clock.now });
    await appendMany(log, 2, -1n);
    clock.advance(1000);
    await appendMany(log, 1, -1n);
    expect(log.segmentBaseOffsets()).toEqual([0n]);
    clock.advance(1);
    await appendMany(log, 1, -1n);
    expect(log.segmentBaseOffsets()).toEqual([0n, 6n]);
  });

  it("rolls on segment.ms by batch timestamps when they exist", async () => {
    const clock = manualClock();
    log = await Log.open(dir, { segmentMs: 1000 }, { clock: clock.now });
    await appendMany(log, 1, 5000n);
    clock.advance(10_000); // the clock alone does not roll a timestamped segment
    await appendMany(log, 1, 6000n);
    expect(log.segmentBaseOffsets()).toEqual([0n]);
    await appendMany(log, 1, 6001n);
    expect(log.segmentBaseOffsets()).toEqual([0n, 4n]);
  });

  it("never rolls an empty segment", async () => {
    const clock = manualClock();
    log = await Log.open(dir, { segmentMs: 1 }, { clock: clock.now });
    clock.advance(100);
    await appendMany(log, 1, -1n);
    expect(log.segmentBaseOffsets()).toEqual([0n]);
  });

  it("writes an index entry about every index.interval.bytes and reads find every batch", async () => {
    log = await Log.open(dir, {
      indexIntervalBytes: BATCH_BYTES * 2,
      segmentBytes: BATCH_BYTES * 20,
    });
    await appendMany(log, 50);
    await log.close();
    const index = await readFile(path.join(dir, "00000000000000000000.index"));
    // 20 batches per segment; an entry once more than 2 batches' bytes accumulated: every 3rd.
    expect(index.length / 8).toBe(6);
    expect(index.readInt32BE(0)).toBe(6); // relative offset of batch 3
    expect(index.readInt32BE(4)).toBe(BATCH_BYTES * 3);
    log = await Log.open(dir, {
      indexIntervalBytes: BATCH_BYTES * 2,
      segmentBytes: BATCH_BYTES * 20,
    });
    for (let offset = 0n; offset < 100n; offset++) {
      const result = await log.read(offset, { maxBytes: 1 });
      const [first] = [...iterateBatches(result.records)];
      expect(first?.baseOffset).toBe(offset - (offset % 2n));
    }
  });

  it("rolls before a relative offset would overflow int32", async () => {
    log = await Log.open(dir);
    await log.append(buildBatch({ records: 1 }), leader);
    // Follower data whose offsets jump past what the segment can index relative to base 0.
    await log.truncateFullyAndStartAt(0n);
    const far = 2n ** 31n;
    await log.append(buildBatch({ baseOffset: 0n }), { assignOffsets: false, leaderEpoch: -1 });
    const big = buildBatch({ baseOffset: 1n, records: 1 });
    big.writeInt32BE(2 ** 31 - 1, 23); // lastOffsetDelta: the batch spans offsets 1..2^31
    // Refresh the CRC after editing lastOffsetDelta (inside the CRC range).
    const { crc32c } = await import("@strand/protocol");
    big.writeUInt32BE(crc32c(big.subarray(21)), 17);
    await log.append(big, { assignOffsets: false, leaderEpoch: -1 });
    expect(log.logEndOffset).toBe(far + 1n);
    expect(log.segmentBaseOffsets()).toEqual([0n, 1n]);
  });
});

describe("retention", () => {
  it("by time deletes closed segments whose newest batch is older than retention.ms", async () => {
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 2, retentionMs: 1000 });
    for (const ts of [100n, 200n, 300n, 400n, 5000n, 5100n]) {
      await log.append(buildBatch({ records: 2, valueBytes: 20, timestamp: ts }), leader);
    }
    expect(log.segmentBaseOffsets()).toEqual([0n, 4n, 8n]);
    // now 1250: segment 0 (newest 200) is 1050 old -> deleted; segment 4 (newest 400) is 850.
    const first = await log.applyRetention(1250);
    expect(first).toMatchObject({ segmentsDeleted: 1, logStartOffset: 4n });
    expect(log.segmentBaseOffsets()).toEqual([4n, 8n]);
    // Much later: everything is old, but the active segment stays.
    const second = await log.applyRetention(1_000_000);
    expect(second).toMatchObject({ segmentsDeleted: 1, logStartOffset: 8n });
    expect(log.segmentBaseOffsets()).toEqual([8n]);
    await expect(log.read(0n, { maxBytes: 100 })).rejects.toBeInstanceOf(LogOffsetOutOfRangeError);
    expect(log.logStartOffset).toBe(8n);
  });

  it("retention.ms = -1 keeps everything", async () => {
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES, retentionMs: -1 });
    await appendMany(log, 3, 1n);
    expect((await log.applyRetention(Number.MAX_SAFE_INTEGER)).segmentsDeleted).toBe(0);
  });

  it("by size deletes the oldest closed segments while the log exceeds retention.bytes", async () => {
    log = await Log.open(dir, {
      segmentBytes: BATCH_BYTES * 2,
      retentionBytes: BATCH_BYTES * 3,
      retentionMs: -1,
    });
    await appendMany(log, 7); // segments of 2,2,2,1 batches
    expect(log.segmentBaseOffsets()).toEqual([0n, 4n, 8n, 12n]);
    const result = await log.applyRetention(0);
    // 7 batches, limit 3: deleting a 2-batch segment twice leaves 3.
    expect(result).toMatchObject({
      segmentsDeleted: 2,
      bytesDeleted: BATCH_BYTES * 4,
      logStartOffset: 8n,
    });
    expect(log.sizeBytes).toBe(BATCH_BYTES * 3);
  });

  it("never deletes the active segment even when over retention.bytes", async () => {
    log = await Log.open(dir, { retentionBytes: 1, retentionMs: -1 });
    await appendMany(log, 3);
    expect((await log.applyRetention(0)).segmentsDeleted).toBe(0);
  });

  it("the log start offset survives a reopen and trims the epoch cache", async () => {
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 2, retentionMs: 1000 });
    await log.append(buildBatch({ records: 2, valueBytes: 20, timestamp: 1n }), {
      assignOffsets: true,
      leaderEpoch: 1,
    });
    await log.append(buildBatch({ records: 2, valueBytes: 20, timestamp: 1n }), {
      assignOffsets: true,
      leaderEpoch: 1,
    });
    await log.append(buildBatch({ records: 2, valueBytes: 20, timestamp: 9000n }), {
      assignOffsets: true,
      leaderEpoch: 2,
    });
    await log.applyRetention(5000);
    expect(log.logStartOffset).toBe(4n);
    expect(log.epochEntries()).toEqual([{ epoch: 2, startOffset: 4n }]);
    await log.close();
    log = await Log.open(dir);
    expect(log.logStartOffset).toBe(4n);
    expect(log.epochEntries()).toEqual([{ epoch: 2, startOffset: 4n }]);
  });
});

describe("deleteRecordsBefore", () => {
  it("advances and persists the log start offset inside a segment, deleting segments wholly below", async () => {
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 2 });
    await appendMany(log, 6); // segments 0, 4, 8
    const result = await log.deleteRecordsBefore(5n);
    expect(result).toMatchObject({ segmentsDeleted: 1, logStartOffset: 5n });
    expect(log.segmentBaseOffsets()).toEqual([4n, 8n]);
    await expect(log.read(4n, { maxBytes: 100 })).rejects.toBeInstanceOf(LogOffsetOutOfRangeError);
    // Reading at the new start returns the batch containing it.
    expect((await log.read(5n, { maxBytes: 1 })).firstOffset).toBe(4n);
    await log.close();
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 2 });
    expect(log.logStartOffset).toBe(5n);
    expect(log.recoveryReport.cleanShutdown).toBe(true);
  });

  it("refuses an offset beyond the log end and ignores one below the start", async () => {
    log = await Log.open(dir);
    await appendMany(log, 2);
    await expect(log.deleteRecordsBefore(5n)).rejects.toBeInstanceOf(LogOffsetOutOfRangeError);
    expect((await log.deleteRecordsBefore(0n)).logStartOffset).toBe(0n);
    expect((await log.deleteRecordsBefore(4n)).logStartOffset).toBe(4n);
    expect((await log.read(4n, { maxBytes: 100 })).records.length).toBe(0);
  });
});

describe("offsetForTimestamp", () => {
  it("finds the first batch whose maxTimestamp >= target through the time index", async () => {
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 4, indexIntervalBytes: BATCH_BYTES });
    const stamps = [10n, 20n, 20n, 30n, 25n, 40n, 50n, 60n, 70n, 80n];
    for (const ts of stamps)
      await log.append(buildBatch({ records: 2, valueBytes: 20, timestamp: ts }), leader);
    await log.close();
    log = await Log.open(dir, { segmentBytes: BATCH_BYTES * 4, indexIntervalBytes: BATCH_BYTES });
    const cases: Array<[bigint, bigint | undefined]> = [
      [0n, 0n],
      [10n, 0n],
      [11n, 2n],
      [20n, 2n],
      [21n, 6n],
      [26n, 6n],
      [31n, 10n],
      [45n, 12n],
      [80n, 18n],
      [81n, undefined],
    ];
    for (const [ts, expected] of cases) {
      expect((await log.offsetForTimestamp(ts))?.offset, `timestamp ${ts}`).toBe(expected);
    }
  });
});
