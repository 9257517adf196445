/**
 * File helpers of the Raft storage: full reads/writes (Node may return short counts),
 * directory fsync and the atomic replace (write tmp, fsync, rename, fsync the directory).
 * A copy of the pattern in @strand/storage, which raft may not import (DESIGN.md §1).
 */
import { constants, type FileHandle, open, readFile, rename, stat } from "node:fs/promises";
import path from "node:path";
import { assert } from "../core/assert.ts";
import { RaftStorageError } from "./errors.ts";

/** Suffix of a file being replaced; left-overs are deleted when the storage opens. */
export const TMP_SUFFIX = ".tmp";

/** fsyncs a directory so created, renamed or deleted entries survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `buffer` at `position`, looping over short writes. */
export async function writeAt(
  handle: FileHandle,
  buffer: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  // Each iteration writes >= 1 byte (asserted), so the loop is bounded by buffer.length.
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(
      buffer,
      done,
      buffer.length - done,
      position + done,
    );
    assert(bytesWritten > 0, "write made no progress");
    done += bytesWritten;
  }
}

/**
 * Replaces `file` atomically with `parts`: a crash leaves the old or the new content, never a
 * mix. The new content is durable when this returns.
 */
export async function writeFileAtomic(file: string, parts: readonly Uint8Array[]): Promise<void> {
  const tmp = file + TMP_SUFFIX;
  const handle = await open(tmp, "w");
  try {
    let at = 0;
    for (const p of parts) {
      await writeAt(handle, p, at);
      at += p.length;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/**
 * Reads a whole file after checking its size against `bytesMax`, so a huge or lying file is
 * refused before anything is allocated. Returns null when the file does not exist.
 */
export async function readFileBounded(file: string, bytesMax: number): Promise<Buffer | null> {
  const st = await stat(file).catch((error: unknown) => {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  });
  if (st === null) return null;
  if (st.size > bytesMax) {
    throw new RaftStorageError(`${file} is ${st.size} bytes, above the ${bytesMax} limit`);
  }
  const buf = await readFile(file);
  assert(buf.length <= bytesMax, `${file} grew while being read`);
  return buf;
}

/** True when `error` is a Node.js system error with the given code. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
