/**
 * The coordinator's state of the groups of one `__consumer_offsets` partition, and `replay`,
 * the only function that changes it. Handlers read the state and return records; the shell
 * appends the records and, once they are committed, replays them here.
 */
import { assert } from "@strand/base";
import type {
  AssignorName,
  CurrentAssignmentRecord,
  GroupRecord,
  MemberMetadataRecord,
  OffsetCommitRecord,
  TopicPartitions,
} from "./records.ts";

/** A committed offset. */
export type CommittedOffset = Omit<OffsetCommitRecord, "type" | "groupId" | "topic" | "partition">;

/** A member's current assignment (defaults until its first record). */
export type CurrentAssignment = Omit<CurrentAssignmentRecord, "type" | "groupId" | "memberId">;

/** A member's metadata. */
export type MemberMetadata = Omit<MemberMetadataRecord, "type" | "groupId">;

/** One group. Mutated only by {@link replay}. */
export interface GroupState {
  readonly groupId: string;
  epoch: number;
  assignor: AssignorName;
  topicsFingerprint: string;
  updatedMs: number;
  assignmentEpoch: number;
  readonly members: Map<string, MemberMetadata>;
  readonly targets: Map<string, TopicPartitions>;
  readonly current: Map<string, CurrentAssignment>;
  /** topic -> partition -> committed offset. */
  readonly offsets: Map<string, Map<number, CommittedOffset>>;
}

/** The groups of one offsets partition. */
export interface GroupsState {
  readonly groups: Map<string, GroupState>;
}

/** An empty state. */
export function emptyGroupsState(): GroupsState {
  return { groups: new Map() };
}

const EMPTY: TopicPartitions = new Map();

/** The current assignment of a member with none recorded yet. */
export const NO_ASSIGNMENT: CurrentAssignment = Object.freeze({
  memberEpoch: 0,
  previousMemberEpoch: 0,
  assigned: EMPTY,
  pendingRevocation: EMPTY,
});

function newGroup(groupId: string): GroupState {
  return {
    groupId,
    epoch: 0,
    assignor: "uniform",
    topicsFingerprint: "",
    updatedMs: 0,
    assignmentEpoch: 0,
    members: new Map(),
    targets: new Map(),
    current: new Map(),
    offsets: new Map(),
  };
}

function group(state: GroupsState, groupId: string): GroupState {
  let g = state.groups.get(groupId);
  if (g === undefined) {
    g = newGroup(groupId);
    state.groups.set(groupId, g);
  }
  return g;
}

/** Applies one record. Tombstones of things that do not exist are no-ops (compaction). */
export function replay(state: GroupsState, r: GroupRecord): void {
  switch (r.type) {
    case "groupMetadata": {
      const g = group(state, r.groupId);
      g.epoch = r.epoch;
      g.assignor = r.assignor;
      g.topicsFingerprint = r.topicsFingerprint;
      g.updatedMs = r.updatedMs;
      return;
    }
    case "groupMetadataTombstone":
      state.groups.delete(r.groupId);
      return;
    case "memberMetadata": {
      const { type: _t, groupId, ...member } = r;
      group(state, groupId).members.set(r.memberId, member);
      return;
    }
    case "memberMetadataTombstone":
      state.groups.get(r.groupId)?.members.delete(r.memberId);
      dropIfEmpty(state, r.groupId);
      return;
    case "targetAssignmentMetadata":
      group(state, r.groupId).assignmentEpoch = r.assignmentEpoch;
      return;
    case "targetAssignmentMetadataTombstone": {
      const g = state.groups.get(r.groupId);
      if (g !== undefined) g.assignmentEpoch = 0;
      return;
    }
    case "targetAssignment":
      group(state, r.groupId).targets.set(r.memberId, r.partitions);
      return;
    case "targetAssignmentTombstone":
      state.groups.get(r.groupId)?.targets.delete(r.memberId);
      return;
    case "currentAssignment": {
      const { type: _t, groupId, memberId, ...current } = r;
      group(state, groupId).current.set(memberId, current);
      return;
    }
    case "currentAssignmentTombstone":
      state.groups.get(r.groupId)?.current.delete(r.memberId);
      return;
    case "offsetCommit": {
      const { type: _t, groupId, topic, partition, ...committed } = r;
      const g = group(state, groupId);
      let byPartition = g.offsets.get(topic);
      if (byPartition === undefined) {
        byPartition = new Map();
        g.offsets.set(topic, byPartition);
      }
      byPartition.set(partition, committed);
      return;
    }
    case "offsetCommitTombstone": {
      const byPartition = state.groups.get(r.groupId)?.offsets.get(r.topic);
      byPartition?.delete(r.partition);
      if (byPartition?.size === 0) state.groups.get(r.groupId)?.offsets.delete(r.topic);
      dropIfEmpty(state, r.groupId);
      return;
    }
    default:
      assert(false, `unknown group record ${(r as { type: string }).type}`);
  }
}

/** A group without metadata record, members or offsets is gone (standalone commits deleted). */
function dropIfEmpty(state: GroupsState, groupId: string): void {
  const g = state.groups.get(groupId);
  if (g === undefined) return;
  if (g.epoch === 0 && g.members.size === 0 && g.offsets.size === 0) state.groups.delete(groupId);
}

/** Applies records in order. */
export function replayAll(state: GroupsState, records: readonly GroupRecord[]): void {
  for (const r of records) replay(state, r);
}

/** A member's current assignment (the defaults when none was recorded). */
export function currentOf(g: GroupState, memberId: string): CurrentAssignment {
  return g.current.get(memberId) ?? NO_ASSIGNMENT;
}

/** The group's state name as DescribeGroups and ListGroups report it. */
export type GroupStateName = "empty" | "assigning" | "reconciling" | "stable" | "dead";

/** See {@link GroupStateName}. */
export function groupStateName(g: GroupState | undefined): GroupStateName {
  if (g === undefined) return "dead";
  if (g.members.size === 0) return "empty";
  if (g.assignmentEpoch < g.epoch) return "assigning";
  for (const [memberId] of g.members) {
    const c = currentOf(g, memberId);
    if (c.memberEpoch !== g.assignmentEpoch && c.memberEpoch !== LEAVE_STATIC_EPOCH)
      return "reconciling";
    if (c.pendingRevocation.size > 0) return "reconciling";
  }
  return "stable";
}

/** Member epoch of a static member that left temporarily (keeps its partitions). */
export const LEAVE_STATIC_EPOCH = -2;
/** Member epoch of a leaving dynamic member. */
export const LEAVE_EPOCH = -1;
