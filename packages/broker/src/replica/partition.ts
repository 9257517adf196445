/**
 * One local replica: its `Log` and its role's pure state (leader: `LeaderPartitionState`,
 * follower: `FollowerPartitionState`). The replica manager owns the I/O around it; a mutex
 * serializes leader appends with role changes, so an append never lands after leadership moved.
 */
import { type Logger, Mutex } from "@strand/base";
import type { BrokerId, LeaderEpoch, PartitionEpoch, TopicId } from "@strand/controller";
import type { Log } from "@strand/storage";
import type { FollowerPartitionState } from "../core/follower-partition.ts";
import type { LeaderPartitionState } from "../core/leader-partition.ts";
import { PartitionProducerState } from "./partition-producers.ts";
import type { PartitionStatus } from "./types.ts";

/** The role of a local replica. */
export type PartitionRole =
  | { readonly kind: "leader"; readonly state: LeaderPartitionState }
  /** `state` is null while the partition has no leader (nothing to fetch from). */
  | { readonly kind: "follower"; readonly state: FollowerPartitionState | null };

/** Bytes a leader appended above its HW, to count bytes for consumer long polls. */
interface PendingBytes {
  readonly endOffset: bigint;
  readonly bytes: number;
}

/** Most pending-byte entries kept per partition (older ones merge). */
const PENDING_BYTES_MAX = 4_096;

/** The key of a partition in every map and purgatory. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** A local replica. */
export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly topicId: TopicId;
  readonly key: string;
  readonly log: Log;
  /** Serializes leader appends with role changes. */
  readonly lock = new Mutex();
  /** Idempotent producers' state, kept in step with the log (docs/idempotence.md). */
  readonly producers: PartitionProducerState;
  role: PartitionRole;
  replicas: readonly BrokerId[] = [];
  /** The controller's ISR (the leader's own view is in its state). */
  isr: readonly BrokerId[] = [];
  leaderId: BrokerId | null = null;
  leaderEpoch: LeaderEpoch;
  partitionEpoch: PartitionEpoch;
  /** The follower's HW (min of the leader's HW and the local log end). */
  followerHighWatermark = 0n;
  readonly #pending: PendingBytes[] = [];

  /** A replica over `log`, in `role`. */
  constructor(init: {
    topic: string;
    partition: number;
    topicId: TopicId;
    log: Log;
    role: PartitionRole;
    leaderEpoch: LeaderEpoch;
    partitionEpoch: PartitionEpoch;
    logger?: Logger;
  }) {
    this.topic = init.topic;
    this.partition = init.partition;
    this.topicId = init.topicId;
    this.key = partitionKey(init.topic, init.partition);
    this.log = init.log;
    this.role = init.role;
    this.leaderEpoch = init.leaderEpoch;
    this.partitionEpoch = init.partitionEpoch;
    this.producers = new PartitionProducerState(init.log, init.logger);
  }

  /** The leader state when this replica leads, else null. */
  get leader(): LeaderPartitionState | null {
    return this.role.kind === "leader" ? this.role.state : null;
  }

  /** The follower state when this replica follows a leader, else null. */
  get follower(): FollowerPartitionState | null {
    return this.role.kind === "follower" ? this.role.state : null;
  }

  /** Offsets below it are committed. */
  get highWatermark(): bigint {
    const leader = this.leader;
    if (leader !== null) return leader.highWatermark;
    const end = this.log.logEndOffset;
    if (this.followerHighWatermark < end) return this.followerHighWatermark;
    return end;
  }

  /** The leader appended `bytes` ending at `endOffset` (exclusive). */
  recordAppend(endOffset: bigint, bytes: number): void {
    if (this.#pending.length >= PENDING_BYTES_MAX) {
      const merged = this.#pending.shift()!;
      this.#pending[0] = {
        endOffset: this.#pending[0]!.endOffset,
        bytes: merged.bytes + this.#pending[0]!.bytes,
      };
    }
    this.#pending.push({ endOffset, bytes });
  }

  /** Bytes of appends now wholly below `highWatermark` (each counted once). */
  takeCommittedBytes(highWatermark: bigint): number {
    let bytes = 0;
    while (this.#pending.length > 0 && this.#pending[0]!.endOffset <= highWatermark) {
      bytes += this.#pending.shift()!.bytes;
    }
    return bytes;
  }

  /** Forgets pending bytes (leadership moved). */
  clearPendingBytes(): void {
    this.#pending.length = 0;
  }

  /** The replica's state for DescribeTopics, metrics and health. */
  status(): PartitionStatus {
    const leader = this.leader;
    return {
      topic: this.topic,
      partition: this.partition,
      role: this.role.kind,
      leaderEpoch: leader?.leaderEpoch ?? this.leaderEpoch,
      logStartOffset: this.log.logStartOffset,
      logEndOffset: this.log.logEndOffset,
      highWatermark: this.highWatermark,
      isr: leader !== null ? [...leader.isr] : [...this.isr],
      sizeBytes: this.log.sizeBytes,
      segments: this.log.segmentBaseOffsets().length,
    };
  }
}
