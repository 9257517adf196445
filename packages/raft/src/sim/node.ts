/**
 * One simulated node: the Raft core plus a driver that models the disk. The disk is a
 * MemoryStorage holding only what was fsynced; a ready's writes take `diskLatencyMs` of
 * virtual time during which the node is blocked (inputs queue), and a crash during that time
 * persists only a prefix of the write (a torn write).
 */
import { RaftNode } from "../core/node.ts";
import type { UnsafeOptions } from "../core/options.ts";
import type { SeededRng } from "../core/rng.ts";
import { MemoryStorage } from "../core/storage.ts";
import type {
  DirectoryId,
  Index,
  Message,
  NodeId,
  Ready,
  ReplicaKey,
  VoterChange,
} from "../core/types.ts";
import { index } from "../core/types.ts";
import { SimStateMachine } from "./state-machine.ts";

/** Something a node processes: a tick, a message, or a client request. */
export type Input =
  | { readonly kind: "tick" }
  | { readonly kind: "msg"; readonly m: Message }
  | { readonly kind: "propose"; readonly payload: string }
  | { readonly kind: "change"; readonly change: VoterChange };

/** Core tuning drawn from the seed, shared by all nodes of one run. */
export interface CoreTuning {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly inflightAppendsMax: number;
  readonly appendEntriesMax: number;
  readonly snapshotChunkBytes: number;
  readonly unsafe: UnsafeOptions;
}

/** How many inputs may wait while a node is blocked on its disk (a full socket buffer). */
export const inboxInputsMax = 512;

/** A node of the simulated cluster. */
export class SimNode {
  readonly id: NodeId;
  dir: DirectoryId;
  disk: MemoryStorage;
  core: RaftNode | null = null;
  sm: SimStateMachine;
  inbox: Input[] = [];
  writing: Ready | null = null;
  incarnation = 0;
  diskLatencyMs = 0;
  /** Commit index last seen in this incarnation (must never decrease). */
  lastCommit: Index = index(0);
  /** Term in which this incarnation was last seen leading (to detect new leaderships). */
  ledTerm = -1;

  constructor(id: NodeId, dir: DirectoryId, bootstrap: readonly ReplicaKey[]) {
    this.id = id;
    this.dir = dir;
    this.disk = new MemoryStorage({ bootstrapVoters: bootstrap });
    this.sm = SimStateMachine.fromSnapshot(this.disk.snapshot());
  }

  get alive(): boolean {
    return this.core !== null;
  }

  /** Starts (or restarts) the core from what the disk holds. */
  start(rng: SeededRng, tuning: CoreTuning): void {
    this.core = new RaftNode({ ...tuning, id: this.id, dir: this.dir, storage: this.disk, rng });
    this.sm = SimStateMachine.fromSnapshot(this.disk.snapshot());
    this.lastCommit = this.core.status().commit;
    this.ledTerm = -1;
  }

  /** Loses all volatile state; returns the write that was in flight, if any. */
  crash(): Ready | null {
    const torn = this.writing;
    this.core = null;
    this.writing = null;
    this.inbox = [];
    this.incarnation++;
    return torn;
  }

  /** Replaces the disk with an empty one under a new directory id (disk loss). */
  wipe(dir: DirectoryId, bootstrap: readonly ReplicaKey[]): void {
    this.dir = dir;
    this.disk = new MemoryStorage({ bootstrapVoters: bootstrap });
  }

  /** Queues an input; false if the inbox is full (the input is dropped). */
  enqueue(input: Input): boolean {
    if (this.inbox.length >= inboxInputsMax) return false;
    this.inbox.push(input);
    return true;
  }
}
