/**
 * The simulated state machine: a rolling FNV-1a hash over every applied entry, plus the voter
 * set. Two nodes that applied the same entries up to an index have the same hash there, so a
 * snapshot (which carries the hash) can be checked against entries applied elsewhere.
 */
import { assert } from "@strand/base";
import type { Entry, Index, ReplicaKey, Snapshot, SnapshotMeta } from "../core/types.ts";
import { index } from "../core/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A stable identity string for an entry's content (not its position). */
export function entryKey(e: Entry): string {
  if (e.type === "normal") return dec.decode(e.data);
  if (e.type === "config") return `cfg:${e.voters.map((v) => `${v.id}/${v.dir}`).join(",")}`;
  return "noop";
}

function fnv(hash: number, s: string): number {
  let h = hash >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** State of one node's replica of the simulated service. */
export class SimStateMachine {
  appliedIndex: Index;
  hash: number;
  voters: readonly ReplicaKey[];

  constructor(appliedIndex: Index, hash: number, voters: readonly ReplicaKey[]) {
    this.appliedIndex = appliedIndex;
    this.hash = hash;
    this.voters = voters;
  }

  /** Rebuilds the state machine from a snapshot (a restart or an install). */
  static fromSnapshot(s: Snapshot): SimStateMachine {
    if (s.data.length === 0) return new SimStateMachine(s.meta.index, 0x811c9dc5, s.meta.voters);
    const img = JSON.parse(dec.decode(s.data).trim()) as { index: number; hash: number };
    assert(img.index === s.meta.index, `snapshot image at ${img.index}, meta at ${s.meta.index}`);
    return new SimStateMachine(s.meta.index, img.hash, s.meta.voters);
  }

  /** Applies the next entry; returns the new hash. */
  apply(e: Entry): number {
    assert(e.index === this.appliedIndex + 1, `apply ${e.index} after ${this.appliedIndex}`);
    this.appliedIndex = e.index;
    this.hash = fnv(this.hash, `${e.index}|${e.term}|${entryKey(e)}`);
    if (e.type === "config") this.voters = e.voters;
    return this.hash;
  }

  /** Serializes the state as a snapshot; `padBytes` makes it span several chunks. */
  snapshot(meta: Omit<SnapshotMeta, "voters">, padBytes: number): Snapshot {
    assert(meta.index === this.appliedIndex, "snapshot must be taken at the applied index");
    const body = JSON.stringify({ index: this.appliedIndex, hash: this.hash });
    const data = enc.encode(body + " ".repeat(padBytes));
    return { meta: { ...meta, index: index(meta.index), voters: this.voters }, data };
  }
}
