/**
 * Kafka's on-disk layout: 20-digit segment file names and the text checkpoint files. The
 * generic durable-file helpers (full reads/writes, directory fsync, atomic replace) are in
 * @strand/base.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { assert, isErrno, writeFileAtomic } from "@strand/base";
import { LogStorageError } from "./errors.ts";

/** Suffix of a segment's log file. */
export const LOG_SUFFIX = ".log";
/** Suffix of a segment's sparse offset index. */
export const INDEX_SUFFIX = ".index";
/** Suffix of a segment's time index. */
export const TIME_INDEX_SUFFIX = ".timeindex";

const OFFSET_DIGITS = 20;
const SEGMENT_NAME = /^(\d{20})\.(log|index|timeindex)$/;

/** Kafka's file name stem: the base offset, zero-padded to 20 digits. */
export function offsetFileStem(baseOffset: bigint): string {
  assert(baseOffset >= 0n, `base offset ${baseOffset} must be non-negative`);
  return baseOffset.toString().padStart(OFFSET_DIGITS, "0");
}

/** Parses `00000000000000000042.log` style names; undefined for anything else. */
export function parseSegmentFileName(
  name: string,
): { baseOffset: bigint; kind: "log" | "index" | "timeindex" } | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return undefined;
  return { baseOffset: BigInt(match[1]!), kind: match[2] as "log" | "index" | "timeindex" };
}

/** Path of one of a segment's three files. */
export function segmentFilePath(dir: string, baseOffset: bigint, suffix: string): string {
  return path.join(dir, offsetFileStem(baseOffset) + suffix);
}

// Checkpoint files are a few lines; anything larger is garbage, not something to read whole.
const CHECKPOINT_BYTES_MAX = 1024 * 1024;
const CHECKPOINT_VERSION = "0";

/**
 * Writes a checkpoint in Kafka's text format: a version line (0), an entry-count line, then
 * one line per entry with space-separated fields.
 */
export async function writeCheckpoint(file: string, entries: readonly string[]): Promise<void> {
  const content = [CHECKPOINT_VERSION, String(entries.length), ...entries].join("\n");
  await writeFileAtomic(file, `${content}\n`);
}

/**
 * Reads a checkpoint written by {@link writeCheckpoint}. Returns undefined when the file does
 * not exist; throws {@link LogStorageError} when it is malformed (wrong version, count, size).
 * Each entry is returned as its space-separated fields.
 */
export async function readCheckpoint(file: string): Promise<string[][] | undefined> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw error;
  }
  if (size > CHECKPOINT_BYTES_MAX) {
    throw new LogStorageError(`checkpoint ${file} is ${size} bytes, more than any valid one`);
  }
  const lines = (await readFile(file, "utf8")).split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines[0] !== CHECKPOINT_VERSION) {
    throw new LogStorageError(`checkpoint ${file} has unknown version line "${lines[0]}"`);
  }
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || count !== lines.length - 2) {
    throw new LogStorageError(
      `checkpoint ${file} declares ${lines[1]} entries, has ${lines.length - 2}`,
    );
  }
  return lines.slice(2).map((line) => line.split(" "));
}

/** Parses a checkpoint field as a non-negative decimal int64, or throws LogStorageError. */
export function parseOffsetField(field: string | undefined, file: string): bigint {
  if (field === undefined || !/^\d{1,19}$/.test(field)) {
    throw new LogStorageError(`checkpoint ${file} holds a malformed offset "${field}"`);
  }
  const value = BigInt(field);
  if (value > 0x7fffffffffffffffn) {
    throw new LogStorageError(`checkpoint ${file} holds offset ${field}, beyond int64`);
  }
  return value;
}

/** Reads a single-offset checkpoint (recovery point, log start offset); undefined if absent. */
export async function readOffsetCheckpoint(file: string): Promise<bigint | undefined> {
  const entries = await readCheckpoint(file);
  if (entries === undefined) return undefined;
  if (entries.length !== 1 || entries[0]!.length !== 1) {
    throw new LogStorageError(`checkpoint ${file} must hold exactly one offset`);
  }
  return parseOffsetField(entries[0]![0], file);
}

/** Writes a single-offset checkpoint atomically. */
export async function writeOffsetCheckpoint(file: string, offset: bigint): Promise<void> {
  assert(offset >= 0n, `checkpointed offset ${offset} must be non-negative`);
  await writeCheckpoint(file, [offset.toString()]);
}
