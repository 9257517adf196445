// Goal: the durable-file helpers write whole buffers, replace files atomically (tmp, fsync,
// rename, dir fsync: no tmp left, old content replaced), refuse oversized files before reading
// them, and fsync what they write (checked by spying on FileHandle.sync).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  FileTooLargeError,
  isErrno,
  readAt,
  readFileBounded,
  TMP_SUFFIX,
  unlinkIfExists,
  writeAt,
  writeFileAtomic,
} from "../src/files.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "strand-base-files-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it("replaces text content and leaves no tmp file", async () => {
    const file = join(tempDir(), "state");
    writeFileSync(file, "old");
    await writeFileAtomic(file, "new content\n");
    expect(readFileSync(file, "utf8")).toBe("new content\n");
    expect(existsSync(file + TMP_SUFFIX)).toBe(false);
  });

  it("writes byte parts in order", async () => {
    const file = join(tempDir(), "parts");
    await writeFileAtomic(file, [Buffer.from("ab"), new Uint8Array([0x63]), Buffer.from("d")]);
    expect(readFileSync(file, "utf8")).toBe("abcd");
  });

  it("fsyncs the file and its directory before returning", async () => {
    const file = join(tempDir(), "synced");
    const probe = await open(file, "w");
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const original = proto.sync;
    let syncs = 0;
    proto.sync = function (this: unknown) {
      syncs++;
      return original.call(this);
    };
    try {
      await writeFileAtomic(file, "x");
    } finally {
      proto.sync = original;
    }
    expect(syncs).toBe(2); // the tmp file, then the directory after the rename
  });
});

describe("readAt / writeAt", () => {
  it("round-trips at a position and stops at end of file", async () => {
    const file = join(tempDir(), "data");
    const h = await open(file, "w+");
    try {
      await writeAt(h, Buffer.from("hello world"), 3);
      const buf = Buffer.alloc(32);
      expect(await readAt(h, buf, 32, 3)).toBe(11);
      expect(buf.subarray(0, 11).toString()).toBe("hello world");
    } finally {
      await h.close();
    }
  });
});

describe("readFileBounded", () => {
  it("returns null for a missing file and the bytes for a small one", async () => {
    const dir = tempDir();
    expect(await readFileBounded(join(dir, "missing"), 10)).toBeNull();
    writeFileSync(join(dir, "small"), "12345");
    expect((await readFileBounded(join(dir, "small"), 10))?.toString()).toBe("12345");
  });

  it("refuses a file above the bound with the caller's error", async () => {
    const file = join(tempDir(), "big");
    writeFileSync(file, "x".repeat(100));
    await expect(readFileBounded(file, 10)).rejects.toBeInstanceOf(FileTooLargeError);
    await expect(readFileBounded(file, 10, (m) => new RangeError(m))).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});

describe("unlinkIfExists / isErrno", () => {
  it("deletes once, then reports the file gone", async () => {
    const file = join(tempDir(), "gone");
    writeFileSync(file, "");
    expect(await unlinkIfExists(file)).toBe(true);
    expect(await unlinkIfExists(file)).toBe(false);
    const error = await open(file, "r").catch((e: unknown) => e);
    expect(isErrno(error, "ENOENT")).toBe(true);
  });
});
