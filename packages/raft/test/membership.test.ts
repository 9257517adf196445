// Goal: leadership transfer and single-server voter changes work as specified, and voters are
// (node id, directory id) pairs (KIP-853): a node whose disk was replaced neither votes nor
// counts toward a quorum as the voter it used to be.
import { describe, expect, it } from "vitest";
import { directoryId, nodeId } from "../src/core/index.ts";
import { key, TestCluster } from "./harness.ts";

describe("leadership transfer", () => {
  it("hands leadership to an up-to-date voter with TimeoutNow, without waiting for a timeout", () => {
    const c = new TestCluster(3);
    c.elect(1);
    expect(c.get(1).node.transferLeadership(nodeId(2))).toBe(true);
    const out = c.stabilize();
    expect(out.slice(0, 3)).toEqual([
      "1->2 timeoutNow t1",
      "2->1 vote t2 last=1@1 transfer",
      "2->3 vote t2 last=1@1 transfer",
    ]);
    expect(c.roles()).toEqual(["1 follower t2 c=2", "2 leader t2 c=2", "3 follower t2 c=2"]);
  });

  it("refuses proposals while transferring and catches a lagging target up first", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(2);
    c.propose(1, "x");
    c.stabilize();
    c.heal();
    c.get(1).node.transferLeadership(nodeId(2));
    expect(c.propose(1, "y")).toMatchObject({ ok: false, reason: "transferInProgress" });
    c.stabilize();
    expect(c.status(2).role).toBe("leader");
    expect(c.logOf(2).slice(0, 2)).toEqual(["1@1 noop", "2@1 x"]);
  });

  it("aborts a transfer after an election timeout", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(2);
    c.get(1).node.transferLeadership(nodeId(2));
    c.tick(1, 10);
    expect(c.propose(1, "z").ok).toBe(true);
  });
});

describe("voter changes", () => {
  it("adds a voter: the configuration takes effect on append and the new voter catches up", () => {
    const c = new TestCluster(4, {}, [1, 2, 3]);
    c.elect(1);
    const r = c.get(1).node.proposeVoterChange({ type: "addVoter", voter: key(4) });
    expect(r).toEqual({ ok: true, index: 2, term: 1 });
    expect(c.status(1).voters.map((v) => v.id)).toEqual([1, 2, 3, 4]); // before it commits
    c.flush();
    c.stabilize();
    expect(c.status(4)).toMatchObject({ isVoter: true, commit: 2 });
    expect(c.logOf(4)).toEqual(["1@1 noop", "2@1 voters=1,2,3,4"]);
  });

  it("allows one uncommitted change at a time, and none before the leader commits in its term", () => {
    const c = new TestCluster(5, {}, [1, 2, 3]);
    c.campaign(1);
    for (let r = 0; r < 10 && c.status(1).role !== "leader"; r++) c.deliver();
    const add = (n: number) =>
      c.get(1).node.proposeVoterChange({ type: "addVoter", voter: key(n) });
    expect(add(4)).toMatchObject({ ok: false, reason: "noCommitInTerm" });
    c.stabilize();
    expect(add(4).ok).toBe(true);
    expect(add(5)).toMatchObject({ ok: false, reason: "configChangePending" });
    c.stabilize();
    expect(add(5).ok).toBe(true);
    expect(add(4)).toMatchObject({ ok: false, reason: "configChangePending" });
  });

  it("rejects invalid changes: a duplicate id, an unknown voter, the last voter", () => {
    const c = new TestCluster(1);
    c.elect(1);
    const change = c.get(1).node.proposeVoterChange.bind(c.get(1).node);
    expect(change({ type: "addVoter", voter: key(1, directoryId("other")) })).toMatchObject({
      reason: "invalidChange",
    });
    expect(change({ type: "removeVoter", voter: key(2) })).toMatchObject({
      reason: "invalidChange",
    });
    expect(change({ type: "removeVoter", voter: key(1) })).toMatchObject({
      reason: "invalidChange",
    });
  });

  it("removes a follower: the rest commit without it", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.get(1).node.proposeVoterChange({ type: "removeVoter", voter: key(3) });
    c.stabilize();
    c.isolate(3);
    expect(c.propose(1, "two-of-two").ok).toBe(true);
    c.stabilize();
    expect(c.appliedOf(2)).toEqual(["two-of-two"]);
    expect(c.status(1).voters.map((v) => v.id)).toEqual([1, 2]);
  });

  it("a removed leader keeps leading until the removal commits, then steps down", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.get(1).node.proposeVoterChange({ type: "removeVoter", voter: key(1) });
    expect(c.status(1)).toMatchObject({ role: "leader", isVoter: false });
    c.stabilize();
    expect(c.status(1)).toMatchObject({ role: "follower", isVoter: false, commit: 2 });
    for (let k = 0; k < 40 && ![2, 3].some((n) => c.status(n).role === "leader"); k++) {
      for (const n of [1, 2, 3]) c.tick(n);
      c.stabilize();
    }
    expect([2, 3].map((n) => c.status(n).role)).toContain("leader");
    expect(c.status(1).role).toBe("follower"); // a non-voter never campaigns
  });
});

describe("directory ids (KIP-853)", () => {
  /** Node 3 loses its disk and comes back with directory "d3-new" and an empty log. */
  function replaceDisk(c: TestCluster): void {
    c.add(3, [key(1), key(2), key(3)], directoryId("d3-new"));
  }

  it("a node with a new directory is not the voter: it does not campaign", () => {
    const c = new TestCluster(3);
    replaceDisk(c);
    expect(c.status(3).isVoter).toBe(false);
    expect(c.tick(3, 50)).toEqual([]);
  });

  it("a vote request addressed to the old directory is refused", () => {
    const c = new TestCluster(3, { preVote: false });
    c.isolate(2);
    replaceDisk(c);
    c.campaign(1);
    expect(c.deliver((m) => m.to === 3)).toEqual(["3->1 voteResponse t1 rejected"]);
    expect(c.status(1).role).toBe("candidate");
  });

  it("acks from the new directory do not count toward commit; after replacement they do", () => {
    const c = new TestCluster(3);
    c.elect(1);
    c.isolate(2);
    replaceDisk(c);
    c.propose(1, "needs-two");
    c.stabilize();
    c.tick(1);
    c.stabilize();
    expect(c.status(1).commit).toBe(1); // 3's answers come from d3-new: not voter (3, d3)
    c.heal();
    c.stabilize();
    const node = c.get(1).node;
    c.tick(1);
    c.stabilize();
    expect(node.proposeVoterChange({ type: "removeVoter", voter: key(3) }).ok).toBe(true);
    c.stabilize();
    const add = node.proposeVoterChange({ type: "addVoter", voter: key(3, directoryId("d3-new")) });
    expect(add.ok).toBe(true);
    c.stabilize();
    expect(c.status(3)).toMatchObject({ isVoter: true });
    c.isolate(2);
    expect(c.propose(1, "with-new-3").ok).toBe(true);
    c.stabilize();
    expect(c.appliedOf(3)).toContain("with-new-3");
  });
});
