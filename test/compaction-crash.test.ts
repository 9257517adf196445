// Goal: log compaction survives SIGKILL at any moment. Between kills the test appends updates
// (and some tombstones) for a few keys to a compacted log; a child then runs cleaning passes
// and is killed at a seeded random moment, 30 times. After each kill the log reopens as either
// the old segment set or a cleaned one — the segments are a subset of the old ones (a swap
// only merges segments into the first one's base), nothing half-swapped is left behind — and
// every surviving record is the one written at its offset, every key's last value (tombstones
// included) survives, and the log end is unchanged.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { Log } from "@strand/storage";
import { afterAll, describe, expect, it } from "vitest";
import { CRASH_CLEANER_CONFIG } from "./fixtures/crash-cleaner-config.ts";
import { runCrashChild, sigkill } from "./support/crash-child.ts";
import { mulberry32, randomInt } from "./support/prng.ts";

const SEED = Number(process.env.STRAND_CRASH_SEED ?? 20261205);
const KILLS = 30;
const KEYS = 12;
const cleaner = join(import.meta.dirname, "fixtures/crash-cleaner.ts");
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Written {
  readonly key: string;
  readonly value: string | null;
}

/** What the test wrote: every record by offset, and each key's last value. */
interface Model {
  readonly byOffset: Map<bigint, Written>;
  readonly last: Map<string, string | null>;
}

/** Appends one round of updates (a tombstone now and then) and closes the log. */
async function appendRound(dir: string, model: Model, random: () => number, round: number) {
  const log = await Log.open(dir, CRASH_CLEANER_CONFIG);
  try {
    const updates = randomInt(random, 20, 40);
    for (let i = 0; i < updates; i++) {
      const key = `k${randomInt(random, 0, KEYS - 1)}`;
      const value = randomInt(random, 0, 9) === 0 ? null : `r${round}-${i}`;
      const batch = encodeRecordBatch({
        baseTimestamp: BigInt(Date.now()),
        records: [{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) }],
      });
      const { firstOffset } = await log.append(batch, { assignOffsets: true, leaderEpoch: 0 });
      model.byOffset.set(firstOffset, { key, value });
      model.last.set(key, value);
    }
    return { segments: log.segmentBaseOffsets(), end: log.logEndOffset };
  } finally {
    await log.close();
  }
}

/** When the parent kills the cleaner child. */
type Kill = { readonly afterOpenMs: number } | { readonly atIoChunk: number };

/**
 * Starts the cleaner child and SIGKILLs it `afterOpenMs` after it opened the log (anywhere:
 * between passes as often as inside one), or at its `atIoChunk`-th chunk of cleaner I/O
 * (inside a pass, reading or writing a cleaned segment, whatever the machine's speed).
 */
async function cleanAndKill(dir: string, kill: Kill): Promise<"killed" | "finished"> {
  let finished = false;
  let chunks = 0;
  await runCrashChild(
    cleaner,
    [dir],
    (line, child) => {
      if (line === "opened" && "afterOpenMs" in kill)
        setTimeout(() => sigkill(child), kill.afterOpenMs);
      if (line === "io" && "atIoChunk" in kill && ++chunks === kill.atIoChunk) sigkill(child);
      if (line === "done") finished = true;
    },
    30_000,
    "cleaner child hung for 30 s",
  );
  return finished ? "finished" : "killed";
}

/** Reopens the log and checks it against the model and the segment set before the child. */
async function verify(dir: string, model: Model, before: { segments: bigint[]; end: bigint }) {
  const log = await Log.open(dir, CRASH_CLEANER_CONFIG);
  try {
    const swap = log.recoveryReport.cleanerSwap;
    const segments = log.segmentBaseOffsets();
    // Old set, or old segments merged into the first of each group: never a base of its own.
    for (const base of segments) expect(before.segments).toContain(base);
    expect(segments.at(-1)).toBe(before.segments.at(-1));
    expect(log.logEndOffset).toBe(before.end);
    const leftovers = readdirSync(dir).filter(
      (n) => n.endsWith(".cleaned") || n === "cleaner-swap",
    );
    expect(leftovers).toEqual([]);
    const last = new Map<string, string | null>();
    let previous = -1n;
    let position = log.logStartOffset;
    while (position < log.logEndOffset) {
      const read = await log.read(position, { maxBytes: 1024 * 1024 });
      for (const view of iterateBatches(read.records)) {
        for (const record of decodeRecordBatch(view.bytes()).records) {
          expect(record.offset).toBeGreaterThan(previous);
          previous = record.offset;
          const key = record.key!.toString();
          const value = record.value === null ? null : record.value.toString();
          expect({ key, value }).toEqual(model.byOffset.get(record.offset));
          last.set(key, value);
        }
      }
      expect(read.nextOffset).toBeGreaterThan(position);
      position = read.nextOffset;
    }
    expect(last).toEqual(model.last);
    return swap;
  } finally {
    await log.close();
  }
}

describe("compaction crash safety", () => {
  it(`keeps the old or the cleaned segment set across ${KILLS} SIGKILLs (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const dir = mkdtempSync(join(tmpdir(), "strand-compaction-crash-"));
    dirs.push(dir);
    const model: Model = { byOffset: new Map(), last: new Map() };
    const outcomes = { killed: 0, finished: 0, "rolled-back": 0, completed: 0, none: 0 };
    for (let i = 0; i < KILLS; i++) {
      const before = await appendRound(dir, model, random, i);
      const delayMs = randomInt(random, 0, 200);
      // Every third kill is aimed at a chunk of a pass's I/O, so the recovery of a half-written
      // cleaned segment or of a committed swap is exercised whatever the machine's speed.
      const kill = i % 3 === 2 ? { atIoChunk: 1 + (delayMs % 8) } : { afterOpenMs: delayMs };
      const outcome = await cleanAndKill(dir, kill);
      outcomes[outcome] += 1;
      outcomes[await verify(dir, model, before)] += 1;
    }
    // Kills land inside passes (the child sleeps on every chunk of I/O, and every third kill
    // is aimed at one): some found a half-written cleaned segment or a committed swap to finish.
    expect(outcomes.killed).toBeGreaterThan(0);
    expect(outcomes["rolled-back"] + outcomes.completed).toBeGreaterThan(0);
    console.info(`compaction crash outcomes (seed ${SEED}): ${JSON.stringify(outcomes)}`);
  }, 300_000);
});
