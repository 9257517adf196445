// Goal: the member's pure rules (group-state.ts) hold without gRPC: a new assignment is
// reconciled as revoke -> ack -> assign (revocations first, the ack always sent, nothing
// assigned that is already owned); a heartbeat carries the subscription and owned set when
// joining and when they changed, not otherwise; answers set id/epoch, fence (clearing the
// membership so the member rejoins with epoch 0 and owns nothing), or ask for a retry; a
// dynamic member leaves with epoch -1 and a static one with -2.
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { MemberState, planReconciliation } from "../src/group-state.ts";

const tp = (topic: string, partition: number) => ({ topic, partition });

describe("planReconciliation", () => {
  it("revokes what the assignment drops, keeps the rest, assigns what is new, in that order", () => {
    const plan = planReconciliation(
      [tp("a", 0), tp("a", 1), tp("b", 0)],
      [tp("a", 1), tp("b", 1), tp("a", 2)],
    );
    expect(plan.revoke).toEqual([tp("a", 0), tp("b", 0)]);
    expect(plan.keep).toEqual([tp("a", 1)]);
    expect(plan.assign).toEqual([tp("a", 2), tp("b", 1)]);
    expect(plan.steps.map((s) => s.kind)).toEqual(["revoke", "ack", "assign"]);
    expect(plan.steps[1]).toEqual({ kind: "ack", owned: [tp("a", 1), tp("a", 2), tp("b", 1)] });
  });

  it("always acknowledges, even when nothing changes, and ignores duplicates", () => {
    const same = planReconciliation([tp("a", 0)], [tp("a", 0), tp("a", 0)]);
    expect(same.steps).toEqual([{ kind: "ack", owned: [tp("a", 0)] }]);
    const first = planReconciliation([], [tp("a", 1), tp("a", 0)]);
    expect(first.steps.map((s) => s.kind)).toEqual(["ack", "assign"]);
    const none = planReconciliation([tp("a", 0)], []);
    expect(none.steps).toEqual([
      { kind: "revoke", partitions: [tp("a", 0)] },
      { kind: "ack", owned: [] },
    ]);
  });
});

const config = { groupId: "g", rebalanceTimeoutMs: 1000, clientId: "c", assignor: "range" };
const ok = (memberId: string, memberEpoch: number, assignment?: [string, number[]][]) => ({
  errorCode: 0,
  errorMessage: "",
  memberId,
  memberEpoch,
  heartbeatIntervalMs: 250,
  assignment:
    assignment === undefined
      ? null
      : { topics: assignment.map(([topic, partitions]) => ({ topic, partitions })) },
  coordinator: null,
});

describe("MemberState", () => {
  it("joins with epoch 0, the subscription, the assignor and an empty owned set", () => {
    const s = new MemberState(config, { topics: ["a"] });
    const join = s.heartbeat();
    expect(join).toMatchObject({ memberId: "", memberEpoch: 0, serverAssignor: "range" });
    expect(join.subscription).toEqual({ topicNames: ["a"], topicRegex: "" });
    expect(join.owned).toEqual({ topics: [] });
    expect(s.joined).toBe(false);
  });

  it("sends the subscription and owned set only when they changed, or after a failure", () => {
    const s = new MemberState(config, { pattern: /^orders-.*/ });
    s.heartbeat();
    const out = s.onResponse(ok("m1", 3, [["a", [1, 0]]]));
    expect(out).toEqual({ kind: "ok", intervalMs: 250, assignment: [tp("a", 0), tp("a", 1)] });
    expect(s.memberId).toBe("m1");
    expect(s.epoch).toBe(3);
    const quiet = s.heartbeat();
    expect(quiet.subscription).toBeUndefined();
    expect(quiet.owned).toBeUndefined();
    expect(quiet.serverAssignor).toBe("");
    s.setOwned([tp("a", 1), tp("a", 0)]);
    expect(s.heartbeat().owned).toEqual({ topics: [{ topic: "a", partitions: [0, 1] }] });
    expect(s.heartbeat().owned).toBeUndefined();
    s.resendAll();
    const again = s.heartbeat();
    expect(again.subscription).toEqual({ topicNames: [], topicRegex: "^orders-.*" });
    expect(again.owned).toBeDefined();
  });

  it("fences on FENCED_MEMBER_EPOCH and UNKNOWN_MEMBER_ID: rejoin with epoch 0, owning nothing", () => {
    for (const code of [ErrorCode.FENCED_MEMBER_EPOCH.code, ErrorCode.UNKNOWN_MEMBER_ID.code]) {
      const s = new MemberState(config, { topics: ["a"] });
      s.onResponse(ok("m1", 5));
      s.setOwned([tp("a", 0)]);
      const out = s.onResponse({ ...ok("", 0), errorCode: code, errorMessage: "x" });
      expect(out.kind).toBe("fenced");
      expect(s.joined).toBe(false);
      expect(s.owned).toEqual([]);
      expect(s.heartbeat()).toMatchObject({ memberId: "", memberEpoch: 0, owned: { topics: [] } });
    }
  });

  it("retries coordinator codes and fails on the others", () => {
    const s = new MemberState(config, { topics: ["a"] });
    for (const code of [14, 15, 16, 111])
      expect(s.onResponse({ ...ok("", 0), errorCode: code }).kind).toBe("retry");
    expect(s.onResponse({ ...ok("", 0), errorCode: 112 }).kind).toBe("fatal");
    expect(s.onResponse(ok("", 0)).kind).toBe("fatal"); // no id: a broken answer
  });

  it("leaves with -1, or -2 as a static member", () => {
    const dynamic = new MemberState(config, { topics: ["a"] });
    dynamic.onResponse(ok("m1", 2));
    expect(dynamic.leaveHeartbeat()).toMatchObject({ memberId: "m1", memberEpoch: -1 });
    const fixed = new MemberState({ ...config, groupInstanceId: "pod-0" }, { topics: ["a"] });
    fixed.onResponse(ok("m2", 2));
    expect(fixed.leaveHeartbeat()).toMatchObject({
      memberId: "m2",
      memberEpoch: -2,
      instanceId: "pod-0",
    });
  });
});
