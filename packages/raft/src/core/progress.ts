/**
 * The leader's view of one follower (etcd's `Progress`): what it is known to hold (`match`),
 * what to send next (`next`) and how: probing one append at a time after a rejection,
 * replicating optimistically with a bounded window of in-flight appends, or sending a snapshot
 * in chunks because the entries it needs are compacted.
 */
import { assert } from "@strand/base/assert";
import type { DirectoryId, Index, NodeId, Snapshot } from "./types.ts";
import { index } from "./types.ts";

/** How the leader is currently sending to a follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** A snapshot transfer in progress: the snapshot and how many bytes the follower acked. */
export interface SnapshotTransfer {
  readonly snapshot: Snapshot;
  ackedBytes: number;
}

/** Replication state of one follower, owned by the leader. */
export class Progress {
  readonly id: NodeId;
  readonly dir: DirectoryId;
  match: Index = index(0);
  /** Whether the follower acknowledged a match yet: until then `match` is a guess (0). */
  matchKnown = false;
  next: Index;
  state: ProgressState = "probe";
  /** Probe state: an append is outstanding; wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Replicate state: last index of each unacknowledged append, oldest first. */
  readonly inflight: Index[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  transfer: SnapshotTransfer | null = null;
  private readonly inflightMax: number;

  /** Starts probing at `next` with at most `inflightMax` appends in flight when replicating. */
  constructor(options: { id: NodeId; dir: DirectoryId; next: Index; inflightMax: number }) {
    assert(options.inflightMax >= 1, "inflightMax must be >= 1");
    this.id = options.id;
    this.dir = options.dir;
    this.next = options.next;
    this.inflightMax = options.inflightMax;
  }

  /** True when no append may be sent now (flow control). */
  isPaused(): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "replicate") return this.inflight.length >= this.inflightMax;
    return true;
  }

  /** Records an acknowledged match; returns whether it moved forward. */
  maybeUpdate(n: Index): boolean {
    const updated = n > this.match;
    if (updated) this.match = n;
    this.matchKnown = true;
    if (n + 1 > this.next) this.next = index(n + 1);
    this.probeSent = false;
    return updated;
  }

  /** Records an optimistic send of entries up to `last` in replicate state. */
  sentEntries(last: Index): void {
    assert(this.state === "replicate", "optimistic send outside replicate state");
    assert(this.inflight.length < this.inflightMax, "in-flight window overflow");
    this.inflight.push(last);
    this.next = index(last + 1);
  }

  /** Frees in-flight slots of appends acknowledged up to `n`. */
  freeTo(n: Index): void {
    while (this.inflight.length > 0 && this.inflight[0]! <= n) this.inflight.shift();
  }

  becomeProbe(next: Index): void {
    this.state = "probe";
    this.next = index(Math.max(this.match + 1, next));
    this.probeSent = false;
    this.inflight.length = 0;
    this.transfer = null;
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.next = index(this.match + 1);
    this.inflight.length = 0;
    this.transfer = null;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.state = "snapshot";
    this.inflight.length = 0;
    this.transfer = { snapshot, ackedBytes: 0 };
  }
}
