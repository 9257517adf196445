/**
 * Inputs and outputs of the pure group handlers: each takes the state, a request, the topic
 * metadata and the time, and returns the records to append, the response and timer changes.
 */
import type { AssignorName, GroupRecord, TopicPartitions } from "./records.ts";

/** Coordinator settings the handlers need (docs/configuration.md, group.consumer.*). */
export interface GroupConfig {
  /** A member that does not heartbeat for this long is removed. */
  readonly sessionTimeoutMs: number;
  /** Told to members: how often to heartbeat. */
  readonly heartbeatIntervalMs: number;
  /** Used when a member sends rebalance timeout 0. */
  readonly defaultRebalanceTimeoutMs: number;
  /** Used for a new group when the member names none. */
  readonly defaultAssignor: AssignorName;
  /** Members per group at most. */
  readonly maxGroupSize: number;
  /** An empty group whose last change is older than this is deleted with its offsets. */
  readonly offsetsRetentionMs: number;
}

/** Kafka-like defaults (45 s session, 5 s heartbeat, 7 days retention). */
export const DEFAULT_GROUP_CONFIG: GroupConfig = Object.freeze({
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 5_000,
  defaultRebalanceTimeoutMs: 300_000,
  defaultAssignor: "uniform",
  maxGroupSize: 1000,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
});

/** A timer to (re)arm or cancel; the shell keeps them and calls back when one is due. */
export type TimerChange =
  | { readonly kind: "schedule"; readonly key: string; readonly deadlineMs: number }
  | { readonly kind: "cancel"; readonly key: string };

/** What a handler returns. */
export interface GroupResult<R> {
  /** Records to append (one batch, atomically); empty when nothing changed. */
  readonly records: readonly GroupRecord[];
  readonly response: R;
  readonly timers: readonly TimerChange[];
}

/** A Strand error code and message (0 / "" = none). */
export interface GroupError {
  readonly errorCode: number;
  readonly errorMessage: string;
}

/** A member's subscription: topic names or one regex. */
export interface Subscription {
  readonly topicNames: readonly string[];
  readonly topicRegex: string;
}

/** ConsumerGroupHeartbeat, validated by the edge. */
export interface HeartbeatRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string;
  readonly rackId: string;
  readonly rebalanceTimeoutMs: number;
  readonly subscription: Subscription | null;
  /** "" keeps the group's assignor. */
  readonly serverAssignor: string;
  readonly owned: TopicPartitions | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** A fresh id the shell generated, used when a member joins without one. */
  readonly newMemberId: string;
}

/** The heartbeat answer. */
export interface HeartbeatResponse extends GroupError {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  /** The complete set the member may own, when it changed (null: unchanged). */
  readonly assignment: TopicPartitions | null;
}
