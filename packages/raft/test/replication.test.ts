// Goal: log replication obeys Raft's commit and matching rules: a leader commits only entries
// of its own term by counting (Figure 8), a follower's conflicting tail is found in one round
// trip per term (fast backtracking), appends are pipelined within a bounded window, and a
// follower behind the compacted log is brought back with a chunked snapshot.
import { describe, expect, it } from "vitest";
import { index, nodeId, term } from "../src/core/index.ts";
import { TestCluster } from "./harness.ts";

/** Partitions the cluster into groups that only talk within themselves. */
function partition(c: TestCluster, ...groups: number[][]): void {
  c.heal();
  for (const g of groups)
    for (const other of c.nodes.keys())
      if (!g.includes(other)) for (const n of g) c.cutOneWay(n, other);
}

describe("replication", () => {
  it("replicates a proposal, commits it on a majority, and every node applies it", () => {
    const c = new TestCluster(3);
    c.elect(1);
    expect(c.propose(1, "a")).toEqual({ ok: true, index: 2, term: 1 });
    c.stabilize();
    for (const n of [1, 2, 3]) expect(c.appliedOf(n)).toEqual(["a"]);
    expect(c.logOf(3)).toEqual(["1@1 noop", "2@1 a"]);
  });

  it("refuses proposals on a follower, naming the leader", () => {
    const c = new TestCluster(3);
    c.elect(1);
    expect(c.propose(2, "a")).toEqual({ ok: false, reason: "notLeader", leader: 1 });
  });

  /**
   * The scenario of Figure 8 of the Raft paper, five servers, one entry per append.
   * Leases are off (checkQuorum false) so that the scripted campaigns need no ticks.
   * Returns S1's commit index at the moment 2@1 is stored on a majority in term 3.
   */
  function figure8(c: TestCluster): number {
    c.elect(1); // [1@1]
    partition(c, [1, 2], [3, 4, 5]);
    c.propose(1, "a"); // (a) 2@1 reaches S1 and S2 only
    c.stabilize();
    partition(c, [1], [2], [3, 4, 5]);
    c.campaign(5); // (b) S5 leads term 2 with S3, S4 and appends 2@2 locally only
    for (let r = 0; r < 10 && c.status(5).role !== "leader"; r++) c.deliver();
    expect(c.status(5)).toMatchObject({ role: "leader", term: 2 });
    c.restart(1); // S1 crashes and comes back; S5 is cut off
    partition(c, [1, 2, 3, 4], [5]);
    c.pending = [];
    c.campaign(1); // term 2: S3 and S4 already voted for S5, so S1 loses
    c.stabilize();
    c.campaign(1); // (c) S1 leads term 3 and sends 2@1 to S3
    for (let r = 0; r < 10 && c.logOf(3).length < 2; r++) c.deliver();
    expect(c.logOf(3)).toEqual(["1@1 noop", "2@1 a"]);
    c.deliver((m) => m.to === 1); // S3's and S4's acks: 2@1 is now on S1..S4
    expect(c.status(1)).toMatchObject({ role: "leader", term: 3 });
    const commit = c.status(1).commit;
    // (d) S1 crashes before 3@3 spreads; S5 (last term 2) wins term 4 with S3 and S4.
    partition(c, [1], [2, 3, 4, 5]);
    c.pending = [];
    c.restart(5);
    c.campaign(5); // term 3: rejected, S2..S4 voted for S1
    c.stabilize();
    c.campaign(5); // term 4
    c.stabilize();
    expect(c.status(5)).toMatchObject({ role: "leader", term: 4 });
    return commit;
  }

  it("Figure 8: a leader does not commit an earlier term's entry by counting replicas", () => {
    const c = new TestCluster(5, { appendEntriesMax: 1, checkQuorum: false });
    expect(figure8(c)).toBe(1); // 2@1 sits on a majority in term 3 but stays uncommitted
    expect(c.get(1).applied.map((e) => e.index)).toEqual([1]);
    expect(c.logOf(3).slice(0, 2)).toEqual(["1@1 noop", "2@2 noop"]); // safely overwritten
  });

  it("Figure 8 with the unsafe switch: the counted old-term entry is committed, then lost", () => {
    const unsafe = { commitPreviousTermByCounting: true };
    const c = new TestCluster(5, { appendEntriesMax: 1, checkQuorum: false, unsafe });
    expect(figure8(c)).toBe(2);
    const a1 = c.get(1).applied.find((e) => e.index === 2);
    const a5 = c.get(5).applied.find((e) => e.index === 2);
    expect([a1?.term, a5?.term]).toEqual([1, 2]); // two different entries applied at index 2
  });

  it("backtracks a divergent tail in one round trip per term (conflict hint)", () => {
    const c = new TestCluster(3);
    c.elect(1);
    for (let k = 0; k < 10; k++) c.propose(1, `c${k}`);
    c.stabilize(); // 1..11 committed everywhere
    c.isolate(1);
    for (let k = 0; k < 11; k++) c.propose(1, `lost${k}`); // 12..22@1 on S1 only
    c.tick(2, 10);
    c.tick(3, 10);
    c.pending = [];
    c.elect(2); // term 2: 12@2 noop
    for (let k = 0; k < 10; k++) c.propose(2, `d${k}`);
    c.stabilize();
    c.get(2).node.transferLeadership(nodeId(3));
    c.stabilize(); // S3 leads term 3; its first probe to S1 is after 22@2
    expect(c.status(3).role).toBe("leader");
    c.heal();
    const out = c.stabilize().concat(c.tick(3), c.stabilize());
    const rejects = out.filter((l) => l.startsWith("1->3 appendResponse") && l.includes("reject"));
    expect(rejects).toEqual(["1->3 appendResponse t3 reject at=22 hint=12@1"]);
    expect(c.logOf(1)).toEqual(c.logOf(3));
  });

  it("reports each voter's match index on the leader: its own last index, then acks", () => {
    const c = new TestCluster(3, { checkQuorum: false }); // no lease: 2 may campaign at once
    c.elect(1);
    c.isolate(3);
    c.propose(1, "a");
    c.stabilize();
    const matches = (n: number) => c.status(n).voterMatch.map((v) => [v.id, v.match]);
    expect(matches(1)).toEqual([
      [1, 2],
      [2, 2],
      [3, 1],
    ]);
    expect(c.status(1).voterMatch.map((v) => v.dir)).toEqual(c.status(1).voters.map((v) => v.dir));
    expect(matches(2)).toEqual([]); // followers do not know
    c.heal();
    c.campaign(2); // a new leader knows only its own log until the others answer
    for (let r = 0; r < 10 && c.status(2).role !== "leader"; r++)
      c.deliver((m) => m.to !== 2 || m.type !== "appendResponse");
    expect(matches(2)).toEqual([
      [1, null],
      [2, 3],
      [3, null],
    ]);
    c.stabilize();
    expect(matches(2)).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it("pipelines appends up to the in-flight limit, then waits for acknowledgements", () => {
    const c = new TestCluster(3, { inflightAppendsMax: 2, appendEntriesMax: 1 });
    c.elect(1);
    for (let k = 0; k < 5; k++) c.propose(1, `p${k}`);
    const toTwo = c.pending.filter((m) => m.to === 2 && m.type === "append");
    expect(toTwo.map((m) => (m.type === "append" ? m.entries.map((e) => e.index) : []))).toEqual([
      [2],
      [3],
    ]);
    c.stabilize();
    expect(c.status(2).commit).toBe(6);
  });

  it("sends a snapshot in chunks to a follower behind the compacted log", () => {
    const c = new TestCluster(3, { snapshotChunkBytes: 4 });
    c.elect(1);
    c.isolate(3);
    for (let k = 0; k < 5; k++) c.propose(1, `s${k}`);
    c.stabilize();
    const leader = c.get(1);
    const data = new TextEncoder().encode("s0s1s2s3s4"); // the state machine's image
    const meta = { index: index(6), term: term(1), voters: leader.node.status().voters };
    leader.storage.createSnapshot(meta, data);
    leader.storage.compact(index(6));
    c.heal();
    const out = c.tick(1).concat(c.stabilize());
    expect(out.filter((l) => l.includes("snapshot"))).toEqual([
      "1->3 snapshot t1 snap=6@1 off=0 len=4",
      "3->1 snapshotResponse t1 snap=6 next=4",
      "1->3 snapshot t1 snap=6@1 off=4 len=4",
      "3->1 snapshotResponse t1 snap=6 next=8",
      "1->3 snapshot t1 snap=6@1 off=8 len=2 done",
      "3->1 snapshotResponse t1 snap=6 next=10 installed match=6",
    ]);
    expect(c.get(3).storage.snapshot()).toEqual({ meta, data });
    c.propose(1, "after");
    c.stabilize();
    expect(c.appliedOf(3)).toEqual(["after"]);
    expect(c.status(3).commit).toBe(7);
  });

  it("drops, without crashing, a snapshot larger than snapshotBytesMax sent by a peer", () => {
    const c = new TestCluster(3, { snapshotChunkBytes: 4, snapshotBytesMax: 6 });
    c.elect(1);
    c.isolate(3);
    for (let k = 0; k < 5; k++) c.propose(1, `s${k}`);
    c.stabilize();
    const leader = c.get(1);
    const data = new TextEncoder().encode("s0s1s2s3s4");
    const meta = { index: index(6), term: term(1), voters: leader.node.status().voters };
    leader.storage.createSnapshot(meta, data);
    leader.storage.compact(index(6));
    c.heal();
    const out = c.tick(1).concat(c.stabilize());
    expect(out.filter((l) => l.includes("snapshot")).slice(0, 3)).toEqual([
      "1->3 snapshot t1 snap=6@1 off=0 len=4",
      "3->1 snapshotResponse t1 snap=6 next=4",
      "1->3 snapshot t1 snap=6@1 off=4 len=4",
    ]);
    expect(out).not.toContain("3->1 snapshotResponse t1 snap=6 next=8");
    expect(c.get(3).storage.snapshot().meta.index).toBe(0);
    expect(c.status(3).role).toBe("follower");
  });

  it("a restarted follower re-applies committed entries from its snapshot point", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.propose(1, "x");
    c.stabilize();
    c.restart(2);
    c.tick(1);
    c.stabilize();
    expect(c.appliedOf(2)).toEqual(["x"]);
  });
});
