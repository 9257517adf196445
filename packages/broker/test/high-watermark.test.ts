// Goal: the leader's high watermark is the minimum log end offset over the ISR (leader
// included), never decreases, stays frozen while the ISR is below min.insync.replicas, and
// acks=all is refused or failed exactly as Kafka does (NOT_ENOUGH_REPLICAS before the append,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND after it); stale or foreign fetches are fenced.
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { b, committed, fetch, leader } from "./replication-helpers.ts";

describe("high watermark = min log end over the ISR", () => {
  it("advances to the slowest ISR member as followers fetch", () => {
    const p = leader({ logEndOffset: 10n }); // ISR [1,2,3], leader at 10
    expect(fetch(p, 2, 4n, 100)).toMatchObject({ kind: "read", highWatermarkAdvanced: false });
    expect(p.highWatermark).toBe(0n); // broker 3 not heard from yet
    expect(fetch(p, 3, 6n, 110)).toMatchObject({ highWatermarkAdvanced: true });
    expect(p.highWatermark).toBe(4n); // min(10, 4, 6)
    fetch(p, 2, 8n, 120);
    expect(p.highWatermark).toBe(6n);
    fetch(p, 3, 10n, 130);
    fetch(p, 2, 10n, 140);
    expect(p.highWatermark).toBe(10n);
  });

  it("includes the leader's own log end", () => {
    const p = leader({ logEndOffset: 10n, isr: [1, 2] });
    fetch(p, 2, 10n, 1);
    expect(p.highWatermark).toBe(10n);
    expect(p.onLeaderAppend(15n)).toBe(false); // follower 2 still at 10
    fetch(p, 2, 15n, 2);
    expect(p.highWatermark).toBe(15n);
  });

  it("moves with every append when the leader is alone in the ISR", () => {
    const p = leader({ replicas: [1, 2], isr: [1], logEndOffset: 3n });
    expect(p.onLeaderAppend(7n)).toBe(true);
    expect(p.highWatermark).toBe(7n);
  });

  it("never decreases, even when a follower fetches from lower down", () => {
    const p = leader({ logEndOffset: 10n, isr: [1, 2] });
    fetch(p, 2, 8n, 1);
    expect(p.highWatermark).toBe(8n);
    fetch(p, 2, 5n, 2); // e.g. the follower lost unflushed data in a crash
    expect(p.replicaState(b(2))?.logEndOffset).toBe(5n);
    expect(p.highWatermark).toBe(8n);
  });

  it("starts from the given HW and does not drop when the followers are unknown", () => {
    const p = leader({ logEndOffset: 10n, highWatermark: 6n });
    expect(p.highWatermark).toBe(6n);
    fetch(p, 2, 10n, 1);
    expect(p.highWatermark).toBe(6n); // broker 3 unknown (-1) holds it, never lowers it
  });
});

describe("min.insync.replicas", () => {
  it("freezes the HW while the committed ISR is below it", () => {
    const p = leader({ isr: [1, 2], minIsr: 3, logEndOffset: 10n });
    expect(p.isUnderMinIsr).toBe(true);
    fetch(p, 2, 10n, 1);
    expect(p.highWatermark).toBe(0n); // both ISR members hold 10, yet nothing commits
    const proposal = fetch(p, 3, 10n, 2); // broker 3 catches up and is proposed
    expect(proposal).toMatchObject({ isrProposal: { kind: "expand" } });
    expect(p.highWatermark).toBe(0n); // still frozen: the expansion is not committed
    expect(p.onPartitionUpdate(committed(p, [1, 2, 3], 8))).toBe(true);
    expect(p.highWatermark).toBe(10n);
  });

  it("refuses acks=all up front below it, and only acks=all", () => {
    const p = leader({ isr: [1, 2], minIsr: 3 });
    expect(p.checkProduce("all")?.error).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(p.checkProduce("leader")).toBeNull();
    expect(p.checkProduce("none")).toBeNull();
    expect(leader({ minIsr: 3 }).checkProduce("all")).toBeNull();
  });

  it("is capped by the replica count (Kafka's effective min ISR)", () => {
    const p = leader({ replicas: [1], minIsr: 2, logEndOffset: 5n });
    expect(p.effectiveMinIsr).toBe(1);
    expect(p.onLeaderAppend(6n)).toBe(true);
    expect(p.checkProduce("all")).toBeNull();
  });
});

describe("acks=all completion", () => {
  it("waits for the HW, then fails after append if the ISR shrank below min", () => {
    const p = leader({ minIsr: 2, logEndOffset: 10n });
    fetch(p, 2, 10n, 1);
    fetch(p, 3, 10n, 1);
    expect(p.acksAllResult(10n)).toEqual({ done: true, error: ErrorCode.NONE });
    p.onLeaderAppend(12n);
    expect(p.acksAllResult(12n)).toEqual({ done: false });
    const shrink = p.maybeShrinkIsr(20_000, 10_000); // 2 and 3 stopped fetching
    expect(shrink?.isr.map(Number)).toEqual([1]);
    p.onAlterPartitionResult({ kind: "committed", state: committed(p, [1], 8) });
    expect(p.highWatermark).toBe(10n); // frozen: ISR 1 < min 2
    expect(p.acksAllResult(10n)).toEqual({
      done: true,
      error: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    });
  });
});

describe("fencing follower fetches", () => {
  const base = {
    fetchOffset: 5n,
    lastFetchedEpoch: 5,
    leaderLogStartOffset: 0n,
    leaderLogEndOffset: 10n,
    nowMs: 1,
  };

  it("refuses an older leader epoch, a newer one, and a non-replica", () => {
    const p = leader();
    const older = p.onFollowerFetch({ ...base, replicaId: b(2), currentLeaderEpoch: 4 });
    expect(older).toMatchObject({ kind: "error", error: ErrorCode.FENCED_LEADER_EPOCH });
    const newer = p.onFollowerFetch({ ...base, replicaId: b(2), currentLeaderEpoch: 6 });
    expect(newer).toMatchObject({ kind: "error", error: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    const stranger = p.onFollowerFetch({ ...base, replicaId: b(9), currentLeaderEpoch: 5 });
    expect(stranger).toMatchObject({ kind: "error", error: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    expect(p.replicaState(b(2))?.lastFetchTimeMs).toBe(0); // nothing recorded
  });

  it("answers a fetch past its log end in its own epoch with a diverging epoch", () => {
    const p = leader();
    const ahead = p.onFollowerFetch({
      ...base,
      replicaId: b(2),
      currentLeaderEpoch: 5,
      fetchOffset: 12n,
    });
    expect(ahead).toEqual({ kind: "diverging", divergingEpoch: { epoch: 5, endOffset: 10n } });
  });

  it("answers OFFSET_OUT_OF_RANGE past its log end when the follower has no epoch", () => {
    const p = leader();
    const ahead = p.onFollowerFetch({
      ...base,
      replicaId: b(2),
      currentLeaderEpoch: 5,
      fetchOffset: 12n,
      lastFetchedEpoch: -1,
    });
    expect(ahead).toMatchObject({ kind: "error", error: ErrorCode.OFFSET_OUT_OF_RANGE });
  });
});
