/**
 * Swapping cleaned segments into a log folder atomically, and finishing or undoing a swap a
 * crash interrupted (Kafka's `.cleaned`/`.swap` protocol, with an explicit plan file so the
 * replaced segments are named rather than inferred from offsets):
 *
 * 1. The cleaner writes `<base>.log.cleaned` and fsyncs it (the old segments stay as they are).
 * 2. Commit point: the plan `cleaner-swap` (new base + replaced bases) is written atomically.
 * 3. The replaced segments' files are unlinked (the new base's indexes too), and
 *    `<base>.log.cleaned` is renamed over `<base>.log`; the folder is fsynced.
 * 4. The plan is removed.
 *
 * On open, {@link recoverSwap} redoes steps 3-4 when a plan exists (every step is idempotent:
 * unlinking a missing file is fine, and the rename happens only while the `.cleaned` file is
 * still there), else it deletes stray `.cleaned` files. Either way the folder then holds the
 * old segment set or the new one, never a mix; missing indexes are rebuilt by the loader.
 */
import { readdir, rename, stat } from "node:fs/promises";
import path from "node:path";
import { fsyncDir, isErrno, type Logger, unlinkIfExists } from "@strand/base";
import { LogStorageError } from "../errors.ts";
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  readCheckpoint,
  segmentFilePath,
  TIME_INDEX_SUFFIX,
  writeCheckpoint,
} from "../files.ts";

/** Suffix of a cleaned segment not yet swapped in. */
export const CLEANED_SUFFIX = ".cleaned";
/** The swap plan file of a log folder, present only between commit and completion. */
export const SWAP_PLAN_FILE = "cleaner-swap";

/** One swap: the cleaned segment's base and the bases of the segments it replaces. */
export interface SwapPlan {
  /** Base offset of the cleaned segment (the first replaced segment's base). */
  readonly newBase: bigint;
  /** Base offsets of every replaced segment, newBase included. */
  readonly replacedBases: readonly bigint[];
}

/** Path of the cleaned `.log` file of `base`. */
export function cleanedLogPath(dir: string, base: bigint): string {
  return segmentFilePath(dir, base, LOG_SUFFIX) + CLEANED_SUFFIX;
}

/** Step 2: makes the swap durable (after this a crash completes it). */
export async function commitSwap(dir: string, plan: SwapPlan): Promise<void> {
  await writeCheckpoint(path.join(dir, SWAP_PLAN_FILE), [
    plan.newBase.toString(),
    ...plan.replacedBases.map(String),
  ]);
}

/** Steps 3-4 (also the redo after a crash). */
export async function completeSwap(dir: string, plan: SwapPlan): Promise<void> {
  for (const base of plan.replacedBases) {
    if (base === plan.newBase) continue;
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX])
      await unlinkIfExists(segmentFilePath(dir, base, suffix));
  }
  const cleaned = cleanedLogPath(dir, plan.newBase);
  if (await exists(cleaned)) {
    // The old indexes describe the old file; they go before the file they describe does.
    await unlinkIfExists(segmentFilePath(dir, plan.newBase, INDEX_SUFFIX));
    await unlinkIfExists(segmentFilePath(dir, plan.newBase, TIME_INDEX_SUFFIX));
    await rename(cleaned, segmentFilePath(dir, plan.newBase, LOG_SUFFIX));
  }
  await fsyncDir(dir);
  await unlinkIfExists(path.join(dir, SWAP_PLAN_FILE));
  await fsyncDir(dir);
}

/** What {@link recoverSwap} did on open. */
export type SwapRecovery = "none" | "completed" | "rolled-back";

/**
 * Finishes a committed swap or removes an uncommitted one's files (see the module comment).
 * An unreadable plan cannot be trusted either way, so it fails the open (LogStorageError).
 */
export async function recoverSwap(dir: string, logger: Logger): Promise<SwapRecovery> {
  const planFile = path.join(dir, SWAP_PLAN_FILE);
  const entries = await readCheckpoint(planFile);
  if (entries !== undefined) {
    const plan = parsePlan(planFile, entries);
    await completeSwap(dir, plan);
    logger.warn(
      { dir, newBase: plan.newBase.toString(), replaced: plan.replacedBases.length },
      "completed a cleaner segment swap interrupted by a crash",
    );
    return "completed";
  }
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!name.endsWith(CLEANED_SUFFIX)) continue;
    await unlinkIfExists(path.join(dir, name));
    removed += 1;
  }
  if (removed === 0) return "none";
  await fsyncDir(dir);
  logger.warn({ dir, files: removed }, "removed cleaned segments of an interrupted cleaning");
  return "rolled-back";
}

function parsePlan(file: string, entries: readonly string[][]): SwapPlan {
  const offsets = entries.map((fields) => {
    const value = fields[0];
    if (fields.length !== 1 || value === undefined || !/^\d{1,19}$/.test(value))
      throw new LogStorageError(`swap plan ${file} holds a bad entry "${fields.join(" ")}"`);
    return BigInt(value);
  });
  const [newBase, ...replacedBases] = offsets;
  if (newBase === undefined || !replacedBases.includes(newBase))
    throw new LogStorageError(`swap plan ${file} does not replace its own base`);
  return { newBase, replacedBases };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return false;
    throw error;
  }
}
