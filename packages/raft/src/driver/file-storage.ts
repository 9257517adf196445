/**
 * A durable {@link RaftStorage}: the write operations of {@link MemoryStorage} (append with a
 * conflicting-suffix truncation, setHardState, applySnapshot, createSnapshot, compact), each
 * durable (fsynced) when its promise resolves. Reads are synchronous, from memory: the live log
 * (entries after the compaction point) and the latest snapshot are cached, which suits the
 * small, structured entries of a metadata log. Layout of the directory:
 *
 * - `meta.json`: format version, node id and directory id (a uuid chosen at format time).
 * - `hard-state`: term, vote and commit as JSON with a CRC-32C, replaced atomically.
 * - `log`: length-prefixed, CRC-32C'd entries after a header naming the compaction point
 *   (byte layout in codec.ts); appended and fdatasynced; a torn or corrupt tail is cut on open.
 * - `snapshot-<term>-<index>.bin`: the latest snapshot, written atomically; older ones deleted.
 *
 * Why not @strand/storage: raft may import no Strand package but protocol (docs/design.md §1), and
 * a Raft log needs in-place suffix truncation and term lookups that a Kafka segment does not.
 */
import { randomUUID } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, unlink } from "node:fs/promises";
import path from "node:path";
import {
  assert,
  fsyncDir,
  type Logger,
  noopLogger,
  readFileBounded as readBounded,
  TMP_SUFFIX,
  writeAt,
  writeFileAtomic,
} from "@strand/base";
import { crc32c } from "@strand/protocol";
import type { RaftStorage } from "../core/storage.ts";
import type {
  DirectoryId,
  Entry,
  HardState,
  Index,
  NodeId,
  ReplicaKey,
  Snapshot,
  SnapshotMeta,
  Term,
} from "../core/types.ts";
import { directoryId, index, nodeId, term } from "../core/types.ts";
import {
  DecodeError,
  decodeLogHeader,
  decodeSnapshotFile,
  encodeLogHeader,
  encodeRecords,
  encodeSnapshotFile,
  LOG_HEADER_BYTES,
  readRecord,
  recordBytes,
  SNAPSHOT_HEADER_BYTES,
  VOTERS_BYTES_MAX,
} from "./codec.ts";
import { RaftStorageError } from "./errors.ts";

/** Reads a whole file bounded by `bytesMax`; an oversized file is a RaftStorageError. */
function readFileBounded(file: string, bytesMax: number): Promise<Buffer | null> {
  return readBounded(file, bytesMax, (message) => new RaftStorageError(message));
}

/** Name of the metadata file. */
export const META_FILE = "meta.json";
/** Name of the hard state file. */
export const HARD_STATE_FILE = "hard-state";
/** Name of the log file. */
export const LOG_FILE = "log";
const SNAPSHOT_NAME = /^snapshot-(\d{20})-(\d{20})\.bin$/;
/** Small JSON files (meta, hard state) larger than this are garbage, not read. */
const SMALL_FILE_BYTES_MAX = 64 * 1024;
const META_VERSION = 1;

/** Default largest entry body accepted on read (and written). */
export const DEFAULT_ENTRY_BYTES_MAX = 16 * 1024 * 1024;
/** Default largest log file read at open. */
export const DEFAULT_LOG_BYTES_MAX = 1024 * 1024 * 1024;
/** Default largest snapshot data accepted. */
export const DEFAULT_SNAPSHOT_BYTES_MAX = 1024 * 1024 * 1024;

/** Options of {@link FileStorage.open}. */
export interface FileStorageOptions {
  /** The storage directory (created if missing). */
  readonly dir: string;
  /** This node's id; a directory formatted for another id is refused. */
  readonly nodeId: NodeId;
  /**
   * The initial voter set, written as the snapshot at index 0 when the directory holds none
   * (Kafka's `--initial-controllers`). Ignored once the directory has a snapshot.
   */
  readonly bootstrapVoters?: readonly ReplicaKey[];
  /** Directory id to format with (default: a random uuid). Must match an existing one. */
  readonly directoryId?: DirectoryId;
  readonly logger?: Logger;
  /** Largest entry body (bytes) accepted; default {@link DEFAULT_ENTRY_BYTES_MAX}. */
  readonly entryBytesMax?: number;
  /** Largest log file (bytes) read at open; default {@link DEFAULT_LOG_BYTES_MAX}. */
  readonly logBytesMax?: number;
  /** Largest snapshot data (bytes); default {@link DEFAULT_SNAPSHOT_BYTES_MAX}. */
  readonly snapshotBytesMax?: number;
}

interface Limits {
  readonly entryBytesMax: number;
  readonly logBytesMax: number;
  readonly snapshotBytesMax: number;
}

/** The contents of `meta.json`. */
export interface StorageMeta {
  readonly version: number;
  readonly nodeId: NodeId;
  readonly directoryId: DirectoryId;
}

/** A durable, file-backed {@link RaftStorage}. One operation at a time (the driver's loop). */
export class FileStorage implements RaftStorage {
  /** The storage directory. */
  readonly dir: string;
  /** This node's id, as recorded in meta.json. */
  readonly nodeId: NodeId;
  /** The directory id chosen when the directory was formatted. */
  readonly directoryId: DirectoryId;
  private readonly logger: Logger;
  private readonly limits: Limits;
  private hs: HardState = { term: term(0), vote: null, commit: index(0) };
  private snap: Snapshot;
  private baseIndex: Index = index(0);
  private baseTerm: Term = term(0);
  /** ents[k] has index baseIndex + 1 + k and starts at byte positions[k] of the log file. */
  private ents: Entry[] = [];
  private positions: number[] = [];
  private logEnd = LOG_HEADER_BYTES;
  private log: FileHandle | null = null;
  private busy = false;
  private failure: unknown = null;

  private constructor(
    meta: StorageMeta,
    dir: string,
    limits: Limits,
    logger: Logger,
    snap: Snapshot,
  ) {
    this.dir = dir;
    this.nodeId = meta.nodeId;
    this.directoryId = meta.directoryId;
    this.limits = limits;
    this.logger = logger;
    this.snap = snap;
  }

  /**
   * Opens (formatting if needed) the storage in `options.dir`: reads meta.json, the latest
   * snapshot, the hard state and the log, and cuts a torn or corrupt log tail.
   */
  static async open(options: FileStorageOptions): Promise<FileStorage> {
    const logger = options.logger ?? noopLogger;
    const limits: Limits = {
      entryBytesMax: options.entryBytesMax ?? DEFAULT_ENTRY_BYTES_MAX,
      logBytesMax: options.logBytesMax ?? DEFAULT_LOG_BYTES_MAX,
      snapshotBytesMax: options.snapshotBytesMax ?? DEFAULT_SNAPSHOT_BYTES_MAX,
    };
    const dir = options.dir;
    await mkdir(dir, { recursive: true });
    await removeLeftovers(dir);
    const meta = await openMeta(dir, options.nodeId, options.directoryId);
    let snap = await loadLatestSnapshot(dir, limits);
    if (snap === null) {
      const voters = options.bootstrapVoters ?? [];
      if (voters.length === 0) {
        throw new RaftStorageError(`${dir} has no snapshot: bootstrapVoters are required`);
      }
      snap = {
        meta: { index: index(0), term: term(0), voters: [...voters] },
        data: new Uint8Array(0),
      };
      await writeFileAtomic(
        path.join(dir, snapshotName(snap.meta)),
        encodeSnapshotFile(snap.meta, snap.data),
      );
    }
    const s = new FileStorage(meta, dir, limits, logger, snap);
    s.hs = (await readHardState(dir)) ?? s.hs;
    await s.openLog();
    s.clampCommit();
    logger.info(
      {
        dir,
        nodeId: meta.nodeId,
        directoryId: meta.directoryId,
        firstIndex: s.firstIndex(),
        lastIndex: s.lastIndex(),
        term: s.hs.term,
      },
      "raft storage opened",
    );
    return s;
  }

  // ------------------------------------------------------------------ reads

  hardState(): HardState {
    return this.hs;
  }
  snapshot(): Snapshot {
    return this.snap;
  }
  firstIndex(): Index {
    return index(this.baseIndex + 1);
  }
  lastIndex(): Index {
    return index(this.baseIndex + this.ents.length);
  }

  term(i: Index): Term | null {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.lastIndex()) return null;
    return this.ents[i - this.baseIndex - 1]!.term;
  }

  entries(lo: Index, hi: Index, maxCount: number): readonly Entry[] {
    assert(lo >= this.firstIndex() && lo <= hi, `entries(${lo}, ${hi}): compacted or inverted`);
    assert(hi <= this.lastIndex() + 1, `entries(${lo}, ${hi}): beyond last ${this.lastIndex()}`);
    const first = this.baseIndex + 1;
    const end = Math.min(hi, lo + Math.max(1, maxCount));
    return this.ents.slice(lo - first, end - first);
  }

  // ------------------------------------------------------------------ writes

  /** Persists the hard state (atomic replace); durable when the promise resolves. */
  setHardState(hs: HardState): Promise<void> {
    return this.op(async () => {
      assert(hs.term >= this.hs.term, `hard state term went back ${this.hs.term} -> ${hs.term}`);
      await writeFileAtomic(path.join(this.dir, HARD_STATE_FILE), [encodeHardState(hs)]);
      this.hs = hs;
    });
  }

  /**
   * Appends entries, first truncating stored entries at or after `entries[0].index` (a
   * conflicting suffix). Entries at or below the compaction point are skipped. Durable on return.
   */
  append(entries: readonly Entry[]): Promise<void> {
    return this.op(async () => {
      const live = entries.filter((e) => e.index > this.baseIndex);
      if (live.length === 0) return;
      const first = live[0]!.index;
      assert(
        first <= this.lastIndex() + 1,
        `append at ${first} leaves a gap after ${this.lastIndex()}`,
      );
      live.forEach((e, k) => {
        assert(e.index === first + k, `append: index ${e.index} out of order`);
        assert(recordBytes(e) - 8 <= this.limits.entryBytesMax, `entry ${e.index} too large`);
      });
      const log = this.log!;
      const keep = first - this.baseIndex - 1;
      if (keep < this.ents.length) {
        const cut = this.positions[keep]!;
        this.logger.info(
          { from: first, entries: this.ents.length - keep },
          "truncating a conflicting log suffix",
        );
        await log.truncate(cut);
        this.ents.length = keep;
        this.positions.length = keep;
        this.logEnd = cut;
      }
      const buf = encodeRecords(live);
      await writeAt(log, buf, this.logEnd);
      await log.datasync();
      let at = this.logEnd;
      for (const e of live) {
        this.ents.push(e);
        this.positions.push(at);
        at += recordBytes(e);
      }
      this.logEnd = at;
    });
  }

  /** Replaces the whole log with a snapshot received from the leader. Durable on return. */
  applySnapshot(snapshot: Snapshot): Promise<void> {
    return this.op(async () => {
      assert(snapshot.meta.index >= this.snap.meta.index, "applySnapshot: older than current");
      await this.writeSnapshot(snapshot);
      await this.rewriteLog(snapshot.meta.index, snapshot.meta.term, []);
      await this.deleteSnapshotsBefore(snapshot.meta);
    });
  }

  /** Records a snapshot the local state machine took at `meta.index` (an applied index). */
  createSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    return this.op(async () => {
      assert(meta.index > this.snap.meta.index, `snapshot at ${meta.index} is not newer`);
      assert(this.term(meta.index) === meta.term, `snapshot term mismatch at ${meta.index}`);
      await this.writeSnapshot({ meta, data });
      await this.deleteSnapshotsBefore(meta);
    });
  }

  /**
   * Discards entries up to and including `upTo` (covered by the snapshot) by atomically
   * replacing the log file with one holding only the entries after `upTo`.
   */
  compact(upTo: Index): Promise<void> {
    return this.op(async () => {
      assert(
        upTo <= this.snap.meta.index,
        `compact(${upTo}) beyond snapshot ${this.snap.meta.index}`,
      );
      if (upTo <= this.baseIndex) return;
      const t = this.term(upTo);
      assert(t !== null, `compact(${upTo}): no such entry`);
      await this.rewriteLog(upTo, t, this.ents.slice(upTo - this.baseIndex));
    });
  }

  /** Closes the log file. Further operations fail. */
  async close(): Promise<void> {
    const log = this.log;
    this.log = null;
    this.failure ??= new RaftStorageError("storage closed");
    await log?.close();
  }

  // ------------------------------------------------------------------ internals

  /** Runs one write operation; the first I/O error fails the storage for good (fsyncgate). */
  private async op(fn: () => Promise<void>): Promise<void> {
    if (this.failure !== null) {
      throw new RaftStorageError(`raft storage ${this.dir} is unusable`, { cause: this.failure });
    }
    assert(!this.busy, "concurrent raft storage operations");
    this.busy = true;
    try {
      await fn();
    } catch (error) {
      this.failure = error;
      this.logger.error(
        { dir: this.dir, err: error },
        "raft storage failed; the node must restart",
      );
      throw error;
    } finally {
      this.busy = false;
    }
  }

  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    assert(snapshot.data.length <= this.limits.snapshotBytesMax, "snapshot above snapshotBytesMax");
    const file = path.join(this.dir, snapshotName(snapshot.meta));
    await writeFileAtomic(file, encodeSnapshotFile(snapshot.meta, snapshot.data));
    this.snap = snapshot;
  }

  private async deleteSnapshotsBefore(meta: SnapshotMeta): Promise<void> {
    const keep = snapshotName(meta);
    const names = (await readdir(this.dir)).filter((n) => SNAPSHOT_NAME.test(n) && n !== keep);
    for (const n of names) await unlink(path.join(this.dir, n));
    if (names.length > 0) await fsyncDir(this.dir);
  }

  /** Atomically replaces the log file with header (base) + `entries`, and reopens it. */
  private async rewriteLog(
    baseIndex: Index,
    baseTerm: Term,
    entries: readonly Entry[],
  ): Promise<void> {
    const file = path.join(this.dir, LOG_FILE);
    await writeFileAtomic(file, [encodeLogHeader(baseIndex, baseTerm), encodeRecords(entries)]);
    await this.log?.close();
    this.log = await open(file, "r+");
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    this.ents = [...entries];
    this.positions = [];
    let at = LOG_HEADER_BYTES;
    for (const e of entries) {
      this.positions.push(at);
      at += recordBytes(e);
    }
    this.logEnd = at;
  }

  /** Reads the log file, cutting a torn or corrupt tail, and reconciles it with the snapshot. */
  private async openLog(): Promise<void> {
    const file = path.join(this.dir, LOG_FILE);
    const buf = await readFileBounded(file, this.limits.logBytesMax);
    const sm = this.snap.meta;
    if (buf === null) {
      await this.rewriteLog(sm.index, sm.term, []);
      return;
    }
    let header: { baseIndex: Index; baseTerm: Term };
    try {
      header = decodeLogHeader(buf);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      throw new RaftStorageError(
        `${file}: ${error.message}; restore the directory or re-add the node`,
      );
    }
    const { ents, positions, end } = this.scanLog(buf, header.baseIndex);
    this.baseIndex = header.baseIndex;
    this.baseTerm = header.baseTerm;
    this.ents = ents;
    this.positions = positions;
    this.logEnd = end;
    this.log = await open(file, "r+");
    if (end < buf.length) {
      await this.log.truncate(end);
      await this.log.sync();
    }
    await this.reconcileWithSnapshot();
  }

  private scanLog(
    buf: Uint8Array,
    baseIndex: Index,
  ): { ents: Entry[]; positions: number[]; end: number } {
    const ents: Entry[] = [];
    const positions: number[] = [];
    let at = LOG_HEADER_BYTES;
    // Each iteration consumes >= 1 record (>= 25 bytes) or stops: bounded by buf.length.
    while (at < buf.length) {
      const r = readRecord(buf, at, this.limits.entryBytesMax);
      const expected = baseIndex + ents.length + 1;
      const why = !r.ok
        ? r.why
        : r.entry.index !== expected
          ? `index ${r.entry.index}, expected ${expected}`
          : null;
      if (why !== null || !r.ok) {
        this.logger.warn(
          {
            dir: this.dir,
            offsetBytes: at,
            cutBytes: buf.length - at,
            lastIndex: expected - 1,
            why,
          },
          "cutting a torn or corrupt raft log tail",
        );
        break;
      }
      const prevTerm = ents.length > 0 ? ents[ents.length - 1]!.term : 0;
      if (r.entry.term < prevTerm) {
        this.logger.warn(
          { dir: this.dir, offsetBytes: at, index: expected },
          "cutting a raft log tail whose term goes back",
        );
        break;
      }
      ents.push(r.entry);
      positions.push(at);
      at += r.bytes;
    }
    return { ents, positions, end: at };
  }

  /**
   * The log must continue the snapshot: if the snapshot is newer than the log's base and the
   * log does not hold the snapshot's entry (a crash between writing a leader's snapshot and
   * rewriting the log), the log's entries belong to a stale history and are dropped.
   */
  private async reconcileWithSnapshot(): Promise<void> {
    const sm = this.snap.meta;
    if (this.baseIndex > sm.index) {
      throw new RaftStorageError(
        `log starts after ${this.baseIndex} but the snapshot is at ${sm.index}`,
      );
    }
    if (this.term(sm.index) === sm.term) return;
    this.logger.warn(
      { dir: this.dir, snapshotIndex: sm.index, lastIndex: this.lastIndex() },
      "dropping log entries that do not continue the snapshot",
    );
    await this.rewriteLog(sm.index, sm.term, []);
  }

  /** Commit is a hint; after a cut tail it may point past the log, so bring it back. */
  private clampCommit(): void {
    const last = this.lastIndex();
    if (this.hs.commit <= last) return;
    this.logger.error(
      { dir: this.dir, commit: this.hs.commit, lastIndex: last },
      "committed entries were lost from the log; the leader will resend them",
    );
    this.hs = { ...this.hs, commit: last };
  }
}

// -------------------------------------------------------------------- helpers

function snapshotName(meta: SnapshotMeta): string {
  const pad = (n: number) => String(n).padStart(20, "0");
  return `snapshot-${pad(meta.term)}-${pad(meta.index)}.bin`;
}

async function removeLeftovers(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.endsWith(TMP_SUFFIX)) await unlink(path.join(dir, name));
  }
}

/** Reads meta.json, or formats the directory (atomically) when it has none. */
async function openMeta(
  dir: string,
  id: NodeId,
  dirId: DirectoryId | undefined,
): Promise<StorageMeta> {
  const file = path.join(dir, META_FILE);
  const buf = await readFileBounded(file, SMALL_FILE_BYTES_MAX);
  if (buf === null) {
    const meta: StorageMeta = {
      version: META_VERSION,
      nodeId: id,
      directoryId: dirId ?? directoryId(randomUUID()),
    };
    await writeFileAtomic(file, [new TextEncoder().encode(`${JSON.stringify(meta)}\n`)]);
    return meta;
  }
  const meta = parseMeta(buf, file);
  if (meta.nodeId !== id) {
    throw new RaftStorageError(
      `${dir} belongs to node ${meta.nodeId}, not node ${id}; check node.id or the directory`,
    );
  }
  if (dirId !== undefined && dirId !== meta.directoryId) {
    throw new RaftStorageError(`${dir} has directory id ${meta.directoryId}, not ${dirId}`);
  }
  return meta;
}

function parseMeta(buf: Uint8Array, file: string): StorageMeta {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(buf));
  } catch {
    throw new RaftStorageError(`${file} is not valid JSON`);
  }
  const o = v as Partial<Record<keyof StorageMeta, unknown>>;
  const ok =
    typeof v === "object" &&
    v !== null &&
    o.version === META_VERSION &&
    Number.isSafeInteger(o.nodeId) &&
    (o.nodeId as number) > 0 &&
    typeof o.directoryId === "string" &&
    o.directoryId.length > 0;
  if (!ok) throw new RaftStorageError(`${file} is malformed or of an unknown version`);
  return {
    version: META_VERSION,
    nodeId: nodeId(o.nodeId as number),
    directoryId: directoryId(o.directoryId as string),
  };
}

/** Reads the newest snapshot file; a corrupt newest snapshot is fatal (the log is behind it). */
async function loadLatestSnapshot(dir: string, limits: Limits): Promise<Snapshot | null> {
  const found = (await readdir(dir))
    .map((name) => ({ name, m: SNAPSHOT_NAME.exec(name) }))
    .filter((f) => f.m !== null)
    .map((f) => ({ name: f.name, term: Number(f.m![1]), index: Number(f.m![2]) }))
    .sort((a, b) => b.index - a.index || b.term - a.term);
  const newest = found[0];
  if (newest === undefined) return null;
  const file = path.join(dir, newest.name);
  const bytesMax = SNAPSHOT_HEADER_BYTES + VOTERS_BYTES_MAX + limits.snapshotBytesMax;
  const buf = await readFileBounded(file, bytesMax);
  assert(buf !== null, `${file} vanished`);
  try {
    const s = decodeSnapshotFile(buf);
    assert(
      s.meta.index === newest.index && s.meta.term === newest.term,
      `${file}: name disagrees with contents`,
    );
    return s;
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    throw new RaftStorageError(
      `${file}: ${error.message}; restore the directory or re-add the node`,
    );
  }
}

function encodeHardState(hs: HardState): Uint8Array {
  const body = JSON.stringify({ term: hs.term, vote: hs.vote, commit: hs.commit });
  const crc = crc32c(new TextEncoder().encode(body));
  return new TextEncoder().encode(`${JSON.stringify({ hardState: body, crc32c: crc })}\n`);
}

async function readHardState(dir: string): Promise<HardState | null> {
  const file = path.join(dir, HARD_STATE_FILE);
  const buf = await readFileBounded(file, SMALL_FILE_BYTES_MAX);
  if (buf === null) return null;
  try {
    const outer = JSON.parse(new TextDecoder().decode(buf)) as {
      hardState?: unknown;
      crc32c?: unknown;
    };
    if (
      typeof outer.hardState !== "string" ||
      crc32c(new TextEncoder().encode(outer.hardState)) !== outer.crc32c
    ) {
      throw new Error("crc mismatch");
    }
    return validHardState(JSON.parse(outer.hardState));
  } catch (error) {
    throw new RaftStorageError(
      `${file} is corrupt (${String(error)}); restore the directory or re-add the node`,
    );
  }
}

function validHardState(v: unknown): HardState {
  const o = v as { term?: unknown; vote?: unknown; commit?: unknown };
  const nat = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!nat(o.term) || !nat(o.commit)) throw new Error("bad term or commit");
  let vote: ReplicaKey | null = null;
  if (o.vote !== null) {
    const k = o.vote as { id?: unknown; dir?: unknown };
    if (!nat(k.id) || k.id === 0 || typeof k.dir !== "string") throw new Error("bad vote");
    vote = { id: nodeId(k.id), dir: directoryId(k.dir) };
  }
  return { term: term(o.term), vote, commit: index(o.commit) };
}
