/**
 * OffsetCommit and OffsetFetch. A member's commit is fenced by its epoch (a newer epoch than
 * the member's is FENCED_MEMBER_EPOCH, an older one STALE_MEMBER_EPOCH, as Kafka); a commit
 * with no member id and epoch -1 is a standalone commit (manual assignment), accepted only
 * while the group has no members.
 */
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import type { OffsetCommitRecord } from "./records.ts";
import { currentOf, type GroupsState, LEAVE_STATIC_EPOCH } from "./state.ts";
import type { TopicsMetadata } from "./topics.ts";
import type { GroupError, GroupResult } from "./types.ts";

/** One partition to commit. */
export interface CommitPartition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string;
}

/** OffsetCommit, validated by the edge. */
export interface CommitRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly partitions: readonly CommitPartition[];
}

/** The per-partition outcome. */
export interface CommitPartitionResult extends GroupError {
  readonly topic: string;
  readonly partition: number;
}

/** OffsetCommit's answer: a group-level error, or per-partition results. */
export interface CommitResponse extends GroupError {
  readonly partitions: readonly CommitPartitionResult[];
}

const OK: GroupError = { errorCode: 0, errorMessage: "" };

function err(e: ErrorCodeInfo, message: string): GroupError {
  return { errorCode: e.code, errorMessage: message };
}

/** Fencing of a member's commit; null when it may commit. */
export function commitFencing(
  state: GroupsState,
  groupId: string,
  memberId: string,
  memberEpoch: number,
): GroupError | null {
  const g = state.groups.get(groupId);
  if (memberId === "" && memberEpoch < 0) {
    if (g !== undefined && g.members.size > 0)
      return err(
        ErrorCode.UNKNOWN_MEMBER_ID,
        `group ${groupId} has active members; a standalone commit needs an empty group`,
      );
    return null;
  }
  const member = g?.members.get(memberId);
  if (g === undefined || member === undefined)
    return err(ErrorCode.UNKNOWN_MEMBER_ID, `member ${memberId} is not in group ${groupId}`);
  const cur = currentOf(g, memberId);
  const epoch = cur.memberEpoch === LEAVE_STATIC_EPOCH ? cur.previousMemberEpoch : cur.memberEpoch;
  if (memberEpoch > epoch)
    return err(
      ErrorCode.FENCED_MEMBER_EPOCH,
      `member epoch ${memberEpoch} is newer than the member's ${epoch}`,
    );
  if (memberEpoch < epoch)
    return err(
      ErrorCode.STALE_MEMBER_EPOCH,
      `member epoch ${memberEpoch} is older than the member's ${epoch}`,
    );
  return null;
}

/** Handles OffsetCommit; see the module comment. */
export function commitOffsets(
  state: GroupsState,
  req: CommitRequest,
  topics: TopicsMetadata,
  nowMs: number,
): GroupResult<CommitResponse> {
  const fenced = commitFencing(state, req.groupId, req.memberId, req.memberEpoch);
  if (fenced !== null) return { records: [], timers: [], response: { ...fenced, partitions: [] } };
  const records: OffsetCommitRecord[] = [];
  const partitions = req.partitions.map((p): CommitPartitionResult => {
    const count = topics.get(p.topic);
    if (count === undefined || p.partition >= count)
      return {
        topic: p.topic,
        partition: p.partition,
        ...err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${p.topic}/${p.partition}`),
      };
    records.push({
      type: "offsetCommit",
      groupId: req.groupId,
      topic: p.topic,
      partition: p.partition,
      offset: p.offset,
      leaderEpoch: p.leaderEpoch,
      metadata: p.metadata,
      commitTimestampMs: nowMs,
    });
    return { topic: p.topic, partition: p.partition, ...OK };
  });
  return { records, timers: [], response: { ...OK, partitions } };
}

/** One fetched offset; offset -1n when nothing is committed. */
export interface FetchedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string;
}

/**
 * OffsetFetch: the named partitions (-1 where nothing is committed), or every committed
 * partition when `wanted` is null. An unknown group has no committed offsets (not an error).
 */
export function fetchOffsets(
  state: GroupsState,
  groupId: string,
  wanted: readonly { readonly topic: string; readonly partition: number }[] | null,
): FetchedOffset[] {
  const g = state.groups.get(groupId);
  if (wanted === null) {
    const all: FetchedOffset[] = [];
    for (const [topic, byPartition] of g?.offsets ?? new Map())
      for (const [partition, c] of byPartition)
        all.push({
          topic,
          partition,
          offset: c.offset,
          leaderEpoch: c.leaderEpoch,
          metadata: c.metadata,
        });
    return all.sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
    );
  }
  return wanted.map(({ topic, partition }) => {
    const c = g?.offsets.get(topic)?.get(partition);
    return {
      topic,
      partition,
      offset: c?.offset ?? -1n,
      leaderEpoch: c?.leaderEpoch ?? -1,
      metadata: c?.metadata ?? "",
    };
  });
}
