/**
 * A synchronous test network for the Raft core (in the spirit of etcd's `rafttest`
 * interaction environment): nodes with in-memory storage, a message queue the test delivers
 * explicitly, and one-line renderings of messages and node states so tests read as scripts:
 * input events, then the expected output lines.
 */
import type {
  DirectoryId,
  Entry,
  Index,
  Message,
  NodeId,
  RaftNodeOptions,
  ReplicaKey,
  Status,
} from "../src/core/index.ts";
import {
  directoryId,
  index,
  MemoryStorage,
  nodeId,
  RaftNode,
  SeededRng,
  term,
} from "../src/core/index.ts";

/** One node of the test cluster: the core, its storage and what it applied. */
export interface TestNode {
  node: RaftNode;
  storage: MemoryStorage;
  applied: Entry[];
  dir: DirectoryId;
}

/** Options shared by every node (ids and storage are filled in by the cluster). */
export type SharedOptions = Partial<Omit<RaftNodeOptions, "id" | "dir" | "storage" | "rng">>;

/** Directory id used for node `n` in tests: "d<n>". */
export function dirOf(n: number): DirectoryId {
  return directoryId(`d${n}`);
}

/** Voter key of node `n` with its default directory. */
export function key(n: number, dir: DirectoryId = dirOf(n)): ReplicaKey {
  return { id: nodeId(n), dir };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Renders a message on one line, e.g. `1->2 append t1 prev=0@0 [1@1 noop] c=0`. */
export function fmt(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "preVote":
    case "vote":
      return `${head} last=${m.lastIndex}@${m.lastTerm}${m.type === "vote" && m.transfer ? " transfer" : ""}`;
    case "preVoteResponse":
    case "voteResponse":
      return `${head} ${m.granted ? "granted" : "rejected"}`;
    case "append":
      return `${head} prev=${m.prevIndex}@${m.prevTerm} [${m.entries.map(fmtEntry).join(" ")}] c=${m.commit}`;
    case "appendResponse":
      return m.success
        ? `${head} ok match=${m.matchIndex}`
        : `${head} reject at=${m.rejectedIndex} hint=${m.conflictIndex}@${m.conflictTerm}`;
    case "heartbeat":
      return `${head} c=${m.commit}`;
    case "snapshot":
      return `${head} snap=${m.meta.index}@${m.meta.term} off=${m.offset} len=${m.data.length}${m.done ? " done" : ""}`;
    case "snapshotResponse":
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.installed ? ` installed match=${m.matchIndex}` : ""}`;
    default:
      return head;
  }
}

/** Renders an entry as `index@term payload`. */
export function fmtEntry(e: Entry): string {
  if (e.type === "normal") return `${e.index}@${e.term} ${dec.decode(e.data)}`;
  if (e.type === "config")
    return `${e.index}@${e.term} voters=${e.voters.map((v) => v.id).join(",")}`;
  return `${e.index}@${e.term} noop`;
}

/** Renders a status as `1 leader t2 c=3`. */
export function fmtStatus(s: Status): string {
  return `${s.id} ${s.role} t${s.term} c=${s.commit}`;
}

/** A synchronous cluster; messages wait in `pending` until the test delivers them. */
export class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  pending: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly shared: SharedOptions;
  private seed = 1;

  /** Creates nodes 1..n, all voters of the bootstrap configuration. */
  constructor(n: number, shared: SharedOptions = {}, voters: number[] = range(n)) {
    this.shared = shared;
    const bootstrap = voters.map((v) => key(v));
    for (const id of range(n)) this.add(id, bootstrap, dirOf(id));
  }

  /** Adds (or replaces, e.g. after a disk loss) node `id` with a fresh storage. */
  add(id: number, bootstrapVoters: ReplicaKey[], dir: DirectoryId): TestNode {
    const storage = new MemoryStorage({ bootstrapVoters });
    const t: TestNode = { node: this.make(id, storage, dir), storage, applied: [], dir };
    this.nodes.set(id, t);
    return t;
  }

  private make(id: number, storage: MemoryStorage, dir: DirectoryId): RaftNode {
    const rng = new SeededRng(this.seed++);
    return new RaftNode({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.shared,
      id: nodeId(id),
      dir,
      storage,
      rng,
    });
  }

  /** Restarts node `id` from its storage (a crash that lost nothing already persisted). */
  restart(id: number): void {
    const t = this.get(id);
    t.node = this.make(id, t.storage, t.dir);
    t.applied = [];
  }

  get(id: number): TestNode {
    const t = this.nodes.get(id);
    if (t === undefined) throw new Error(`no node ${id}`);
    return t;
  }

  status(id: number): Status {
    return this.get(id).node.status();
  }

  /** Handles every node's ready (persist, queue messages, apply); returns the sent messages. */
  flush(): string[] {
    const out: string[] = [];
    for (const [id, t] of this.nodes) {
      if (!t.node.hasReady()) continue;
      const rd = t.node.ready();
      if (rd.snapshot !== null) t.storage.applySnapshot(rd.snapshot);
      t.storage.append(rd.entries);
      if (rd.hardState !== null) t.storage.setHardState(rd.hardState);
      for (const m of rd.messages) {
        out.push(fmt(m));
        if (!this.cut.has(`${id}->${m.to}`)) this.pending.push(m);
      }
      t.applied.push(...rd.committed);
      t.node.advance(rd);
    }
    return out;
  }

  /** Delivers all pending messages (optionally only those matching `filter`), then flushes. */
  deliver(filter: (m: Message) => boolean = () => true): string[] {
    this.flush();
    const now = this.pending.filter(filter);
    this.pending = this.pending.filter((m) => !filter(m));
    for (const m of now) {
      if (this.cut.has(`${m.from}->${m.to}`)) continue;
      this.nodes.get(m.to)?.node.step(m);
    }
    return this.flush();
  }

  /** Delivers until no messages are pending (bounded); returns every message sent. */
  stabilize(roundsMax = 100): string[] {
    const out = this.flush();
    for (let round = 0; this.pending.length > 0; round++) {
      if (round >= roundsMax) throw new Error("cluster did not stabilize");
      out.push(...this.deliver());
    }
    return out;
  }

  /** Ticks node `id` `n` times, flushing after each tick. */
  tick(id: number, n = 1): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      this.get(id).node.tick();
      out.push(...this.flush());
    }
    return out;
  }

  campaign(id: number): string[] {
    this.get(id).node.campaign();
    return this.flush();
  }

  /** Proposes `text` on node `id`; returns the proposal result. */
  propose(id: number, text: string): ReturnType<RaftNode["propose"]> {
    const r = this.get(id).node.propose(enc.encode(text));
    this.flush();
    return r;
  }

  /** Drops all messages between `id` and every other node, both ways. */
  isolate(id: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  /** Drops messages from `a` to `b` only. */
  cutOneWay(a: number, b: number): void {
    this.cut.add(`${a}->${b}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** One line per node: `1 leader t2 c=3`. */
  roles(): string[] {
    return [...this.nodes.values()].map((t) => fmtStatus(t.node.status()));
  }

  /** The log of node `id` as rendered entries (firstIndex..lastIndex). */
  logOf(id: number): string[] {
    const s = this.status(id);
    return this.get(id)
      .node.entriesAt(s.firstIndex, index(s.lastIndex + 1))
      .map(fmtEntry);
  }

  /** Applied normal-entry payloads of node `id`. */
  appliedOf(id: number): string[] {
    return this.get(id)
      .applied.filter((e) => e.type === "normal")
      .map((e) => dec.decode(e.data));
  }

  /** Makes node `id` leader through a full election. */
  elect(id: number): void {
    this.campaign(id);
    this.stabilize();
    const s = this.status(id);
    if (s.role !== "leader") throw new Error(`node ${id} did not become leader: ${fmtStatus(s)}`);
  }
}

/** 1..n */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Shorthands for building messages in tests. */
export const t = term;
export const i: (n: number) => Index = index;
export const id: (n: number) => NodeId = nodeId;
