// Goal: the LogManager's cleaner picks the dirtiest compacted log past its ratio, leaves delete
// logs and logs below their ratio alone, cleans only below the bound the broker gives (the high
// watermark), keeps its I/O under the byte budget by sleeping, reports every tick for metrics,
// and stops a running pass when the manager closes.

import { readdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CleanerPassReport, LogCleaner } from "../src/log-cleaner.ts";
import { LogManager, type Scheduler } from "../src/log-manager.ts";
import { keyedBatch, lastValues, readAll } from "./cleaner-support.ts";
import { tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let manager: LogManager | undefined;

const noTimers: Scheduler = { every: () => 0, cancel: () => undefined };
const leader = { assignOffsets: true, leaderEpoch: 0 } as const;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});

afterEach(async () => {
  await manager?.close();
  manager = undefined;
  await remove();
});

async function fill(topic: string, config: object, updates: number): Promise<void> {
  const log = await manager!.getOrCreateLog(topic, 0, { segmentBytes: 2048, ...config });
  for (let i = 0; i < updates; i++)
    await log.append(keyedBatch([[`k${i % 5}`, `v${i}`]], { timestampMs: Date.now() }), leader);
}

describe("LogCleaner", () => {
  it("cleans the dirtiest compacted log and reports each tick", async () => {
    const reports: CleanerPassReport[] = [];
    manager = await LogManager.open(dir, {
      scheduler: noTimers,
      cleaner: { onPass: (r) => reports.push(r) },
    });
    await fill("plain", { cleanupPolicy: "delete" }, 200);
    await fill("compacted", { cleanupPolicy: "compact" }, 200);
    await fill("lazy", { cleanupPolicy: "compact", minCleanableDirtyRatio: 1 }, 20);
    const expected = lastValues((await readAll(manager.getLog("compacted", 0)!)).records);
    const report = await manager.cleaner!.runOnce();
    expect(report.cleaned?.topic).toBe("compacted");
    expect(report.result?.cleaned).toBe(true);
    expect(report.maxDirtyRatio).toBe(1);
    expect(reports).toEqual([report]);
    expect(lastValues((await readAll(manager.getLog("compacted", 0)!)).records)).toEqual(expected);
    // The compacted log is clean now; the lazy one may reach its ratio of 1, the plain never.
    const next = await manager.cleaner!.runOnce();
    expect(next.cleaned?.topic).not.toBe("compacted");
    expect(next.cleaned?.topic).not.toBe("plain");
  });

  it("cleans nothing at or past the bound the broker gives, and skips unknown partitions", async () => {
    manager = await LogManager.open(dir, {
      scheduler: noTimers,
      cleaner: { upperBound: (topic) => (topic === "known" ? 0n : undefined) },
    });
    await fill("known", { cleanupPolicy: "compact" }, 200);
    await fill("unknown", { cleanupPolicy: "compact" }, 200);
    const report = await manager.cleaner!.runOnce();
    expect(report.cleaned).toBeUndefined();
  });

  it("sleeps to keep a pass under the I/O budget", async () => {
    const slept: number[] = [];
    manager = await LogManager.open(dir, { scheduler: noTimers, cleaner: { enabled: false } });
    await fill("compacted", { cleanupPolicy: "compact" }, 300);
    const cleaner = new LogCleaner({
      logs: () => manager!.logs(),
      upperBound: (_t, _p, log) => log.logEndOffset,
      ioMaxBytesPerSecond: 10_000,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const report = await cleaner.runOnce();
    const bytes = report.result!.bytesRead * 2 + report.result!.bytesWritten;
    // Read (map + rewrite) and written bytes at 10 kB/s take seconds; the cleaner waited.
    expect(bytes).toBeGreaterThan(10_000);
    expect(Math.max(...slept)).toBeGreaterThan(500);
  });

  it("a stopped cleaner gives up its pass and leaves no cleaned file", async () => {
    manager = await LogManager.open(dir, { scheduler: noTimers, cleaner: { enabled: false } });
    await fill("compacted", { cleanupPolicy: "compact" }, 300);
    let release: () => void = () => undefined;
    const cleaner = new LogCleaner({
      logs: () => manager!.logs(),
      upperBound: (_t, _p, log) => log.logEndOffset,
      ioMaxBytesPerSecond: 1,
      sleep: () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    });
    const running = cleaner.runOnce();
    await expect.poll(() => release).not.toBe(undefined);
    const stopping = cleaner.stop();
    release();
    await stopping;
    const report = await running;
    expect(report.result).toBeUndefined();
    const files = await readdir(`${dir}/compacted-0`);
    expect(files.filter((f) => f.endsWith(".cleaned"))).toEqual([]);
  });
});
