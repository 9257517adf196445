/**
 * The records of the consumer-group coordinator, as they are written to `__consumer_offsets`
 * (docs/consumer-groups.md). Every record has a key that names what it describes; compaction
 * keeps the last value per key and a tombstone (a `*Tombstone` record, a null value on disk)
 * deletes it. Only replay (replay.ts) turns records into state.
 */

/** Partitions by topic name; partition lists are sorted ascending, topics by name. */
export type TopicPartitions = ReadonlyMap<string, readonly number[]>;

/** A server-side assignor. */
export type AssignorName = "uniform" | "range";

/** The assignors Strand offers (KIP-848 names). */
export const ASSIGNORS: readonly AssignorName[] = ["uniform", "range"];

/** Group-level metadata: its epoch, assignor and the topic metadata its epoch was computed on. */
export interface GroupMetadataRecord {
  readonly type: "groupMetadata";
  readonly groupId: string;
  /** Bumped whenever membership, subscriptions or subscribed topic metadata change. */
  readonly epoch: number;
  readonly assignor: AssignorName;
  /** Fingerprint of the subscribed topics' partition counts at `epoch` (see topics.ts). */
  readonly topicsFingerprint: string;
  /** When the group last changed (for the expiry of empty groups). */
  readonly updatedMs: number;
}

/** A member joined or changed its metadata. */
export interface MemberMetadataRecord {
  readonly type: "memberMetadata";
  readonly groupId: string;
  readonly memberId: string;
  /** Static membership id; empty for a dynamic member. */
  readonly instanceId: string;
  readonly rackId: string;
  readonly clientId: string;
  readonly clientHost: string;
  /** Sorted topic names; empty when `topicRegex` is used. */
  readonly topicNames: readonly string[];
  /** Empty when `topicNames` is used. */
  readonly topicRegex: string;
  readonly rebalanceTimeoutMs: number;
}

/** The assignment epoch of the group's target assignment. */
export interface TargetAssignmentMetadataRecord {
  readonly type: "targetAssignmentMetadata";
  readonly groupId: string;
  readonly assignmentEpoch: number;
}

/** One member's target assignment. */
export interface TargetAssignmentRecord {
  readonly type: "targetAssignment";
  readonly groupId: string;
  readonly memberId: string;
  readonly partitions: TopicPartitions;
}

/**
 * A member's current assignment: what it may own now (`assigned`) and what it must give up
 * (`pendingRevocation`, still owned until it acknowledges). Member epoch -2 marks a static
 * member that left temporarily.
 */
export interface CurrentAssignmentRecord {
  readonly type: "currentAssignment";
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly assigned: TopicPartitions;
  readonly pendingRevocation: TopicPartitions;
}

/** A committed offset of one partition. */
export interface OffsetCommitRecord {
  readonly type: "offsetCommit";
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

/** Deletes what one key held. */
export type TombstoneRecord =
  | { readonly type: "groupMetadataTombstone"; readonly groupId: string }
  | {
      readonly type: "memberMetadataTombstone";
      readonly groupId: string;
      readonly memberId: string;
    }
  | { readonly type: "targetAssignmentMetadataTombstone"; readonly groupId: string }
  | {
      readonly type: "targetAssignmentTombstone";
      readonly groupId: string;
      readonly memberId: string;
    }
  | {
      readonly type: "currentAssignmentTombstone";
      readonly groupId: string;
      readonly memberId: string;
    }
  | {
      readonly type: "offsetCommitTombstone";
      readonly groupId: string;
      readonly topic: string;
      readonly partition: number;
    };

/** Every group record. */
export type GroupRecord =
  | GroupMetadataRecord
  | MemberMetadataRecord
  | TargetAssignmentMetadataRecord
  | TargetAssignmentRecord
  | CurrentAssignmentRecord
  | OffsetCommitRecord
  | TombstoneRecord;

/** The record types. */
export type GroupRecordType = GroupRecord["type"];
