// Goal: leader election follows the Raft paper and etcd's extensions: role transitions, the
// vote rules (§5.2 one vote per term, §5.4.1 up-to-date log), pre-vote never bumps terms, and
// check-quorum makes a cut-off leader step down and protects a live leader with a lease.
import { describe, expect, it } from "vitest";
import { directoryId, index, nodeId, term } from "../src/core/index.ts";
import { dirOf, TestCluster } from "./harness.ts";

describe("election", () => {
  it("a campaign runs pre-vote, then vote, then the leader appends a no-op", () => {
    const c = new TestCluster(3);
    expect(c.campaign(1)).toEqual(["1->2 preVote t1 last=0@0", "1->3 preVote t1 last=0@0"]);
    expect(c.status(1).term).toBe(0); // pre-vote does not bump the term
    expect(c.deliver()).toEqual([
      "2->1 preVoteResponse t1 granted",
      "3->1 preVoteResponse t1 granted",
    ]);
    expect(c.deliver()).toEqual(["1->2 vote t1 last=0@0", "1->3 vote t1 last=0@0"]);
    expect(c.deliver()).toEqual(["2->1 voteResponse t1 granted", "3->1 voteResponse t1 granted"]);
    expect(c.deliver()).toEqual([
      "1->2 append t1 prev=0@0 [1@1 noop] c=0",
      "1->3 append t1 prev=0@0 [1@1 noop] c=0",
    ]);
    expect(c.deliver()).toEqual([
      "2->1 appendResponse t1 ok match=1",
      "3->1 appendResponse t1 ok match=1",
    ]);
    c.stabilize();
    expect(c.roles()).toEqual(["1 leader t1 c=1", "2 follower t1 c=1", "3 follower t1 c=1"]);
  });

  it("a single voter elects itself at once", () => {
    const c = new TestCluster(1);
    c.campaign(1);
    expect(c.roles()).toEqual(["1 leader t1 c=1"]);
  });

  it("a follower times out after its randomized election timeout, in [10, 20) ticks", () => {
    const c = new TestCluster(3);
    expect(c.tick(1, 9)).toEqual([]);
    let ticks = 9;
    while (c.status(1).role === "follower") {
      c.tick(1);
      ticks++;
    }
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(ticks).toBeLessThan(20);
    expect(c.status(1).role).toBe("preCandidate");
  });

  it("grants one vote per term (§5.2)", () => {
    const c = new TestCluster(3, { preVote: false });
    c.campaign(1);
    c.campaign(2);
    // 3 gets both requests for term 1; it votes for whichever came first only.
    const out = c.deliver((m) => m.to === 3);
    expect(out).toEqual(["3->1 voteResponse t1 granted", "3->2 voteResponse t1 rejected"]);
    expect(c.get(3).storage.hardState().vote).toEqual({ id: nodeId(1), dir: dirOf(1) });
  });

  it("rejects a candidate whose log is behind (§5.4.1)", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(3);
    c.propose(1, "x");
    c.stabilize();
    c.heal();
    // 3 lacks entry 2: its vote request is refused by 1 and 2.
    c.get(3).node.step({
      type: "timeoutNow",
      from: nodeId(1),
      fromDir: dirOf(1),
      to: nodeId(3),
      toDir: dirOf(3),
      term: term(1),
    });
    expect(c.flush()).toEqual(["3->1 vote t2 last=1@1 transfer", "3->2 vote t2 last=1@1 transfer"]);
    expect(c.deliver()).toEqual(["1->3 voteResponse t2 rejected", "2->3 voteResponse t2 rejected"]);
    expect(c.deliver()).toEqual([]);
    expect(c.status(3).role).toBe("follower");
  });

  it("a partitioned node's pre-votes fail and its term stays put", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(3);
    c.tick(3, 100);
    expect(c.status(3)).toMatchObject({ role: "preCandidate", term: 1 });
    c.pending = [];
    c.heal();
    // 1 and 2 are in their leader lease: they ignore the pre-vote; the leader's heartbeat
    // brings 3 back as a follower without any term change.
    c.tick(1);
    c.stabilize();
    expect(c.roles()).toEqual(["1 leader t1 c=1", "2 follower t1 c=1", "3 follower t1 c=1"]);
  });

  it("pre-vote is refused to a candidate with a stale log, without changing anyone's term", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(3);
    c.propose(1, "x");
    c.stabilize();
    c.heal();
    c.isolate(1); // the leader is gone; 2 and 3 can talk
    c.tick(2, 10); // 2 leaves its leader lease (election timeout 10 ticks)
    c.pending = [];
    c.campaign(3);
    // 3 lacks entry 2, so 2 refuses, answering with its own (unchanged) term.
    expect(c.deliver((m) => m.to === 2)).toEqual(["2->3 preVoteResponse t1 rejected"]);
    expect(c.status(2).term).toBe(1);
  });

  it("check-quorum: a leader that hears from no majority steps down within two timeouts", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(1);
    c.tick(1, 10);
    expect(c.status(1).role).toBe("leader"); // the election itself counted as contact
    c.tick(1, 10);
    expect(c.status(1)).toMatchObject({ role: "follower", term: 1, leader: null });
  });

  it("check-quorum: a leader with a live majority stays", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(3);
    for (let k = 0; k < 30; k++) {
      c.tick(1);
      c.stabilize();
    }
    expect(c.status(1).role).toBe("leader");
  });

  it("a leader lease makes followers ignore a disruptive vote request", () => {
    const c = new TestCluster(3, { preVote: false });
    c.elect(1);
    c.get(2).node.step({
      type: "vote",
      from: nodeId(3),
      fromDir: dirOf(3),
      to: nodeId(2),
      toDir: dirOf(2),
      term: term(5),
      lastIndex: index(9),
      lastTerm: term(4),
      transfer: false,
    });
    expect(c.flush()).toEqual([]);
    expect(c.status(2).term).toBe(1);
  });

  it("a higher term in any message turns a leader into a follower", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.get(1).node.step({
      type: "heartbeatResponse",
      from: nodeId(2),
      fromDir: dirOf(2),
      to: nodeId(1),
      toDir: dirOf(1),
      term: term(7),
    });
    expect(c.status(1)).toMatchObject({ role: "follower", term: 7 });
  });

  it("a stale leader is told the newer term and steps down", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(1);
    for (let k = 0; k < 40; k++) {
      c.tick(2);
      c.tick(3);
      c.stabilize();
    }
    expect([c.status(2).role, c.status(3).role]).toContain("leader");
    c.heal();
    c.tick(1); // heartbeat at term 1
    c.stabilize();
    expect(c.status(1).role).toBe("follower");
    expect(c.status(1).term).toBeGreaterThan(1);
  });

  it("restarts keep term and vote (they are persisted before any message)", () => {
    const c = new TestCluster(3, { preVote: false });
    c.campaign(1);
    c.deliver((m) => m.to === 2);
    c.restart(2);
    expect(c.status(2)).toMatchObject({ term: 1, vote: { id: 1, dir: directoryId("d1") } });
  });
});
