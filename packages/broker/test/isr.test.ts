// Goal: the leader shrinks the ISR only after a follower has not been caught up for longer
// than replica.lag.time.max.ms (Kafka's lastCaughtUpTime rule), never removes itself, expands
// the ISR when a follower reaches both the HW and the leader's epoch start, keeps one
// AlterPartition in flight with the HW computed over the maximal ISR, and handles every kind
// of controller answer (committed, stale, transient, refused).
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { b, committed, fetch, ids, leader } from "./replication-helpers.ts";

const LAG_MS = 10_000;

describe("ISR shrink", () => {
  it("drops a stopped follower after the lag time, not before", () => {
    const p = leader({ logEndOffset: 10n });
    fetch(p, 2, 10n, 1_000);
    fetch(p, 3, 10n, 1_000); // both caught up at t=1s
    p.onLeaderAppend(20n);
    for (let t = 1_500; t <= 11_001; t += 500) fetch(p, 2, 20n, t); // 2 keeps up; 3 stopped
    expect(p.maybeShrinkIsr(11_000, LAG_MS)).toBeNull(); // exactly the lag time: still in
    const proposal = p.maybeShrinkIsr(11_001, LAG_MS);
    expect(proposal).toMatchObject({ kind: "shrink", partitionEpoch: 7 });
    expect(ids(proposal!.isr)).toEqual([1, 2]);
  });

  it("keeps a follower that reaches the leader's previous log end on every fetch", () => {
    // Kafka's rule: a fetch at or past the leader's log end as of the previous fetch makes the
    // follower caught up as of that previous fetch, even if the leader has moved on since.
    const p = leader({ logEndOffset: 10n });
    let end = 10n;
    for (let t = 0; t <= 60_000; t += 1_000) {
      fetch(p, 2, end, t); // 2 always reads what existed at its last fetch
      fetch(p, 3, end - 10n > 0n ? end - 10n : 0n, t); // 3 falls further behind
      end += 5n;
      p.onLeaderAppend(end);
      fetch(p, 2, end - 5n, t + 1);
    }
    const proposal = p.maybeShrinkIsr(60_002, LAG_MS);
    expect(ids(proposal!.isr)).toEqual([1, 2]);
  });

  it("keeps an idle follower that holds the whole log, however long it is quiet", () => {
    const p = leader({ logEndOffset: 10n, isr: [1, 2], replicas: [1, 2] });
    fetch(p, 2, 10n, 0);
    expect(p.maybeShrinkIsr(1_000_000, LAG_MS)).toBeNull();
  });

  it("keeps followers that never fetched while the log has never held a record", () => {
    // A new partition whose followers are still creating their replicas: nothing to lag behind.
    const p = leader({ logEndOffset: 0n });
    expect(p.maybeShrinkIsr(1_000_000, LAG_MS)).toBeNull();
    // The first record makes lagging possible again: a follower that never fetched leaves.
    p.onLeaderAppend(1n);
    fetch(p, 2, 1n, 1_000_000);
    const proposal = p.maybeShrinkIsr(1_000_001, LAG_MS);
    expect(ids(proposal!.isr)).toEqual([1, 2]);
  });

  it("never removes the leader", () => {
    const p = leader({ replicas: [1, 2], isr: [1] });
    expect(p.maybeShrinkIsr(10 ** 9, LAG_MS)).toBeNull();
  });

  it("counts a new leader's ISR followers as caught up at the takeover time", () => {
    const p = leader({ nowMs: 50_000 });
    expect(p.maybeShrinkIsr(60_000, LAG_MS)).toBeNull();
    expect(ids(p.maybeShrinkIsr(60_001, LAG_MS)!.isr)).toEqual([1]);
  });
});

describe("ISR expand", () => {
  it("adds a follower once its log end reaches the HW", () => {
    const p = leader({ isr: [1, 2], logEndOffset: 10n });
    fetch(p, 2, 10n, 1);
    expect(p.highWatermark).toBe(10n);
    expect(fetch(p, 3, 5n, 2)).toMatchObject({ isrProposal: null });
    const out = fetch(p, 3, 10n, 3);
    expect(out).toMatchObject({ kind: "read", isrProposal: { kind: "expand" } });
    expect(ids(p.pendingIsrChange!.isr)).toEqual([1, 2, 3]);
  });

  it("also requires the leader's first offset of its epoch", () => {
    // A new leader's HW may lag; a follower must hold this leader's history before it joins.
    const p = leader({ isr: [1, 2], logEndOffset: 12n, epochStartOffset: 8n });
    expect(p.highWatermark).toBe(0n); // broker 2 not heard from yet
    expect(fetch(p, 3, 6n, 1)).toMatchObject({ isrProposal: null }); // >= HW, < epoch start
    expect(fetch(p, 3, 8n, 2)).toMatchObject({ isrProposal: { kind: "expand" } });
  });

  it("skips replicas the controller would refuse (fenced, shutting down)", () => {
    const p = leader({ isr: [1, 2], eligible: (id) => id !== b(3) });
    fetch(p, 2, 10n, 1);
    expect(fetch(p, 3, 10n, 2)).toMatchObject({ isrProposal: null });
  });
});

describe("one ISR change in flight", () => {
  it("proposes nothing else while one is pending", () => {
    const p = leader({ logEndOffset: 10n, replicas: [1, 2, 3, 4], isr: [1, 2, 3] });
    expect(p.maybeShrinkIsr(20_000, LAG_MS)).not.toBeNull();
    fetch(p, 4, 10n, 20_001);
    expect(p.maybeExpandIsr(b(4))).toBeNull();
    expect(p.maybeShrinkIsr(40_000, LAG_MS)).toBeNull();
  });

  it("counts an expanding member in the HW at once (maximal ISR)", () => {
    const p = leader({ isr: [1, 2], logEndOffset: 20n });
    fetch(p, 2, 12n, 1);
    expect(p.highWatermark).toBe(12n);
    fetch(p, 3, 12n, 2); // 3 reaches the HW: expansion pending
    expect(ids(p.maximalIsr)).toEqual([1, 2, 3]);
    fetch(p, 2, 20n, 3);
    expect(p.highWatermark).toBe(12n); // held by 3, though the committed ISR is [1,2]
  });

  it("still counts a leaving member in the HW until the shrink commits", () => {
    const p = leader({ logEndOffset: 20n });
    fetch(p, 2, 20n, 1);
    fetch(p, 3, 5n, 1);
    expect(p.highWatermark).toBe(5n);
    expect(ids(p.maybeShrinkIsr(20_000, LAG_MS)!.isr)).toEqual([1, 2]);
    expect(p.highWatermark).toBe(5n);
    const outcome = p.onAlterPartitionResult({ kind: "committed", state: committed(p, [1, 2], 8) });
    expect(outcome).toEqual({ highWatermarkAdvanced: true, retry: null });
    expect(p.highWatermark).toBe(20n);
    expect(p.partitionEpoch).toBe(8);
    expect(p.pendingIsrChange).toBeNull();
  });

  it("retries the same proposal after a transient controller error", () => {
    const p = leader();
    const proposal = p.maybeShrinkIsr(20_000, LAG_MS);
    const outcome = p.onAlterPartitionResult({ kind: "failed", error: ErrorCode.NOT_CONTROLLER });
    expect(outcome.retry).toBe(proposal);
    expect(p.pendingIsrChange).toBe(proposal);
  });

  it("waits for metadata after a stale partition epoch, then takes the new state", () => {
    const p = leader();
    p.maybeShrinkIsr(20_000, LAG_MS);
    const error = ErrorCode.INVALID_UPDATE_VERSION;
    expect(p.onAlterPartitionResult({ kind: "failed", error })).toEqual({
      highWatermarkAdvanced: false,
      retry: null,
    });
    expect(p.maybeShrinkIsr(30_000, LAG_MS)).toBeNull(); // no new proposal on stale state
    p.onPartitionUpdate(committed(p, [1, 2], 9)); // the controller's own change arrives
    expect(ids(p.isr)).toEqual([1, 2]);
    expect(p.partitionEpoch).toBe(9);
    expect(ids(p.maybeShrinkIsr(30_000, LAG_MS)!.isr)).toEqual([1]);
  });

  it("drops a refused proposal and may propose again", () => {
    const p = leader();
    p.maybeShrinkIsr(20_000, LAG_MS);
    p.onAlterPartitionResult({ kind: "failed", error: ErrorCode.INELIGIBLE_REPLICA });
    expect(p.pendingIsrChange).toBeNull();
    expect(p.maybeShrinkIsr(20_000, LAG_MS)).not.toBeNull();
  });

  it("ignores metadata older than or equal to what it holds", () => {
    const p = leader();
    expect(p.onPartitionUpdate(committed(p, [1], 7))).toBe(false);
    expect(p.onPartitionUpdate(committed(p, [1], 6))).toBe(false);
    expect(ids(p.isr)).toEqual([1, 2, 3]);
  });
});
