// Goal: open() after a clean close skips the scan; after an unclean one it re-validates every
// segment from the recovery point, truncates at the first torn or corrupt batch (flipped
// bytes at the tail or in the middle, a torn write, a lying length, a flipped offset),
// deletes later segments, rebuilds missing, truncated or garbage indexes and the epoch-cache
// tail, logs a warning with the counts and reports exactly what it did.
import {
  appendFile,
  open,
  readFile,
  rm,
  stat,
  truncate,
  unlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { iterateBatches } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { offsetFileStem } from "../src/files.ts";
import { LEADER_EPOCH_CHECKPOINT_FILE } from "../src/leader-epoch-cache.ts";
import { Log } from "../src/log.ts";
import { CLEAN_SHUTDOWN_FILE, RECOVERY_POINT_CHECKPOINT_FILE } from "../src/log-loader.ts";
import { buildBatch, recordingLogger, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let log: Log | undefined;
const BATCH_BYTES = buildBatch({ records: 2 }).length;
const config = { segmentBytes: BATCH_BYTES * 3, indexIntervalBytes: BATCH_BYTES };

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  const first = await Log.open(dir, config);
  // 9 batches of 2 records: segments 0 (epoch 1), 6 (epoch 2), 12 (epoch 3).
  for (const epoch of [1, 1, 1, 2, 2, 2, 3, 3, 3]) {
    await first.append(buildBatch({ records: 2 }), { assignOffsets: true, leaderEpoch: epoch });
  }
  await first.close();
});
afterEach(async () => {
  await log?.close();
  log = undefined;
  await remove();
});

const segmentFile = (base: bigint, suffix: string) => path.join(dir, offsetFileStem(base) + suffix);

/** Turns the last clean close into a crash: no marker, recovery point at `recoveryPoint`. */
async function crash(recoveryPoint?: bigint): Promise<void> {
  await rm(path.join(dir, CLEAN_SHUTDOWN_FILE));
  if (recoveryPoint !== undefined) {
    await writeFile(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE), `0\n1\n${recoveryPoint}\n`);
  }
}

async function flipByte(file: string, position: number): Promise<void> {
  const handle = await open(file, "r+");
  const one = Buffer.alloc(1);
  await handle.read(one, 0, 1, position);
  one[0]! ^= 0x5a;
  await handle.write(one, 0, 1, position);
  await handle.close();
}

async function offsets(target: Log): Promise<bigint[]> {
  const found: bigint[] = [];
  let next = target.logStartOffset;
  for (let turn = 0; turn < 100 && next < target.logEndOffset; turn++) {
    const result = await target.read(next, { maxBytes: 1 << 20 });
    for (const batch of iterateBatches(result.records)) found.push(batch.baseOffset);
    next = result.nextOffset;
  }
  return found;
}

const all = [0n, 2n, 4n, 6n, 8n, 10n, 12n, 14n, 16n];

describe("clean and unclean reopen", () => {
  it("after a clean close: no scan, marker consumed", async () => {
    log = await Log.open(dir, config);
    expect(log.recoveryReport).toMatchObject({
      cleanShutdown: true,
      segmentsRecovered: 0,
      bytesTruncated: 0,
    });
    await expect(stat(path.join(dir, CLEAN_SHUTDOWN_FILE))).rejects.toThrow();
    expect(await offsets(log)).toEqual(all);
  });

  it("after an unclean close: scans from the segment holding the recovery point", async () => {
    await crash(8n);
    log = await Log.open(dir, config);
    expect(log.recoveryReport).toMatchObject({
      cleanShutdown: false,
      recoveryPointOffset: 8n,
      segmentsRecovered: 2,
      batchesRecovered: 6,
      bytesTruncated: 0,
      segmentsDeleted: 0,
    });
    expect(await offsets(log)).toEqual(all);
    expect(log.epochEntries().map((e) => e.epoch)).toEqual([1, 2, 3]);
  });

  it("a second open without close is unclean again (the marker was removed on open)", async () => {
    log = await Log.open(dir, config);
    await log.append(buildBatch(), { assignOffsets: true, leaderEpoch: 3 });
    const second = await Log.open(dir, config); // as if the first process died
    expect(second.recoveryReport.cleanShutdown).toBe(false);
    expect(second.logEndOffset).toBe(19n);
    await second.close();
  });
});

describe("corruption", () => {
  it("bytes flipped at the tail: truncates the last batch and says so", async () => {
    await crash();
    await flipByte(segmentFile(12n, ".log"), BATCH_BYTES * 2 + 70);
    const logger = recordingLogger();
    log = await Log.open(dir, config, { logger });
    expect(log.recoveryReport).toMatchObject({ bytesTruncated: BATCH_BYTES, segmentsDeleted: 0 });
    expect(log.recoveryReport.stopDetail).toMatch(/CRC/);
    expect(log.logEndOffset).toBe(16n);
    expect(await offsets(log)).toEqual(all.slice(0, 8));
    const warning = logger.lines.find((l) => l.level === "warn");
    expect(warning?.obj).toMatchObject({ bytesTruncated: BATCH_BYTES, segmentsDeleted: 0 });
  });

  it("bytes flipped in the middle of a segment: truncates there and drops later segments", async () => {
    await crash(0n);
    await flipByte(segmentFile(6n, ".log"), BATCH_BYTES + 40);
    log = await Log.open(dir, config);
    expect(log.recoveryReport).toMatchObject({
      bytesTruncated: BATCH_BYTES * 2,
      segmentsDeleted: 1,
      bytesDeleted: BATCH_BYTES * 3,
    });
    expect(log.segmentBaseOffsets()).toEqual([0n, 6n]);
    expect(log.logEndOffset).toBe(8n);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 6n },
    ]);
    await expect(stat(segmentFile(12n, ".log"))).rejects.toThrow();
    // The log continues cleanly from the cut.
    await log.append(buildBatch({ records: 2 }), { assignOffsets: true, leaderEpoch: 4 });
    expect(await offsets(log)).toEqual([0n, 2n, 4n, 6n, 8n]);
  });

  it("a torn write at the tail is cut", async () => {
    await crash();
    await appendFile(segmentFile(12n, ".log"), buildBatch().subarray(0, 30));
    log = await Log.open(dir, config);
    expect(log.recoveryReport.bytesTruncated).toBe(30);
    expect(log.logEndOffset).toBe(18n);
    expect((await stat(segmentFile(12n, ".log"))).size).toBe(BATCH_BYTES * 3);
  });

  it("a batch length pointing far past the file neither crashes nor allocates it", async () => {
    await crash();
    const liar = buildBatch();
    liar.writeInt32BE(2 ** 31 - 1, 8);
    await appendFile(segmentFile(12n, ".log"), liar);
    log = await Log.open(dir, config);
    expect(log.recoveryReport.bytesTruncated).toBe(liar.length);
    expect(log.logEndOffset).toBe(18n);
  });

  it("a flipped baseOffset (outside the CRC) is caught by the next segment's base", async () => {
    await crash(0n);
    await flipByte(segmentFile(0n, ".log"), BATCH_BYTES * 2 + 7); // low byte of batch 3's offset
    log = await Log.open(dir, config);
    expect(log.recoveryReport.stopDetail).toMatch(/reach the next segment's base 6/);
    expect(log.logEndOffset).toBe(4n);
    expect(log.recoveryReport.segmentsDeleted).toBe(2);
  });

  it("a truncated index is rebuilt after a clean shutdown", async () => {
    await truncate(segmentFile(0n, ".index"), 5);
    log = await Log.open(dir, config);
    expect(log.recoveryReport).toMatchObject({ cleanShutdown: true, indexesRebuilt: 1 });
    expect((await stat(segmentFile(0n, ".index"))).size % 8).toBe(0);
    expect(await offsets(log)).toEqual(all);
  });

  it("a missing index and time index are rebuilt", async () => {
    await unlink(segmentFile(6n, ".index"));
    await unlink(segmentFile(6n, ".timeindex"));
    log = await Log.open(dir, config);
    expect(log.recoveryReport.indexesRebuilt).toBe(1);
    expect(await stat(segmentFile(6n, ".index"))).toBeTruthy();
    expect((await log.read(9n, { maxBytes: 1 })).firstOffset).toBe(8n);
  });

  it("a garbage index is rebuilt to exactly what a clean write produced", async () => {
    const good = await readFile(segmentFile(0n, ".index"));
    await writeFile(segmentFile(0n, ".index"), Buffer.from("garbage!garbage!"));
    log = await Log.open(dir, config);
    expect(log.recoveryReport.indexesRebuilt).toBe(1);
    await log.close();
    log = undefined;
    expect(Buffer.compare(await readFile(segmentFile(0n, ".index")), good)).toBe(0);
  });

  it("an index that looks valid but points at the wrong batch is rebuilt on first use", async () => {
    const lying = Buffer.alloc(8);
    lying.writeInt32BE(4, 0); // says offset 4 is at the position of offset 2
    lying.writeInt32BE(BATCH_BYTES, 4);
    await writeFile(segmentFile(0n, ".index"), lying);
    const logger = recordingLogger();
    log = await Log.open(dir, config, { logger });
    expect((await log.read(4n, { maxBytes: 1 })).firstOffset).toBe(4n);
    expect(logger.lines.some((l) => l.level === "warn" && /wrong batch/.test(l.msg))).toBe(true);
  });

  it("a missing epoch checkpoint is rebuilt by scanning the whole log", async () => {
    await unlink(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE));
    log = await Log.open(dir, config);
    expect(log.recoveryReport.segmentsRecovered).toBe(3);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 6n },
      { epoch: 3, startOffset: 12n },
    ]);
  });

  it("epoch entries beyond the recovered log end are dropped", async () => {
    await crash();
    await writeFile(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), "0\n4\n1 0\n2 6\n3 12\n9 40\n");
    log = await Log.open(dir, config);
    expect(log.epochEntries().map((e) => e.epoch)).toEqual([1, 2, 3]);
  });

  it("an unreadable recovery-point checkpoint forces a full scan and is reported", async () => {
    await crash();
    await writeFile(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE), "zzz");
    log = await Log.open(dir, config);
    expect(log.recoveryReport).toMatchObject({
      segmentsRecovered: 3,
      checkpointsReset: [RECOVERY_POINT_CHECKPOINT_FILE],
    });
    expect(await offsets(log)).toEqual(all);
  });

  it("every segment corrupt from the first byte leaves an empty log at the first base", async () => {
    await crash(0n);
    await flipByte(segmentFile(0n, ".log"), 30);
    log = await Log.open(dir, config);
    expect(log.logEndOffset).toBe(0n);
    expect(log.segmentBaseOffsets()).toEqual([0n]);
    expect(log.recoveryReport.segmentsDeleted).toBe(2);
    expect(log.epochEntries()).toEqual([]);
  });
});
