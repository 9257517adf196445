// Goal: a partition log survives SIGKILL at any moment. A child appends in a loop and is
// killed at seeded random moments, 50 times; after each kill the log reopens as a valid prefix
// of what was written (contiguous offsets, no garbage) holding every batch whose append +
// flush had returned before the kill.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeRecordBatch, iterateBatches } from "@strand/protocol";
import { Log } from "@strand/storage";
import { afterAll, describe, expect, it } from "vitest";
import { runCrashChild, sigkill } from "./support/crash-child.ts";
import { mulberry32, randomInt } from "./support/prng.ts";

const SEED = Number(process.env.STRAND_CRASH_SEED ?? 20261125);
const KILLS = 50;
const appender = join(import.meta.dirname, "fixtures/crash-appender.ts");
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface RunResult {
  readonly ackedLastOffset: bigint;
}

/** Starts the appender, lets it ack `acksBeforeKill` appends, waits `extraMs`, kills it. */
async function runAndKill(
  dir: string,
  seed: number,
  mode: string,
  acksBeforeKill: number,
  extraMs: number,
): Promise<RunResult> {
  let acked = -1n;
  let acks = 0;
  await runCrashChild(
    appender,
    [dir, String(seed), mode],
    (line, child) => {
      if (!line.startsWith("acked ")) return;
      acked = BigInt(line.slice(6));
      acks += 1;
      if (acks === acksBeforeKill) setTimeout(() => sigkill(child), extraMs);
    },
    20_000,
    "appender made no progress in 20 s",
  );
  return { ackedLastOffset: acked };
}

/** Reopens the log, checks it is a contiguous valid prefix, returns its end offset. */
async function verify(dir: string): Promise<{ end: bigint; recovered: boolean }> {
  const log = await Log.open(dir);
  try {
    let expected = log.logStartOffset;
    let position = expected;
    while (position < log.logEndOffset) {
      const read = await log.read(position, { maxBytes: 1024 * 1024 });
      for (const view of iterateBatches(read.records)) {
        const batch = decodeRecordBatch(view.bytes());
        for (const record of batch.records) {
          expect(record.offset).toBe(expected);
          expect(record.value?.toString("utf8").replace(/\.+$/, "")).toBe(`v${expected}`);
          expected += 1n;
        }
      }
      expect(read.nextOffset).toBeGreaterThan(position);
      position = read.nextOffset;
    }
    expect(expected).toBe(log.logEndOffset);
    return { end: log.logEndOffset, recovered: !log.recoveryReport.cleanShutdown };
  } finally {
    await log.close();
  }
}

describe("storage crash safety", () => {
  it(`keeps every acknowledged batch across ${KILLS} SIGKILLs (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const dir = mkdtempSync(join(tmpdir(), "strand-crash-"));
    dirs.push(dir);
    let recoveries = 0;
    let previousEnd = 0n;
    for (let i = 0; i < KILLS; i++) {
      const mode = i % 2 === 0 ? "fsync-on-append" : "flush";
      const acks = randomInt(random, 1, 25);
      const run = await runAndKill(dir, SEED + i, mode, acks, randomInt(random, 0, 15));
      const { end, recovered } = await verify(dir);
      if (recovered) recoveries += 1;
      expect(run.ackedLastOffset, `kill ${i} (seed ${SEED})`).toBeLessThan(end);
      expect(end).toBeGreaterThanOrEqual(previousEnd);
      previousEnd = end;
    }
    expect(recoveries).toBe(KILLS);
  }, 240_000);
});
