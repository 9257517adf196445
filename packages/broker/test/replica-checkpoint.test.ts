// Goal: the HW checkpoint (Kafka's replication-offset-checkpoint) round-trips in Kafka's text
// format and refuses a corrupt file; the manager's single deadline timer fires each deadline
// once, in order, without a timer per waiter.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeadlineTimer } from "../src/replica/deadline-timer.ts";
import {
  HW_CHECKPOINT_FILE,
  readHighWatermarks,
  writeHighWatermarks,
} from "../src/replica/hw-checkpoint.ts";

let dir: string | null = null;
afterEach(async () => {
  if (dir !== null) await rm(dir, { recursive: true, force: true });
  dir = null;
});

describe("HW checkpoint", () => {
  it("round-trips topic partition hw lines; a missing file is empty", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "strand-hw-"));
    expect((await readHighWatermarks(dir)).size).toBe(0);
    await writeHighWatermarks(dir, [
      { topic: "orders", partition: 0, highWatermark: 1500n },
      { topic: "my-topic-name", partition: 12, highWatermark: 9_007_199_254_740_993n },
    ]);
    const read = await readHighWatermarks(dir);
    expect([...read]).toEqual([
      ["orders-0", 1500n],
      ["my-topic-name-12", 9_007_199_254_740_993n],
    ]);
  });

  it("refuses a file whose count does not match its lines", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "strand-hw-"));
    await writeFile(path.join(dir, HW_CHECKPOINT_FILE), "0\n3\norders 0 5\n");
    await expect(readHighWatermarks(dir)).rejects.toThrow(/count/);
  });
});

describe("DeadlineTimer", () => {
  it("wakes no earlier than each deadline, at most once per deadline, until the last one", async () => {
    const fired: number[] = [];
    const start = Date.now();
    const timer = new DeadlineTimer(
      () => Date.now(),
      (nowMs) => fired.push(nowMs - start),
    );
    timer.schedule(start + 60);
    timer.schedule(start + 20);
    await new Promise((r) => setTimeout(r, 200));
    timer.close();
    // Under load both deadlines may be due at the first wake-up; they then coalesce.
    expect(fired.length).toBeGreaterThanOrEqual(1);
    expect(fired.length).toBeLessThanOrEqual(2);
    expect(fired[0]!).toBeGreaterThanOrEqual(19);
    expect(fired.at(-1)!).toBeGreaterThanOrEqual(59);
  });
});
