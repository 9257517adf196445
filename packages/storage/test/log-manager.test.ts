// Goal: the LogManager locks its data dir (a second open fails while the owner lives; a lock
// left by a dead pid is taken over), finds every <topic>-<partition> folder (topics may contain
// '-'), creates and deletes logs, drives retention and flush.ms from an injected scheduler
// that close() cancels, and closes every log cleanly.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogStorageError } from "../src/errors.ts";
import {
  LOCK_FILE,
  LogManager,
  parseTopicPartitionDir,
  type Scheduler,
  topicPartitionDir,
} from "../src/log-manager.ts";
import { buildBatch, manualClock, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
let manager: LogManager | undefined;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await manager?.close();
  manager = undefined;
  await remove();
});

/** A scheduler whose tasks run only when the test says so. */
function manualScheduler(): Scheduler & { tasks: Map<number, () => void>; runAll: () => void } {
  const tasks = new Map<number, () => void>();
  let next = 0;
  return {
    tasks,
    every(_intervalMs, task) {
      next += 1;
      tasks.set(next, task);
      return next;
    },
    cancel(handle) {
      tasks.delete(handle as number);
    },
    runAll() {
      for (const task of tasks.values()) task();
    },
  };
}

describe("topic-partition folders", () => {
  it("parses the partition after the last '-'", () => {
    expect(parseTopicPartitionDir("orders-0")).toEqual({ topic: "orders", partition: 0 });
    expect(parseTopicPartitionDir("my-topic-name-12")).toEqual({
      topic: "my-topic-name",
      partition: 12,
    });
    expect(parseTopicPartitionDir("a--3")).toEqual({ topic: "a-", partition: 3 });
    for (const bad of ["orders", "orders-", "-1", "orders-x", "orders-1.delete", "a/b-1"]) {
      expect(parseTopicPartitionDir(bad), bad).toBeUndefined();
    }
  });

  it("refuses topic names that could escape the data dir", () => {
    expect(() => topicPartitionDir("../etc", 0)).toThrow(LogStorageError);
    expect(() => topicPartitionDir("..", 0)).toThrow(LogStorageError);
    expect(topicPartitionDir("a.b_c-d", 7)).toBe("a.b_c-d-7");
  });
});

describe("lock", () => {
  it("writes our pid and prevents a second open of the same dir", async () => {
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    expect((await readFile(path.join(dir, LOCK_FILE), "utf8")).trim()).toBe(String(process.pid));
    await expect(LogManager.open(dir, { scheduler: manualScheduler() })).rejects.toThrow(
      /locked by running process/,
    );
    await manager.close();
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
  });

  it("takes over a stale lock left by a dead process", async () => {
    // Pid 2^22+ is above Linux's default pid_max range in containers: no such process.
    await writeFile(path.join(dir, LOCK_FILE), "4194000\n");
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    expect((await readFile(path.join(dir, LOCK_FILE), "utf8")).trim()).toBe(String(process.pid));
  });

  it("close releases the lock", async () => {
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    await manager.close();
    manager = undefined;
    expect(await readdir(dir)).not.toContain(LOCK_FILE);
  });
});

describe("logs", () => {
  it("creates, reopens and deletes partition logs", async () => {
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    const log = await manager.getOrCreateLog("my-topic", 3);
    expect(await manager.getOrCreateLog("my-topic", 3)).toBe(log);
    await log.append(buildBatch({ records: 4 }), { assignOffsets: true, leaderEpoch: 0 });
    await manager.getOrCreateLog("other", 0);
    await mkdir(path.join(dir, "not a partition"));
    await manager.close();

    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    const reopened = manager.getLog("my-topic", 3);
    expect(reopened?.logEndOffset).toBe(4n);
    expect(reopened?.recoveryReport.cleanShutdown).toBe(true);
    expect(
      manager
        .logs()
        .map((l) => `${l.topic}/${l.partition}`)
        .sort(),
    ).toEqual(["my-topic/3", "other/0"]);

    expect(await manager.deleteLog("my-topic", 3)).toBe(true);
    expect(manager.getLog("my-topic", 3)).toBeUndefined();
    expect((await readdir(dir)).filter((n) => n.startsWith("my-topic"))).toEqual([]);
    expect(await manager.deleteLog("my-topic", 3)).toBe(false);
  });

  it("concurrent getOrCreateLog calls share one log", async () => {
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    const [a, b] = await Promise.all([
      manager.getOrCreateLog("t", 0),
      manager.getOrCreateLog("t", 0),
    ]);
    expect(a).toBe(b);
  });

  it("finishes a delete interrupted by a crash", async () => {
    await mkdir(path.join(dir, "gone-0.123.delete"));
    manager = await LogManager.open(dir, { scheduler: manualScheduler() });
    expect(await readdir(dir)).not.toContain("gone-0.123.delete");
  });
});

describe("background work", () => {
  it("runs retention and flush.ms checks on the scheduler and cancels them on close", async () => {
    const scheduler = manualScheduler();
    const clock = manualClock(10_000);
    const segmentBytes = buildBatch().length;
    manager = await LogManager.open(dir, {
      scheduler,
      clock: clock.now,
      defaultConfig: { flushMs: 1000 },
    });
    // Retention, flush.ms and the log cleaner.
    expect(scheduler.tasks.size).toBe(3);
    const log = await manager.getOrCreateLog("t", 0, { segmentBytes, retentionMs: 100 });
    for (let i = 0; i < 3; i++)
      await log.append(buildBatch({ timestamp: 10_000n }), { assignOffsets: true, leaderEpoch: 0 });
    expect(log.segmentBaseOffsets()).toEqual([0n, 1n, 2n]);
    clock.advance(5000);
    await manager.applyRetention();
    expect(log.segmentBaseOffsets()).toEqual([2n]);
    expect(log.recoveryPoint).toBe(2n);
    await manager.flushDueAndCheckpoint();
    expect(log.recoveryPoint).toBe(3n);
    scheduler.runAll(); // fire-and-forget path must not throw
    await manager.close();
    manager = undefined;
    expect(scheduler.tasks.size).toBe(0);
  });
});
