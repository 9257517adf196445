/**
 * The node's view of the replicated log: the driver's stable storage plus an in-memory
 * "unstable" tail (entries and possibly a snapshot) that the next Ready hands out for
 * persisting. Also tracks the commit and applied indexes and the voter-set history, since a
 * configuration takes effect when its entry is appended and must revert when it is truncated.
 */
import { assert } from "@strand/base/assert";
import type { RaftStorage } from "./storage.ts";
import type { DirectoryId, Entry, Index, NodeId, ReplicaKey, Snapshot, Term } from "./types.ts";
import { index, term } from "./types.ts";

/** A voter set and the index of the entry (or snapshot) that set it. */
export interface ConfigAt {
  readonly index: Index;
  readonly voters: readonly ReplicaKey[];
}

/** How many entries one storage read returns while scanning for configurations at start. */
const scanBatchEntriesMax = 1024;

/** The log: stable storage + unstable tail + commit/applied + configuration history. */
export class RaftLog {
  readonly storage: RaftStorage;
  private unstableSnapshot: Snapshot | null = null;
  /** Index of unstable[0]; storage entries at or after it are shadowed (to be overwritten). */
  private unstableOffset: Index;
  private unstable: Entry[] = [];
  /** Configurations in index order; the last one is in effect. Never empty. */
  private configs: ConfigAt[];
  /** Highest index known committed. */
  committed: Index;
  /** Highest index handed to the driver for applying (or covered by an installed snapshot). */
  applied: Index;

  /** Opens the log over `storage`; `applied` is what the state machine already holds. */
  constructor(storage: RaftStorage, applied: Index | undefined) {
    this.storage = storage;
    const snap = storage.snapshot().meta;
    const hs = storage.hardState();
    this.unstableOffset = index(storage.lastIndex() + 1);
    this.committed = index(Math.max(hs.commit, snap.index));
    this.applied = applied ?? snap.index;
    assert(this.applied >= snap.index, `applied ${this.applied} below snapshot ${snap.index}`);
    assert(this.committed <= storage.lastIndex(), `commit ${this.committed} beyond the log`);
    this.configs = [{ index: snap.index, voters: snap.voters }];
    this.scanConfigs(index(snap.index + 1));
  }

  private scanConfigs(from: Index): void {
    const last = this.storage.lastIndex();
    let lo = Math.max(from, this.storage.firstIndex());
    for (let round = 0; lo <= last; round++) {
      assert(round <= last, "config scan does not progress");
      const batch = this.storage.entries(index(lo), index(last + 1), scanBatchEntriesMax);
      for (const e of batch) if (e.type === "config") this.configs.push(e);
      lo += batch.length;
    }
  }

  /** The voter set in effect (the latest appended configuration). */
  voters(): readonly ReplicaKey[] {
    return this.configs[this.configs.length - 1]!.voters;
  }

  /**
   * Whether (id, dir) is a voter of the committed configuration or of any later one in the
   * log. Uncommitted configurations may be truncated by the next leader, so a voter of the
   * committed set (the leader that will truncate them) must still be heard.
   */
  knownVoter(id: NodeId, dir: DirectoryId): boolean {
    return this.configs.some((c) => c.voters.some((v) => v.id === id && v.dir === dir));
  }

  /** Index of the entry that set the current voter set. */
  configIndex(): Index {
    return this.configs[this.configs.length - 1]!.index;
  }

  firstIndex(): Index {
    if (this.unstableSnapshot !== null) return index(this.unstableSnapshot.meta.index + 1);
    return this.storage.firstIndex();
  }

  lastIndex(): Index {
    if (this.unstable.length > 0) return index(this.unstableOffset + this.unstable.length - 1);
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.meta.index;
    return index(this.unstableOffset - 1);
  }

  /** Term at `i`, or null when `i` is compacted or beyond the last entry. */
  term(i: Index): Term | null {
    if (i > this.lastIndex()) return null;
    if (i >= this.unstableOffset) return this.unstable[i - this.unstableOffset]!.term;
    const snap = this.unstableSnapshot;
    if (snap !== null) return i === snap.meta.index ? snap.meta.term : null;
    return this.storage.term(i);
  }

  lastTerm(): Term {
    const t = this.term(this.lastIndex());
    assert(t !== null, "last entry has no term");
    return t;
  }

  matchTerm(i: Index, t: Term): boolean {
    return this.term(i) === t;
  }

  /** Raft §5.4.1: is a candidate's log (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ours = this.lastTerm();
    return lastTerm > ours || (lastTerm === ours && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi), at most `maxCount`; lo must not be compacted. */
  entries(lo: Index, hi: Index, maxCount: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1, `entries(${lo}, ${hi})`);
    const out: Entry[] = [];
    if (lo < this.unstableOffset) {
      const stableHi = index(Math.min(hi, this.unstableOffset));
      out.push(...this.storage.entries(lo, stableHi, maxCount));
      if (out.length < stableHi - lo) return out; // storage truncated the read at maxCount
    }
    const from = Math.max(lo, this.unstableOffset);
    const to = Math.min(hi, from + maxCount - out.length);
    for (let i = from; i < to; i++) out.push(this.unstable[i - this.unstableOffset]!);
    return out;
  }

  /**
   * Appends entries after truncating any existing entries at or after entries[0].index.
   * Never truncates committed entries (that would break Raft's safety argument).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const after = entries[0]!.index;
    assert(after > this.committed, `truncating committed entry ${after} <= ${this.committed}`);
    assert(after <= this.lastIndex() + 1, `append at ${after} leaves a gap`);
    if (after < this.unstableOffset) {
      this.unstableOffset = after;
      this.unstable = [];
    } else {
      this.unstable.length = after - this.unstableOffset;
    }
    while (this.configs.length > 1 && this.configs[this.configs.length - 1]!.index >= after) {
      this.configs.pop();
    }
    for (const e of entries) {
      assert(e.index === this.lastIndex() + 1, `entry ${e.index} out of order`);
      this.unstable.push(e);
      if (e.type === "config") this.configs.push(e);
    }
  }

  /** First index in `entries` whose term differs from ours (or that we lack), else 0. */
  findConflict(entries: readonly Entry[]): Index {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return index(0);
  }

  /** Advances the commit index (never backwards, never beyond the log). */
  commitTo(i: Index): void {
    if (i <= this.committed) return;
    assert(i <= this.lastIndex(), `commit ${i} beyond last index ${this.lastIndex()}`);
    this.committed = i;
    // Configurations older than the committed one can never be reverted to: drop them.
    while (this.configs.length > 1 && this.configs[1]!.index <= i) this.configs.shift();
  }

  /** Replaces the log with a snapshot from the leader (only if it is ahead of our commit). */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.committed, "restoring a snapshot behind commit");
    this.unstableSnapshot = snapshot;
    this.unstable = [];
    this.unstableOffset = index(snapshot.meta.index + 1);
    this.committed = snapshot.meta.index;
    this.applied = snapshot.meta.index;
    this.configs = [{ index: snapshot.meta.index, voters: snapshot.meta.voters }];
  }

  hasUnstable(): boolean {
    return this.unstable.length > 0 || this.unstableSnapshot !== null;
  }
  unstableEntries(): readonly Entry[] {
    return this.unstable;
  }
  pendingSnapshot(): Snapshot | null {
    return this.unstableSnapshot;
  }

  /** Called by advance: the driver persisted the unstable tail; check it really did. */
  stableTo(): void {
    const last = this.lastIndex();
    const lastTerm = this.lastTerm();
    this.unstableSnapshot = null;
    this.unstable = [];
    this.unstableOffset = index(last + 1);
    assert(
      this.storage.lastIndex() === last,
      `storage last ${this.storage.lastIndex()} != ${last}`,
    );
    assert(this.storage.term(last) === lastTerm, `storage term at ${last} differs after persist`);
  }

  hasNextCommitted(): boolean {
    return this.committed > this.applied;
  }

  /** Committed entries not yet handed out for applying, at most `maxCount`. */
  nextCommitted(maxCount: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    assert(this.applied + 1 >= this.firstIndex(), `applied ${this.applied} is compacted`);
    return this.entries(index(this.applied + 1), index(this.committed + 1), maxCount);
  }

  /** Largest index i in [firstIndex - 1, atMost] with term(i) <= t (terms never decrease). */
  lastIndexWithTermAtMost(t: Term, atMost: Index): Index {
    let lo = this.firstIndex() - 1;
    let hi = Math.min(atMost, this.lastIndex());
    if ((this.term(index(lo)) ?? term(0)) > t) return index(lo);
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((this.term(index(mid)) ?? term(0)) <= t) lo = mid;
      else hi = mid - 1;
    }
    return index(lo);
  }

  /** Smallest index in [floor, i] whose term equals term(i) (the start of that term's run). */
  firstIndexOfTermAt(i: Index, floor: Index): Index {
    const t = this.term(i);
    assert(t !== null, `no term at ${i}`);
    let lo = Math.max(floor, this.firstIndex());
    let hi: number = i;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.term(index(mid)) === t) hi = mid;
      else lo = mid + 1;
    }
    return index(lo);
  }
}
