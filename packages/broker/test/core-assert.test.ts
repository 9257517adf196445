// Goal: the broker core's invariants are assertions that stay on in production, and they fail as
// @strand/base's AssertionFailure, the class the shell rethrows instead of treating as an
// error path (replica/errors.ts, replica/transitions.ts).

import { AssertionFailure, assert } from "@strand/base";
import { brokerId, leaderEpoch } from "@strand/controller";
import { describe, expect, it } from "vitest";
import { FollowerPartitionState } from "../src/core/follower-partition.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../src/core/types.ts";
import { epochLookup } from "./replication-helpers.ts";

function follower(logStartOffset: bigint, logEndOffset: bigint): FollowerPartitionState {
  return new FollowerPartitionState({
    leaderId: brokerId(1),
    leaderEpoch: leaderEpoch(0),
    logEndOffset,
    latestEpoch: -1,
    logStartOffset,
    highWatermark: 0n,
    endOffsetForEpoch: epochLookup([], () => logEndOffset),
    config: DEFAULT_REPLICATION_CONFIG,
  });
}

describe("broker core assertions", () => {
  it("a false condition throws the shell's AssertionFailure", () => {
    expect(() => assert(false, "broken")).toThrow(AssertionFailure);
    expect(() => assert(true, "fine")).not.toThrow();
  });

  it("a follower whose log start is above its log end is refused", () => {
    expect(() => follower(10n, 5n)).toThrow(AssertionFailure);
    expect(follower(5n, 10n).highWatermark).toBe(0n);
  });
});
