/**
 * The Raft driver: binds the pure core ({@link RaftNode}) to a storage, a clock, a transport
 * and a state machine. One loop owns the core; it takes inputs (ticks, messages, proposals)
 * from a bounded inbox and handles each {@link Ready} strictly in the core's order:
 * (1) persist snapshot, entries and hard state, fsynced; (2) send messages; (3) apply the
 * snapshot and committed entries; (4) advance. No two readies are ever handled at once.
 */
import { randomInt } from "node:crypto";
import { assert, type Logger, noopLogger } from "@strand/base";
import { RaftNode } from "../core/node.ts";
import { DEFAULT_ELECTION_TICKS, type RaftNodeOptions } from "../core/options.ts";
import type { Rng } from "../core/rng.ts";
import { SeededRng } from "../core/rng.ts";
import type { RaftStorage } from "../core/storage.ts";
import type {
  DirectoryId,
  Entry,
  HardState,
  Index,
  Message,
  NodeId,
  Ready,
  ReplicaKey,
  Snapshot,
  SnapshotMeta,
  Status,
  Term,
  VoterChange,
} from "../core/types.ts";
import { index } from "../core/types.ts";
import type { Transport } from "../transport/transport.ts";
import {
  DriverClosedError,
  InvalidEntryError,
  NotRaftLeaderError,
  ProposalRefusedError,
} from "./errors.ts";
import { LogLimiter } from "./log-limiter.ts";

/** The application state machine fed with committed entries. */
export interface StateMachine {
  /**
   * Applies the committed entry at `index`, in log order, exactly once per driver lifetime
   * (after a restart, from the snapshot on). Called for every entry type; most state machines
   * act on `normal` entries only. The data must not be mutated.
   */
  apply(entry: Entry, index: Index): void | Promise<void>;
  /** Serializes the state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot (at start, or one received from the leader). */
  restore(data: Uint8Array, meta: SnapshotMeta): void | Promise<void>;
}

/** Storage the driver can write: {@link MemoryStorage} (sync) or FileStorage (async). */
export interface DriverStorage extends RaftStorage {
  /** The directory id when the storage knows it (FileStorage). */
  readonly directoryId?: DirectoryId;
  append(entries: readonly Entry[]): void | Promise<void>;
  setHardState(hs: HardState): void | Promise<void>;
  applySnapshot(snapshot: Snapshot): void | Promise<void>;
  createSnapshot(meta: SnapshotMeta, data: Uint8Array): void | Promise<void>;
  compact(upTo: Index): void | Promise<void>;
  close?(): Promise<void>;
}

/** A cancellable repeating timer. */
export interface TimerHandle {
  cancel(): void;
}

/** The clock the driver ticks from (`setInterval`-like); inject a fake one in tests. */
export interface Scheduler {
  setInterval(fn: () => void, intervalMs: number): TimerHandle;
}

/** Real timers, unref'd so a driver never keeps the process alive by itself. */
export const realScheduler: Scheduler = {
  setInterval(fn, intervalMs) {
    const t = setInterval(fn, intervalMs);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

/**
 * Checks the payload of a normal entry before it enters the log: returns null when the
 * application can apply it, else why not. Raft knows nothing of payloads; the application
 * injects this so an entry that would stop every node at apply is never proposed nor accepted.
 */
export type EntryValidator = (data: Uint8Array) => string | null;

/** Core options the driver passes through (ticks, limits); id, dir, storage and rng are its own. */
export type CoreOptions = Partial<
  Omit<RaftNodeOptions, "id" | "dir" | "storage" | "rng" | "applied">
>;

/** Options of {@link RaftDriver.start}. */
export interface RaftDriverOptions {
  readonly id: NodeId;
  /** Directory id; defaults to `storage.directoryId` (required for a MemoryStorage). */
  readonly dir?: DirectoryId;
  readonly storage: DriverStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
  /** Tick interval; default {@link DEFAULT_TICK_MS}. Election timeout = electionTicks ticks. */
  readonly tickMs?: number;
  /** Options of the core (electionTicks 10, heartbeatTicks 1 by default). */
  readonly core?: CoreOptions;
  /** Take a state machine snapshot every this many applied entries; default 10 000. */
  readonly snapshotEveryEntries?: number;
  /** Entries kept behind a snapshot for slightly lagging followers; default 1 000. */
  readonly compactionLagEntries?: number;
  /** Inputs (message batches, proposals, tick runs) waiting for the loop; default 4 096. */
  readonly inboxInputsMax?: number;
  /** Source of the election timeout jitter; default seeded from crypto. */
  readonly rng?: Rng;
  /**
   * Validates normal entries: a proposal that fails is refused ({@link InvalidEntryError}); an
   * incoming append carrying one is dropped whole (the leader retries; logged, rate-limited).
   */
  readonly entryValidator?: EntryValidator;
  /** Interval of the rate-limited warnings about dropped messages; default 10 s. */
  readonly dropLogIntervalMs?: number;
}

/** Default tick interval: with electionTicks 10 an election timeout is 1-2 s. */
export const DEFAULT_TICK_MS = 100;
/** Default {@link RaftDriverOptions.snapshotEveryEntries}. */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 10_000;
/** Default {@link RaftDriverOptions.compactionLagEntries}. */
export const DEFAULT_COMPACTION_LAG_ENTRIES = 1_000;
/** Default {@link RaftDriverOptions.inboxInputsMax}. */
export const DEFAULT_INBOX_INPUTS_MAX = 4_096;

/** Where a proposal landed once it is committed and applied. */
export interface Proposed {
  readonly index: Index;
  readonly term: Term;
}

/** Leadership as this node sees it. */
export interface LeaderInfo {
  readonly leader: NodeId | null;
  readonly term: Term;
}

interface Settle {
  resolve(p: Proposed): void;
  reject(e: Error): void;
}

type Input =
  | { readonly kind: "tick"; count: number }
  | { readonly kind: "messages"; readonly messages: readonly Message[] }
  | { readonly kind: "propose"; readonly data: Uint8Array; readonly settle: Settle }
  | { readonly kind: "change"; readonly change: VoterChange; readonly settle: Settle }
  | { readonly kind: "transfer"; readonly to: NodeId; readonly done: (ok: boolean) => void }
  | { readonly kind: "campaign" };

interface Pending extends Settle {
  readonly term: Term;
}

/** Runs one Raft node. Create with {@link RaftDriver.start}; stop with {@link RaftDriver.close}. */
export class RaftDriver {
  readonly id: NodeId;
  readonly dir: DirectoryId;
  private readonly node: RaftNode;
  private readonly storage: DriverStorage;
  private readonly transport: Transport;
  private readonly sm: StateMachine;
  private readonly logger: Logger;
  private readonly snapshotEveryEntries: number;
  private readonly compactionLagEntries: number;
  private readonly inboxInputsMax: number;
  private readonly timer: TimerHandle;
  private inbox: Input[] = [];
  private readonly pending = new Map<Index, Pending>();
  private wake: (() => void) | null = null;
  private readonly loop: Promise<void>;
  private stopped: Error | null = null;
  private applied: Index;
  private votersAtApplied: readonly ReplicaKey[];
  private snapshotIndex: Index;
  private last: LeaderInfo;
  private wasLeader = false;
  private readonly leaderListeners: ((info: LeaderInfo) => void)[] = [];
  private readonly appliedListeners: ((entry: Entry) => void)[] = [];
  private readonly fatalListeners: ((error: unknown) => void)[] = [];
  private fatalError: { readonly error: unknown } | null = null;
  private readonly validator: EntryValidator | null;
  private readonly dropLog: LogLimiter;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  /** Message batches dropped because the inbox was full. */
  droppedBatches = 0;
  /** Append messages dropped because an entry failed the entry validator. */
  invalidAppends = 0;

  private constructor(o: RaftDriverOptions, node: RaftNode, dir: DirectoryId) {
    this.id = o.id;
    this.dir = dir;
    this.node = node;
    this.storage = o.storage;
    this.transport = o.transport;
    this.sm = o.stateMachine;
    this.logger = o.logger ?? noopLogger;
    this.snapshotEveryEntries = o.snapshotEveryEntries ?? DEFAULT_SNAPSHOT_EVERY_ENTRIES;
    this.compactionLagEntries = o.compactionLagEntries ?? DEFAULT_COMPACTION_LAG_ENTRIES;
    this.inboxInputsMax = o.inboxInputsMax ?? DEFAULT_INBOX_INPUTS_MAX;
    assert(
      this.snapshotEveryEntries >= 1 && this.compactionLagEntries >= 0,
      "bad snapshot options",
    );
    assert(this.inboxInputsMax >= 16, "inboxInputsMax below 16");
    const snap = o.storage.snapshot().meta;
    this.applied = snap.index;
    this.snapshotIndex = snap.index;
    this.votersAtApplied = snap.voters;
    const s = node.status();
    this.last = { leader: s.leader, term: s.term };
    this.validator = o.entryValidator ?? null;
    this.dropLog = new LogLimiter(o.dropLogIntervalMs);
    this.electionTicks = o.core?.electionTicks ?? DEFAULT_ELECTION_TICKS;
    this.transport.onReceive((messages) => this.receive(messages));
    const tickMs = o.tickMs ?? DEFAULT_TICK_MS;
    assert(tickMs >= 1, "tickMs below 1");
    this.tickMs = tickMs;
    this.timer = (o.scheduler ?? realScheduler).setInterval(() => this.tick(), tickMs);
    this.loop = this.run();
  }

  /**
   * Restores the state machine from the storage's snapshot, builds the core and starts
   * ticking. The state machine then sees every committed entry after the snapshot again.
   */
  static async start(options: RaftDriverOptions): Promise<RaftDriver> {
    const dir = options.dir ?? options.storage.directoryId;
    assert(dir !== undefined, "a directory id is required (options.dir or storage.directoryId)");
    const snap = options.storage.snapshot();
    if (snap.meta.index > 0 || snap.data.length > 0) {
      await options.stateMachine.restore(snap.data, snap.meta);
    }
    const rng = options.rng ?? new SeededRng(randomInt(0, 2 ** 47));
    const node = new RaftNode({
      ...options.core,
      id: options.id,
      dir,
      storage: options.storage,
      rng,
      applied: snap.meta.index,
    });
    const driver = new RaftDriver(options, node, dir);
    driver.logger.info(
      { nodeId: options.id, dir, snapshotIndex: snap.meta.index },
      "raft driver started",
    );
    return driver;
  }

  // ------------------------------------------------------------------ public API

  /**
   * Proposes `data`; resolves once it is committed and applied here. Rejects with
   * {@link NotRaftLeaderError} when this node is not the leader or loses leadership first, with
   * {@link ProposalRefusedError} under back-pressure, {@link DriverClosedError} when closed.
   */
  propose(data: Uint8Array): Promise<Proposed> {
    const invalid = this.validator?.(data) ?? null;
    if (invalid !== null) return Promise.reject(new InvalidEntryError(invalid));
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: "propose", data, settle: { resolve, reject } }),
    );
  }

  /** Adds or removes one voter; resolves when the configuration entry is applied here. */
  proposeVoterChange(change: VoterChange): Promise<Proposed> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: "change", change, settle: { resolve, reject } }),
    );
  }

  /** Asks the leader to hand leadership to `to`; resolves false if it cannot start now. */
  transferLeadership(to: NodeId): Promise<boolean> {
    return new Promise((done) => {
      if (!this.enqueue({ kind: "transfer", to, done })) done(false);
    });
  }

  /** Starts an election now (tests, operators); a no-op on a leader or non-voter. */
  campaign(): void {
    this.enqueue({ kind: "campaign" });
  }

  /** The core's observable state (role, term, leader, commit, applied, voters...). */
  status(): Status {
    return this.node.status();
  }

  /** Calls `listener` whenever the known leader or the term changes. */
  onLeaderChange(listener: (info: LeaderInfo) => void): void {
    this.leaderListeners.push(listener);
  }

  /** Calls `listener` after each entry is applied to the state machine. */
  onApplied(listener: (entry: Entry) => void): void {
    this.appliedListeners.push(listener);
  }

  /**
   * Calls `listener` if the driver stops on an error (failed I/O, broken invariant), at once
   * if it already has: a fatal error during start-up (replaying the log) must not be lost.
   */
  onFatal(listener: (error: unknown) => void): void {
    if (this.fatalError !== null) listener(this.fatalError.error);
    else this.fatalListeners.push(listener);
  }

  /**
   * Why this node has lost contact with its quorum, or null while it has it: the time since
   * it last heard from a leader (a follower) or passed check-quorum (a leader) exceeds the
   * longest randomized election timeout, i.e. an election should have fixed it by now.
   */
  quorumContactLost(): string | null {
    const s = this.node.status();
    if (s.quorumContactTicks < 2 * this.electionTicks) return null;
    const ms = s.quorumContactTicks * this.tickMs;
    const what =
      s.role === "leader" ? "a majority of voters has not answered" : "no leader has been heard";
    return `no raft quorum contact for ${ms} ms: ${what} (role ${s.role}, term ${s.term})`;
  }

  /** Stops ticking, finishes the ready in progress, fails waiting requests, closes I/O. */
  async close(): Promise<void> {
    if (this.stopped === null) this.stop(new DriverClosedError("closed"));
    await this.loop;
    await this.transport.close();
    await this.storage.close?.();
  }

  // ------------------------------------------------------------------ inputs

  private tick(): void {
    const tail = this.inbox[this.inbox.length - 1];
    if (tail?.kind === "tick") tail.count++;
    else this.enqueue({ kind: "tick", count: 1 });
  }

  private receive(messages: readonly Message[]): void {
    if (!this.enqueue({ kind: "messages", messages })) this.droppedBatches++;
  }

  /** Adds an input for the loop; refuses (and fails a request) when stopped or full. */
  private enqueue(input: Input): boolean {
    if (this.stopped !== null || this.inbox.length >= this.inboxInputsMax) {
      const error = this.stopped ?? new ProposalRefusedError("tooManyUncommitted");
      if (input.kind === "propose" || input.kind === "change") input.settle.reject(error);
      return false;
    }
    this.inbox.push(input);
    this.wake?.();
    return true;
  }

  // ------------------------------------------------------------------ the loop

  private async run(): Promise<void> {
    try {
      // Each round handles the inputs present at its start plus at most one ready.
      while (this.stopped === null) {
        this.stepInputs();
        this.noticeLeadership();
        if (this.node.hasReady()) {
          await this.handleReady(this.node.ready());
          this.noticeLeadership();
          await this.maybeSnapshot();
        } else if (this.inbox.length === 0) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          this.wake = null;
        }
      }
    } catch (error) {
      this.logger.error({ nodeId: this.id, err: error }, "raft driver stopped on a fatal error");
      this.stop(
        new DriverClosedError(`fatal: ${error instanceof Error ? error.message : String(error)}`),
      );
      this.fatalError = { error };
      for (const l of this.fatalListeners) l(error);
    }
  }

  private stepInputs(): void {
    const inputs = this.inbox;
    this.inbox = [];
    for (const input of inputs) {
      switch (input.kind) {
        case "tick":
          for (let k = 0; k < input.count; k++) this.node.tick();
          break;
        case "messages":
          for (const m of input.messages) this.stepMessage(m);
          break;
        case "propose":
          this.register(this.node.propose(input.data), input.settle);
          break;
        case "change":
          this.register(this.node.proposeVoterChange(input.change), input.settle);
          break;
        case "transfer":
          input.done(this.node.transferLeadership(input.to));
          break;
        case "campaign":
          this.node.campaign();
          break;
      }
    }
  }

  /** Steps one message unless it carries an invalid entry; logs refusals, rate-limited. */
  private stepMessage(m: Message): void {
    const invalid = this.invalidEntry(m);
    if (invalid !== null) {
      this.invalidAppends++;
      this.logDrop(m, `an entry does not validate: ${invalid}`);
      return;
    }
    const refusal = this.node.step(m);
    if (refusal === "notVoter")
      this.logDrop(m, "the sender is not a voter of this node's configuration");
    else if (refusal === "termJump")
      this.logDrop(m, `its term ${m.term} is far beyond this node's`);
  }

  private invalidEntry(m: Message): string | null {
    if (this.validator === null || m.type !== "append") return null;
    for (const e of m.entries) {
      if (e.type !== "normal") continue;
      const why = this.validator(e.data);
      if (why !== null) return `entry ${e.index}: ${why}`;
    }
    return null;
  }

  private logDrop(m: Message, why: string): void {
    const suppressed = this.dropLog.hit(`${m.from}/${m.fromDir}`);
    if (suppressed === null) return;
    this.logger.warn(
      { nodeId: this.id, from: m.from, fromDir: m.fromDir, type: m.type, why, suppressed },
      `raft message dropped${suppressed > 0 ? ` (${suppressed} more dropped from this sender)` : ""}`,
    );
  }

  private register(r: ReturnType<RaftNode["propose"]>, settle: Settle): void {
    if (!r.ok) {
      settle.reject(
        r.reason === "notLeader"
          ? new NotRaftLeaderError(r.leader, false)
          : new ProposalRefusedError(r.reason),
      );
      return;
    }
    assert(!this.pending.has(r.index), `two proposals at index ${r.index}`);
    this.pending.set(r.index, { ...settle, term: r.term });
  }

  /** The core's Ready contract, in order. */
  private async handleReady(rd: Ready): Promise<void> {
    if (rd.snapshot !== null) await this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) await this.storage.append(rd.entries);
    if (rd.hardState !== null) await this.storage.setHardState(rd.hardState);
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot !== null) await this.restore(rd.snapshot);
    for (const e of rd.committed) await this.apply(e);
    this.node.advance(rd);
  }

  private async restore(snapshot: Snapshot): Promise<void> {
    const meta = snapshot.meta;
    assert(meta.index > this.applied, `snapshot ${meta.index} not after applied ${this.applied}`);
    await this.sm.restore(snapshot.data, meta);
    this.applied = meta.index;
    this.snapshotIndex = meta.index;
    this.votersAtApplied = meta.voters;
    this.logger.info(
      { nodeId: this.id, index: meta.index, term: meta.term },
      "installed a snapshot from the leader",
    );
  }

  private async apply(e: Entry): Promise<void> {
    assert(e.index === this.applied + 1, `apply ${e.index} after ${this.applied}`);
    await this.sm.apply(e, e.index);
    this.applied = e.index;
    if (e.type === "config") this.votersAtApplied = e.voters;
    const p = this.pending.get(e.index);
    if (p !== undefined) {
      this.pending.delete(e.index);
      if (p.term === e.term) p.resolve({ index: e.index, term: e.term });
      else p.reject(new NotRaftLeaderError(this.node.status().leader, false));
    }
    for (const l of this.appliedListeners) this.call(l, e);
  }

  /** Emits leader changes; fails pending proposals when this node stops leading. */
  private noticeLeadership(): void {
    const s = this.node.status();
    if (this.wasLeader && (s.role !== "leader" || s.term !== this.last.term)) {
      for (const p of this.pending.values()) p.reject(new NotRaftLeaderError(s.leader, true));
      this.pending.clear();
    }
    this.wasLeader = s.role === "leader";
    if (s.leader === this.last.leader && s.term === this.last.term) return;
    this.last = { leader: s.leader, term: s.term };
    this.logger.info(
      { nodeId: this.id, leader: s.leader, term: s.term, role: s.role },
      "raft leader changed",
    );
    for (const l of this.leaderListeners) this.call(l, this.last);
  }

  /** Snapshots the state machine every snapshotEveryEntries and compacts the log behind it. */
  private async maybeSnapshot(): Promise<void> {
    if (this.applied - this.snapshotIndex < this.snapshotEveryEntries) return;
    const t = this.storage.term(this.applied);
    assert(t !== null, `no term for applied index ${this.applied}`);
    const meta: SnapshotMeta = { index: this.applied, term: t, voters: this.votersAtApplied };
    await this.storage.createSnapshot(meta, this.sm.snapshot());
    this.snapshotIndex = this.applied;
    const upTo = index(this.applied - this.compactionLagEntries);
    if (upTo >= this.storage.firstIndex()) await this.storage.compact(upTo);
    this.logger.info(
      { nodeId: this.id, index: meta.index, firstIndex: this.storage.firstIndex() },
      "took a raft snapshot",
    );
  }

  private stop(error: Error): void {
    this.stopped = error;
    this.timer.cancel();
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const input of this.inbox) {
      if (input.kind === "propose" || input.kind === "change") input.settle.reject(error);
      if (input.kind === "transfer") input.done(false);
    }
    this.inbox = [];
    this.wake?.();
  }

  private call<T>(listener: (arg: T) => void, arg: T): void {
    try {
      listener(arg);
    } catch (error) {
      this.logger.warn({ nodeId: this.id, err: error }, "a raft listener threw");
    }
  }
}
