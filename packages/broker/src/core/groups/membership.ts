/**
 * Steps shared by the heartbeat and the timeouts: bump the group epoch and recompute the
 * target assignment at it, remove a member, and the timer keys of a member.
 */
import { assert } from "@strand/base";
import { assignPartitions } from "./assignor.ts";
import { NO_PARTITIONS, type PartitionKey, samePartitions } from "./partitions.ts";
import { held, reconcile, sameCurrent } from "./reconcile.ts";
import type { AssignorName } from "./records.ts";
import type { Scratch } from "./scratch.ts";
import { currentOf, type GroupState } from "./state.ts";
import { subscribedTopics, type TopicsMetadata, topicsFingerprint } from "./topics.ts";
import type { TimerChange } from "./types.ts";

/** The timer that removes a silent member. */
export function sessionTimerKey(groupId: string, memberId: string): string {
  return `session\u0000${groupId}\u0000${memberId}`;
}

/** The timer that removes a member that does not revoke in time. */
export function revocationTimerKey(groupId: string, memberId: string): string {
  return `revocation\u0000${groupId}\u0000${memberId}`;
}

/** Cancels both timers of a member. */
export function cancelMemberTimers(groupId: string, memberId: string): TimerChange[] {
  return [
    { kind: "cancel", key: sessionTimerKey(groupId, memberId) },
    { kind: "cancel", key: revocationTimerKey(groupId, memberId) },
  ];
}

/**
 * Bumps the group epoch when `force` or the subscribed topic metadata changed, then brings the
 * target assignment up to the group epoch. Returns whether the epoch moved.
 */
export function bumpAndAssign(
  s: Scratch,
  topics: TopicsMetadata,
  nowMs: number,
  force: boolean,
  assignor?: AssignorName,
): boolean {
  const g = s.group;
  assert(g !== undefined, "bumpAndAssign on a missing group");
  const fingerprint = topicsFingerprint(g.members.values(), topics);
  const nextAssignor = assignor ?? g.assignor;
  const bump = force || fingerprint !== g.topicsFingerprint || nextAssignor !== g.assignor;
  if (bump) {
    s.emit({
      type: "groupMetadata",
      groupId: g.groupId,
      epoch: g.epoch + 1,
      assignor: nextAssignor,
      topicsFingerprint: fingerprint,
      updatedMs: nowMs,
    });
  }
  if (g.assignmentEpoch < g.epoch) assignTargets(s, topics);
  return bump;
}

/** Computes and records the target assignment at the group epoch. */
function assignTargets(s: Scratch, topics: TopicsMetadata): void {
  const g = s.group;
  assert(g !== undefined, "assignTargets on a missing group");
  const members = new Map([...g.members].map(([id, m]) => [id, subscribedTopics(m, topics)]));
  const targets = assignPartitions(g.assignor, { members, topics, previous: g.targets });
  for (const [memberId, partitions] of targets) {
    const before = g.targets.get(memberId);
    if (before !== undefined && samePartitions(before, partitions)) continue;
    s.emit({ type: "targetAssignment", groupId: g.groupId, memberId, partitions });
  }
  s.emit({ type: "targetAssignmentMetadata", groupId: g.groupId, assignmentEpoch: g.epoch });
}

/** Tombstones a member's records (current, target, metadata), bumps and reassigns. */
export function removeMember(
  s: Scratch,
  memberId: string,
  topics: TopicsMetadata,
  nowMs: number,
): TimerChange[] {
  const groupId = s.groupId;
  s.emit({ type: "currentAssignmentTombstone", groupId, memberId });
  s.emit({ type: "targetAssignmentTombstone", groupId, memberId });
  s.emit({ type: "memberMetadataTombstone", groupId, memberId });
  bumpAndAssign(s, topics, nowMs, true);
  return cancelMemberTimers(groupId, memberId);
}

/** Partitions held by members other than `memberId`. */
export function heldByOthers(g: GroupState, memberId: string): Set<PartitionKey> {
  const keys = new Set<PartitionKey>();
  for (const [id] of g.members) {
    if (id === memberId) continue;
    for (const k of held(currentOf(g, id))) keys.add(k);
  }
  return keys;
}

/**
 * Reconciles one member against its target and records the change. Returns true when the
 * member's current assignment changed.
 */
export function reconcileMember(
  s: Scratch,
  memberId: string,
  owned: Parameters<typeof reconcile>[4],
): boolean {
  const g = s.group;
  assert(g !== undefined, "reconcileMember on a missing group");
  const before = currentOf(g, memberId);
  const target = g.targets.get(memberId) ?? NO_PARTITIONS;
  const next = reconcile(before, target, g.assignmentEpoch, heldByOthers(g, memberId), owned);
  if (sameCurrent(next, before) && g.current.has(memberId)) return false;
  s.emit({ type: "currentAssignment", groupId: g.groupId, memberId, ...next });
  return true;
}
