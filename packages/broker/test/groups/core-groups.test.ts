// Goal: the pure group coordinator follows KIP-848: server-side assignment, revocation before
// reassignment, epochs and fencing, session and rebalance timeouts, static membership, topic
// changes, offset commit fencing, admin operations, and a replayed log gives the same state.
import { describe, expect, it } from "vitest";
import { deleteGroup, listGroups, planReset, resetTargets } from "../../src/core/groups/admin.ts";
import { expireGroups, onTopicsChanged } from "../../src/core/groups/maintenance.ts";
import { fetchOffsets } from "../../src/core/groups/offsets.ts";
import { sizeOf } from "../../src/core/groups/partitions.ts";
import { groupStateName } from "../../src/core/groups/state.ts";
import { assertExclusive, Coordinator, GROUP, SimMember, settle, tp } from "./harness.ts";

const topics = () => new Map([["t", 6]]);

describe("group heartbeat", () => {
  it("a first member gets every partition at epoch 1", () => {
    const c = new Coordinator(topics());
    const a = new SimMember(c, ["t"]);
    const r = a.beat();
    expect(r.errorCode).toBe(0);
    expect(r.memberId).toBe("m1");
    expect(r.memberEpoch).toBe(1);
    expect(r.assignment).toEqual(tp("t", 0, 1, 2, 3, 4, 5));
    expect(groupStateName(c.state.groups.get(GROUP))).toBe("stable");
  });

  it("revokes from the old owner before giving a partition to a new member", () => {
    const c = new Coordinator(topics());
    const a = new SimMember(c, ["t"]);
    const b = new SimMember(c, ["t"]);
    a.beat();
    const joined = b.beat();
    // b's target is half, but a still holds everything: b gets nothing yet, at epoch 2.
    expect(joined.memberEpoch).toBe(2);
    expect(joined.assignment).toEqual(new Map());
    const revoke = a.beat();
    // a keeps its epoch until it acknowledges the revocation.
    expect(revoke.memberEpoch).toBe(1);
    expect(sizeOf(a.owned)).toBe(3);
    expect(groupStateName(c.state.groups.get(GROUP))).toBe("reconciling");
    const acked = a.beat();
    expect(acked.memberEpoch).toBe(2);
    b.beat();
    expect(sizeOf(b.owned)).toBe(3);
    assertExclusive([a, b]);
    expect(groupStateName(c.state.groups.get(GROUP))).toBe("stable");
  });

  it("fences a stale member epoch but forgives a lost response", () => {
    const c = new Coordinator(topics());
    const a = new SimMember(c, ["t"]);
    a.beat();
    new SimMember(c, ["t"]).beat();
    a.beat(); // revocation asked
    a.beat(); // acked: epoch 2
    expect(a.epoch).toBe(2);
    const lost = c.heartbeat({ memberId: a.memberId, memberEpoch: 1, owned: a.owned });
    expect(lost.errorCode).toBe(0);
    const stale = c.heartbeat({ memberId: a.memberId, memberEpoch: 7, owned: a.owned });
    expect(stale.errorCode).toBe(110);
    const unknown = c.heartbeat({ memberId: "nobody", memberEpoch: 3 });
    expect(unknown.errorCode).toBe(25);
  });

  it("removes a member after the session timeout and gives its partitions to the rest", () => {
    const c = new Coordinator(topics(), { sessionTimeoutMs: 10_000 });
    const a = new SimMember(c, ["t"]);
    const b = new SimMember(c, ["t"]);
    settle([a, b]);
    c.advance(6_000);
    a.beat();
    c.advance(6_000); // b silent for 12 s
    expect(c.state.groups.get(GROUP)?.members.has(b.memberId)).toBe(false);
    b.alive = false;
    settle([a]);
    expect(sizeOf(a.owned)).toBe(6);
  });

  it("removes a member that does not revoke within its rebalance timeout", () => {
    const c = new Coordinator(topics(), { sessionTimeoutMs: 60_000 });
    const a = new SimMember(c, ["t"]);
    a.beat();
    const b = new SimMember(c, ["t"]);
    b.beat();
    // a is asked to revoke but keeps heartbeating with the old owned set.
    c.heartbeat({ memberId: a.memberId, memberEpoch: a.epoch, rebalanceTimeoutMs: 5_000 });
    c.advance(3_000);
    c.heartbeat({ memberId: a.memberId, memberEpoch: a.epoch, owned: tp("t", 0, 1, 2, 3, 4, 5) });
    c.advance(3_000);
    expect(c.state.groups.get(GROUP)?.members.has(a.memberId)).toBe(false);
    a.alive = false;
    settle([b]);
    expect(sizeOf(b.owned)).toBe(6);
  });

  it("a leaving member's partitions go to the others, who keep theirs", () => {
    const c = new Coordinator(topics());
    const ms = [0, 1, 2].map(() => new SimMember(c, ["t"]));
    settle(ms);
    const before = ms.map((m) => m.owned);
    ms[2]?.leave();
    settle(ms);
    for (const i of [0, 1])
      for (const [t, ps] of before[i] ?? new Map())
        for (const p of ps) expect(ms[i]?.owned.get(t)).toContain(p);
    expect(sizeOf(ms[0]?.owned ?? new Map()) + sizeOf(ms[1]?.owned ?? new Map())).toBe(6);
  });

  it("a static member that leaves temporarily keeps its partitions and takes them back", () => {
    const c = new Coordinator(topics(), { sessionTimeoutMs: 30_000 });
    const a = new SimMember(c, ["t"], "pod-a");
    const b = new SimMember(c, ["t"], "pod-b");
    settle([a, b]);
    const owned = a.owned;
    const epoch = c.state.groups.get(GROUP)?.epoch;
    c.heartbeat({ memberId: a.memberId, memberEpoch: -2, instanceId: "pod-a" });
    // Its partitions stay with it: b does not get them.
    settle([b]);
    expect(sizeOf(b.owned)).toBe(3);
    const again = new SimMember(c, ["t"], "pod-a");
    const r = again.beat();
    expect(r.errorCode).toBe(0);
    expect(again.owned).toEqual(owned);
    expect(c.state.groups.get(GROUP)?.epoch).toBe(epoch);
    expect(c.state.groups.get(GROUP)?.members.size).toBe(2);
  });

  it("a static member gone past the session timeout is removed; a duplicate instance id is refused", () => {
    const c = new Coordinator(topics(), { sessionTimeoutMs: 10_000 });
    const a = new SimMember(c, ["t"], "pod-a");
    const b = new SimMember(c, ["t"]);
    settle([a, b]);
    expect(new SimMember(c, ["t"], "pod-a").beat().errorCode).toBe(111);
    c.heartbeat({ memberId: a.memberId, memberEpoch: -2, instanceId: "pod-a" });
    c.advance(5_000);
    b.beat();
    c.advance(6_000);
    expect(c.state.groups.get(GROUP)?.members.size).toBe(1);
    a.alive = false;
    settle([b]);
    expect(sizeOf(b.owned)).toBe(6);
  });

  it("added partitions and new matching topics re-trigger assignment", () => {
    const c = new Coordinator(new Map([["t", 2]]));
    const a = new SimMember(c, ["t"]);
    const b = new SimMember(c, ["t"]);
    settle([a, b]);
    c.topics = new Map([["t", 4]]);
    settle([a, b]);
    expect(sizeOf(a.owned) + sizeOf(b.owned)).toBe(4);
    const r = new Coordinator(
      new Map([
        ["orders-1", 1],
        ["x", 1],
      ]),
    );
    const m = r.heartbeat({
      memberId: "",
      memberEpoch: 0,
      subscription: { topicNames: [], topicRegex: "orders-.*" },
    });
    expect(m.assignment).toEqual(tp("orders-1", 0));
    r.topics = new Map([
      ["orders-1", 1],
      ["orders-2", 1],
      ["x", 1],
      ["__consumer_offsets", 3],
    ]);
    const m2 = r.heartbeat({
      memberId: m.memberId,
      memberEpoch: m.memberEpoch,
      owned: m.assignment,
    });
    expect(m2.assignment).toEqual(tp("orders-1", 0, "orders-2", 0));
  });

  it("the range assignor gives contiguous ranges; unknown assignors are refused", () => {
    const c = new Coordinator(new Map([["t", 5]]));
    const a = c.heartbeat({
      memberId: "a",
      memberEpoch: 0,
      serverAssignor: "range",
      subscription: { topicNames: ["t"], topicRegex: "" },
    });
    const b = c.heartbeat({
      memberId: "b",
      memberEpoch: 0,
      subscription: { topicNames: ["t"], topicRegex: "" },
    });
    expect(c.state.groups.get(GROUP)?.targets.get("a")).toEqual(tp("t", 0, 1, 2));
    expect(c.state.groups.get(GROUP)?.targets.get("b")).toEqual(tp("t", 3, 4));
    expect(a.errorCode + b.errorCode).toBe(0);
    expect(
      c.heartbeat({
        memberId: "z",
        memberEpoch: 0,
        serverAssignor: "sticky",
        subscription: { topicNames: ["t"], topicRegex: "" },
      }).errorCode,
    ).toBe(112);
  });

  it("refuses members beyond group.consumer.max.size", () => {
    const c = new Coordinator(topics(), { maxGroupSize: 1 });
    new SimMember(c, ["t"]).beat();
    expect(new SimMember(c, ["t"]).beat().errorCode).toBe(81);
  });

  it("a replayed log gives the same state", () => {
    const c = new Coordinator(topics());
    const ms = [0, 1, 2].map(() => new SimMember(c, ["t"]));
    settle(ms);
    ms[1]?.leave();
    settle(ms);
    expect(c.reload()).toEqual(c.state);
  });
});

describe("group offsets", () => {
  it("fences member commits by epoch and accepts standalone commits only in an empty group", () => {
    const c = new Coordinator(topics());
    const standalone = c.commit({
      memberId: "",
      memberEpoch: -1,
      partitions: [{ topic: "t", partition: 0, offset: 5n, leaderEpoch: 0, metadata: "" }],
    });
    expect(standalone.errorCode).toBe(0);
    const a = new SimMember(c, ["t"]);
    a.beat();
    const commit = (memberId: string, memberEpoch: number, topic = "t") =>
      c.commit({
        memberId,
        memberEpoch,
        partitions: [{ topic, partition: 1, offset: 9n, leaderEpoch: 0, metadata: "m" }],
      });
    expect(commit("", -1).errorCode).toBe(25);
    expect(commit(a.memberId, 0).errorCode).toBe(113);
    expect(commit(a.memberId, 5).errorCode).toBe(110);
    expect(commit("ghost", 1).errorCode).toBe(25);
    expect(commit(a.memberId, 1, "nope").partitions[0]?.errorCode).toBe(3);
    expect(commit(a.memberId, 1).errorCode).toBe(0);
    expect(fetchOffsets(c.state, GROUP, null).map((o) => [o.partition, o.offset])).toEqual([
      [0, 5n],
      [1, 9n],
    ]);
    expect(fetchOffsets(c.state, GROUP, [{ topic: "t", partition: 3 }])[0]?.offset).toBe(-1n);
    expect(fetchOffsets(c.reload(), GROUP, null)).toEqual(fetchOffsets(c.state, GROUP, null));
  });

  it("deletes offsets of deleted topics and expires empty groups after the retention", () => {
    const c = new Coordinator(
      new Map([
        ["t", 2],
        ["u", 1],
      ]),
      { offsetsRetentionMs: 60_000 },
    );
    c.commit({
      memberId: "",
      memberEpoch: -1,
      partitions: [
        { topic: "t", partition: 1, offset: 1n, leaderEpoch: 0, metadata: "" },
        { topic: "u", partition: 0, offset: 1n, leaderEpoch: 0, metadata: "" },
      ],
    });
    c.topics = new Map([["t", 2]]);
    c.apply({ records: onTopicsChanged(c.state, c.topics, c.nowMs), timers: [], response: null });
    expect(fetchOffsets(c.state, GROUP, null).map((o) => o.topic)).toEqual(["t"]);
    expect(expireGroups(c.state, c.config, c.nowMs + 59_000)).toEqual([]);
    c.apply({
      records: expireGroups(c.state, c.config, c.nowMs + 60_000),
      timers: [],
      response: null,
    });
    expect(c.state.groups.has(GROUP)).toBe(false);
    expect(c.reload().groups.size).toBe(0);
  });
});

describe("group admin", () => {
  it("lists groups with state, and deletes only empty groups", () => {
    const c = new Coordinator(topics());
    const a = new SimMember(c, ["t"]);
    a.beat();
    expect(listGroups(c.state, [])).toEqual([{ groupId: GROUP, state: "stable", members: 1 }]);
    expect(listGroups(c.state, ["empty"])).toEqual([]);
    expect(deleteGroup(c.state, GROUP).response.errorCode).toBe(68);
    expect(deleteGroup(c.state, "nope").response.errorCode).toBe(69);
    a.leave();
    c.commit({
      memberId: "",
      memberEpoch: -1,
      partitions: [{ topic: "t", partition: 0, offset: 3n, leaderEpoch: 0, metadata: "" }],
    });
    expect(c.apply(deleteGroup(c.state, GROUP)).errorCode).toBe(0);
    expect(c.state.groups.size).toBe(0);
    expect(c.reload().groups.size).toBe(0);
  });

  it("plans resets for every spec, clamped to the log, and refuses a group with members", () => {
    const c = new Coordinator(topics());
    c.commit({
      memberId: "",
      memberEpoch: -1,
      partitions: [{ topic: "t", partition: 0, offset: 50n, leaderEpoch: 0, metadata: "" }],
    });
    expect(resetTargets(c.state, GROUP, new Map(), c.topics)).toEqual([
      { topic: "t", partition: 0 },
    ]);
    expect(resetTargets(c.state, GROUP, new Map([["t", []]]), c.topics).length).toBe(6);
    const bounds = [
      {
        topic: "t",
        partition: 0,
        logStartOffset: 10n,
        logEndOffset: 100n,
        timestampOffset: 40n,
        error: null,
      },
    ];
    const plan = (spec: Parameters<typeof planReset>[2]) =>
      planReset(c.state, GROUP, spec, bounds).entries[0]?.newOffset;
    expect(plan({ kind: "earliest" })).toBe(10n);
    expect(plan({ kind: "latest" })).toBe(100n);
    expect(plan({ kind: "timestamp", timestampMs: 5n })).toBe(40n);
    expect(plan({ kind: "offset", offset: 500n })).toBe(100n);
    expect(plan({ kind: "shift", by: -45n })).toBe(10n);
    expect(plan({ kind: "shift", by: 5n })).toBe(55n);
    new SimMember(c, ["t"]).beat();
    expect(planReset(c.state, GROUP, { kind: "earliest" }, bounds).error?.errorCode).toBe(68);
  });
});

describe("group record codec", () => {
  it("round-trips every record of a run, tombstones as null values, one key per thing", async () => {
    const { decodeGroupRecord, encodeGroupRecord } = await import("../../src/core/groups/codec.ts");
    const c = new Coordinator(topics());
    const ms = [0, 1, 2].map((i) => new SimMember(c, ["t"], i === 0 ? "pod" : ""));
    settle(ms);
    c.commit({
      memberId: ms[1]?.memberId ?? "",
      memberEpoch: ms[1]?.epoch ?? 0,
      partitions: [
        { topic: "t", partition: 2, offset: 123456789012345n, leaderEpoch: 3, metadata: "x" },
      ],
    });
    ms[2]?.leave();
    for (const r of c.log) {
      const e = encodeGroupRecord(r);
      expect(decodeGroupRecord(e.key, e.value)).toEqual(r);
      expect(e.value === null).toBe(r.type.endsWith("Tombstone"));
    }
    const key = (r: Parameters<typeof encodeGroupRecord>[0]) => encodeGroupRecord(r).key.toString();
    expect(key({ type: "offsetCommitTombstone", groupId: "g", topic: "t", partition: 1 })).toBe(
      key({
        type: "offsetCommit",
        groupId: "g",
        topic: "t",
        partition: 1,
        offset: 1n,
        leaderEpoch: 0,
        metadata: "",
        commitTimestampMs: 0,
      }),
    );
    const bad = [
      [null, null],
      [Buffer.from('[2,"g","x"]'), null],
      [Buffer.from('[1,"o","g","t",-1]'), null],
      [Buffer.from('[1,"g","g"]'), Buffer.from('{"v":1,"epoch":"x"}')],
      [Buffer.from("nope"), null],
    ] as const;
    for (const [k, v] of bad) expect(() => decodeGroupRecord(k, v)).toThrow();
  });
});
