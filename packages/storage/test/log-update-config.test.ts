// Goal: a log's settings change at run time without reopening it (a topic's config was
// altered): segment.bytes drives the next roll, retention.bytes the next retention pass,
// flush.messages the next flush decision, max.message.bytes the next append; a bad value is
// refused naming the setting and changes nothing; LogManager.reconfigureLog merges over the
// manager's defaults, so an override that goes away returns to the default.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_LOG_CONFIG } from "../src/config.ts";
import { InvalidLogConfigError, RecordTooLargeError } from "../src/errors.ts";
import { Log } from "../src/log.ts";
import { LogManager, type Scheduler } from "../src/log-manager.ts";
import { buildBatch, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let log: Log | undefined;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await log?.close().catch(() => undefined);
  log = undefined;
  await remove();
});

const leader = { assignOffsets: true, leaderEpoch: 0 } as const;
const idleScheduler: Scheduler = { every: () => 0, cancel: () => undefined };

async function appendBatches(target: Log, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await target.append(buildBatch({ valueBytes: 100 }), leader);
}

describe("Log.updateConfig", () => {
  it("segment.bytes applies to the next roll decision, lowered then raised", async () => {
    log = await Log.open(dir);
    await appendBatches(log, 5);
    expect(log.segmentBaseOffsets()).toHaveLength(1);
    await log.updateConfig({ segmentBytes: 200 });
    await appendBatches(log, 3);
    // The big segment rolls at once; each new batch (~180 bytes) then fills a segment.
    expect(log.segmentBaseOffsets()).toHaveLength(4);
    await log.updateConfig({ segmentBytes: 1024 * 1024 });
    await appendBatches(log, 3);
    expect(log.segmentBaseOffsets()).toHaveLength(4);
  });

  it("retention.bytes applies to the next retention pass", async () => {
    // Batches are stamped 1000 ms, so at 2000 ms retention.ms (7 days) deletes nothing.
    log = await Log.open(dir, { segmentBytes: 200 });
    await appendBatches(log, 6);
    expect((await log.applyRetention(2000)).segmentsDeleted).toBe(0);
    await log.updateConfig({ retentionBytes: 400 });
    const result = await log.applyRetention(2000);
    expect(result.segmentsDeleted).toBeGreaterThan(0);
    expect(log.sizeBytes).toBeLessThanOrEqual(400 + 200);
  });

  it("flush.messages applies to the next flush decision", async () => {
    log = await Log.open(dir);
    await appendBatches(log, 2);
    expect(log.recoveryPoint).toBe(0n);
    await log.updateConfig({ flushMessages: 1 });
    await appendBatches(log, 1);
    expect(log.recoveryPoint).toBe(3n);
  });

  it("max.message.bytes applies to the next append", async () => {
    log = await Log.open(dir);
    await appendBatches(log, 1);
    await log.updateConfig({ maxMessageBytes: 100 });
    await expect(log.append(buildBatch({ valueBytes: 100 }), leader)).rejects.toBeInstanceOf(
      RecordTooLargeError,
    );
  });

  it("refuses a bad value naming it and keeps the old config", async () => {
    log = await Log.open(dir, { segmentBytes: 4096 });
    await expect(log.updateConfig({ segmentBytes: 10 })).rejects.toThrow(
      new InvalidLogConfigError(`segmentBytes must be between 61 and ${2 ** 31 - 1}, got 10`),
    );
    expect(log.config.segmentBytes).toBe(4096);
    await appendBatches(log, 1); // still usable
  });
});

describe("LogManager.reconfigureLog", () => {
  it("merges over the manager's defaults; a removed override returns to the default", async () => {
    const manager = await LogManager.open(dir, {
      scheduler: idleScheduler,
      defaultConfig: { segmentBytes: 8192 },
    });
    try {
      const managed = await manager.getOrCreateLog("t", 0, { retentionMs: 1000 });
      expect(managed.config).toMatchObject({ segmentBytes: 8192, retentionMs: 1000 });
      await manager.reconfigureLog(managed, { segmentBytes: 300 });
      expect(managed.config).toMatchObject({
        segmentBytes: 300,
        retentionMs: DEFAULT_LOG_CONFIG.retentionMs,
      });
      await manager.reconfigureLog(managed, {});
      expect(managed.config.segmentBytes).toBe(8192);
    } finally {
      await manager.close();
    }
  });
});
