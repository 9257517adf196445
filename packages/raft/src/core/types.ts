/**
 * Types of the Raft core: branded numbers, log entries, persistent state and messages.
 * Terms and indexes are plain JS numbers (safe up to 2^53, far beyond any real log); the
 * driver converts int64 wire values at the boundary.
 */

/** A Raft term (election epoch). */
export type Term = number & { readonly __brand: "Term" };
/** A position in the replicated log; 0 means "before the first entry". */
export type Index = number & { readonly __brand: "Index" };
/** A node's configured id (`node.id`). Positive integer. */
export type NodeId = number & { readonly __brand: "NodeId" };
/** A node's storage directory id: a random uuid chosen when its log directory is formatted. */
export type DirectoryId = string & { readonly __brand: "DirectoryId" };

/**
 * Largest term or index a node accepts from a peer (2^48). Every sum the core forms from two
 * such numbers (term + 1, index + entry count) stays far below 2^53, so arithmetic is exact.
 * A cluster electing a leader every millisecond needs ~8,900 years to reach it.
 */
export const RAFT_NUMBER_MAX = 2 ** 48;

/**
 * Largest jump above the local term a message may carry (2^20). Terms only grow by one per
 * election, and with pre-vote only when a majority agrees, so an honest peer is never this far
 * ahead unless this node slept through a million elections; a message beyond it is refused.
 */
export const TERM_JUMP_MAX = 2 ** 20;

/** Why {@link RaftNode.step} refused a message (it is dropped; the node is unchanged). */
export type StepRefusal = "notVoter" | "termJump";

/** Makes a {@link Term} from a non-negative integer. */
export function term(n: number): Term {
  return n as Term;
}
/** Makes an {@link Index} from a non-negative integer. */
export function index(n: number): Index {
  return n as Index;
}
/** Makes a {@link NodeId} from a positive integer. */
export function nodeId(n: number): NodeId {
  return n as NodeId;
}
/** Makes a {@link DirectoryId} from a string (normally a uuid). */
export function directoryId(s: string): DirectoryId {
  return s as DirectoryId;
}

/**
 * A voter is identified by its node id AND its directory id (Kafka KIP-853): a node that lost
 * its disk comes back with a new directory id and is not the same voter.
 */
export interface ReplicaKey {
  readonly id: NodeId;
  readonly dir: DirectoryId;
}

/** A normal entry: opaque application data proposed by a client. */
export interface NormalEntry {
  readonly type: "normal";
  readonly term: Term;
  readonly index: Index;
  readonly data: Uint8Array;
}
/** The empty entry a new leader appends so it can commit entries of earlier terms. */
export interface NoopEntry {
  readonly type: "noop";
  readonly term: Term;
  readonly index: Index;
}
/** A configuration entry: the complete voter set, effective as soon as it is appended. */
export interface ConfigEntry {
  readonly type: "config";
  readonly term: Term;
  readonly index: Index;
  readonly voters: readonly ReplicaKey[];
}
/** One entry of the replicated log. */
export type Entry = NormalEntry | NoopEntry | ConfigEntry;

/** State that must be durable before any message of the same ready is sent. */
export interface HardState {
  readonly term: Term;
  /** Whom this node voted for in `term`, or null. */
  readonly vote: ReplicaKey | null;
  /** Highest index known committed (may be persisted lazily; it is only a hint on restart). */
  readonly commit: Index;
}

/** Describes a snapshot: the state machine as of `index`, plus the voter set at that index. */
export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly voters: readonly ReplicaKey[];
}

/** A snapshot: metadata plus the state machine's serialized state (opaque to Raft). */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** Fields every message carries. `to`/`toDir` address a voter key; `toDir` null = any. */
interface MessageBase {
  readonly from: NodeId;
  readonly fromDir: DirectoryId;
  readonly to: NodeId;
  readonly toDir: DirectoryId | null;
  readonly term: Term;
}

/** Pre-vote request: "would you vote for me at `term`?" Changes no term on either side. */
export interface PreVoteMessage extends MessageBase {
  readonly type: "preVote";
  readonly lastIndex: Index;
  readonly lastTerm: Term;
}
/** Vote request. `transfer` marks a campaign started by TimeoutNow (bypasses leader lease). */
export interface VoteMessage extends MessageBase {
  readonly type: "vote";
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  readonly transfer: boolean;
}
/** Answer to a vote or pre-vote request. */
export interface VoteResponseMessage extends MessageBase {
  readonly type: "voteResponse" | "preVoteResponse";
  readonly granted: boolean;
}
/** AppendEntries: entries after (prevIndex, prevTerm), plus the leader's commit index. */
export interface AppendMessage extends MessageBase {
  readonly type: "append";
  readonly prevIndex: Index;
  readonly prevTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}
/**
 * Answer to an append. On success `matchIndex` is the last index known to match the leader.
 * On reject, `rejectedIndex` is the request's prevIndex and (conflictIndex, conflictTerm) the
 * fast-backtracking hint: conflictTerm is the follower's term at prevIndex (0 if it has no
 * entry there) and conflictIndex the first index of that term (or lastIndex+1).
 */
export interface AppendResponseMessage extends MessageBase {
  readonly type: "appendResponse";
  readonly success: boolean;
  readonly matchIndex: Index;
  readonly rejectedIndex: Index;
  readonly conflictIndex: Index;
  readonly conflictTerm: Term;
}
/** Leader heartbeat; `commit` is min(follower's match, leader's commit). */
export interface HeartbeatMessage extends MessageBase {
  readonly type: "heartbeat";
  readonly commit: Index;
}
/** Answer to a heartbeat. */
export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: "heartbeatResponse";
}
/** One chunk of an InstallSnapshot transfer. */
export interface SnapshotChunkMessage extends MessageBase {
  readonly type: "snapshot";
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}
/** Answer to a chunk: the next offset wanted, or `installed` with the resulting match index. */
export interface SnapshotResponseMessage extends MessageBase {
  readonly type: "snapshotResponse";
  readonly snapshotIndex: Index;
  readonly nextOffset: number;
  readonly installed: boolean;
  readonly matchIndex: Index;
}
/** Leadership transfer: "campaign now, skipping pre-vote and the election timeout". */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: "timeoutNow";
}

/** Every message the core sends or accepts. */
export type Message =
  | PreVoteMessage
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotChunkMessage
  | SnapshotResponseMessage
  | TimeoutNowMessage;

/** The message type names. */
export type MessageType = Message["type"];

/** A node's role. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/**
 * Work the driver must do, in this order: (1) persist `snapshot`, `entries` (replacing any
 * conflicting suffix) and `hardState` and fsync; (2) send `messages`; (3) apply `snapshot` (if
 * any) then `committed` to the state machine; (4) call `advance(ready)`.
 */
export interface Ready {
  /** Changed hard state to persist, or null if unchanged. */
  readonly hardState: HardState | null;
  /** Entries to append to stable storage (truncating any stored entries from entries[0].index). */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader to persist and install, or null. */
  readonly snapshot: Snapshot | null;
  /** Messages to send, only after the persist above is durable. */
  readonly messages: readonly Message[];
  /** Committed entries to apply, in index order, after the snapshot (if any). */
  readonly committed: readonly Entry[];
  /** Monotonic number of this ready, checked by `advance`. */
  readonly seq: number;
}

/** A voter change: add one voter or remove one voter (single-server membership change). */
export type VoterChange =
  | { readonly type: "addVoter"; readonly voter: ReplicaKey }
  | { readonly type: "removeVoter"; readonly voter: ReplicaKey };

/** Why a proposal was refused. */
export type ProposeRefusal =
  | "notLeader"
  | "transferInProgress"
  | "configChangePending"
  | "noCommitInTerm"
  | "invalidChange"
  | "tooManyUncommitted";

/** Result of a proposal: where it was appended, or why it was refused. */
export type ProposeResult =
  | { readonly ok: true; readonly index: Index; readonly term: Term }
  | { readonly ok: false; readonly reason: ProposeRefusal; readonly leader: NodeId | null };

/** The leader's view of how far one voter's log matches its own. */
export interface VoterMatch {
  readonly id: NodeId;
  readonly dir: DirectoryId;
  /**
   * The highest index known stored on the voter: the leader's own last index for itself,
   * else the last index the voter acknowledged in this term; null before its first
   * acknowledgement (a new leader does not know yet).
   */
  readonly match: Index | null;
}

/** Snapshot of a node's observable state (for drivers, metrics and tests). */
export interface Status {
  readonly id: NodeId;
  readonly dir: DirectoryId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: ReplicaKey | null;
  readonly leader: NodeId | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly firstIndex: Index;
  readonly voters: readonly ReplicaKey[];
  readonly isVoter: boolean;
  /** On the leader, each voter's match index in `voters` order (what commit counts); else empty. */
  readonly voterMatch: readonly VoterMatch[];
  /**
   * Ticks since this node last had evidence of a working quorum: a follower's last message
   * from its leader, a leader's election or last passed check-quorum window.
   */
  readonly quorumContactTicks: number;
  /** Messages refused by {@link RaftNode.step} (non-voter sender, term jump), monotonic. */
  readonly refusedMessages: number;
}
