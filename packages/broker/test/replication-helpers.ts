// Helpers for the replication core's tests: epoch lookups backed by the real leader-epoch
// cache, short constructors for leader and follower states, and a seeded PRNG.
import {
  type BrokerId,
  brokerId as b,
  type LeaderEpoch,
  leaderEpoch,
  partitionEpoch,
} from "@strand/controller";
import { type EpochEntry, LeaderEpochCache } from "@strand/storage";
import { type FollowerFetchOutcome, LeaderPartitionState } from "../src/core/leader-partition.ts";
import {
  DEFAULT_REPLICATION_CONFIG,
  type EndOffsetForEpoch,
  type PartitionStateUpdate,
  type ReplicationConfig,
} from "../src/core/types.ts";

export { b };

/** `[[epoch, startOffset], ...]` -> the epoch cache's OffsetsForLeaderEpoch answer. */
export function epochLookup(
  entries: readonly (readonly [number, number])[],
  logEndOffset: () => bigint,
): EndOffsetForEpoch {
  const list: EpochEntry[] = entries.map(([epoch, start]) => ({
    epoch,
    startOffset: BigInt(start),
  }));
  // The cache only touches its path in load()/persist(), which these tests never call.
  const cache = new LeaderEpochCache("/nonexistent/leader-epoch-checkpoint", list);
  return (epoch) => cache.endOffsetForEpoch(epoch, logEndOffset());
}

/** The epoch of each offset -> the epoch cache's answer over that log. */
export function epochLookupOfLog(epochs: readonly number[]): EndOffsetForEpoch {
  const entries: [number, number][] = [];
  epochs.forEach((epoch, offset) => {
    if (entries.at(-1)?.[0] !== epoch) entries.push([epoch, offset]);
  });
  return epochLookup(entries, () => BigInt(epochs.length));
}

/** A leader for a scripted test. */
export interface LeaderSetup {
  readonly replicas?: readonly number[];
  readonly isr?: readonly number[];
  readonly minIsr?: number;
  readonly logEndOffset?: bigint;
  readonly epochStartOffset?: bigint;
  readonly highWatermark?: bigint;
  readonly epoch?: number;
  readonly nowMs?: number;
  readonly eligible?: (id: BrokerId) => boolean;
}

/** Replication config with `minIsr` and a 10 s lag time (round numbers for scripts). */
export function config(minIsr = 1): ReplicationConfig {
  return { ...DEFAULT_REPLICATION_CONFIG, minInsyncReplicas: minIsr, replicaLagTimeMaxMs: 10_000 };
}

/** Broker 1 leads; by default replicas = ISR = [1,2,3], log end 10, HW 0, epoch 5. */
export function leader(setup: LeaderSetup = {}): LeaderPartitionState {
  const epoch = setup.epoch ?? 5;
  const logEnd = setup.logEndOffset ?? 10n;
  const epochStart = setup.epochStartOffset ?? 0n;
  // The epoch lookup reads the leader's current log end, as Log.endOffsetForEpoch does.
  let state: LeaderPartitionState | undefined;
  state = new LeaderPartitionState({
    localBrokerId: b(1),
    replicas: (setup.replicas ?? [1, 2, 3]).map(b),
    isr: (setup.isr ?? setup.replicas ?? [1, 2, 3]).map(b),
    leaderEpoch: leaderEpoch(epoch),
    partitionEpoch: partitionEpoch(7),
    leaderEpochStartOffset: epochStart,
    logEndOffset: logEnd,
    highWatermark: setup.highWatermark ?? 0n,
    endOffsetForEpoch: epochLookup(
      [[epoch, Number(epochStart)]],
      () => state?.logEndOffset ?? logEnd,
    ),
    config: config(setup.minIsr ?? 1),
    nowMs: setup.nowMs ?? 0,
    ...(setup.eligible ? { isReplicaEligible: setup.eligible } : {}),
  });
  return state;
}

/** Follower `id` fetches at `offset` (last fetched epoch = the leader's) at `nowMs`. */
export function fetch(
  state: LeaderPartitionState,
  id: number,
  offset: bigint,
  nowMs: number,
): FollowerFetchOutcome {
  return state.onFollowerFetch({
    replicaId: b(id),
    fetchOffset: offset,
    lastFetchedEpoch: offset === 0n ? -1 : state.leaderEpoch,
    currentLeaderEpoch: state.leaderEpoch,
    leaderLogStartOffset: 0n,
    leaderLogEndOffset: state.logEndOffset,
    nowMs,
  });
}

/** The ids of an ISR, for readable expectations. */
export function ids(isr: readonly BrokerId[]): number[] {
  return [...isr].map(Number);
}

/** A leader epoch from a number. */
export function epoch(n: number): LeaderEpoch {
  return leaderEpoch(n);
}

/** mulberry32: a tiny seeded PRNG, enough for test schedules. */
export function prng(seed: number): { int(bound: number): number; chance(p: number): boolean } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    int: (bound) => Math.floor(next() * bound),
    chance: (p) => next() < p,
  };
}

/** The controller's committed state for `state`'s partition: `isr` at partition epoch `pe`. */
export function committed(
  state: LeaderPartitionState,
  isr: readonly number[],
  pe: number,
): PartitionStateUpdate {
  return { isr: isr.map(b), leaderEpoch: state.leaderEpoch, partitionEpoch: partitionEpoch(pe) };
}
