/**
 * The follower side of one partition's replication (Kafka's `AbstractFetcherThread`
 * partition state): what to ask the leader for, and what to do with each answer. Pure: the
 * replica fetcher sends the fetch, appends or truncates the log, and reports back.
 *
 * Cycle: `fetchRequest` -> (leader) -> `onFetchResponse` -> one action:
 * - `append`: append the bytes, then `onAppended` (sets the HW);
 * - `truncate` / `truncateFullyAndStartAt`: cut the log, then `onTruncated`, then fetch again;
 * - `updateHighWatermark`: no records; the follower HW moved to the value given;
 * - `backoff`: a transient error; `fetchRequest` returns null until `retryAtMs`;
 * - `awaitMetadata`: the leader or epoch changed; wait for `onLeaderChange`;
 * - `stale`: an answer to a fetch sent before `onLeaderChange`; ignore it.
 */

import { assert } from "@strand/base";
import type { BrokerId, LeaderEpoch } from "@strand/controller";
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import { truncationTarget } from "./divergence.ts";
import type { DivergingEpoch, EndOffsetForEpoch, ReplicationConfig } from "./types.ts";

/** Where the follower's local log stands. */
export interface LocalLogPosition {
  /** The log end offset. */
  readonly logEndOffset: bigint;
  /** The epoch of the last batch (the latest epoch-cache entry), or NO_EPOCH. */
  readonly latestEpoch: number;
}

/** How a follower starts. */
export interface FollowerPartitionOptions extends LocalLogPosition {
  /** The leader to fetch from. */
  readonly leaderId: BrokerId;
  /** The leader epoch of that leadership. */
  readonly leaderEpoch: LeaderEpoch;
  /** The local log start offset. */
  readonly logStartOffset: bigint;
  /** The local high watermark (checkpoint), clamped to the log end. */
  readonly highWatermark: bigint;
  /** The local log's epoch lookup, e.g. `(e) => log.endOffsetForEpoch(e)`. */
  readonly endOffsetForEpoch: EndOffsetForEpoch;
  /** Replication settings. */
  readonly config: ReplicationConfig;
}

/** One partition's entry in a ReplicaFetchRequest. */
export interface FollowerFetchRequest {
  /** Read from here: the local log end offset. */
  readonly fetchOffset: bigint;
  /** The epoch of the local last batch, or NO_EPOCH. */
  readonly lastFetchedEpoch: number;
  /** The leader epoch the follower believes current. */
  readonly currentLeaderEpoch: LeaderEpoch;
  /** The local log start offset. */
  readonly logStartOffset: bigint;
}

/** One partition's entry in a ReplicaFetchResponse, converted from the wire. */
export interface FollowerFetchResponse {
  /** The partition's error code (NONE on success). */
  readonly error: ErrorCodeInfo;
  /** The leader's high watermark. */
  readonly highWatermark: bigint;
  /** The leader's log start offset. */
  readonly logStartOffset: bigint;
  /** The leader's log end offset. */
  readonly logEndOffset: bigint;
  /** Whole batches from the fetch offset (may be empty). */
  readonly records: Uint8Array;
  /** Set when the local log diverged from the leader's. */
  readonly divergingEpoch: DivergingEpoch | null;
}

/** What the fetcher does with a fetch response. */
export type FollowerAction =
  | { readonly kind: "append"; readonly records: Uint8Array }
  | { readonly kind: "truncate"; readonly offset: bigint; readonly complete: boolean }
  | { readonly kind: "truncateFullyAndStartAt"; readonly offset: bigint }
  | { readonly kind: "updateHighWatermark"; readonly highWatermark: bigint }
  | { readonly kind: "backoff"; readonly error: ErrorCodeInfo; readonly retryAtMs: number }
  | { readonly kind: "awaitMetadata"; readonly error: ErrorCodeInfo }
  | { readonly kind: "stale" };

/** Where the follower is in its fetch cycle. */
export type FollowerStatus =
  | "ready"
  | "fetching"
  | "appending"
  | "truncating"
  | "backoff"
  | "awaitingMetadata";

// The leader or the partition changed under the follower: only new metadata helps.
const METADATA_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER.code,
  ErrorCode.FENCED_LEADER_EPOCH.code,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
  ErrorCode.UNKNOWN_TOPIC_ID.code,
]);

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** The follower side of one partition. */
export class FollowerPartitionState {
  readonly #endOffsetForEpoch: EndOffsetForEpoch;
  readonly #config: ReplicationConfig;
  #leaderId: BrokerId;
  #leaderEpoch: LeaderEpoch;
  #status: FollowerStatus = "ready";
  #fetchOffset: bigint;
  #lastFetchedEpoch: number;
  #logStartOffset: bigint;
  #highWatermark: bigint;
  #leaderHighWatermark = 0n;
  #retryAtMs = 0;

  /** Starts following `options.leaderId`. */
  constructor(options: FollowerPartitionOptions) {
    this.#endOffsetForEpoch = options.endOffsetForEpoch;
    this.#config = options.config;
    this.#leaderId = options.leaderId;
    this.#leaderEpoch = options.leaderEpoch;
    this.#fetchOffset = options.logEndOffset;
    this.#lastFetchedEpoch = options.latestEpoch;
    this.#logStartOffset = options.logStartOffset;
    this.#highWatermark = min(options.highWatermark, options.logEndOffset);
    this.#checkInvariants();
  }

  /** The leader being followed. */
  get leaderId(): BrokerId {
    return this.#leaderId;
  }

  /** The leader epoch being followed. */
  get leaderEpoch(): LeaderEpoch {
    return this.#leaderEpoch;
  }

  /** Where the follower is in its cycle. */
  get status(): FollowerStatus {
    return this.#status;
  }

  /** The next fetch offset (the local log end). */
  get fetchOffset(): bigint {
    return this.#fetchOffset;
  }

  /** The epoch of the local last batch. */
  get lastFetchedEpoch(): number {
    return this.#lastFetchedEpoch;
  }

  /** The follower's HW: min(the leader's HW, the local log end). */
  get highWatermark(): bigint {
    return this.#highWatermark;
  }

  /** The follower's log start offset. */
  get logStartOffset(): bigint {
    return this.#logStartOffset;
  }

  /**
   * Starts a fetch when ready (then the request is `fetchOffset`, `lastFetchedEpoch`,
   * `leaderEpoch`, `logStartOffset`); false while busy or backing off. Allocates nothing, for
   * fetchers that visit thousands of idle partitions per round.
   */
  beginFetch(nowMs: number): boolean {
    if (this.#status === "backoff" && nowMs >= this.#retryAtMs) this.#status = "ready";
    if (this.#status !== "ready") return false;
    this.#status = "fetching";
    return true;
  }

  /** This partition's part of the next fetch, or null while busy or backing off. */
  fetchRequest(nowMs: number): FollowerFetchRequest | null {
    if (!this.beginFetch(nowMs)) return null;
    return {
      fetchOffset: this.#fetchOffset,
      lastFetchedEpoch: this.#lastFetchedEpoch,
      currentLeaderEpoch: this.#leaderEpoch,
      logStartOffset: this.#logStartOffset,
    };
  }

  /** The leader answered this partition's fetch. */
  onFetchResponse(response: FollowerFetchResponse, nowMs: number): FollowerAction {
    // The leader changed while the fetch was in flight: its answer no longer applies.
    if (this.#status !== "fetching") return { kind: "stale" };
    if (response.error.code !== ErrorCode.NONE.code) return this.#onError(response, nowMs);
    this.#leaderHighWatermark = response.highWatermark;
    if (response.divergingEpoch !== null) {
      const target = truncationTarget(
        response.divergingEpoch,
        this.#fetchOffset,
        this.#endOffsetForEpoch,
      );
      this.#status = "truncating";
      return { kind: "truncate", offset: target.offset, complete: target.complete };
    }
    if (response.records.byteLength > 0) {
      this.#status = "appending";
      return { kind: "append", records: response.records };
    }
    this.#status = "ready";
    this.#highWatermark = min(response.highWatermark, this.#fetchOffset);
    return { kind: "updateHighWatermark", highWatermark: this.#highWatermark };
  }

  #onError(response: FollowerFetchResponse, nowMs: number): FollowerAction {
    const { error } = response;
    if (METADATA_ERRORS.has(error.code)) {
      this.#status = "awaitingMetadata";
      return { kind: "awaitMetadata", error };
    }
    if (error.code === ErrorCode.OFFSET_OUT_OF_RANGE.code) {
      // Kafka's handleOutOfRangeError: behind the leader's log start -> start over there;
      // ahead of the leader's log end -> cut back to it (nothing past it is committed).
      if (this.#fetchOffset < response.logStartOffset) {
        this.#status = "truncating";
        return { kind: "truncateFullyAndStartAt", offset: response.logStartOffset };
      }
      if (this.#fetchOffset > response.logEndOffset && response.logEndOffset >= 0n) {
        this.#status = "truncating";
        return { kind: "truncate", offset: response.logEndOffset, complete: true };
      }
    }
    this.#status = "backoff";
    this.#retryAtMs = nowMs + this.#config.replicaFetchBackoffMs;
    return { kind: "backoff", error, retryAtMs: this.#retryAtMs };
  }

  /** The fetcher appended the records: the local log now ends at `position`. */
  onAppended(position: LocalLogPosition): bigint {
    assert(this.#status === "appending", `append reported while ${this.#status}`);
    assert(position.logEndOffset > this.#fetchOffset, "an append must move the log end");
    this.#moveTo(position);
    this.#highWatermark = min(this.#leaderHighWatermark, this.#fetchOffset);
    this.#checkInvariants();
    return this.#highWatermark;
  }

  /** The fetcher truncated the log (to a point, or fully to a new start): fetch again. */
  onTruncated(position: LocalLogPosition & { readonly logStartOffset?: bigint }): void {
    assert(this.#status === "truncating", `truncation reported while ${this.#status}`);
    if (position.logStartOffset !== undefined) this.#logStartOffset = position.logStartOffset;
    this.#moveTo(position);
    this.#highWatermark = min(this.#highWatermark, this.#fetchOffset);
    this.#checkInvariants();
  }

  #moveTo(position: LocalLogPosition): void {
    assert(position.logEndOffset >= this.#logStartOffset, "log end below log start");
    this.#fetchOffset = position.logEndOffset;
    this.#lastFetchedEpoch = position.latestEpoch;
    this.#status = "ready";
  }

  /**
   * Metadata names a leader for this partition again (same or new). A pending append or
   * truncation finishes first; a backoff or a wait for metadata ends now.
   */
  onLeaderChange(leaderId: BrokerId, leaderEpoch: LeaderEpoch): void {
    assert(leaderEpoch >= this.#leaderEpoch, "leader epoch went back");
    this.#leaderId = leaderId;
    this.#leaderEpoch = leaderEpoch;
    if (this.#status === "backoff" || this.#status === "awaitingMetadata") this.#status = "ready";
    // A fetch in flight to the old leader is answered by a fresh one.
    if (this.#status === "fetching") this.#status = "ready";
  }

  /** Log start <= log end and 0 <= HW <= log end: a follower never claims a HW past its own log. */
  #checkInvariants(): void {
    assert(this.#logStartOffset <= this.#fetchOffset, "log start above log end");
    assert(this.#highWatermark >= 0n, "negative high watermark");
    assert(this.#highWatermark <= this.#fetchOffset, "HW above the follower's log end");
  }
}
