/**
 * What a partition leader knows about one follower replica (Kafka's `Replica`/`ReplicaState`).
 * Immutable values; the leader replaces them on every fetch.
 */

/** Log end offset of a replica the leader has not heard from since it became leader. */
import { assert } from "@strand/base";
export const UNKNOWN_OFFSET = -1n;

/** The leader's view of one follower. */
export interface ReplicaState {
  /** The follower's log end offset (its last fetch offset), or UNKNOWN_OFFSET. */
  readonly logEndOffset: bigint;
  /** The last time the follower was known to be caught up with the leader. */
  readonly lastCaughtUpTimeMs: number;
  /** When the follower last fetched (0 = not since the leader took over). */
  readonly lastFetchTimeMs: number;
  /** The leader's log end offset at the follower's previous fetch. */
  readonly lastFetchLeaderLogEndOffset: bigint;
}

/**
 * A follower's state when a leader takes over: LEO unknown; last caught up "now" when the
 * follower is in the ISR (so it gets a full lag period to fetch), else never.
 */
export function initialReplicaState(inIsr: boolean, nowMs: number): ReplicaState {
  return {
    logEndOffset: UNKNOWN_OFFSET,
    lastCaughtUpTimeMs: inIsr ? nowMs : 0,
    lastFetchTimeMs: 0,
    lastFetchLeaderLogEndOffset: UNKNOWN_OFFSET,
  };
}

/** One fetch as the leader saw it. */
export interface FetchObservation {
  /** The follower's fetch offset (its new log end offset). */
  readonly fetchOffset: bigint;
  /** The leader's log end offset when the fetch arrived. */
  readonly leaderLogEndOffset: bigint;
  /** When the fetch arrived. */
  readonly nowMs: number;
}

/**
 * Kafka's `ReplicaState.updateFetchState` rule for the last caught-up time:
 * - a fetch at or past the leader's current log end: caught up now;
 * - a fetch at or past the leader's log end *at the previous fetch*: the follower was caught
 *   up as of that previous fetch (it has read everything that existed then);
 * - otherwise unchanged.
 * The last caught-up time never goes back.
 */
export function updateFetchState(state: ReplicaState, fetch: FetchObservation): ReplicaState {
  const { fetchOffset, leaderLogEndOffset, nowMs } = fetch;
  assert(fetchOffset >= 0n, `fetch offset ${fetchOffset} is negative`);
  assert(fetchOffset <= leaderLogEndOffset, `fetch offset ${fetchOffset} past the leader's end`);
  let lastCaughtUpTimeMs = state.lastCaughtUpTimeMs;
  if (fetchOffset >= leaderLogEndOffset) {
    lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, nowMs);
  } else if (fetchOffset >= state.lastFetchLeaderLogEndOffset) {
    lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, state.lastFetchTimeMs);
  }
  return {
    logEndOffset: fetchOffset,
    lastCaughtUpTimeMs,
    lastFetchTimeMs: nowMs,
    lastFetchLeaderLogEndOffset: leaderLogEndOffset,
  };
}

/**
 * Kafka's `ReplicaState.isCaughtUp`: the follower has the leader's whole log, or was caught
 * up no longer than `replicaLagTimeMaxMs` ago. A follower of an idle leader that holds
 * everything stays in sync even when it fetches rarely.
 */
export function isCaughtUp(
  state: ReplicaState,
  leaderLogEndOffset: bigint,
  nowMs: number,
  replicaLagTimeMaxMs: number,
): boolean {
  return (
    state.logEndOffset === leaderLogEndOffset ||
    nowMs - state.lastCaughtUpTimeMs <= replicaLagTimeMaxMs
  );
}
