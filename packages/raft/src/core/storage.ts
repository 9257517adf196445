/**
 * The storage the core reads (like etcd's `Storage`): the driver owns it, writes to it when it
 * handles a {@link Ready}, and compacts it behind snapshots. The core never writes to it.
 * {@link MemoryStorage} is the in-memory twin used by tests and the simulator.
 */
import { assert } from "@strand/base/assert";
import type { Entry, HardState, Index, ReplicaKey, Snapshot, SnapshotMeta, Term } from "./types.ts";
import { index, term } from "./types.ts";

/** Read access to a node's durable Raft state. All indexes are inclusive unless noted. */
export interface RaftStorage {
  /** The hard state as last persisted. */
  hardState(): HardState;
  /** The latest snapshot (index 0 / term 0 with the bootstrap voters before any). */
  snapshot(): Snapshot;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): Index;
  /** Index of the last entry (the snapshot index if the log is empty). */
  lastIndex(): Index;
  /** Term of entry `i` for snapshot index <= i <= lastIndex, else null (compacted or absent). */
  term(i: Index): Term | null;
  /** Entries [lo, hi), at most `maxCount`; requires firstIndex <= lo <= hi <= lastIndex + 1. */
  entries(lo: Index, hi: Index, maxCount: number): readonly Entry[];
}

/** Options for a fresh {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /** The cluster's initial voter set (the bootstrap snapshot at index 0, term 0). */
  readonly bootstrapVoters: readonly ReplicaKey[];
}

/** An in-memory {@link RaftStorage} with the write operations a driver performs. */
export class MemoryStorage implements RaftStorage {
  private hs: HardState = { term: term(0), vote: null, commit: index(0) };
  private snap: Snapshot;
  /** The compaction point: the entry just before the first stored one (index and term). */
  private offsetIndex: Index = index(0);
  private offsetTerm: Term = term(0);
  /** ents[k] has index offsetIndex + 1 + k. */
  private ents: Entry[] = [];

  /** Creates an empty log whose snapshot at index 0 holds the bootstrap voters. */
  constructor(options: MemoryStorageOptions) {
    const voters = [...options.bootstrapVoters];
    this.snap = { meta: { index: index(0), term: term(0), voters }, data: new Uint8Array(0) };
  }

  hardState(): HardState {
    return this.hs;
  }
  snapshot(): Snapshot {
    return this.snap;
  }
  firstIndex(): Index {
    return index(this.offsetIndex + 1);
  }
  lastIndex(): Index {
    return index(this.offsetIndex + this.ents.length);
  }

  term(i: Index): Term | null {
    if (i === this.offsetIndex) return this.offsetTerm;
    if (i < this.offsetIndex || i > this.lastIndex()) return null;
    return this.ents[i - this.offsetIndex - 1]!.term;
  }

  entries(lo: Index, hi: Index, maxCount: number): readonly Entry[] {
    assert(lo >= this.firstIndex() && lo <= hi, `entries(${lo}, ${hi}): compacted or inverted`);
    assert(hi <= this.lastIndex() + 1, `entries(${lo}, ${hi}): beyond last ${this.lastIndex()}`);
    const first = this.offsetIndex + 1;
    const end = Math.min(hi, lo + Math.max(1, maxCount));
    return this.ents.slice(lo - first, end - first);
  }

  /** Persists the hard state. */
  setHardState(hs: HardState): void {
    assert(hs.term >= this.hs.term, `hard state term went back ${this.hs.term} -> ${hs.term}`);
    this.hs = hs;
  }

  /**
   * Appends entries, first truncating any stored entries at or after `entries[0].index`
   * (a conflicting suffix). Entries at or below the compaction point are skipped.
   */
  append(entries: readonly Entry[]): void {
    const live = entries.filter((e) => e.index > this.offsetIndex);
    if (live.length === 0) return;
    const first = live[0]!.index;
    assert(
      first <= this.lastIndex() + 1,
      `append at ${first} leaves a gap after ${this.lastIndex()}`,
    );
    this.ents.length = first - this.offsetIndex - 1;
    for (const e of live) {
      assert(e.index === this.lastIndex() + 1, `append: index ${e.index} out of order`);
      this.ents.push(e);
    }
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    assert(snapshot.meta.index >= this.snap.meta.index, "applySnapshot: older than current");
    this.snap = snapshot;
    this.offsetIndex = snapshot.meta.index;
    this.offsetTerm = snapshot.meta.term;
    this.ents = [];
  }

  /** Records a snapshot the local state machine took at `meta.index` (an applied index). */
  createSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    assert(meta.index > this.snap.meta.index, `snapshot at ${meta.index} is not newer`);
    assert(this.term(meta.index) === meta.term, `snapshot term mismatch at ${meta.index}`);
    this.snap = { meta, data };
  }

  /**
   * Discards entries up to and including `upTo`, which must be covered by the snapshot. A
   * driver compacts a little behind its snapshot so slightly lagging followers still get
   * entries instead of a whole snapshot.
   */
  compact(upTo: Index): void {
    assert(
      upTo <= this.snap.meta.index,
      `compact(${upTo}) beyond snapshot ${this.snap.meta.index}`,
    );
    if (upTo <= this.offsetIndex) return;
    const t = this.term(upTo);
    assert(t !== null, `compact(${upTo}): no such entry`);
    this.ents = this.ents.slice(upTo - this.offsetIndex);
    this.offsetIndex = upTo;
    this.offsetTerm = t;
  }
}
