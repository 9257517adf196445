/**
 * The admin side: list, describe, delete, and the pure part of resetting offsets (the shell
 * looks up log start/end and timestamp offsets and passes them in).
 */
import { ErrorCode } from "@strand/protocol";
import { splitKey } from "./partitions.ts";
import { held } from "./reconcile.ts";
import type { GroupRecord, OffsetCommitRecord, TopicPartitions } from "./records.ts";
import {
  currentOf,
  type GroupState,
  type GroupStateName,
  type GroupsState,
  groupStateName,
} from "./state.ts";
import type { TopicsMetadata } from "./topics.ts";
import type { GroupError, GroupResult } from "./types.ts";

/** A listed group. */
export interface GroupSummary {
  readonly groupId: string;
  readonly state: GroupStateName;
  readonly members: number;
}

/** Every group, sorted by id, optionally only those in `states`. */
export function listGroups(state: GroupsState, states: readonly string[]): GroupSummary[] {
  const out: GroupSummary[] = [];
  for (const g of state.groups.values()) {
    const name = groupStateName(g);
    if (states.length > 0 && !states.includes(name)) continue;
    out.push({ groupId: g.groupId, state: name, members: g.members.size });
  }
  return out.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}

/** Which member holds each partition (assigned or pending revocation). */
export function partitionOwners(g: GroupState): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [id] of g.members) for (const k of held(currentOf(g, id))) owners.set(k, id);
  return owners;
}

/** The partitions DescribeGroups reports: committed ones and currently held ones. */
export function describedPartitions(g: GroupState): { topic: string; partition: number }[] {
  const keys = new Set(partitionOwners(g).keys());
  for (const [topic, byPartition] of g.offsets)
    for (const partition of byPartition.keys()) keys.add(`${topic}\u0000${partition}`);
  return [...keys]
    .map(splitKey)
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** Tombstones for every record of a group (members, targets, assignments, offsets, metadata). */
export function groupTombstones(g: GroupState): GroupRecord[] {
  const groupId = g.groupId;
  const out: GroupRecord[] = [];
  for (const memberId of new Set([...g.members.keys(), ...g.current.keys(), ...g.targets.keys()])) {
    out.push({ type: "currentAssignmentTombstone", groupId, memberId });
    out.push({ type: "targetAssignmentTombstone", groupId, memberId });
    out.push({ type: "memberMetadataTombstone", groupId, memberId });
  }
  for (const [topic, byPartition] of g.offsets)
    for (const partition of byPartition.keys())
      out.push({ type: "offsetCommitTombstone", groupId, topic, partition });
  out.push({ type: "targetAssignmentMetadataTombstone", groupId });
  out.push({ type: "groupMetadataTombstone", groupId });
  return out;
}

/** DeleteGroups for one group: refused while it has members. */
export function deleteGroup(state: GroupsState, groupId: string): GroupResult<GroupError> {
  const g = state.groups.get(groupId);
  if (g === undefined)
    return {
      records: [],
      timers: [],
      response: {
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND.code,
        errorMessage: `no group ${groupId}`,
      },
    };
  if (g.members.size > 0)
    return {
      records: [],
      timers: [],
      response: {
        errorCode: ErrorCode.NON_EMPTY_GROUP.code,
        errorMessage: `group ${groupId} has ${g.members.size} members`,
      },
    };
  return { records: groupTombstones(g), timers: [], response: { errorCode: 0, errorMessage: "" } };
}

/** Where a reset moves offsets. */
export type ResetSpec =
  | { readonly kind: "earliest" }
  | { readonly kind: "latest" }
  | { readonly kind: "timestamp"; readonly timestampMs: bigint }
  | { readonly kind: "offset"; readonly offset: bigint }
  | { readonly kind: "shift"; readonly by: bigint };

/** What the shell looked up for one partition. */
export interface PartitionBounds {
  readonly topic: string;
  readonly partition: number;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  /** The first offset at or after the spec's timestamp (-1n: none, i.e. the log end). */
  readonly timestampOffset: bigint;
  /** A lookup failure (no leader, ...); the partition is then left alone. */
  readonly error: GroupError | null;
}

/** One partition's planned reset. */
export interface ResetPlanEntry extends GroupError {
  readonly topic: string;
  readonly partition: number;
  readonly previousOffset: bigint;
  readonly newOffset: bigint;
}

/**
 * The partitions a reset covers: the requested ones (a topic with no partitions = all of
 * its partitions), or every partition the group has committed when none is requested.
 */
export function resetTargets(
  state: GroupsState,
  groupId: string,
  requested: TopicPartitions,
  topics: TopicsMetadata,
): { topic: string; partition: number }[] {
  const out: { topic: string; partition: number }[] = [];
  if (requested.size === 0) {
    for (const [topic, byPartition] of state.groups.get(groupId)?.offsets ?? new Map())
      for (const partition of byPartition.keys()) out.push({ topic, partition });
    return out;
  }
  for (const [topic, partitions] of requested) {
    const all = partitions.length === 0 ? [...Array(topics.get(topic) ?? 0).keys()] : partitions;
    for (const partition of all) out.push({ topic, partition });
  }
  return out;
}

/** Clamps into [start, end]. */
function clamp(x: bigint, start: bigint, end: bigint): bigint {
  return x < start ? start : x > end ? end : x;
}

/** The new offset of every partition; refused while the group has members. */
export function planReset(
  state: GroupsState,
  groupId: string,
  spec: ResetSpec,
  bounds: readonly PartitionBounds[],
): { error: GroupError | null; entries: ResetPlanEntry[] } {
  const g = state.groups.get(groupId);
  if (g !== undefined && g.members.size > 0)
    return {
      error: {
        errorCode: ErrorCode.NON_EMPTY_GROUP.code,
        errorMessage: `group ${groupId} has ${g.members.size} active members; stop them first`,
      },
      entries: [],
    };
  const entries = bounds.map((b): ResetPlanEntry => {
    const previousOffset = g?.offsets.get(b.topic)?.get(b.partition)?.offset ?? -1n;
    if (b.error !== null)
      return { ...b.error, topic: b.topic, partition: b.partition, previousOffset, newOffset: -1n };
    const { logStartOffset: start, logEndOffset: end } = b;
    const base = previousOffset < 0n ? start : previousOffset;
    const newOffset =
      spec.kind === "earliest"
        ? start
        : spec.kind === "latest"
          ? end
          : spec.kind === "timestamp"
            ? b.timestampOffset < 0n
              ? end
              : clamp(b.timestampOffset, start, end)
            : spec.kind === "offset"
              ? clamp(spec.offset, start, end)
              : clamp(base + spec.by, start, end);
    return {
      errorCode: 0,
      errorMessage: "",
      topic: b.topic,
      partition: b.partition,
      previousOffset,
      newOffset,
    };
  });
  return { error: null, entries };
}

/** The commit records of an executed reset (partitions without error only). */
export function resetRecords(
  groupId: string,
  entries: readonly ResetPlanEntry[],
  nowMs: number,
): OffsetCommitRecord[] {
  return entries
    .filter((e) => e.errorCode === 0)
    .map((e) => ({
      type: "offsetCommit",
      groupId,
      topic: e.topic,
      partition: e.partition,
      offset: e.newOffset,
      leaderEpoch: -1,
      metadata: "",
      commitTimestampMs: nowMs,
    }));
}
