/**
 * Log divergence between a follower and its leader (Kafka's KIP-320 fetch validation and
 * KIP-279 truncation). A follower's fetch carries its fetch offset (its log end) and the epoch
 * of its last batch. The leader looks that epoch up in its own epoch history: when the
 * follower's log cannot be a prefix of the leader's, the leader answers a diverging epoch
 * instead of records, and the follower truncates before fetching again.
 */
import { assert } from "@strand/base";
import { ErrorCode } from "@strand/protocol";
import {
  type DivergingEpoch,
  type EndOffsetForEpoch,
  NO_EPOCH,
  type ReplicationError,
} from "./types.ts";

/** What a follower's fetch position says, as the leader checks it. */
export interface FetchPosition {
  /** The follower's epoch of its last batch, or NO_EPOCH when its log has none. */
  readonly lastFetchedEpoch: number;
  /** The follower's fetch offset (its log end offset). */
  readonly fetchOffset: bigint;
  /** The leader's log start offset. */
  readonly logStartOffset: bigint;
}

/** Outcome of {@link validateFetchEpoch}. */
export type FetchEpochValidation =
  | { readonly kind: "ok" }
  | { readonly kind: "diverging"; readonly divergingEpoch: DivergingEpoch }
  | ({ readonly kind: "error" } & ReplicationError);

const OK: FetchEpochValidation = Object.freeze({ kind: "ok" });

/**
 * The leader's check of a follower fetch, as Kafka's `Partition.readFromLocalLog`:
 * - no last fetched epoch (an empty follower log): ok, nothing to compare;
 * - the leader cannot place the epoch (above every epoch it knows): OFFSET_OUT_OF_RANGE;
 * - a fetch offset below the leader's log start: OFFSET_OUT_OF_RANGE, diverging or not;
 * - the leader's answer has a smaller epoch than the follower's (the follower wrote in an
 *   epoch the leader never saw), or that epoch ended before the fetch offset (the follower
 *   has batches the leader does not): diverging at the leader's (epoch, end offset);
 * - otherwise the follower's log is a prefix of the leader's: ok.
 */
export function validateFetchEpoch(
  position: FetchPosition,
  endOffsetForEpoch: EndOffsetForEpoch,
): FetchEpochValidation {
  const { lastFetchedEpoch, fetchOffset, logStartOffset } = position;
  if (lastFetchedEpoch === NO_EPOCH) return OK;
  assert(lastFetchedEpoch >= 0, `last fetched epoch ${lastFetchedEpoch} is negative`);
  const answer = endOffsetForEpoch(lastFetchedEpoch);
  if (answer.epoch === NO_EPOCH || answer.endOffset < 0n) {
    return outOfRange(
      `the leader cannot place last fetched epoch ${lastFetchedEpoch}: it is above every epoch the leader knows`,
    );
  }
  if (fetchOffset < logStartOffset) {
    return outOfRange(`fetch offset ${fetchOffset} is below the log start ${logStartOffset}`);
  }
  if (answer.epoch < lastFetchedEpoch || answer.endOffset < fetchOffset) {
    return { kind: "diverging", divergingEpoch: answer };
  }
  return OK;
}

function outOfRange(message: string): FetchEpochValidation {
  return { kind: "error", error: ErrorCode.OFFSET_OUT_OF_RANGE, message };
}

/** Where a follower truncates after a diverging-epoch answer. */
export interface TruncationTarget {
  /** Truncate the log to this offset (everything at or above it goes). */
  readonly offset: bigint;
  /**
   * False when the follower does not know the leader's epoch: it truncated to the end of its
   * own largest smaller epoch and the next fetch (with that epoch) may diverge again.
   */
  readonly complete: boolean;
}

/**
 * The follower's side (Kafka's `AbstractFetcherThread.getOffsetTruncationState`): given the
 * leader's diverging (epoch E, end offset L), the follower's own log end and epoch lookup:
 * - the follower has no epoch <= E: truncate to min(L, log end);
 * - the follower's largest epoch <= E is E itself: truncate to min(L, its end of E, log end);
 * - it is a smaller epoch E' (the follower never saw E): truncate to min(its end of E',
 *   log end) and fetch again with E' as the last fetched epoch.
 */
export function truncationTarget(
  diverging: DivergingEpoch,
  logEndOffset: bigint,
  endOffsetForEpoch: EndOffsetForEpoch,
): TruncationTarget {
  const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
  if (diverging.epoch === NO_EPOCH || diverging.endOffset < 0n) {
    return { offset: logEndOffset, complete: true };
  }
  const own = endOffsetForEpoch(diverging.epoch);
  if (own.epoch === NO_EPOCH || own.endOffset < 0n) {
    return { offset: min(diverging.endOffset, logEndOffset), complete: true };
  }
  if (own.epoch !== diverging.epoch) {
    return { offset: min(own.endOffset, logEndOffset), complete: false };
  }
  return { offset: min(min(own.endOffset, diverging.endOffset), logEndOffset), complete: true };
}
