/**
 * Durable-file helpers shared by the log storage and the Raft storage: full reads and writes
 * (Node may return short counts), directory fsync, and the atomic replace (write tmp, fsync,
 * rename, fsync the directory) that leaves either the old or the new content after a crash.
 */
import { constants, type FileHandle, open, readFile, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { assert } from "./assert.ts";

/** Suffix of a file being replaced; left-overs are deleted by the owner when it opens. */
export const TMP_SUFFIX = ".tmp";

/** Thrown by {@link readFileBounded} for a file larger than any valid one. */
export class FileTooLargeError extends Error {
  override readonly name = "FileTooLargeError";
}

/** fsyncs a directory so that created, renamed or deleted entries survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads exactly `length` bytes at `position` unless the file ends first; returns bytes read. */
export async function readAt(
  handle: FileHandle,
  buffer: Uint8Array,
  length: number,
  position: number,
): Promise<number> {
  assert(length <= buffer.length, "read length exceeds the buffer");
  let done = 0;
  // Each iteration reads >= 1 byte or stops, so the loop is bounded by `length`.
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
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
 * Replaces `file` atomically with `content` (UTF-8 text, or byte parts written in order): a
 * crash leaves the old or the new content, never a torn mix. Durable when this returns.
 */
export async function writeFileAtomic(
  file: string,
  content: string | readonly Uint8Array[],
): Promise<void> {
  const parts = typeof content === "string" ? [Buffer.from(content, "utf8")] : content;
  const tmp = file + TMP_SUFFIX;
  const handle = await open(tmp, "w");
  try {
    let at = 0;
    for (const part of parts) {
      await writeAt(handle, part, at);
      at += part.length;
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
 * refused before anything is allocated. Returns null when the file does not exist. A file
 * above the bound throws `tooLarge(message)`, a {@link FileTooLargeError} by default.
 */
export async function readFileBounded(
  file: string,
  bytesMax: number,
  tooLarge: (message: string) => Error = (message) => new FileTooLargeError(message),
): Promise<Buffer | null> {
  const st = await stat(file).catch((error: unknown) => {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  });
  if (st === null) return null;
  if (st.size > bytesMax)
    throw tooLarge(`${file} is ${st.size} bytes, above the ${bytesMax} limit`);
  const buf = await readFile(file);
  assert(buf.length <= bytesMax, `${file} grew while being read`);
  return buf;
}

/** Deletes a file, ignoring one that is already gone; true when it existed. */
export async function unlinkIfExists(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return false;
    throw error;
  }
}

/** True when `error` is a Node.js system error with the given code. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
