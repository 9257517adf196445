/**
 * The deterministic simulator (TigerBeetle's VOPR, applied to the Raft core). One seed picks
 * the cluster size, fault rates and timings and drives every random choice; the seed is all a
 * developer needs to replay a failure event by event.
 *
 * A run has two phases. Safety: clients propose throughout while the network drops,
 * delays, duplicates and reorders messages and partitions links (symmetric and one-way), nodes
 * crash (losing unsynced writes) and restart, disks turn slow, a disk may be lost (new
 * directory id), and an operator changes voters. Every invariant is checked after every event.
 * Liveness: faults stop and everything heals; within a bounded virtual time a leader must be
 * elected, the voter set converge, a new proposal commit, and every acknowledged proposal be
 * applied on every voter.
 */
import { AssertionFailure } from "@strand/base";
import type { UnsafeOptions } from "../core/options.ts";
import { SeededRng } from "../core/rng.ts";
import type { Entry, Index, Message, Ready, ReplicaKey, Status } from "../core/types.ts";
import { directoryId, index, nodeId } from "../core/types.ts";
import { InvariantViolation, SafetyChecker } from "./checker.ts";
import { formatEntry, formatMessage } from "./format.ts";
import { EventHeap } from "./heap.ts";
import type { CoreTuning, Input } from "./node.ts";
import { SimNode } from "./node.ts";
import { entryKey, SimStateMachine } from "./state-machine.ts";

/** What to simulate. Everything not given is drawn from the seed. */
export interface SimOptions {
  readonly seed: number;
  readonly nodes?: 3 | 5;
  readonly unsafe?: UnsafeOptions;
  /** Fixes some core tuning instead of drawing it from the seed (e.g. to aim at a bug). */
  readonly tuning?: Partial<Omit<CoreTuning, "unsafe">>;
  /** Record a readable event trace (slower). */
  readonly trace?: boolean;
}

/** Outcome of one seed. */
export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  /** "safety", "liveness" or "crash" (an assertion inside the core), with a message. */
  readonly failure: {
    readonly kind: "safety" | "liveness" | "assertion";
    readonly message: string;
  } | null;
  readonly summary: string;
  readonly trace: readonly string[];
  readonly stats: SimStats;
}

/** Counters of one run. */
export interface SimStats {
  events: number;
  virtualMs: number;
  leaderships: number;
  crashes: number;
  wipes: number;
  partitions: number;
  proposals: number;
  acked: number;
  snapshotsSent: number;
  voterChanges: number;
  maxApplied: number;
}

/** Fault rates and timings, drawn from the seed. */
interface Plan {
  readonly nodes: number;
  readonly tickMs: number;
  readonly safetyMs: number;
  readonly livenessMs: number;
  readonly dropRate: number;
  readonly dupRate: number;
  readonly delayMsMin: number;
  readonly delayMsJitter: number;
  readonly partitionRate: number;
  readonly crashRate: number;
  readonly wipeRate: number;
  readonly removeRate: number;
  readonly slowDiskRate: number;
  /** Chance that a new leader is crashed or cut off a few milliseconds after its election. */
  readonly strikeRate: number;
  readonly clientIntervalMs: number;
  readonly snapshotEvery: number;
  readonly snapshotPadBytes: number;
  readonly compactTail: number;
  readonly tuning: CoreTuning;
}

type Event =
  | { readonly k: "tick"; readonly node: number; readonly inc: number }
  | { readonly k: "deliver"; readonly m: Message }
  | { readonly k: "diskDone"; readonly node: number; readonly inc: number }
  | { readonly k: "restart"; readonly node: number; readonly inc: number }
  | { readonly k: "heal"; readonly partition: number }
  | { readonly k: "nemesis" }
  | { readonly k: "client" }
  | { readonly k: "operator" }
  | { readonly k: "strike"; readonly node: number; readonly term: number }
  | { readonly k: "liveness" };

const enc = new TextEncoder();
/** How often the nemesis and the operator act. */
const nemesisIntervalMs = 50;
const operatorIntervalMs = 100;
/** Bounds that keep a run finite whatever the seed. */
const eventsMax = 3_000_000;
const settleStepsMax = 10_000;
const traceLinesMax = 200_000;

function drawPlan(rng: SeededRng, o: SimOptions): Plan {
  const nodes = o.nodes ?? (rng.chance(0.5) ? 3 : 5);
  const faulty = rng.chance(0.85); // some seeds run a calm network for contrast
  return {
    nodes,
    tickMs: 10,
    safetyMs: rng.between(2000, 6000),
    livenessMs: 20_000,
    dropRate: faulty ? rng.nextFloat() * 0.15 : 0,
    dupRate: faulty ? rng.nextFloat() * 0.05 : 0,
    delayMsMin: rng.between(1, 5),
    delayMsJitter: rng.between(0, faulty ? 40 : 5),
    partitionRate: faulty ? rng.nextFloat() * 0.3 : 0,
    crashRate: faulty ? rng.nextFloat() * 0.2 : 0,
    wipeRate: faulty && rng.chance(0.3) ? 0.01 : 0,
    removeRate: rng.chance(0.3) ? 0.02 : 0,
    slowDiskRate: rng.nextFloat() * 0.1,
    strikeRate: faulty ? rng.nextFloat() * 0.5 : 0,
    clientIntervalMs: rng.between(5, 40),
    snapshotEvery: rng.between(5, 60),
    snapshotPadBytes: rng.between(0, 300),
    compactTail: rng.between(0, 20),
    tuning: {
      electionTicks: 10,
      heartbeatTicks: rng.between(1, 3),
      preVote: rng.chance(0.8),
      checkQuorum: rng.chance(0.8),
      inflightAppendsMax: rng.between(1, 8),
      appendEntriesMax: rng.between(1, 16),
      snapshotChunkBytes: rng.between(16, 256),
      unsafe: o.unsafe ?? {},
      ...o.tuning,
    },
  };
}

/** One simulated cluster run from one seed. */
export class Simulation {
  private readonly rng: SeededRng;
  private readonly plan: Plan;
  private readonly nodes: SimNode[] = [];
  private readonly heap = new EventHeap<Event>(200_000);
  private readonly checker = new SafetyChecker();
  private readonly cut = new Set<string>();
  private readonly removedOnPurpose = new Set<number>();
  private readonly pending = new Map<string, { node: number; index: Index }>();
  private readonly acked: { payload: string; index: Index }[] = [];
  private readonly traceLines: string[] = [];
  private readonly tracing: boolean;
  private now = 0;
  private partitionSeq = 0;
  private wipeSeq = 0;
  private payloadSeq = 0;
  private leaderHint: number | null = null;
  private phase: "safety" | "liveness" = "safety";
  private probe: { payload: string; index: Index | null } | null = null;
  private done = false;
  readonly stats: SimStats = {
    events: 0,
    virtualMs: 0,
    leaderships: 0,
    crashes: 0,
    wipes: 0,
    partitions: 0,
    proposals: 0,
    acked: 0,
    snapshotsSent: 0,
    voterChanges: 0,
    maxApplied: 0,
  };
  readonly seed: number;

  constructor(options: SimOptions) {
    this.seed = options.seed;
    this.rng = new SeededRng(options.seed);
    this.plan = drawPlan(this.rng, options);
    this.tracing = options.trace === true;
    const bootstrap: ReplicaKey[] = [];
    for (let i = 1; i <= this.plan.nodes; i++)
      bootstrap.push({ id: nodeId(i), dir: directoryId(`d${i}`) });
    for (const k of bootstrap) this.nodes.push(new SimNode(k.id, k.dir, bootstrap));
  }

  /** One line describing the plan drawn from the seed. */
  describe(): string {
    const p = this.plan;
    const t = p.tuning;
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    return (
      `nodes=${p.nodes} safety=${p.safetyMs}ms drop=${pct(p.dropRate)} dup=${pct(p.dupRate)} ` +
      `delay=${p.delayMsMin}+${p.delayMsJitter}ms partition=${pct(p.partitionRate)} crash=${pct(p.crashRate)} ` +
      `wipe=${pct(p.wipeRate)} remove=${pct(p.removeRate)} preVote=${t.preVote} checkQuorum=${t.checkQuorum} ` +
      `inflight=${t.inflightAppendsMax} batch=${t.appendEntriesMax} chunk=${t.snapshotChunkBytes}B ` +
      `snapEvery=${p.snapshotEvery}`
    );
  }

  /** Runs both phases to completion and reports. */
  run(): SimResult {
    let failure: SimResult["failure"] = null;
    try {
      this.boot();
      this.loop();
      this.checkFinal();
    } catch (e) {
      if (e instanceof InvariantViolation) failure = { kind: "safety", message: e.message };
      else if (e instanceof LivenessFailure) failure = { kind: "liveness", message: e.message };
      else if (e instanceof AssertionFailure) failure = { kind: "assertion", message: e.message };
      else throw e;
      this.trace(`FAILURE ${failure.kind}: ${failure.message}`);
    }
    this.stats.virtualMs = this.now;
    this.stats.maxApplied = this.checker.maxApplied;
    this.stats.acked = this.acked.length;
    const s = this.stats;
    const summary =
      `seed=${this.seed} ${failure === null ? "ok" : `FAIL(${failure.kind})`} ` +
      `events=${s.events} t=${s.virtualMs}ms leaders=${s.leaderships} applied=${s.maxApplied} ` +
      `acked=${s.acked}/${s.proposals} crashes=${s.crashes} wipes=${s.wipes} ` +
      `partitions=${s.partitions} snapshots=${s.snapshotsSent} changes=${s.voterChanges}`;
    return {
      seed: this.seed,
      ok: failure === null,
      failure,
      summary,
      trace: this.traceLines,
      stats: s,
    };
  }

  private boot(): void {
    for (const n of this.nodes) this.startNode(n);
    this.heap.push(nemesisIntervalMs, { k: "nemesis" });
    this.heap.push(this.plan.clientIntervalMs, { k: "client" });
    this.heap.push(operatorIntervalMs, { k: "operator" });
    this.heap.push(this.plan.safetyMs, { k: "liveness" });
  }

  private loop(): void {
    const deadline = this.plan.safetyMs + this.plan.livenessMs;
    while (!this.done) {
      const ev = this.heap.pop();
      if (ev === undefined) throw new LivenessFailure("event queue ran dry");
      this.now = ev.at;
      if (this.now > deadline) {
        throw new LivenessFailure(
          `no convergence within ${this.plan.livenessMs}ms after faults stopped: ${this.livenessState()}`,
        );
      }
      this.stats.events++;
      if (this.stats.events > eventsMax) throw new LivenessFailure("event budget exhausted");
      this.handle(ev.value);
      this.observe();
    }
  }

  private handle(ev: Event): void {
    switch (ev.k) {
      case "tick":
        this.onTick(ev.node, ev.inc);
        return;
      case "deliver":
        this.onDeliver(ev.m);
        return;
      case "diskDone":
        this.onDiskDone(ev.node, ev.inc);
        return;
      case "restart":
        this.onRestart(ev.node, ev.inc);
        return;
      case "heal":
        if (ev.partition === this.partitionSeq) this.healNetwork();
        return;
      case "nemesis":
        this.onNemesis();
        return;
      case "client":
        this.onClient();
        return;
      case "operator":
        this.onOperator();
        return;
      case "liveness":
        this.startLiveness();
        return;
      case "strike":
        this.onStrike(ev.node, ev.term);
        return;
    }
  }

  // ------------------------------------------------------------------ nodes

  private node(id: number): SimNode {
    return this.nodes[id - 1]!;
  }

  private startNode(n: SimNode): void {
    n.start(this.rng.fork(), this.plan.tuning);
    this.trace(
      `n${n.id} start dir=${n.dir} term=${n.disk.hardState().term} last=${n.disk.lastIndex()} snap=${n.disk.snapshot().meta.index}`,
    );
    this.scheduleTick(n);
  }

  private scheduleTick(n: SimNode): void {
    // Clocks drift: each tick interval varies by up to 10%.
    const ms = this.plan.tickMs + this.rng.between(-1, 1);
    this.heap.push(this.now + ms, { k: "tick", node: n.id, inc: n.incarnation });
  }

  private onTick(id: number, inc: number): void {
    const n = this.node(id);
    if (!n.alive || n.incarnation !== inc) return;
    this.scheduleTick(n);
    this.input(n, { kind: "tick" });
  }

  private input(n: SimNode, inp: Input): void {
    if (!n.alive) return;
    if (!n.enqueue(inp)) this.trace(`n${n.id} inbox full: dropped ${inp.kind}`);
    this.settle(n);
  }

  /** Runs the node until it is blocked on its disk or has nothing left to do. */
  private settle(n: SimNode): void {
    for (let step = 0; step < settleStepsMax; step++) {
      const core = n.core;
      if (core === null || n.writing !== null) return;
      if (core.hasReady()) {
        const rd = core.ready();
        const needsDisk = rd.entries.length > 0 || rd.hardState !== null || rd.snapshot !== null;
        if (needsDisk && n.diskLatencyMs > 0) {
          n.writing = rd;
          this.heap.push(this.now + n.diskLatencyMs, {
            k: "diskDone",
            node: n.id,
            inc: n.incarnation,
          });
          return;
        }
        this.complete(n, rd);
        continue;
      }
      const next = n.inbox.shift();
      if (next === undefined) return;
      this.exec(n, next);
    }
    throw new AssertionFailure(`n${n.id} did not settle in ${settleStepsMax} steps`);
  }

  private exec(n: SimNode, inp: Input): void {
    const core = n.core!;
    switch (inp.kind) {
      case "tick":
        core.tick();
        return;
      case "msg":
        if (this.tracing) this.trace(`n${n.id} <- ${formatMessage(inp.m)}`);
        core.step(inp.m);
        return;
      case "propose": {
        const r = core.propose(enc.encode(inp.payload));
        if (r.ok) this.pending.set(inp.payload, { node: n.id, index: r.index });
        else this.leaderHint = r.leader;
        if (this.tracing)
          this.trace(
            `n${n.id} propose ${inp.payload}: ${r.ok ? `at ${r.index}@${r.term}` : r.reason}`,
          );
        return;
      }
      case "change": {
        const r = core.proposeVoterChange(inp.change);
        if (r.ok) this.stats.voterChanges++;
        const v = inp.change.voter;
        this.trace(
          `n${n.id} ${inp.change.type} ${v.id}/${v.dir}: ${r.ok ? `at ${r.index}` : r.reason}`,
        );
        return;
      }
    }
  }

  private onDiskDone(id: number, inc: number): void {
    const n = this.node(id);
    if (!n.alive || n.incarnation !== inc || n.writing === null) return;
    const rd = n.writing;
    n.writing = null;
    this.complete(n, rd);
    this.settle(n);
  }

  /** The driver's job for one ready: persist, send, apply, advance. */
  private complete(n: SimNode, rd: Ready): void {
    this.persist(n, rd, rd.entries.length, true);
    for (const m of rd.messages) this.send(m);
    if (rd.snapshot !== null) this.installSnapshot(n, rd);
    for (const e of rd.committed) {
      const hash = n.sm.apply(e);
      this.checker.observeApply(n.id, e, hash);
      this.ack(n, e);
    }
    n.core!.advance(rd);
    this.maybeSnapshot(n);
  }

  private persist(n: SimNode, rd: Ready, entryCount: number, hardState: boolean): void {
    if (rd.snapshot !== null) {
      this.checker.observeSnapshot(n.id, rd.snapshot);
      n.disk.applySnapshot(rd.snapshot);
    }
    const written = rd.entries.slice(0, entryCount);
    n.disk.append(written);
    for (const e of written)
      this.checker.observePersisted(n.id, e, n.disk.term(index(e.index - 1)));
    if (hardState && rd.hardState !== null) n.disk.setHardState(rd.hardState);
  }

  private installSnapshot(n: SimNode, rd: Ready): void {
    const s = rd.snapshot!;
    if (s.meta.index <= n.sm.appliedIndex) {
      throw new InvariantViolation(
        `n${n.id} installs snapshot ${s.meta.index} behind applied ${n.sm.appliedIndex}`,
      );
    }
    this.stats.snapshotsSent++;
    this.trace(`n${n.id} installs snapshot ${s.meta.index}@${s.meta.term}`);
    n.sm = SimStateMachine.fromSnapshot(s);
  }

  /** A client's proposal is acknowledged when the node it went to applies it. */
  private ack(n: SimNode, e: Entry): void {
    if (this.tracing) this.trace(`n${n.id} apply ${formatEntry(e)}`);
    if (e.type !== "normal") return;
    const payload = entryKey(e);
    const p = this.pending.get(payload);
    if (p === undefined || p.node !== n.id || p.index !== e.index) return;
    this.pending.delete(payload);
    this.acked.push({ payload, index: e.index });
    if (this.probe?.payload === payload) this.probe.index = e.index;
  }

  private maybeSnapshot(n: SimNode): void {
    const applied = n.sm.appliedIndex;
    const snap = n.disk.snapshot().meta.index;
    if (applied - snap < this.plan.snapshotEvery) return;
    const t = n.disk.term(applied);
    if (t === null) throw new AssertionFailure(`n${n.id} applied ${applied} is not on disk`);
    const s = n.sm.snapshot({ index: applied, term: t }, this.plan.snapshotPadBytes);
    n.disk.createSnapshot(s.meta, s.data);
    n.disk.compact(index(Math.max(n.disk.firstIndex() - 1, applied - this.plan.compactTail)));
  }

  // ------------------------------------------------------------------ network

  private linkCut(from: number, to: number): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  private send(m: Message): void {
    if (this.linkCut(m.from, m.to) || this.rng.chance(this.plan.dropRate)) return;
    this.heap.push(this.now + this.delay(), { k: "deliver", m });
    if (this.rng.chance(this.plan.dupRate))
      this.heap.push(this.now + this.delay(), { k: "deliver", m });
  }

  private delay(): number {
    return this.plan.delayMsMin + this.rng.nextInt(this.plan.delayMsJitter + 1);
  }

  private onDeliver(m: Message): void {
    const n = this.node(m.to);
    if (!n.alive || this.linkCut(m.from, m.to)) return;
    this.input(n, { kind: "msg", m });
  }

  private healNetwork(): void {
    if (this.cut.size > 0) this.trace("network healed");
    this.cut.clear();
  }

  // ------------------------------------------------------------------ faults

  private onNemesis(): void {
    if (this.phase !== "safety") return;
    this.heap.push(this.now + nemesisIntervalMs, { k: "nemesis" });
    const p = this.plan;
    if (this.rng.chance(p.partitionRate)) this.partition();
    if (this.rng.chance(p.crashRate)) {
      // Leaders crash more often than others: elections are where the interesting bugs live.
      const leader = this.currentLeader();
      this.crash(leader !== null && this.rng.chance(0.5) ? leader.node : this.randomNode());
    }
    if (this.rng.chance(p.slowDiskRate)) {
      const n = this.randomNode();
      n.diskLatencyMs = this.rng.chance(0.5) ? 0 : this.rng.between(1, 60);
    }
    if (this.rng.chance(p.wipeRate) && this.settledConfig()) this.wipe(this.randomNode());
    if (this.rng.chance(p.removeRate)) this.toggleRemoval();
  }

  private randomNode(): SimNode {
    return this.nodes[this.rng.nextInt(this.nodes.length)]!;
  }

  /** A new partition replaces the old one: symmetric split, isolation, or one-way cuts. */
  private partition(): void {
    this.cut.clear();
    const ids = this.nodes.map((n) => n.id as number);
    const shape = this.rng.nextInt(3);
    if (shape === 0) {
      const side = new Set(ids.filter(() => this.rng.chance(0.5)));
      for (const a of ids)
        for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}>${b}`);
    } else if (shape === 1) {
      const lone = this.randomNode().id;
      for (const b of ids) if (b !== lone) this.cut.add(`${lone}>${b}`).add(`${b}>${lone}`);
    } else {
      for (let k = this.rng.between(1, ids.length); k > 0; k--) {
        const a = this.randomNode().id;
        const b = this.randomNode().id;
        if (a !== b) this.cut.add(`${a}>${b}`);
      }
    }
    this.stats.partitions++;
    this.trace(`partition #${this.partitionSeq + 1}: cut ${[...this.cut].join(" ") || "nothing"}`);
    this.heap.push(this.now + this.rng.between(50, 1000), {
      k: "heal",
      partition: ++this.partitionSeq,
    });
  }

  /** Hits a fresh leader while it is still bringing followers up to date. */
  private onStrike(id: number, term: number): void {
    const n = this.node(id);
    const s = n.core?.status();
    if (this.phase !== "safety" || s?.role !== "leader" || s.term !== term) return;
    if (this.rng.chance(0.5)) {
      this.crash(n);
      return;
    }
    this.cut.clear();
    for (const m of this.nodes) if (m.id !== id) this.cut.add(`${id}>${m.id}`).add(`${m.id}>${id}`);
    this.stats.partitions++;
    this.trace(`partition #${this.partitionSeq + 1}: leader n${id} cut off`);
    this.heap.push(this.now + this.rng.between(50, 1000), {
      k: "heal",
      partition: ++this.partitionSeq,
    });
  }

  /** Crashes a node: volatile state is lost and an in-flight write is torn. */
  private crash(n: SimNode): void {
    if (!n.alive) return;
    const torn = n.crash();
    this.stats.crashes++;
    if (torn !== null) {
      const keepSnapshot = torn.snapshot === null || this.rng.chance(0.5);
      const count = keepSnapshot ? this.rng.nextInt(torn.entries.length + 1) : 0;
      const all = keepSnapshot && count === torn.entries.length;
      const hs = all && this.rng.chance(0.5);
      if (keepSnapshot) this.persist(n, torn, count, hs);
      this.trace(
        `n${n.id} crash, torn write kept ${count}/${torn.entries.length} entries${hs ? " + hard state" : ""}`,
      );
    } else this.trace(`n${n.id} crash`);
    const downMs = this.rng.between(20, 1500);
    this.heap.push(this.now + downMs, { k: "restart", node: n.id, inc: n.incarnation });
  }

  private onRestart(id: number, inc: number): void {
    const n = this.node(id);
    if (n.alive || n.incarnation !== inc) return;
    this.startNode(n);
  }

  /** Disk loss: the node comes back empty, under a new directory id (not the old voter). */
  private wipe(n: SimNode): void {
    this.crash(n);
    this.wipeSeq++;
    this.stats.wipes++;
    n.wipe(directoryId(`d${n.id}.${this.wipeSeq}`), this.bootstrap());
    this.trace(`n${n.id} disk lost: new directory ${n.dir}`);
  }

  private bootstrap(): ReplicaKey[] {
    return this.nodes.map((n) => ({ id: n.id, dir: directoryId(`d${n.id}`) }));
  }

  /** The operator removes a voter on purpose (and later adds it back). */
  private toggleRemoval(): void {
    if (this.removedOnPurpose.size > 0) {
      this.removedOnPurpose.clear();
      return;
    }
    if (this.settledConfig()) this.removedOnPurpose.add(this.randomNode().id);
  }

  // ------------------------------------------------------------------ clients and operator

  private onClient(): void {
    this.heap.push(this.now + this.plan.clientIntervalMs, { k: "client" });
    if (this.phase === "liveness") {
      if (this.probe !== null && this.probe.index !== null) return;
      if (this.now % 200 >= this.plan.clientIntervalMs) return; // one probe every ~200 ms
    }
    const payload = `${this.phase === "liveness" ? "live" : "p"}${++this.payloadSeq}`;
    if (this.phase === "liveness") this.probe = { payload, index: null };
    this.checker.proposed.add(payload);
    this.stats.proposals++;
    const hint = this.leaderHint;
    const target = hint !== null && this.rng.chance(0.9) ? this.node(hint) : this.randomNode();
    this.input(target, { kind: "propose", payload });
  }

  /** The voter set the operator wants: every node with its current directory, minus removals. */
  private desired(): ReplicaKey[] {
    return this.nodes
      .filter((n) => !this.removedOnPurpose.has(n.id))
      .map((n) => ({ id: n.id, dir: n.dir }));
  }

  private currentLeader(): { node: SimNode; status: Status } | null {
    let best: { node: SimNode; status: Status } | null = null;
    for (const n of this.nodes) {
      const s = n.core?.status();
      if (s?.role === "leader" && (best === null || s.term > best.status.term))
        best = { node: n, status: s };
    }
    return best;
  }

  /** True when the leader's voter set is exactly every node with its current directory. */
  private converged(): boolean {
    const l = this.currentLeader();
    if (l === null || this.removedOnPurpose.size > 0) return false;
    const v = l.status.voters;
    return (
      v.length === this.nodes.length &&
      this.nodes.every((n) => v.some((k) => k.id === n.id && k.dir === n.dir))
    );
  }

  /**
   * True when every node has applied the full voter set with current directories: only then
   * may the nemesis take a voter away (a disk loss or a removal) without risking a permanent
   * loss of quorum, which would be unavailability, not a bug.
   */
  private settledConfig(): boolean {
    if (!this.converged()) return false;
    return this.nodes.every(
      (n) =>
        n.sm.voters.length === this.nodes.length &&
        this.nodes.every((m) => n.sm.voters.some((k) => k.id === m.id && k.dir === m.dir)),
    );
  }

  private onOperator(): void {
    this.heap.push(this.now + operatorIntervalMs, { k: "operator" });
    const l = this.currentLeader();
    if (l === null) return;
    const want = this.desired();
    const have = l.status.voters;
    const stale = have.find((k) => !want.some((w) => w.id === k.id && w.dir === k.dir));
    if (stale !== undefined && have.length > 1) {
      this.input(l.node, { kind: "change", change: { type: "removeVoter", voter: stale } });
      return;
    }
    const missing = want.find((w) => !have.some((k) => k.id === w.id));
    if (missing !== undefined)
      this.input(l.node, { kind: "change", change: { type: "addVoter", voter: missing } });
  }

  // ------------------------------------------------------------------ phases and invariants

  private startLiveness(): void {
    this.phase = "liveness";
    this.trace("=== liveness phase: faults stop, network heals, crashed nodes restart");
    this.healNetwork();
    this.partitionSeq++;
    this.removedOnPurpose.clear();
    const p = this.plan as { -readonly [K in keyof Plan]: Plan[K] };
    p.dropRate = 0;
    p.dupRate = 0;
    p.delayMsJitter = Math.min(p.delayMsJitter, 5);
    for (const n of this.nodes) {
      n.diskLatencyMs = Math.min(n.diskLatencyMs, 2);
      if (!n.alive) this.heap.push(this.now + 1, { k: "restart", node: n.id, inc: n.incarnation });
    }
  }

  /** Per-event checks: election safety, commit monotonic, leader completeness, liveness goal. */
  private observe(): void {
    for (const n of this.nodes) {
      const core = n.core;
      if (core === null) continue;
      const s = core.status();
      this.checker.observeStatus(s);
      if (s.commit < n.lastCommit) {
        throw new InvariantViolation(`n${n.id} commit went back ${n.lastCommit} -> ${s.commit}`);
      }
      n.lastCommit = s.commit;
      if (s.role === "leader" && n.ledTerm !== s.term) {
        n.ledTerm = s.term;
        this.stats.leaderships++;
        this.trace(`n${n.id} is leader of term ${s.term} (last ${s.lastIndex})`);
        this.checker.checkLeaderLog(s, (i) => core.termAt(i));
        if (this.phase === "safety" && this.rng.chance(this.plan.strikeRate)) {
          const at = this.now + this.rng.between(1, 40);
          this.heap.push(at, { k: "strike", node: n.id, term: s.term });
        }
      }
    }
    if (this.phase === "liveness" && this.probe?.index != null)
      this.done = this.livenessReached(this.probe.index);
  }

  private livenessReached(probeIndex: Index): boolean {
    if (!this.converged()) return false;
    const last = this.acked.reduce<number>((m, a) => Math.max(m, a.index), probeIndex);
    return this.nodes.every((n) => n.alive && n.sm.appliedIndex >= last);
  }

  private livenessState(): string {
    const l = this.currentLeader();
    const nodes = this.nodes.map((n) => {
      const s = n.core?.status();
      return s === undefined
        ? `n${n.id}:down`
        : `n${n.id}:${s.role}@t${s.term} c=${s.commit} applied=${n.sm.appliedIndex}`;
    });
    const voters = l?.status.voters.map((v) => `${v.id}/${v.dir}`).join(",") ?? "none";
    return `leader=${l?.node.id ?? "none"} voters=[${voters}] probe=${this.probe?.index ?? "pending"} ${nodes.join(" ")}`;
  }

  /** Every acknowledged proposal is applied, at its index, on every voter. */
  private checkFinal(): void {
    for (const a of this.acked) {
      const fact = this.checker.appliedAt(a.index);
      if (fact?.key !== a.payload) {
        throw new InvariantViolation(
          `acked ${a.payload} at ${a.index} but ${fact?.key} was applied there`,
        );
      }
      for (const n of this.nodes) {
        if (n.sm.appliedIndex < a.index)
          throw new LivenessFailure(`n${n.id} never applied acked ${a.payload}`);
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  private trace(line: string): void {
    if (!this.tracing || this.traceLines.length >= traceLinesMax) return;
    this.traceLines.push(`[${String(this.now).padStart(6)}ms] ${line}`);
  }
}

/** Thrown when the cluster fails to converge after faults stop. */
class LivenessFailure extends Error {
  override readonly name = "LivenessFailure";
}
