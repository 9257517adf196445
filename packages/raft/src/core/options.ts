/**
 * Options of a Raft node. Times are in ticks: the driver calls `tick()` at a fixed interval
 * (the controller uses 100 ms), so electionTicks 10 means an election timeout of 1-2 s.
 */
import { assert } from "@strand/base/assert";
import type { Rng } from "./rng.ts";
import type { RaftStorage } from "./storage.ts";
import type { DirectoryId, Index, NodeId } from "./types.ts";

/**
 * Deliberately broken behaviour, for tests only: each switch removes one rule of Raft so a
 * test can prove the simulator's invariant checker notices. Never set in production.
 */
export interface UnsafeOptions {
  /** Commit an entry of an earlier term once a majority stores it (the Figure 8 bug). */
  readonly commitPreviousTermByCounting?: boolean;
  /** Grant votes without the §5.4.1 "candidate's log is at least as up to date" check. */
  readonly skipVoteLogCheck?: boolean;
}

/** What the driver passes to create a {@link RaftNode}. */
export interface RaftNodeOptions {
  readonly id: NodeId;
  /** This node's storage directory id (KIP-853); it is a voter only if (id, dir) is in the set. */
  readonly dir: DirectoryId;
  readonly storage: RaftStorage;
  /** Source of the randomized election timeout. */
  readonly rng: Rng;
  /** Minimum election timeout; the actual one is uniform in [electionTicks, 2*electionTicks). */
  readonly electionTicks?: number;
  /** Heartbeat interval; must be below electionTicks. */
  readonly heartbeatTicks?: number;
  /** Highest index the state machine has applied (defaults to the snapshot index). */
  readonly applied?: Index;
  /** Pre-vote (Raft thesis §9.6): a partitioned node does not inflate terms. Default true. */
  readonly preVote?: boolean;
  /** Check-quorum and leader lease (thesis §6.2, §4.2.3). Default true. */
  readonly checkQuorum?: boolean;
  /** Appends in flight per follower when replicating optimistically. */
  readonly inflightAppendsMax?: number;
  /** Entries per append message. */
  readonly appendEntriesMax?: number;
  /** Committed entries handed out per ready. */
  readonly committedPerReadyMax?: number;
  /** Proposals refused once this many entries are uncommitted (back-pressure). */
  readonly uncommittedEntriesMax?: number;
  /** Bytes per InstallSnapshot chunk. */
  readonly snapshotChunkBytes?: number;
  /** Largest snapshot a follower accepts (bounds its receive buffer). */
  readonly snapshotBytesMax?: number;
  readonly unsafe?: UnsafeOptions;
}

/** Default {@link RaftNodeOptions.electionTicks}. */
export const DEFAULT_ELECTION_TICKS = 10;

/** {@link RaftNodeOptions} with every default filled in. */
export type ResolvedOptions = Required<Omit<RaftNodeOptions, "applied">> &
  Pick<RaftNodeOptions, "applied">;

/** Fills in defaults and checks the relations between options. */
export function resolveOptions(o: RaftNodeOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    electionTicks: DEFAULT_ELECTION_TICKS,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    inflightAppendsMax: 8,
    appendEntriesMax: 64,
    committedPerReadyMax: 256,
    uncommittedEntriesMax: 1024,
    snapshotChunkBytes: 1 << 20,
    snapshotBytesMax: 1 << 30,
    unsafe: {},
    ...o,
  };
  assert(r.heartbeatTicks >= 1 && r.heartbeatTicks < r.electionTicks, "heartbeat >= election");
  assert(r.inflightAppendsMax >= 1 && r.appendEntriesMax >= 1, "limits must be positive");
  assert(r.snapshotChunkBytes >= 1 && r.id > 0, "bad chunk size or node id");
  return r;
}
