// Goal: FileStorage keeps exactly what it acknowledged across close/reopen, cuts a torn or
// corrupt log tail (without trusting on-disk lengths), replaces the hard state atomically, and
// survives snapshot + compaction + reload with the same reads as MemoryStorage.
import { randomUUID } from "node:crypto";
import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Entry, RaftStorage, ReplicaKey } from "../src/core/index.ts";
import { directoryId, index, MemoryStorage, nodeId, term } from "../src/core/index.ts";
import { RaftStorageError } from "../src/driver/errors.ts";
import { FileStorage } from "../src/driver/file-storage.ts";

const voters: ReplicaKey[] = [
  { id: nodeId(1), dir: directoryId("d1") },
  { id: nodeId(2), dir: directoryId("d2") },
];
const enc = new TextEncoder();

function normal(i: number, t: number, text = `e${i}`): Entry {
  return { type: "normal", index: index(i), term: term(t), data: enc.encode(text) };
}
function range(lo: number, hi: number, t: number): Entry[] {
  return Array.from({ length: hi - lo + 1 }, (_, k) => normal(lo + k, t));
}

/** Everything a RaftStorage reader can see, for comparing two storages. */
function view(s: RaftStorage): unknown {
  const first = s.firstIndex();
  const last = s.lastIndex();
  return {
    hs: s.hardState(),
    snap: { meta: s.snapshot().meta, data: [...s.snapshot().data] },
    first,
    last,
    baseTerm: s.term(index(first - 1)),
    entries: s.entries(first, index(last + 1), 1 << 20),
  };
}

let dir = "";
const opened: FileStorage[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "strand-raft-fs-"));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

async function openStorage(
  extra: Partial<Parameters<typeof FileStorage.open>[0]> = {},
): Promise<FileStorage> {
  const s = await FileStorage.open({ dir, nodeId: nodeId(1), bootstrapVoters: voters, ...extra });
  opened.push(s);
  return s;
}
async function reopen(s: FileStorage): Promise<FileStorage> {
  await s.close();
  return openStorage();
}

describe("FileStorage", () => {
  it("formats a directory: meta.json with a uuid directory id, refused for another node id", async () => {
    const s = await openStorage();
    expect(s.directoryId).toMatch(/^[0-9a-f-]{36}$/);
    const meta = JSON.parse(await readFile(path.join(dir, "meta.json"), "utf8"));
    expect(meta).toEqual({ version: 1, nodeId: 1, directoryId: s.directoryId });
    expect(s.snapshot().meta).toEqual({ index: 0, term: 0, voters });
    const again = await reopen(s);
    expect(again.directoryId).toBe(s.directoryId);
    await expect(
      FileStorage.open({ dir, nodeId: nodeId(2), bootstrapVoters: voters }),
    ).rejects.toThrow(RaftStorageError);
    const wanted = directoryId(randomUUID());
    await expect(openStorage({ directoryId: wanted })).rejects.toThrow(/directory id/);
  });

  it("reloads after close with identical state, like a MemoryStorage given the same writes", async () => {
    const s = await openStorage();
    const mem = new MemoryStorage({ bootstrapVoters: voters });
    const writes: Entry[][] = [
      range(1, 5, 1),
      [{ type: "noop", index: index(6), term: term(2) }],
      [
        {
          type: "config",
          index: index(7),
          term: term(2),
          voters: [...voters, { id: nodeId(3), dir: directoryId("d3") }],
        },
      ],
      range(8, 12, 2),
      range(10, 11, 3), // conflicting suffix: 10..12@2 replaced by 10..11@3
    ];
    for (const w of writes) {
      await s.append(w);
      mem.append(w);
    }
    const hs = { term: term(3), vote: voters[1]!, commit: index(9) };
    await s.setHardState(hs);
    mem.setHardState(hs);
    expect(view(s)).toEqual(view(mem));
    const r = await reopen(s);
    expect(view(r)).toEqual(view(mem));
    expect(r.lastIndex()).toBe(11);
    expect(r.term(index(10))).toBe(3);
  });

  it("cuts a torn tail on reopen and keeps appending after it", async () => {
    const s = await openStorage();
    await s.append(range(1, 10, 1));
    await s.close();
    const log = path.join(dir, "log");
    const size = (await stat(log)).size;
    await truncate(log, size - 3); // the last record lost its last 3 bytes
    const r = await openStorage();
    expect(r.lastIndex()).toBe(9);
    expect(r.entries(index(1), index(10), 100).map((e) => e.index)).toEqual(
      range(1, 9, 1).map((e) => e.index),
    );
    await r.append([normal(10, 2)]);
    const again = await reopen(r);
    expect(again.lastIndex()).toBe(10);
    expect(again.term(index(10))).toBe(2);
  });

  it("cuts at a flipped byte (crc) and at garbage appended after the last record", async () => {
    const s = await openStorage();
    await s.append(range(1, 6, 1));
    await s.close();
    const log = path.join(dir, "log");
    await appendFile(log, Buffer.from("garbage that is not a record"));
    let r = await openStorage();
    expect(r.lastIndex()).toBe(6);
    await r.close();
    const bytes = await readFile(log);
    bytes[bytes.length - 2]! ^= 0xff; // inside the payload of entry 6
    await writeFile(log, bytes);
    r = await openStorage();
    expect(r.lastIndex()).toBe(5);
  });

  it("does not trust a corrupt length: a 4 GiB record length is cut, not allocated", async () => {
    const s = await openStorage();
    await s.append(range(1, 3, 1));
    await s.close();
    const log = path.join(dir, "log");
    const size = (await stat(log)).size;
    const frame = Buffer.alloc(8);
    frame.writeUInt32BE(0xfffffff0, 0); // claims ~4 GiB of body
    await appendFile(log, frame);
    const before = process.memoryUsage().arrayBuffers;
    const r = await openStorage();
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(r.lastIndex()).toBe(3);
    expect((await stat(log)).size).toBe(size);
  });

  it("refuses a log whose header is corrupt instead of guessing", async () => {
    const s = await openStorage();
    await s.append(range(1, 3, 1));
    await s.close();
    const log = path.join(dir, "log");
    const bytes = await readFile(log);
    bytes[9]! ^= 1;
    await writeFile(log, bytes);
    await expect(openStorage()).rejects.toThrow(/log header crc/);
  });

  it("replaces the hard state atomically: a left-over tmp file is ignored, the file is never torn", async () => {
    const s = await openStorage();
    const hs1 = { term: term(4), vote: voters[0]!, commit: index(0) };
    await s.setHardState(hs1);
    await s.close();
    // A crash while writing the next hard state leaves only the tmp file behind.
    await writeFile(path.join(dir, "hard-state.tmp"), '{"hardState":"{\\"term\\":5');
    const r = await openStorage();
    expect(r.hardState()).toEqual(hs1);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    await r.setHardState({ term: term(5), vote: null, commit: index(0) });
    expect((await reopen(r)).hardState()).toEqual({ term: 5, vote: null, commit: 0 });
    // A flipped byte in the committed file is detected, not silently read as another vote.
    const file = path.join(dir, "hard-state");
    await writeFile(file, (await readFile(file, "utf8")).replace('\\"term\\":5', '\\"term\\":6'));
    await expect(openStorage()).rejects.toThrow(/hard-state is corrupt/);
  });

  it("snapshots, compacts behind the snapshot and reloads the same state", async () => {
    const s = await openStorage();
    await s.append(range(1, 20, 1));
    await s.setHardState({ term: term(1), vote: null, commit: index(20) });
    const meta = { index: index(15), term: term(1), voters };
    await s.createSnapshot(meta, enc.encode("state@15"));
    await s.compact(index(12));
    expect(s.firstIndex()).toBe(13);
    expect(s.term(index(12))).toBe(1);
    expect(s.term(index(11))).toBeNull();
    const r = await reopen(s);
    expect(view(r)).toEqual(view(s));
    expect(new TextDecoder().decode(r.snapshot().data)).toBe("state@15");
    const names = await readdir(dir);
    expect(names.filter((n) => n.startsWith("snapshot-"))).toEqual([
      "snapshot-00000000000000000001-00000000000000000015.bin",
    ]);
    await r.compact(index(15));
    await r.append(range(21, 22, 2));
    const again = await reopen(r);
    expect(again.firstIndex()).toBe(16);
    expect(again.lastIndex()).toBe(22);
  });

  it("installs a leader's snapshot; a crash before the log rewrite drops the stale entries", async () => {
    const s = await openStorage();
    await s.append(range(1, 8, 1));
    const snap = { meta: { index: index(30), term: term(4), voters }, data: enc.encode("leader") };
    await s.applySnapshot(snap);
    await s.append(range(31, 32, 4));
    const r = await reopen(s);
    expect([r.firstIndex(), r.lastIndex(), r.term(index(30))]).toEqual([31, 32, 4]);
    await r.close();
    // Simulate the crash: put a stale log back beside the new snapshot.
    const stale = path.join(dir, "stale");
    await rm(stale, { recursive: true, force: true });
    const other = await FileStorage.open({
      dir: stale,
      nodeId: nodeId(1),
      bootstrapVoters: voters,
    });
    await other.append(range(1, 8, 1));
    await other.close();
    await writeFile(path.join(dir, "log"), await readFile(path.join(stale, "log")));
    const fixed = await openStorage();
    expect([fixed.firstIndex(), fixed.lastIndex(), fixed.term(index(30))]).toEqual([31, 30, 4]);
  });

  it("fails for good after an I/O error and refuses further writes", async () => {
    const s = await openStorage();
    await s.append(range(1, 2, 1));
    await rm(dir, { recursive: true, force: true });
    await expect(s.setHardState({ term: term(1), vote: null, commit: index(0) })).rejects.toThrow();
    await expect(s.append([normal(3, 1)])).rejects.toThrow(/unusable/);
  });
});
