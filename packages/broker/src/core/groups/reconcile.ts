/**
 * Incremental reconciliation of one member toward its target (KIP-848's current assignment
 * builder). A partition the member must give up is first moved to `pendingRevocation` with
 * the member epoch unchanged; only when the member reports an owned set without them does it
 * advance. A partition of the target is added only once no other member holds it (assigned
 * or pending revocation), so no partition is ever held by two members.
 */
import {
  fromKeys,
  intersect,
  isSubset,
  keysOf,
  minus,
  NO_PARTITIONS,
  type PartitionKey,
  union,
} from "./partitions.ts";
import type { TopicPartitions } from "./records.ts";
import type { CurrentAssignment } from "./state.ts";

/** The next current assignment; returns `c` itself when nothing changes. */
export function reconcile(
  c: CurrentAssignment,
  target: TopicPartitions,
  assignmentEpoch: number,
  heldByOthers: ReadonlySet<PartitionKey>,
  owned: TopicPartitions | null,
): CurrentAssignment {
  let cur = c;
  if (cur.pendingRevocation.size > 0) {
    if (owned === null || intersect(owned, cur.pendingRevocation).size > 0) return c;
    cur = { ...cur, pendingRevocation: NO_PARTITIONS };
  }
  const revoke = minus(cur.assigned, target);
  if (revoke.size > 0) {
    return {
      memberEpoch: cur.memberEpoch,
      previousMemberEpoch: cur.previousMemberEpoch,
      assigned: intersect(cur.assigned, target),
      pendingRevocation: revoke,
    };
  }
  const free = [...keysOf(minus(target, cur.assigned))].filter((k) => !heldByOthers.has(k));
  const assigned = free.length === 0 ? cur.assigned : union(cur.assigned, fromKeys(free));
  const next: CurrentAssignment = {
    memberEpoch: assignmentEpoch,
    previousMemberEpoch:
      assignmentEpoch === cur.memberEpoch ? cur.previousMemberEpoch : cur.memberEpoch,
    assigned,
    pendingRevocation: NO_PARTITIONS,
  };
  return sameCurrent(next, c) ? c : next;
}

/** Equal current assignments? */
export function sameCurrent(a: CurrentAssignment, b: CurrentAssignment): boolean {
  return (
    a.memberEpoch === b.memberEpoch &&
    a.previousMemberEpoch === b.previousMemberEpoch &&
    isSubset(a.assigned, b.assigned) &&
    isSubset(b.assigned, a.assigned) &&
    isSubset(a.pendingRevocation, b.pendingRevocation) &&
    isSubset(b.pendingRevocation, a.pendingRevocation)
  );
}

/** Partitions a member holds: assigned plus pending revocation. */
export function held(c: CurrentAssignment): Set<PartitionKey> {
  const keys = keysOf(c.assigned);
  for (const k of keysOf(c.pendingRevocation)) keys.add(k);
  return keys;
}
