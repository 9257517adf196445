// Goal: LogConfig defaults are Kafka's and out-of-range values are refused with a typed
// error; the flush policy fsyncs per append with fsyncOnAppend or flush.messages, on flush.ms
// via the injected clock, and otherwise only on flush()/roll/close, advancing the recovery
// point exactly then; an I/O failure takes the log offline instead of guessing.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_LOG_CONFIG, resolveLogConfig } from "../src/config.ts";
import { InvalidLogConfigError, LogStorageError } from "../src/errors.ts";
import { Log } from "../src/log.ts";
import { RECOVERY_POINT_CHECKPOINT_FILE } from "../src/log-loader.ts";
import { buildBatch, manualClock, tempDir } from "./helpers.ts";

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

describe("LogConfig", () => {
  it("defaults are Kafka's", () => {
    expect(DEFAULT_LOG_CONFIG).toMatchObject({
      segmentBytes: 1073741824,
      segmentMs: 604800000,
      indexIntervalBytes: 4096,
      retentionMs: 604800000,
      retentionBytes: -1,
      fsyncOnAppend: false,
      maxMessageBytes: 1048588,
    });
    expect(resolveLogConfig({})).toEqual(DEFAULT_LOG_CONFIG);
  });

  it.each([
    [{ segmentBytes: 10 }],
    [{ segmentBytes: 2 ** 31 }],
    [{ retentionMs: -2 }],
    [{ flushMessages: 0 }],
    [{ indexIntervalBytes: 1.5 }],
    [{ segmentMs: 0 }],
  ])("refuses %o", (override) => {
    expect(() => resolveLogConfig(override)).toThrow(InvalidLogConfigError);
  });
});

describe("flush policy", () => {
  it("default: no fsync per append; flush() advances and checkpoints the recovery point", async () => {
    log = await Log.open(dir);
    await log.append(buildBatch({ records: 5 }), leader);
    expect(log.recoveryPoint).toBe(0n);
    await log.flush();
    expect(log.recoveryPoint).toBe(5n);
    expect(await readFile(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE), "utf8")).toBe(
      "0\n1\n5\n",
    );
  });

  it("fsyncOnAppend: every acknowledged append is below the recovery point", async () => {
    log = await Log.open(dir, { fsyncOnAppend: true });
    await log.append(buildBatch({ records: 5 }), leader);
    expect(log.recoveryPoint).toBe(5n);
  });

  it("flush.messages: fsync once that many messages are unflushed", async () => {
    log = await Log.open(dir, { flushMessages: 4 });
    await log.append(buildBatch({ records: 3 }), leader);
    expect(log.recoveryPoint).toBe(0n);
    await log.append(buildBatch({ records: 1 }), leader);
    expect(log.recoveryPoint).toBe(4n);
  });

  it("flush.ms: fsync on the first append (or tick) after the interval", async () => {
    const clock = manualClock();
    log = await Log.open(dir, { flushMs: 1000 }, { clock: clock.now });
    await log.append(buildBatch(), leader);
    expect(log.recoveryPoint).toBe(0n);
    clock.advance(1000);
    expect(await log.flushIfDue(clock.now())).toBe(true);
    expect(log.recoveryPoint).toBe(1n);
    await log.append(buildBatch(), leader);
    clock.advance(1000);
    await log.append(buildBatch(), leader);
    expect(log.recoveryPoint).toBe(3n);
  });
});

describe("failure funnel", () => {
  it("an I/O error during append takes the log offline with a storage error", async () => {
    log = await Log.open(dir);
    await log.append(buildBatch(), leader);
    // Sabotage: close the active segment's file behind the log's back.
    const segments = (log as unknown as { segments: Array<{ handle: { close(): Promise<void> } }> })
      .segments;
    await segments.at(-1)!.handle.close();
    await expect(log.append(buildBatch(), leader)).rejects.toBeInstanceOf(LogStorageError);
    await expect(log.append(buildBatch(), leader)).rejects.toThrow(/offline/);
    await expect(log.read(0n, { maxBytes: 100 })).rejects.toThrow(/offline/);
    await log.close();
    log = await Log.open(dir);
    expect(log.recoveryReport.cleanShutdown).toBe(false);
    expect(log.logEndOffset).toBe(1n);
  });

  it("operations after close are refused", async () => {
    log = await Log.open(dir);
    await log.close();
    await expect(log.append(buildBatch(), leader)).rejects.toThrow(/closed/);
    log = undefined;
  });
});
