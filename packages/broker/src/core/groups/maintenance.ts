/**
 * What happens without a request: a member's session or revocation timer fired, the topic
 * metadata changed (offsets of deleted topics go; assignments follow on the next heartbeat
 * through the topics fingerprint, or here for groups whose fingerprint moved), and empty
 * groups expire after the offsets retention.
 */
import { groupTombstones } from "./admin.ts";
import { bumpAndAssign, removeMember } from "./membership.ts";
import type { GroupRecord } from "./records.ts";
import { Scratch } from "./scratch.ts";
import { currentOf, type GroupsState } from "./state.ts";
import { type TopicsMetadata, topicsFingerprint } from "./topics.ts";
import type { GroupConfig, GroupResult } from "./types.ts";

/**
 * A timer fired. A session timer removes the member; a revocation timer removes it only if it
 * still holds partitions pending revocation. Stale keys (member gone) do nothing.
 */
export function onTimer(
  state: GroupsState,
  key: string,
  topics: TopicsMetadata,
  nowMs: number,
): GroupResult<null> {
  const [kind, groupId, memberId] = key.split("\u0000");
  const none: GroupResult<null> = { records: [], timers: [], response: null };
  if (groupId === undefined || memberId === undefined) return none;
  const g = state.groups.get(groupId);
  if (g === undefined || !g.members.has(memberId)) return none;
  if (kind === "revocation" && currentOf(g, memberId).pendingRevocation.size === 0) return none;
  if (kind !== "session" && kind !== "revocation") return none;
  const s = new Scratch(state, groupId);
  const timers = removeMember(s, memberId, topics, nowMs);
  return { records: s.records, timers, response: null };
}

/**
 * Topic metadata changed: committed offsets of topics that no longer exist (or partitions
 * beyond a topic's count) are deleted, and groups whose subscribed topics changed get a new
 * epoch and target assignment.
 */
export function onTopicsChanged(
  state: GroupsState,
  topics: TopicsMetadata,
  nowMs: number,
): GroupRecord[] {
  const records: GroupRecord[] = [];
  for (const g of state.groups.values()) {
    const gone: { topic: string; partition: number }[] = [];
    for (const [topic, byPartition] of g.offsets) {
      const count = topics.get(topic) ?? 0;
      for (const partition of byPartition.keys())
        if (partition >= count) gone.push({ topic, partition });
    }
    const moved =
      g.members.size > 0 && topicsFingerprint(g.members.values(), topics) !== g.topicsFingerprint;
    // Most groups are untouched by a metadata change: no scratch copy for them.
    if (gone.length === 0 && !moved) continue;
    const s = new Scratch(state, g.groupId);
    for (const { topic, partition } of gone)
      s.emit({ type: "offsetCommitTombstone", groupId: g.groupId, topic, partition });
    if (moved) bumpAndAssign(s, topics, nowMs, false);
    records.push(...s.records);
  }
  return records;
}

/** Empty groups whose last change (or commit) is older than the retention: deleted. */
export function expireGroups(
  state: GroupsState,
  config: GroupConfig,
  nowMs: number,
): GroupRecord[] {
  const records: GroupRecord[] = [];
  for (const g of state.groups.values()) {
    if (g.members.size > 0) continue;
    let last = g.updatedMs;
    for (const byPartition of g.offsets.values())
      for (const c of byPartition.values())
        if (c.commitTimestampMs > last) last = c.commitTimestampMs;
    if (nowMs - last >= config.offsetsRetentionMs) records.push(...groupTombstones(g));
  }
  return records;
}
