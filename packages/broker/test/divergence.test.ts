// Goal: a follower whose log diverged from the leader's epoch history is told where (Kafka's
// KIP-320 fetch validation over the leader-epoch cache) and truncates there before it fetches
// again (KIP-279), in as many rounds as it takes; the follower state machine turns every
// leader answer into the right action (append, truncate, HW update, backoff, wait).
import { leaderEpoch } from "@strand/controller";
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { truncationTarget, validateFetchEpoch } from "../src/core/divergence.ts";
import {
  type FollowerFetchResponse,
  FollowerPartitionState,
} from "../src/core/follower-partition.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../src/core/types.ts";
import { b, epochLookup, epochLookupOfLog } from "./replication-helpers.ts";

// Leader history: epoch 0 from 0, epoch 2 from 10, epoch 4 from 20; log end 30.
const leaderLookup = epochLookup(
  [
    [0, 0],
    [2, 10],
    [4, 20],
  ],
  () => 30n,
);
const check = (lastFetchedEpoch: number, fetchOffset: bigint, logStartOffset = 0n) =>
  validateFetchEpoch({ lastFetchedEpoch, fetchOffset, logStartOffset }, leaderLookup);

describe("leader: validateFetchEpoch", () => {
  it("accepts the same epoch up to the log end", () => {
    expect(check(4, 25n)).toEqual({ kind: "ok" });
    expect(check(4, 30n)).toEqual({ kind: "ok" });
  });

  it("accepts a follower with no epoch yet (empty log)", () => {
    expect(check(-1, 0n)).toEqual({ kind: "ok" });
  });

  it("accepts an old epoch while the follower is still inside it", () => {
    expect(check(2, 15n)).toEqual({ kind: "ok" });
    expect(check(2, 20n)).toEqual({ kind: "ok" });
  });

  it("diverges when the follower is ahead in an old epoch: truncate to that epoch's end", () => {
    expect(check(2, 25n)).toEqual({
      kind: "diverging",
      divergingEpoch: { epoch: 2, endOffset: 20n },
    });
  });

  it("diverges when the follower is past the log end in the latest epoch", () => {
    expect(check(4, 31n)).toEqual({
      kind: "diverging",
      divergingEpoch: { epoch: 4, endOffset: 30n },
    });
  });

  it("answers the largest smaller epoch when the leader never saw the follower's", () => {
    // Epoch 3 was a leader whose batches never reached this one: its history says epoch 2,
    // ending where epoch 4 starts.
    expect(check(3, 18n)).toEqual({
      kind: "diverging",
      divergingEpoch: { epoch: 2, endOffset: 20n },
    });
  });

  it("refuses an epoch above all it knows, and a fetch below its log start", () => {
    expect(check(7, 5n)).toMatchObject({ kind: "error", error: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(check(4, 5n, 8n)).toMatchObject({ kind: "error", error: ErrorCode.OFFSET_OUT_OF_RANGE });
  });
});

describe("follower: truncationTarget", () => {
  it("truncates to the leader's end of an epoch it also has", () => {
    const own = epochLookupOfLog([...Array(10).fill(0), ...Array(15).fill(2)]); // end 25
    expect(truncationTarget({ epoch: 2, endOffset: 20n }, 25n, own)).toEqual({
      offset: 20n,
      complete: true,
    });
  });

  it("never truncates past its own end of that epoch", () => {
    // Follower: epoch 0 to 12, then epoch 3. Leader says epoch 0 ends at 15.
    const own = epochLookupOfLog([...Array(12).fill(0), ...Array(6).fill(3)]);
    expect(truncationTarget({ epoch: 0, endOffset: 15n }, 18n, own)).toEqual({
      offset: 12n,
      complete: true,
    });
  });

  it("truncates to its own largest smaller epoch when it lacks the leader's (another round)", () => {
    const own = epochLookupOfLog([...Array(12).fill(0), ...Array(6).fill(3)]);
    expect(truncationTarget({ epoch: 2, endOffset: 20n }, 18n, own)).toEqual({
      offset: 12n,
      complete: false,
    });
  });
});

/** A follower replica with an in-memory log: the epoch of each offset. */
function follower(log: number[], leaderEpochNumber = 4) {
  const state = new FollowerPartitionState({
    leaderId: b(1),
    leaderEpoch: leaderEpoch(leaderEpochNumber),
    logEndOffset: BigInt(log.length),
    latestEpoch: log.at(-1) ?? -1,
    logStartOffset: 0n,
    highWatermark: 0n,
    endOffsetForEpoch: (e) => epochLookupOfLog(log)(e),
    config: DEFAULT_REPLICATION_CONFIG,
  });
  const position = () => ({ logEndOffset: BigInt(log.length), latestEpoch: log.at(-1) ?? -1 });
  return { state, log, position };
}

/** The leader's answer to a fetch over a leader log given as epochs per offset. */
function answer(leaderLog: number[], fetchOffset: bigint, lastFetchedEpoch: number, hw: bigint) {
  const v = validateFetchEpoch(
    { lastFetchedEpoch, fetchOffset, logStartOffset: 0n },
    epochLookupOfLog(leaderLog),
  );
  assertOk(v.kind !== "error");
  const records =
    v.kind === "ok" ? Uint8Array.from(leaderLog.slice(Number(fetchOffset))) : new Uint8Array(0);
  return {
    error: ErrorCode.NONE,
    highWatermark: hw,
    logStartOffset: 0n,
    logEndOffset: BigInt(leaderLog.length),
    records,
    divergingEpoch: v.kind === "diverging" ? v.divergingEpoch : null,
  } satisfies FollowerFetchResponse;
}

function assertOk(condition: boolean): asserts condition {
  expect(condition).toBe(true);
}

describe("follower state machine", () => {
  it("truncates in two rounds, then appends the leader's log and takes its HW", () => {
    // Leader: epoch 0 to 10, epoch 2 to 20, epoch 4 to 25. Follower: epoch 0 to 12 (two
    // batches the leader never got), then epoch 3 (a leader nobody followed).
    const leaderLog = [...Array(10).fill(0), ...Array(10).fill(2), ...Array(5).fill(4)];
    const f = follower([...Array(12).fill(0), ...Array(6).fill(3)]);
    const transcript: string[] = [];
    for (let round = 0; round < 6; round++) {
      const req = f.state.fetchRequest(round)!;
      const action = f.state.onFetchResponse(
        answer(leaderLog, req.fetchOffset, req.lastFetchedEpoch, 22n),
        round,
      );
      transcript.push(
        `fetch ${req.fetchOffset}@${req.lastFetchedEpoch} -> ${JSON.stringify(action, (_, v) => (typeof v === "bigint" ? Number(v) : v instanceof Uint8Array ? v.length : v))}`,
      );
      if (action.kind === "truncate") {
        f.log.length = Number(action.offset);
        f.state.onTruncated(f.position());
      } else if (action.kind === "append") {
        f.log.push(...action.records);
        f.state.onAppended(f.position());
      } else break;
    }
    expect(transcript).toEqual([
      'fetch 18@3 -> {"kind":"truncate","offset":12,"complete":false}',
      'fetch 12@0 -> {"kind":"truncate","offset":10,"complete":true}',
      'fetch 10@0 -> {"kind":"append","records":15}',
      'fetch 25@4 -> {"kind":"updateHighWatermark","highWatermark":22}',
    ]);
    expect(f.log).toEqual(leaderLog);
    expect(f.state.highWatermark).toBe(22n);
  });

  it("sets its HW to min(leader HW, own log end) after an append", () => {
    const f = follower([0, 0]);
    f.state.fetchRequest(0);
    f.state.onFetchResponse(answer([0, 0, 0, 0, 0, 0], 2n, 0, 6n), 0);
    f.log.push(0, 0); // appended only part of it (say, a size limit)
    expect(f.state.onAppended(f.position())).toBe(4n);
  });

  it("backs off on a transient error and fetches again after the backoff", () => {
    const f = follower([0]);
    f.state.fetchRequest(1_000);
    const error = { ...answer([0], 1n, 0, 1n), error: ErrorCode.KAFKA_STORAGE_ERROR };
    expect(f.state.onFetchResponse(error, 1_000)).toEqual({
      kind: "backoff",
      error: ErrorCode.KAFKA_STORAGE_ERROR,
      retryAtMs: 2_000,
    });
    expect(f.state.fetchRequest(1_999)).toBeNull();
    expect(f.state.fetchRequest(2_000)).not.toBeNull();
  });

  it("waits for metadata when the leader moved, and ignores the old leader's late answer", () => {
    const f = follower([0]);
    f.state.fetchRequest(0);
    const moved = { ...answer([0], 1n, 0, 1n), error: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    expect(f.state.onFetchResponse(moved, 0)).toMatchObject({ kind: "awaitMetadata" });
    expect(f.state.fetchRequest(10_000)).toBeNull();
    f.state.onLeaderChange(b(2), leaderEpoch(5));
    const req = f.state.fetchRequest(10_001);
    expect(req?.currentLeaderEpoch).toBe(5);
    f.state.onLeaderChange(b(3), leaderEpoch(6)); // moved again while the fetch was out
    expect(f.state.onFetchResponse(answer([0], 1n, 0, 1n), 10_002)).toEqual({ kind: "stale" });
  });

  it("starts over at the leader's log start when it fell below it", () => {
    const f = follower([0, 0]);
    f.state.fetchRequest(0);
    const gone = {
      ...answer([0, 0], 2n, 0, 50n),
      error: ErrorCode.OFFSET_OUT_OF_RANGE,
      logStartOffset: 40n,
      logEndOffset: 60n,
    };
    expect(f.state.onFetchResponse(gone, 0)).toEqual({
      kind: "truncateFullyAndStartAt",
      offset: 40n,
    });
    f.state.onTruncated({ logEndOffset: 40n, latestEpoch: -1, logStartOffset: 40n });
    expect(f.state.fetchRequest(1)).toMatchObject({ fetchOffset: 40n, logStartOffset: 40n });
  });
});
