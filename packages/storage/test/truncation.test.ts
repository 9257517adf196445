// Goal: truncateTo removes whole batches at and after the target within a segment, across
// segments and down to 0, keeping indexes, the epoch cache and the recovery point consistent,
// so appends continue at the new log end and a reopen (clean or not) sees the same log.
import { rm } from "node:fs/promises";
import path from "node:path";
import { iterateBatches } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Log } from "../src/log.ts";
import { CLEAN_SHUTDOWN_FILE } from "../src/log-loader.ts";
import { buildBatch, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let log: Log;
const BATCH_BYTES = buildBatch({ records: 2 }).length;
const config = { segmentBytes: BATCH_BYTES * 3, indexIntervalBytes: BATCH_BYTES };

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  log = await Log.open(dir, config);
  // 9 batches of 2 records over epochs 1 (offsets 0-5), 2 (6-11), 3 (12-17); segments 0, 6, 12.
  for (const epoch of [1, 1, 1, 2, 2, 2, 3, 3, 3]) {
    await log.append(buildBatch({ records: 2 }), { assignOffsets: true, leaderEpoch: epoch });
  }
});
afterEach(async () => {
  await log.close();
  await remove();
});

async function allOffsets(target: Log): Promise<bigint[]> {
  const offsets: bigint[] = [];
  let next = target.logStartOffset;
  for (let turn = 0; turn < 100 && next < target.logEndOffset; turn++) {
    const result = await target.read(next, { maxBytes: 1 << 20 });
    for (const batch of iterateBatches(result.records)) offsets.push(batch.baseOffset);
    next = result.nextOffset;
  }
  return offsets;
}

describe("truncateTo", () => {
  it("within the active segment, at a batch boundary", async () => {
    const result = await log.truncateTo(16n);
    expect(result).toEqual({ bytesRemoved: BATCH_BYTES, segmentsDeleted: 0, logEndOffset: 16n });
    expect(await allOffsets(log)).toEqual([0n, 2n, 4n, 6n, 8n, 10n, 12n, 14n]);
  });

  it("inside a batch removes the whole containing batch", async () => {
    const result = await log.truncateTo(15n);
    expect(result.logEndOffset).toBe(14n);
  });

  it("across segments deletes later segments and cuts the one holding the target", async () => {
    const result = await log.truncateTo(8n);
    expect(result).toEqual({ bytesRemoved: BATCH_BYTES * 5, segmentsDeleted: 1, logEndOffset: 8n });
    expect(log.segmentBaseOffsets()).toEqual([0n, 6n]);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 6n },
    ]);
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 8n });
    // Appends continue at the new end, in a new epoch, into the truncated segment.
    await log.append(buildBatch({ records: 2 }), { assignOffsets: true, leaderEpoch: 4 });
    expect(await allOffsets(log)).toEqual([0n, 2n, 4n, 6n, 8n]);
    expect(log.epochEntries().at(-1)).toEqual({ epoch: 4, startOffset: 8n });
  });

  it("at a segment base removes that segment entirely", async () => {
    await log.truncateTo(6n);
    expect(log.segmentBaseOffsets()).toEqual([0n]);
    expect(log.logEndOffset).toBe(6n);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 6n });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: -1, endOffset: -1n });
  });

  it("to 0 empties the log, which then accepts appends from 0", async () => {
    await log.truncateTo(0n);
    expect(log.logEndOffset).toBe(0n);
    expect(log.sizeBytes).toBe(0);
    expect(log.epochEntries()).toEqual([]);
    await log.append(buildBatch(), { assignOffsets: true, leaderEpoch: 5 });
    expect(await allOffsets(log)).toEqual([0n]);
  });

  it("at or past the log end is a no-op", async () => {
    expect(await log.truncateTo(18n)).toEqual({
      bytesRemoved: 0,
      segmentsDeleted: 0,
      logEndOffset: 18n,
    });
    expect(await log.truncateTo(99n)).toMatchObject({ bytesRemoved: 0 });
  });

  // A replica that became leader (its epoch recorded at its log end) and lost leadership
  // before appending anything: the new leader never saw that epoch, so the follower's fetches
  // diverge until its log forgets it. Keeping it made every fetch diverge again, forever, and
  // the replica never rejoined the ISR (as Kafka's UnifiedLog.truncateTo, the epoch cache is
  // cut at the log end even when no batch goes).
  it("at the log end drops a leader epoch that holds no batch", async () => {
    await log.assignLeaderEpoch(4);
    expect(log.latestEpoch()).toBe(4);
    expect(await log.truncateTo(18n)).toMatchObject({ bytesRemoved: 0, logEndOffset: 18n });
    expect(log.latestEpoch()).toBe(3);
    expect(log.epochEntries().at(-1)).toEqual({ epoch: 3, startOffset: 12n });
    // Persisted: a reopen does not bring the empty epoch back.
    await log.close();
    log = await Log.open(dir, config);
    expect(log.latestEpoch()).toBe(3);
  });

  it("lowers the recovery point and its checkpoint", async () => {
    await log.flush();
    expect(log.recoveryPoint).toBe(18n);
    await log.truncateTo(10n);
    expect(log.recoveryPoint).toBe(10n);
  });

  it("is seen identically after a clean reopen and after an unclean one", async () => {
    await log.truncateTo(9n);
    const expected = await allOffsets(log);
    await log.close();
    log = await Log.open(dir, config);
    expect(log.recoveryReport.cleanShutdown).toBe(true);
    expect(await allOffsets(log)).toEqual(expected);
    await log.close();
    await rm(path.join(dir, CLEAN_SHUTDOWN_FILE));
    log = await Log.open(dir, config);
    expect(log.recoveryReport.cleanShutdown).toBe(false);
    expect(log.recoveryReport.bytesTruncated).toBe(0);
    expect(await allOffsets(log)).toEqual(expected);
    expect(log.logEndOffset).toBe(8n);
  });

  it("truncateFullyAndStartAt restarts the log at any offset", async () => {
    await log.truncateFullyAndStartAt(1000n);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([1000n, 1000n]);
    await log.append(buildBatch({ baseOffset: 1000n, leaderEpoch: 7 }), {
      assignOffsets: false,
      leaderEpoch: -1,
    });
    await log.close();
    log = await Log.open(dir, config);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([1000n, 1001n]);
    expect(log.segmentBaseOffsets()).toEqual([1000n]);
    expect(log.epochEntries()).toEqual([{ epoch: 7, startOffset: 1000n }]);
  });
});
