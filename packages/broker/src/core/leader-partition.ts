/**
 * The partition leader's replication state (Kafka's `Partition` on the leader side): the
 * followers' log end offsets, the high watermark, and ISR changes proposed to the controller.
 * Pure: every event comes in as a call with `nowMs`; nothing here does I/O or reads a clock.
 *
 * Rules (docs/replication.md):
 * - HW = min log end offset over the ISR (leader included); it never decreases, and it does
 *   not advance while the committed ISR is smaller than min.insync.replicas.
 * - One ISR change in flight at a time. While it is pending the HW uses the *maximal* ISR,
 *   current ∪ proposed (Kafka's PendingExpandIsr / PendingShrinkIsr): an expansion counts the
 *   new member at once, a shrink still counts the leaving one until the controller commits.
 */

import { assert } from "@strand/base";
import type { BrokerId, LeaderEpoch, PartitionEpoch } from "@strand/controller";
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import { validateFetchEpoch } from "./divergence.ts";
import {
  type FetchObservation,
  initialReplicaState,
  isCaughtUp,
  type ReplicaState,
  updateFetchState,
} from "./replica-state.ts";
import type {
  Acks,
  DivergingEpoch,
  EndOffsetForEpoch,
  IsrProposal,
  PartitionStateUpdate,
  ReplicationConfig,
  ReplicationError,
} from "./types.ts";

/** How a leader starts: its partition state from metadata and its log's position. */
export interface LeaderPartitionOptions {
  /** This broker's id (the leader). */
  readonly localBrokerId: BrokerId;
  /** Assigned replicas, leader included. */
  readonly replicas: readonly BrokerId[];
  /** The committed ISR from the controller (holds the leader). */
  readonly isr: readonly BrokerId[];
  /** The leader epoch of this leadership. */
  readonly leaderEpoch: LeaderEpoch;
  /** The committed partition epoch. */
  readonly partitionEpoch: PartitionEpoch;
  /** The leader's log end offset when it took this epoch (its first offset in the epoch). */
  readonly leaderEpochStartOffset: bigint;
  /** The leader's log end offset now (default: the epoch start offset). */
  readonly logEndOffset?: bigint;
  /** The high watermark it starts from (its checkpoint or its follower HW). */
  readonly highWatermark: bigint;
  /** The leader log's epoch lookup, e.g. `(e) => log.endOffsetForEpoch(e)`. */
  readonly endOffsetForEpoch: EndOffsetForEpoch;
  /** Replication settings. */
  readonly config: ReplicationConfig;
  /** May this replica join the ISR (registered, unfenced, not shutting down)? Default yes. */
  readonly isReplicaEligible?: (replicaId: BrokerId) => boolean;
  /** When the leadership starts. */
  readonly nowMs: number;
}

/** One follower fetch of this partition, as the leader received it. */
export interface FollowerFetch {
  /** The follower's broker id. */
  readonly replicaId: BrokerId;
  /** The follower's fetch offset (its log end offset). */
  readonly fetchOffset: bigint;
  /** The epoch of the follower's last batch, or NO_EPOCH. */
  readonly lastFetchedEpoch: number;
  /** The leader epoch the follower believes current. */
  readonly currentLeaderEpoch: number;
  /** The leader's log start offset now. */
  readonly leaderLogStartOffset: bigint;
  /** The leader's log end offset now (before reading). */
  readonly leaderLogEndOffset: bigint;
  /** When the fetch arrived. */
  readonly nowMs: number;
}

/** What the leader does with a follower fetch. */
export type FollowerFetchOutcome =
  | {
      /** Read records from the fetch offset and answer them. */
      readonly kind: "read";
      /** The HW advanced: complete waiting acks=all produces and fetches. */
      readonly highWatermarkAdvanced: boolean;
      /** An ISR expansion to send to the controller, if this fetch brought one. */
      readonly isrProposal: IsrProposal | null;
    }
  | {
      /** Answer no records but this diverging epoch; the follower's state is not updated. */
      readonly kind: "diverging";
      /** The leader's (epoch, end offset) for the follower's last fetched epoch. */
      readonly divergingEpoch: DivergingEpoch;
    }
  | ({ readonly kind: "error" } & ReplicationError);

/** The controller's answer to an AlterPartition the leader sent. */
export type AlterPartitionResult =
  | { readonly kind: "committed"; readonly state: PartitionStateUpdate }
  | { readonly kind: "failed"; readonly error: ErrorCodeInfo };

/** What to do after an AlterPartition answer. */
export interface AlterPartitionOutcome {
  /** The HW advanced: complete waiting requests. */
  readonly highWatermarkAdvanced: boolean;
  /** Send this proposal again (a transient failure), or null. */
  readonly retry: IsrProposal | null;
}

/** Whether an acks=all produce waiting for `requiredOffset` is done, and how. */
export type AcksAllResult =
  | { readonly done: false }
  | { readonly done: true; readonly error: ErrorCodeInfo };

// Errors after which the proposal is stale: wait for the controller's metadata (Kafka keeps
// the ISR state in flight until the new partition state arrives).
const AWAIT_METADATA_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.INVALID_UPDATE_VERSION.code,
  ErrorCode.FENCED_LEADER_EPOCH.code,
  ErrorCode.NOT_LEADER_OR_FOLLOWER.code,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
  ErrorCode.UNKNOWN_TOPIC_ID.code,
]);

/** The leader side of one partition's replication. */
export class LeaderPartitionState {
  /** This broker (the leader). */
  readonly localBrokerId: BrokerId;
  /** The leader epoch of this leadership (fixed: a new epoch is a new state). */
  readonly leaderEpoch: LeaderEpoch;
  /** The leader's first offset in this epoch. */
  readonly leaderEpochStartOffset: bigint;
  readonly #replicas: readonly BrokerId[];
  readonly #endOffsetForEpoch: EndOffsetForEpoch;
  #config: ReplicationConfig;
  readonly #isEligible: (replicaId: BrokerId) => boolean;
  readonly #followers = new Map<BrokerId, ReplicaState>();
  #isr: readonly BrokerId[];
  #partitionEpoch: PartitionEpoch;
  #pending: IsrProposal | null = null;
  #awaitingMetadata = false;
  #logEndOffset: bigint;
  #highWatermark: bigint;

  /** Takes over leadership at `options.nowMs`. */
  constructor(options: LeaderPartitionOptions) {
    this.localBrokerId = options.localBrokerId;
    this.leaderEpoch = options.leaderEpoch;
    this.leaderEpochStartOffset = options.leaderEpochStartOffset;
    this.#replicas = [...options.replicas];
    this.#endOffsetForEpoch = options.endOffsetForEpoch;
    this.#config = options.config;
    this.#isEligible = options.isReplicaEligible ?? (() => true);
    this.#isr = [...options.isr];
    this.#partitionEpoch = options.partitionEpoch;
    this.#logEndOffset = options.logEndOffset ?? options.leaderEpochStartOffset;
    this.#highWatermark = options.highWatermark;
    for (const id of this.#replicas) {
      if (id !== this.localBrokerId) {
        this.#followers.set(id, initialReplicaState(this.#isr.includes(id), options.nowMs));
      }
    }
    assert(options.config.minInsyncReplicas >= 1, "min.insync.replicas must be at least 1");
    assert(this.#logEndOffset >= this.leaderEpochStartOffset, "log end below epoch start");
    this.#checkInvariants();
  }

  /** Offsets below it are committed: on every ISR member, and readable by consumers. */
  get highWatermark(): bigint {
    return this.#highWatermark;
  }

  /** The leader's log end offset as last reported. */
  get logEndOffset(): bigint {
    return this.#logEndOffset;
  }

  /** The committed ISR. */
  get isr(): readonly BrokerId[] {
    return this.#isr;
  }

  /** The committed partition epoch. */
  get partitionEpoch(): PartitionEpoch {
    return this.#partitionEpoch;
  }

  /** The ISR change in flight, if any. */
  get pendingIsrChange(): IsrProposal | null {
    return this.#pending;
  }

  /** Committed ISR ∪ the proposed one: the set the HW waits for. */
  get maximalIsr(): readonly BrokerId[] {
    if (this.#pending === null) return this.#isr;
    return [...new Set([...this.#isr, ...this.#pending.isr])];
  }

  /** min.insync.replicas capped by the replica count (Kafka's effectiveMinIsr). */
  get effectiveMinIsr(): number {
    return Math.min(this.#config.minInsyncReplicas, this.#replicas.length);
  }

  /** The committed ISR is smaller than the effective min ISR: HW frozen, acks=all refused. */
  get isUnderMinIsr(): boolean {
    return this.#isr.length < this.effectiveMinIsr;
  }

  /** The leader's view of a follower, or undefined for a non-replica. */
  replicaState(replicaId: BrokerId): ReplicaState | undefined {
    return this.#followers.get(replicaId);
  }

  /** The leader appended: its log end moved to `logEndOffset`. Returns whether HW advanced. */
  onLeaderAppend(logEndOffset: bigint): boolean {
    assert(logEndOffset >= this.#logEndOffset, "the leader's log end offset went back");
    this.#logEndOffset = logEndOffset;
    return this.#maybeIncrementHighWatermark();
  }

  /**
   * A follower fetched (Kafka's `Partition.fetchRecords` for a follower, then
   * `updateFollowerFetchState`): fence stale epochs, check divergence, then record the
   * follower's new log end offset, maybe expand the ISR, and maybe advance the HW.
   */
  onFollowerFetch(fetch: FollowerFetch): FollowerFetchOutcome {
    const refused = this.#checkFollowerFetch(fetch);
    if (refused !== null) return refused;
    const validation = validateFetchEpoch(
      {
        lastFetchedEpoch: fetch.lastFetchedEpoch,
        fetchOffset: fetch.fetchOffset,
        logStartOffset: fetch.leaderLogStartOffset,
      },
      this.#endOffsetForEpoch,
    );
    if (validation.kind !== "ok") return validation;
    if (fetch.fetchOffset > fetch.leaderLogEndOffset) {
      const message = `fetch offset ${fetch.fetchOffset} is past the leader's log end ${fetch.leaderLogEndOffset}`;
      return { kind: "error", error: ErrorCode.OFFSET_OUT_OF_RANGE, message };
    }
    if (fetch.leaderLogEndOffset > this.#logEndOffset)
      this.#logEndOffset = fetch.leaderLogEndOffset;
    const previous = this.#followers.get(fetch.replicaId)!;
    const observation: FetchObservation = {
      fetchOffset: fetch.fetchOffset,
      leaderLogEndOffset: fetch.leaderLogEndOffset,
      nowMs: fetch.nowMs,
    };
    this.#followers.set(fetch.replicaId, updateFetchState(previous, observation));
    const isrProposal = this.maybeExpandIsr(fetch.replicaId);
    // As Kafka, the HW can only move when the follower's log end did.
    const moved = previous.logEndOffset !== fetch.fetchOffset;
    const highWatermarkAdvanced = moved && this.#maybeIncrementHighWatermark();
    return { kind: "read", highWatermarkAdvanced, isrProposal };
  }

  #checkFollowerFetch(fetch: FollowerFetch): FollowerFetchOutcome | null {
    if (!this.#followers.has(fetch.replicaId)) {
      const message = `broker ${fetch.replicaId} is not a follower replica of this partition`;
      return { kind: "error", error: ErrorCode.NOT_LEADER_OR_FOLLOWER, message };
    }
    if (fetch.currentLeaderEpoch < this.leaderEpoch) {
      const message = `leader epoch ${fetch.currentLeaderEpoch} is older than ${this.leaderEpoch}`;
      return { kind: "error", error: ErrorCode.FENCED_LEADER_EPOCH, message };
    }
    if (fetch.currentLeaderEpoch > this.leaderEpoch) {
      const message = `leader epoch ${fetch.currentLeaderEpoch} is newer than this leader's ${this.leaderEpoch}`;
      return { kind: "error", error: ErrorCode.NOT_LEADER_OR_FOLLOWER, message };
    }
    return null;
  }

  /**
   * Followers of the ISR (never the leader) not caught up within `replicaLagTimeMaxMs` leave
   * it. Returns the proposal to send (now pending), or null when nothing lags or a change is
   * already in flight.
   */
  maybeShrinkIsr(nowMs: number, replicaLagTimeMaxMs: number): IsrProposal | null {
    if (this.#pending !== null || this.#awaitingMetadata) return null;
    // A log that never held a record (log end 0): every replica holds all of it, so no
    // follower can lag. Without this, creating thousands of partitions shrank (and then
    // re-expanded) the ISR of every partition whose follower was slow to create its replica:
    // two metadata records per partition, each a delta every node applies.
    if (this.#logEndOffset === 0n) return null;
    const lagging = this.#isr.filter((id) => {
      if (id === this.localBrokerId) return false;
      const state = this.#followers.get(id);
      return (
        state === undefined || !isCaughtUp(state, this.#logEndOffset, nowMs, replicaLagTimeMaxMs)
      );
    });
    if (lagging.length === 0) return null;
    const isr = this.#isr.filter((id) => !lagging.includes(id));
    return this.#propose("shrink", isr);
  }

  /**
   * A follower outside the ISR joins it once it is eligible and its log end is at or past
   * both the HW and the leader's first offset of this epoch (so it holds every committed
   * batch and this leader's history). Returns the proposal (now pending) or null.
   */
  maybeExpandIsr(replicaId: BrokerId): IsrProposal | null {
    if (this.#pending !== null || this.#awaitingMetadata) return null;
    if (this.#isr.includes(replicaId)) return null;
    const state = this.#followers.get(replicaId);
    if (state === undefined || !this.#isEligible(replicaId)) return null;
    const end = state.logEndOffset;
    if (end < this.#highWatermark || end < this.leaderEpochStartOffset) return null;
    return this.#propose("expand", [...this.#isr, replicaId]);
  }

  #propose(kind: IsrProposal["kind"], isr: readonly BrokerId[]): IsrProposal {
    assert(isr.includes(this.localBrokerId), "a proposed ISR must hold the leader");
    const proposal: IsrProposal = {
      kind,
      isr,
      leaderEpoch: this.leaderEpoch,
      partitionEpoch: this.#partitionEpoch,
    };
    this.#pending = proposal;
    return proposal;
  }

  /** The controller answered the pending AlterPartition. */
  onAlterPartitionResult(result: AlterPartitionResult): AlterPartitionOutcome {
    const pending = this.#pending;
    if (pending === null) return { highWatermarkAdvanced: false, retry: null };
    if (result.kind === "committed") {
      return { highWatermarkAdvanced: this.onPartitionUpdate(result.state), retry: null };
    }
    if (AWAIT_METADATA_ERRORS.has(result.error.code)) {
      // Stale proposal: keep it pending (HW keeps the maximal ISR) until metadata arrives.
      this.#awaitingMetadata = true;
      return { highWatermarkAdvanced: false, retry: null };
    }
    if (result.error.retriable) return { highWatermarkAdvanced: false, retry: pending };
    // Refused for good (e.g. INELIGIBLE_REPLICA): back to the committed state.
    this.#pending = null;
    return { highWatermarkAdvanced: false, retry: null };
  }

  /**
   * New committed partition state from the controller (an AlterPartition answer or the
   * metadata log) for this leader epoch. Older partition epochs are ignored; a newer one
   * replaces the ISR and ends any pending change. Returns whether the HW advanced.
   */
  onPartitionUpdate(update: PartitionStateUpdate): boolean {
    assert(update.leaderEpoch === this.leaderEpoch, "a new leader epoch needs a new state");
    if (update.partitionEpoch <= this.#partitionEpoch) return false;
    this.#isr = [...update.isr];
    this.#partitionEpoch = update.partitionEpoch;
    this.#pending = null;
    this.#awaitingMetadata = false;
    this.#checkInvariants();
    return this.#maybeIncrementHighWatermark();
  }

  /**
   * min.insync.replicas changed at run time (the topic's or the cluster's config was altered).
   * A lower value may unfreeze the HW at once; returns whether it advanced.
   */
  setMinInsyncReplicas(minInsyncReplicas: number): boolean {
    assert(minInsyncReplicas >= 1, "min.insync.replicas must be at least 1");
    this.#config = { ...this.#config, minInsyncReplicas };
    return this.#maybeIncrementHighWatermark();
  }

  /** Refuses acks=all up front when the committed ISR is below min.insync.replicas. */
  checkProduce(acks: Acks): ReplicationError | null {
    if (acks !== "all" || !this.isUnderMinIsr) return null;
    const message = `ISR ${this.#isr.length} < min.insync.replicas ${this.effectiveMinIsr}`;
    return { error: ErrorCode.NOT_ENOUGH_REPLICAS, message };
  }

  /**
   * Kafka's `checkEnoughReplicasReachOffset`: an acks=all produce whose last offset is
   * `requiredOffset - 1` is done once the HW reaches `requiredOffset`; it fails with
   * NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below min ISR meanwhile.
   */
  acksAllResult(requiredOffset: bigint): AcksAllResult {
    if (this.#highWatermark < requiredOffset) return { done: false };
    const enough = this.maximalIsr.length >= this.effectiveMinIsr;
    return {
      done: true,
      error: enough ? ErrorCode.NONE : ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    };
  }

  #replicaLogEnd(id: BrokerId): bigint {
    if (id === this.localBrokerId) return this.#logEndOffset;
    return this.#followers.get(id)?.logEndOffset ?? -1n;
  }

  #maybeIncrementHighWatermark(): boolean {
    if (this.isUnderMinIsr) return false;
    let candidate = this.#logEndOffset;
    for (const id of this.maximalIsr) {
      const end = this.#replicaLogEnd(id);
      if (end < candidate) candidate = end;
    }
    if (candidate <= this.#highWatermark) return false;
    this.#highWatermark = candidate;
    assert(this.#highWatermark <= this.#logEndOffset, "HW passed the leader's log end");
    return true;
  }

  #checkInvariants(): void {
    assert(this.#replicas.includes(this.localBrokerId), "the leader is not a replica");
    assert(this.#isr.includes(this.localBrokerId), "the leader is not in its ISR");
    assert(
      this.#isr.every((id) => this.#replicas.includes(id)),
      `ISR [${this.#isr.join(",")}] names a non-replica`,
    );
    assert(this.#highWatermark >= 0n, "negative high watermark");
    assert(this.#highWatermark <= this.#logEndOffset, "HW above the leader's log end");
  }
}
