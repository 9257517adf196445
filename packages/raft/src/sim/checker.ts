/**
 * Safety invariants of Raft, checked by the simulator after every event (TigerBeetle VOPR
 * style). A violation throws {@link InvariantViolation}; the simulator reports the seed.
 */
import type { Entry, Index, NodeId, Snapshot, Status, Term } from "../core/types.ts";
import { index } from "../core/types.ts";
import { entryKey, SimStateMachine } from "./state-machine.ts";

/** A broken safety property: the simulation found a bug. */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
}

function violation(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new InvariantViolation(msg);
}

interface Fact {
  readonly key: string;
  readonly term: Term;
}

/** Global knowledge accumulated over a run, against which every node is checked. */
export class SafetyChecker {
  /** term -> the one node that led it (Election Safety). */
  private readonly leaders = new Map<number, NodeId>();
  /** "index@term" -> content key and previous term (Log Matching, by induction). */
  private readonly logFacts = new Map<string, { key: string; prevTerm: Term | null }>();
  /** index -> the entry applied there by anyone (State Machine Safety). */
  private readonly applied = new Map<number, Fact>();
  /** index -> state machine hash after applying it. */
  private readonly hashes = new Map<number, number>();
  /** Highest index applied anywhere: everything up to it is committed. */
  maxApplied: Index = index(0);
  /** Payloads clients proposed; nothing else may be applied. */
  readonly proposed = new Set<string>();

  /** Election Safety: at most one leader per term. */
  observeStatus(s: Status): void {
    if (s.role !== "leader") return;
    const prev = this.leaders.get(s.term);
    violation(
      prev === undefined || prev === s.id,
      `two leaders in term ${s.term}: ${prev} and ${s.id}`,
    );
    this.leaders.set(s.term, s.id);
  }

  /** Log Matching: the same (index, term) always holds the same entry after the same term. */
  observePersisted(node: NodeId, e: Entry, prevTerm: Term | null): void {
    const k = `${e.index}@${e.term}`;
    const key = entryKey(e);
    const fact = this.logFacts.get(k);
    if (fact === undefined) {
      this.logFacts.set(k, { key, prevTerm });
      return;
    }
    violation(
      fact.key === key,
      `log matching: ${k} is "${fact.key}" elsewhere, "${key}" on n${node}`,
    );
    const bothKnown = fact.prevTerm !== null && prevTerm !== null;
    violation(
      !bothKnown || fact.prevTerm === prevTerm,
      `log matching: before ${k} term ${fact.prevTerm} elsewhere, ${prevTerm} on n${node}`,
    );
  }

  /** State Machine Safety: no two nodes apply different entries at one index. */
  observeApply(node: NodeId, e: Entry, hashAfter: number): void {
    const key = entryKey(e);
    if (e.type === "normal")
      violation(this.proposed.has(key), `n${node} applied unproposed "${key}"`);
    const prev = this.applied.get(e.index);
    if (prev === undefined) {
      this.applied.set(e.index, { key, term: e.term });
      this.hashes.set(e.index, hashAfter);
      if (e.index > this.maxApplied) this.maxApplied = e.index;
      return;
    }
    const same = prev.key === key && prev.term === e.term;
    violation(
      same,
      `state machine safety: n${node} applied ${e.index}@${e.term} "${key}", others ${prev.term} "${prev.key}"`,
    );
    violation(this.hashes.get(e.index) === hashAfter, `n${node} state diverged at ${e.index}`);
  }

  /** A snapshot's image must match what was applied at its index elsewhere. */
  observeSnapshot(node: NodeId, s: Snapshot): void {
    const h = this.hashes.get(s.meta.index);
    const img = SimStateMachine.fromSnapshot(s);
    violation(
      h === undefined || h === img.hash,
      `n${node} installed a divergent snapshot at ${s.meta.index}`,
    );
    if (h === undefined && s.meta.index > 0) this.hashes.set(s.meta.index, img.hash);
  }

  /** The content applied at `i`, if any node applied it. */
  appliedAt(i: Index): Fact | undefined {
    return this.applied.get(i);
  }

  /**
   * Leader Completeness: a new leader's log holds every entry committed before (checked on
   * the entries it still has; compacted ones are covered by its snapshot's hash).
   */
  checkLeaderLog(s: Status, termAt: (i: Index) => Term | null): void {
    violation(
      s.lastIndex >= this.maxApplied,
      `leader n${s.id} t${s.term} lacks committed ${this.maxApplied}`,
    );
    for (let i = Math.max(s.firstIndex, 1); i <= this.maxApplied; i++) {
      const fact = this.applied.get(i);
      const t = termAt(index(i));
      violation(
        fact === undefined || t === fact.term,
        `leader n${s.id} t${s.term} has ${i}@${t}, committed ${fact?.term}`,
      );
    }
  }
}
