/**
 * The high-watermark checkpoint of a data dir (Kafka's `replication-offset-checkpoint`),
 * Kafka's text format, written atomically (tmp, fsync, rename, fsync dir):
 *
 * ```
 * 0                 version
 * 2                 number of entries
 * orders 0 1500     topic partition highWatermark
 * orders 1 42
 * ```
 *
 * A replica restarts with HW = min(its log end, the checkpointed HW), so consumers never see
 * an offset go back past what was committed before the restart.
 */
import { open, readFile, rename } from "node:fs/promises";
import path from "node:path";

/** The file's name inside the data dir. */
export const HW_CHECKPOINT_FILE = "replication-offset-checkpoint";
const VERSION = 0;
const ENTRIES_MAX = 1_000_000;

/** Checkpointed HWs by `${topic}-${partition}`. */
export type HighWatermarks = ReadonlyMap<string, bigint>;

/** Reads the checkpoint; a missing file is empty, a corrupt one throws. */
export async function readHighWatermarks(dataDir: string): Promise<HighWatermarks> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, HW_CHECKPOINT_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw error;
  }
  const lines = text.split("\n").filter((l) => l.length > 0);
  if (lines[0] !== String(VERSION)) throw new Error(`unknown ${HW_CHECKPOINT_FILE} version`);
  const count = Number(lines[1]);
  if (
    !Number.isSafeInteger(count) ||
    count < 0 ||
    count > ENTRIES_MAX ||
    lines.length !== count + 2
  )
    throw new Error(`${HW_CHECKPOINT_FILE} entry count does not match its lines`);
  const out = new Map<string, bigint>();
  for (const line of lines.slice(2)) {
    const match = /^(\S+) (\d{1,10}) (\d{1,19})$/.exec(line);
    if (match === null) throw new Error(`bad ${HW_CHECKPOINT_FILE} line "${line.slice(0, 80)}"`);
    out.set(`${match[1]}-${match[2]}`, BigInt(match[3]!));
  }
  return out;
}

/** Writes the checkpoint atomically. */
export async function writeHighWatermarks(
  dataDir: string,
  entries: readonly { topic: string; partition: number; highWatermark: bigint }[],
): Promise<void> {
  const body = [String(VERSION), String(entries.length)];
  for (const e of entries) body.push(`${e.topic} ${e.partition} ${e.highWatermark}`);
  const file = path.join(dataDir, HW_CHECKPOINT_FILE);
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(`${body.join("\n")}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dir = await open(dataDir, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
