/**
 * The Raft state machine (etcd's `raft` + `RawNode`): pure and deterministic. Inputs are
 * `tick()`, `step(message)`, `propose(data)`, `proposeVoterChange(change)` and
 * `transferLeadership(to)`; outputs are collected into a {@link Ready} that the driver handles
 * and then acknowledges with `advance(ready)`.
 *
 * Contract: after `ready()` the driver must (1) persist snapshot, entries and hard state,
 * (2) send the messages, (3) apply the snapshot and committed entries, (4) call `advance`.
 * No other method may be called between `ready()` and `advance()`; a driver that receives
 * messages while it persists queues them and steps them after `advance`.
 */
import { assert } from "@strand/base/assert";
import { RaftLog } from "./log.ts";
import type { RaftNodeOptions, ResolvedOptions } from "./options.ts";
import { resolveOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import type {
  AppendMessage,
  AppendResponseMessage,
  DirectoryId,
  Entry,
  HardState,
  HeartbeatMessage,
  Index,
  Message,
  NodeId,
  ProposeRefusal,
  ProposeResult,
  Ready,
  ReplicaKey,
  Role,
  SnapshotChunkMessage,
  SnapshotResponseMessage,
  Status,
  StepRefusal,
  Term,
  VoteResponseMessage,
  VoterChange,
  VoterMatch,
} from "./types.ts";
import { index, TERM_JUMP_MAX, term } from "./types.ts";

/** A message as built by the node, before `from`, `fromDir` and `term` are stamped on it. */
type Outgoing = Message extends infer M
  ? M extends Message
    ? Omit<M, "from" | "fromDir" | "term"> & { readonly term?: Term }
    : never
  : never;

/** A snapshot being received chunk by chunk. */
interface SnapshotReceive {
  readonly meta: SnapshotChunkMessage["meta"];
  readonly chunks: Uint8Array[];
  bytes: number;
}

function sameKey(a: ReplicaKey | null, b: ReplicaKey | null): boolean {
  return a !== null && b !== null && a.id === b.id && a.dir === b.dir;
}

/** Votes needed out of `n` voters. */
function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** A Raft node: one voter (or non-voter) of one Raft group. */
export class RaftNode {
  readonly id: NodeId;
  readonly dir: DirectoryId;
  private readonly opts: ResolvedOptions;
  private readonly log: RaftLog;
  private role: Role = "follower";
  private currentTerm: Term;
  private vote: ReplicaKey | null;
  private leader: NodeId | null = null;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;
  private readonly votes = new Map<NodeId, boolean>();
  private readonly progress = new Map<NodeId, Progress>();
  private transferee: NodeId | null = null;
  private receiving: SnapshotReceive | null = null;
  private msgs: Message[] = [];
  private persisted: HardState;
  private readySeq = 0;
  private awaitingAdvance = false;
  /** Ticks since the last evidence of a working quorum (see Status.quorumContactTicks). */
  private contactElapsed = 0;
  private refused = 0;

  /** Restores a node from its storage (hard state, snapshot, log) as a follower. */
  constructor(options: RaftNodeOptions) {
    this.opts = resolveOptions(options);
    this.id = options.id;
    this.dir = options.dir;
    this.log = new RaftLog(options.storage, options.applied);
    const hs = options.storage.hardState();
    this.currentTerm = hs.term;
    this.vote = hs.vote;
    this.persisted = { term: hs.term, vote: hs.vote, commit: this.log.committed };
    // The log's last term may exceed hs.term after a torn write (entries persisted, hard state
    // not): safe, because nothing of that ready was sent, so no vote of that term escaped.
    assert(this.log.committed <= this.log.lastIndex(), "commit beyond the log");
    this.resetRandomizedElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick. */
  tick(): void {
    this.assertNotAwaitingAdvance();
    this.contactElapsed++;
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  /** Starts an election now (as if the election timeout elapsed). No-op for non-voters. */
  campaign(): void {
    this.assertNotAwaitingAdvance();
    if (this.role !== "leader") this.hup(false);
  }

  /**
   * Feeds one message from a peer. Messages for another node id are dropped silently; a
   * message a voter must not act on (see {@link refusal}) is dropped and the reason returned.
   */
  step(m: Message): StepRefusal | null {
    this.assertNotAwaitingAdvance();
    if (m.to !== this.id || m.from === this.id) return null;
    const refusal = this.refusal(m);
    if (refusal !== null) {
      this.refused++;
      return refusal;
    }
    this.stepMessage(m);
    return null;
  }

  /**
   * A voter acts only on messages from the voters of its configuration (node id AND directory
   * id; the committed configuration or any later one in its log): anyone else could otherwise bump its term, depose its leader (an append at
   * a higher term) or make it campaign (TimeoutNow). A non-voter (a node being added, or one
   * removed) takes messages from anyone: it neither votes nor campaigns, and it must hear from
   * a leader its own stale configuration may not list. Any node refuses a term more than
   * {@link TERM_JUMP_MAX} above its own persisted term: no honest peer is that far ahead, and accepting one
   * near 2^53 would leave the cluster unable to count terms up again.
   */
  private refusal(m: Message): StepRefusal | null {
    // Measured from the durable term, which moves only once per ready: a batch of forged
    // messages stepped before the next persist cannot add up jumps beyond the bound.
    if (m.term > this.persisted.term + TERM_JUMP_MAX) return "termJump";
    if (!this.isVoter()) return null;
    return this.log.knownVoter(m.from, m.fromDir) ? null : "notVoter";
  }

  private stepMessage(m: Message): void {
    if (!this.stepTerm(m)) return;
    if (m.type === "preVote" || m.type === "vote") {
      this.handleVoteRequest(m);
      return;
    }
    if (this.role === "leader") this.stepLeader(m);
    else if (this.role === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
  }

  /** Proposes application data; on success it is appended at the returned index and term. */
  propose(data: Uint8Array): ProposeResult {
    this.assertNotAwaitingAdvance();
    const refusal = this.proposalRefusal();
    if (refusal !== null) return this.refuse(refusal);
    return this.appendAsLeader({ type: "normal", term: this.currentTerm, index: index(0), data });
  }

  /**
   * Proposes adding or removing one voter. Refused while another change is uncommitted, and
   * until this leader committed an entry of its own term (the single-server change rule).
   */
  proposeVoterChange(change: VoterChange): ProposeResult {
    this.assertNotAwaitingAdvance();
    const refusal = this.proposalRefusal() ?? this.changeRefusal(change);
    if (refusal !== null) return this.refuse(refusal);
    const old = this.log.voters();
    const voters =
      change.type === "addVoter"
        ? [...old, change.voter]
        : old.filter((v) => !sameKey(v, change.voter));
    assert(Math.abs(voters.length - old.length) === 1, "voter change must change one voter");
    return this.appendAsLeader({ type: "config", term: this.currentTerm, index: index(0), voters });
  }

  /**
   * Hands leadership to voter `to`: stops taking proposals, brings `to` up to date, then sends
   * it TimeoutNow. Aborted after an election timeout. Returns false if not possible now.
   */
  transferLeadership(to: NodeId): boolean {
    this.assertNotAwaitingAdvance();
    const pr = this.progress.get(to);
    if (this.role !== "leader" || pr === undefined || to === this.id) return false;
    this.transferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send({ type: "timeoutNow", to, toDir: pr.dir });
    else this.sendAppend(pr, true);
    return true;
  }

  // ---------------------------------------------------------------- outputs

  /** Whether `ready()` has anything to hand out. */
  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.log.hasUnstable() ||
      this.log.hasNextCommitted() ||
      this.hardStateChanged()
    );
  }

  /** Collects the work to do; the caller must handle it and then call `advance`. */
  ready(): Ready {
    this.assertNotAwaitingAdvance();
    this.awaitingAdvance = true;
    const hs = this.hardState();
    const rd: Ready = {
      hardState: this.hardStateChanged() ? hs : null,
      entries: [...this.log.unstableEntries()],
      snapshot: this.log.pendingSnapshot(),
      messages: this.msgs,
      committed: this.log.nextCommitted(this.opts.committedPerReadyMax),
      seq: ++this.readySeq,
    };
    this.msgs = [];
    return rd;
  }

  /** Acknowledges that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    assert(this.awaitingAdvance && rd.seq === this.readySeq, "advance without matching ready");
    this.awaitingAdvance = false;
    if (rd.hardState !== null) this.persisted = rd.hardState;
    if (rd.entries.length > 0 || rd.snapshot !== null) this.log.stableTo();
    const last = rd.committed[rd.committed.length - 1];
    if (last !== undefined) {
      assert(last.index > this.log.applied, "applied went backwards");
      this.log.applied = last.index;
    }
  }

  /** The node's observable state. */
  status(): Status {
    return {
      id: this.id,
      dir: this.dir,
      role: this.role,
      term: this.currentTerm,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      voters: this.log.voters(),
      isVoter: this.isVoter(),
      voterMatch: this.role === "leader" ? this.voterMatch() : [],
      quorumContactTicks: this.contactElapsed,
      refusedMessages: this.refused,
    };
  }

  /** The leader's match index of each voter, counted as `maybeCommit` counts them. */
  private voterMatch(): VoterMatch[] {
    return this.log.voters().map((v) => {
      if (v.id === this.id && v.dir === this.dir) return { ...v, match: this.log.lastIndex() };
      const pr = this.progressFor(v);
      return { ...v, match: pr?.matchKnown === true ? pr.match : null };
    });
  }

  /** Term of entry `i` in this node's log (stable or not), or null. For checkers and tests. */
  termAt(i: Index): Term | null {
    return this.log.term(i);
  }

  /** Entries [lo, hi) of this node's log. For checkers and tests. */
  entriesAt(lo: Index, hi: Index): readonly Entry[] {
    return this.log.entries(lo, hi, hi - lo);
  }

  // ---------------------------------------------------------------- roles

  private becomeFollower(t: Term, leader: NodeId | null): void {
    if (t !== this.currentTerm) {
      assert(t > this.currentTerm, `term went back ${this.currentTerm} -> ${t}`);
      this.currentTerm = t;
      this.vote = null;
    }
    this.role = "follower";
    this.leader = leader;
    this.reset();
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    this.role = "preCandidate";
    this.leader = null;
    this.votes.clear();
    this.transferee = null;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.currentTerm = term(this.currentTerm + 1);
    this.vote = { id: this.id, dir: this.dir };
    this.role = "candidate";
    this.leader = null;
    this.reset();
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", `${this.role} cannot become leader`);
    this.role = "leader";
    this.leader = this.id;
    this.contactElapsed = 0; // a majority just voted for us
    this.reset();
    for (const v of this.log.voters()) this.addProgress(v);
    // A no-op of the new term lets the leader commit earlier terms' entries (Raft §5.4.2).
    this.appendAsLeader({ type: "noop", term: this.currentTerm, index: index(0) });
  }

  private reset(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.votes.clear();
    this.progress.clear();
    this.transferee = null;
    this.resetRandomizedElectionTimeout();
  }

  private resetRandomizedElectionTimeout(): void {
    const e = this.opts.electionTicks;
    this.randomizedElectionTicks = e + this.opts.rng.nextInt(e);
  }

  private addProgress(v: ReplicaKey): void {
    if (v.id === this.id) return;
    const next = index(this.log.lastIndex() + 1);
    const pr = new Progress({
      id: v.id,
      dir: v.dir,
      next,
      inflightMax: this.opts.inflightAppendsMax,
    });
    pr.recentActive = true;
    this.progress.set(v.id, pr);
  }

  // ---------------------------------------------------------------- timers

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.opts.electionTicks) {
      this.electionElapsed = 0;
      this.transferee = null;
      const active = this.quorumActive();
      if (active) this.contactElapsed = 0;
      else if (this.opts.checkQuorum) {
        this.becomeFollower(this.currentTerm, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.opts.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      for (const pr of this.progress.values()) this.sendHeartbeat(pr);
    }
  }

  /** Check-quorum: did a majority of voters talk to us during the last election timeout? */
  private quorumActive(): boolean {
    const voters = this.log.voters();
    let active = 0;
    for (const v of voters) {
      if (v.id === this.id) active += v.dir === this.dir ? 1 : 0;
      else if (this.progressFor(v)?.recentActive) active++;
    }
    for (const pr of this.progress.values()) pr.recentActive = false;
    return active >= quorum(voters.length);
  }

  // ---------------------------------------------------------------- elections

  private isVoter(): boolean {
    return this.log.voters().some((v) => v.id === this.id && v.dir === this.dir);
  }

  /** Starts an election: a pre-vote round first unless `transfer` (TimeoutNow) says not to. */
  private hup(transfer: boolean): void {
    if (!this.isVoter()) return;
    if (this.opts.preVote && !transfer) {
      this.becomePreCandidate();
      this.requestVotes("preVote", false);
    } else {
      this.becomeCandidate();
      this.requestVotes("vote", transfer);
    }
  }

  private requestVotes(type: "preVote" | "vote", transfer: boolean): void {
    const t = type === "preVote" ? term(this.currentTerm + 1) : this.currentTerm;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    this.votes.set(this.id, true);
    for (const v of this.log.voters()) {
      if (v.id === this.id) continue;
      if (type === "vote") {
        this.send({ type, to: v.id, toDir: v.dir, term: t, lastIndex, lastTerm, transfer });
      } else this.send({ type, to: v.id, toDir: v.dir, term: t, lastIndex, lastTerm });
    }
    this.tallyVotes();
  }

  /** Counts votes from voters of the current configuration (matching directory ids only). */
  private tallyVotes(): void {
    const voters = this.log.voters();
    let granted = 0;
    let rejected = 0;
    for (const v of voters) {
      const g = this.votes.get(v.id);
      if (g === true) granted++;
      if (g === false) rejected++;
    }
    const q = quorum(voters.length);
    if (granted >= q) {
      if (this.role === "preCandidate") {
        this.becomeCandidate();
        this.requestVotes("vote", false);
      } else this.becomeLeader();
    } else if (rejected >= q) this.becomeFollower(this.currentTerm, null);
  }

  /** Leader lease: a follower that heard from a live leader recently ignores elections. */
  private inLease(): boolean {
    return (
      this.opts.checkQuorum &&
      this.leader !== null &&
      this.electionElapsed < this.opts.electionTicks
    );
  }

  /**
   * Applies Raft's term rules to an incoming message; returns whether to process it further.
   * Pre-votes never change a term; a vote request inside a leader lease is ignored.
   */
  private stepTerm(m: Message): boolean {
    if (m.term > this.currentTerm) {
      const isVoteReq = m.type === "preVote" || m.type === "vote";
      if (isVoteReq && this.inLease() && !(m.type === "vote" && m.transfer)) return false;
      if (m.type === "preVote") return true;
      if (m.type === "preVoteResponse" && m.granted) return true;
      const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
      this.becomeFollower(m.term, fromLeader ? m.from : null);
      return true;
    }
    if (m.term < this.currentTerm) {
      // Tell a stale leader or pre-candidate about the newer term so it steps down.
      if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.send({ type: "heartbeatResponse", to: m.from, toDir: m.fromDir });
      } else if (m.type === "preVote") {
        this.send({ type: "preVoteResponse", to: m.from, toDir: m.fromDir, granted: false });
      }
      return false;
    }
    return true;
  }

  private handleVoteRequest(m: Message & { type: "preVote" | "vote" }): void {
    const candidate: ReplicaKey = { id: m.from, dir: m.fromDir };
    // KIP-853: a request addressed to another directory (our old disk) gets no vote.
    const dirOk = m.toDir === null || m.toDir === this.dir;
    const canVote =
      sameKey(this.vote, candidate) ||
      (this.vote === null && this.leader === null) ||
      (m.type === "preVote" && m.term > this.currentTerm);
    const upToDate =
      this.opts.unsafe.skipVoteLogCheck === true || this.log.isUpToDate(m.lastIndex, m.lastTerm);
    const type = m.type === "vote" ? "voteResponse" : "preVoteResponse";
    if (dirOk && canVote && upToDate) {
      this.send({ type, to: m.from, toDir: m.fromDir, term: m.term, granted: true });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = candidate;
      }
    } else {
      this.send({ type, to: m.from, toDir: m.fromDir, granted: false });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.becomeFollower(this.currentTerm, m.from);
        this.stepFollower(m);
        return;
      case "preVoteResponse":
      case "voteResponse":
        this.recordVote(m);
        return;
      default:
        return;
    }
  }

  private recordVote(m: VoteResponseMessage): void {
    const wanted = this.role === "preCandidate" ? "preVoteResponse" : "voteResponse";
    if (m.type !== wanted) return;
    const voter = this.log.voters().find((v) => v.id === m.from);
    if (voter === undefined || voter.dir !== m.fromDir) return; // not that voter (KIP-853)
    if (!this.votes.has(m.from)) this.votes.set(m.from, m.granted);
    this.tallyVotes();
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "snapshot":
        this.heardFromLeader(m.from);
        this.handleSnapshotChunk(m);
        return;
      case "timeoutNow":
        this.hup(true);
        return;
      default:
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.contactElapsed = 0;
    this.leader = from;
  }

  private handleAppend(m: AppendMessage): void {
    const reply = { type: "appendResponse", to: m.from, toDir: m.fromDir } as const;
    const none = { rejectedIndex: index(0), conflictIndex: index(0), conflictTerm: term(0) };
    if (m.prevIndex < this.log.committed) {
      this.send({ ...reply, success: true, matchIndex: this.log.committed, ...none });
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) this.log.append(m.entries.slice(conflict - m.prevIndex - 1));
      const lastNew = index(m.prevIndex + m.entries.length);
      this.log.commitTo(index(Math.min(m.commit, lastNew)));
      this.send({ ...reply, success: true, matchIndex: lastNew, ...none });
      return;
    }
    const last = this.log.lastIndex();
    const hint =
      m.prevIndex > last
        ? { conflictIndex: index(last + 1), conflictTerm: term(0) }
        : {
            conflictIndex: this.log.firstIndexOfTermAt(m.prevIndex, index(this.log.committed + 1)),
            conflictTerm: this.log.term(m.prevIndex) ?? term(0),
          };
    this.send({
      ...reply,
      success: false,
      matchIndex: index(0),
      rejectedIndex: m.prevIndex,
      ...hint,
    });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(index(Math.min(m.commit, this.log.lastIndex())));
    this.send({ type: "heartbeatResponse", to: m.from, toDir: m.fromDir });
  }

  /**
   * A snapshot larger than snapshotBytesMax comes from a peer, so it is bad input, not a broken
   * invariant: drop the transfer (no reply) rather than crash; the leader retries later.
   */
  private snapshotTooLarge(totalBytes: number): boolean {
    if (totalBytes <= this.opts.snapshotBytesMax) return false;
    this.receiving = null;
    return true;
  }

  private handleSnapshotChunk(m: SnapshotChunkMessage): void {
    const meta = m.meta;
    const reply = (nextOffset: number, installed: boolean, matchIndex: Index): void =>
      this.send({
        type: "snapshotResponse",
        to: m.from,
        toDir: m.fromDir,
        snapshotIndex: meta.index,
        nextOffset,
        installed,
        matchIndex,
      });
    if (meta.index <= this.log.committed) {
      this.receiving = null;
      reply(0, true, this.log.committed);
      return;
    }
    const r = this.receiving;
    if (r === null || r.meta.index !== meta.index || r.meta.term !== meta.term) {
      if (m.offset !== 0) {
        reply(0, false, index(0)); // we lost the earlier chunks (restart): start over
        return;
      }
      this.receiving = { meta, chunks: [], bytes: 0 };
    }
    const recv = this.receiving!;
    if (m.offset !== recv.bytes || !m.done) {
      if (m.offset === recv.bytes) {
        if (this.snapshotTooLarge(recv.bytes + m.data.length)) return;
        recv.chunks.push(m.data);
        recv.bytes += m.data.length;
      }
      reply(recv.bytes, false, index(0));
      return;
    }
    if (this.snapshotTooLarge(recv.bytes + m.data.length)) return;
    recv.chunks.push(m.data);
    recv.bytes += m.data.length;
    this.receiving = null;
    if (this.log.matchTerm(meta.index, meta.term)) this.log.commitTo(meta.index);
    else this.log.restore({ meta, data: concat(recv.chunks, recv.bytes) });
    reply(recv.bytes, true, meta.index);
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") return;
    if (m.type === "timeoutNow" || m.type === "voteResponse" || m.type === "preVoteResponse") {
      return;
    }
    const pr = this.progress.get(m.from);
    // A reply from another directory at that node id is not from the voter we track.
    if (pr === undefined || pr.dir !== m.fromDir) return;
    pr.recentActive = true;
    if (m.type === "appendResponse") this.handleAppendResponse(pr, m);
    else if (m.type === "heartbeatResponse") this.handleHeartbeatResponse(pr);
    else if (m.type === "snapshotResponse") this.handleSnapshotResponse(pr, m);
  }

  private handleAppendResponse(pr: Progress, m: AppendResponseMessage): void {
    if (!m.success) {
      this.handleAppendReject(pr, m);
      return;
    }
    const probed = pr.state === "probe" && m.matchIndex === pr.match; // a probe found the match
    const updated = pr.maybeUpdate(m.matchIndex) || probed;
    pr.freeTo(m.matchIndex);
    if (!updated) {
      if (pr.state === "replicate") this.sendAppend(pr, false); // a slot may have freed
      return;
    }
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match >= pr.transfer!.snapshot.meta.index) {
      pr.becomeReplicate();
    }
    if (this.maybeCommit()) {
      for (const other of this.progress.values())
        this.sendAppend(other, other.state === "replicate");
    } else {
      // Everything it acked was already committed: tell it so, even with an empty append.
      this.sendAppend(pr, pr.match <= this.log.committed);
    }
    if (this.transferee === pr.id && pr.match === this.log.lastIndex()) {
      this.send({ type: "timeoutNow", to: pr.id, toDir: pr.dir });
    }
  }

  /** Fast backtracking with the follower's (conflictTerm, conflictIndex) hint. */
  private handleAppendReject(pr: Progress, m: AppendResponseMessage): void {
    if (pr.state === "snapshot") return;
    if (pr.state === "replicate" && m.rejectedIndex <= pr.match) return; // stale
    if (pr.state === "probe" && m.rejectedIndex !== pr.next - 1) return; // stale
    let next = m.conflictIndex;
    if (m.conflictTerm > 0) {
      const i = this.log.lastIndexWithTermAtMost(m.conflictTerm, m.rejectedIndex);
      if (this.log.term(i) === m.conflictTerm) next = index(i + 1);
    }
    pr.becomeProbe(index(Math.min(next, m.rejectedIndex)));
    this.sendAppend(pr, true);
  }

  private handleHeartbeatResponse(pr: Progress): void {
    if (pr.state === "snapshot") {
      this.sendSnapshotChunk(pr);
      return;
    }
    // The follower is alive: whatever we sent may have been lost, so send again.
    pr.probeSent = false;
    if (pr.state === "replicate" && pr.isPaused()) pr.inflight.shift();
    if (pr.match < this.log.lastIndex()) this.sendAppend(pr, true);
  }

  private handleSnapshotResponse(pr: Progress, m: SnapshotResponseMessage): void {
    const tr = pr.transfer;
    if (pr.state !== "snapshot" || tr === null || tr.snapshot.meta.index !== m.snapshotIndex) {
      if (m.installed && pr.maybeUpdate(m.matchIndex)) this.maybeCommit();
      return;
    }
    if (m.installed) {
      pr.maybeUpdate(m.matchIndex);
      pr.becomeProbe(index(pr.match + 1));
      if (this.maybeCommit()) for (const p of this.progress.values()) this.sendAppend(p, false);
      this.sendAppend(pr, true);
      return;
    }
    if (m.nextOffset === tr.ackedBytes) return; // duplicate answer
    tr.ackedBytes = m.nextOffset;
    this.sendSnapshotChunk(pr);
  }

  /** Appends an entry at the end of the leader's log and replicates it. */
  private appendAsLeader(e: Entry): ProposeResult {
    assert(this.role === "leader", "only the leader appends");
    const i = index(this.log.lastIndex() + 1);
    const entry = { ...e, index: i, term: this.currentTerm };
    this.log.append([entry]);
    if (entry.type === "config") this.applyConfigAsLeader();
    this.maybeCommit();
    for (const pr of this.progress.values()) this.sendAppend(pr, false);
    return { ok: true, index: i, term: this.currentTerm };
  }

  /** A configuration takes effect when appended: track exactly the new voter set. */
  private applyConfigAsLeader(): void {
    const voters = this.log.voters();
    for (const [id, pr] of this.progress) {
      if (!voters.some((v) => v.id === id && v.dir === pr.dir)) this.progress.delete(id);
    }
    for (const v of voters) if (!this.progress.has(v.id)) this.addProgress(v);
  }

  private proposalRefusal(): ProposeRefusal | null {
    if (this.role !== "leader") return "notLeader";
    if (this.transferee !== null) return "transferInProgress";
    const uncommitted = this.log.lastIndex() - this.log.committed;
    if (uncommitted >= this.opts.uncommittedEntriesMax) return "tooManyUncommitted";
    return null;
  }

  private changeRefusal(change: VoterChange): ProposeRefusal | null {
    if (this.log.configIndex() > this.log.committed) return "configChangePending";
    if (this.log.term(this.log.committed) !== this.currentTerm) return "noCommitInTerm";
    const voters = this.log.voters();
    if (change.type === "addVoter" && voters.some((v) => v.id === change.voter.id)) {
      return "invalidChange";
    }
    if (change.type === "removeVoter") {
      const present = voters.some((v) => sameKey(v, change.voter));
      if (!present || voters.length === 1) return "invalidChange";
    }
    return null;
  }

  private refuse(reason: ProposeRefusal): ProposeResult {
    return { ok: false, reason, leader: this.leader };
  }

  private progressFor(v: ReplicaKey): Progress | undefined {
    const pr = this.progress.get(v.id);
    return pr !== undefined && pr.dir === v.dir ? pr : undefined;
  }

  /**
   * Advances commit to the highest index stored on a majority of voters, but only if that
   * entry is of the current term (Raft §5.4.2, Figure 8). Returns whether commit moved.
   */
  private maybeCommit(): boolean {
    const voters = this.log.voters();
    const acks = voters.map((v) => {
      if (v.id === this.id) return v.dir === this.dir ? this.log.lastIndex() : 0;
      return this.progressFor(v)?.match ?? 0;
    });
    acks.sort((a, b) => b - a);
    const q = index(acks[quorum(voters.length) - 1] ?? 0);
    if (q <= this.log.committed) return false;
    const unsafe = this.opts.unsafe.commitPreviousTermByCounting === true;
    if (this.log.term(q) !== this.currentTerm && !unsafe) return false;
    this.log.commitTo(q);
    // A leader removed from the voter set leads until that removal commits, then steps down.
    if (!this.isVoter() && this.log.configIndex() <= q) {
      this.becomeFollower(this.currentTerm, null);
    }
    return true;
  }

  private sendHeartbeat(pr: Progress): void {
    const commit = index(Math.min(pr.match, this.log.committed));
    this.send({ type: "heartbeat", to: pr.id, toDir: pr.dir, commit });
  }

  /** Sends the next append to `pr` if flow control allows (an empty one if `evenIfEmpty`). */
  private sendAppend(pr: Progress, evenIfEmpty: boolean): void {
    if (this.role !== "leader" || pr.isPaused()) return;
    const prevIndex = index(pr.next - 1);
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === null || pr.next < this.log.firstIndex()) {
      pr.becomeSnapshot(this.log.storage.snapshot());
      this.sendSnapshotChunk(pr);
      return;
    }
    const last = this.log.lastIndex();
    const entries =
      pr.next <= last ? this.log.entries(pr.next, index(last + 1), this.opts.appendEntriesMax) : [];
    // A probe goes out even when empty: it is how the leader finds where the logs match.
    if (entries.length === 0 && !evenIfEmpty && pr.state !== "probe") return;
    const commit = this.log.committed;
    this.send({ type: "append", to: pr.id, toDir: pr.dir, prevIndex, prevTerm, entries, commit });
    if (pr.state === "probe") pr.probeSent = true;
    else if (entries.length > 0) pr.sentEntries(entries[entries.length - 1]!.index);
  }

  private sendSnapshotChunk(pr: Progress): void {
    const tr = pr.transfer;
    assert(pr.state === "snapshot" && tr !== null, "no snapshot transfer");
    const data = tr.snapshot.data;
    const end = Math.min(data.length, tr.ackedBytes + this.opts.snapshotChunkBytes);
    this.send({
      type: "snapshot",
      to: pr.id,
      toDir: pr.dir,
      meta: tr.snapshot.meta,
      offset: tr.ackedBytes,
      data: data.subarray(tr.ackedBytes, end),
      done: end === data.length,
    });
  }

  // ---------------------------------------------------------------- plumbing

  private send(m: Outgoing): void {
    const full = { ...m, from: this.id, fromDir: this.dir, term: m.term ?? this.currentTerm };
    this.msgs.push(full as Message);
  }

  private hardState(): HardState {
    return { term: this.currentTerm, vote: this.vote, commit: this.log.committed };
  }

  private hardStateChanged(): boolean {
    const p = this.persisted;
    return (
      p.term !== this.currentTerm ||
      p.commit !== this.log.committed ||
      !(p.vote === this.vote || sameKey(p.vote, this.vote))
    );
  }

  private assertNotAwaitingAdvance(): void {
    assert(!this.awaitingAdvance, "called between ready() and advance()");
  }
}

function concat(chunks: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
