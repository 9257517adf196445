/**
 * OffsetCommit and OffsetFetch at a group's coordinator. A member's commit carries its id and
 * epoch (the coordinator fences stale ones); a standalone commit (a consumer that assigns
 * partitions itself) carries an empty id and epoch -1.
 */
import type { OffsetCommitResponse__Output, OffsetFetchResponse__Output } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type {
  CoordinatorAnswer,
  CoordinatorCallOptions,
  CoordinatorRouter,
  GroupUnaryStart,
} from "./coordinator.ts";
import { errorForCode } from "./errors.ts";
import { partitionKey, toWire } from "./group-state.ts";
import type { TopicPartition } from "./types.ts";

/** One offset to commit: the next offset to consume (last processed + 1). */
export interface OffsetToCommit extends TopicPartition {
  /** The next offset to consume. */
  readonly offset: bigint;
  /** Free text stored with the offset (default empty). */
  readonly metadata?: string;
}

/** Who commits: a member (id and epoch) or nobody (standalone). */
export interface Committer {
  /** The member id, or "" for a standalone commit. */
  readonly memberId: string;
  /** The member epoch, or -1 for a standalone commit. */
  readonly memberEpoch: number;
}

/** A standalone committer (manual assignment, as Kafka allows). */
export const STANDALONE: Committer = Object.freeze({ memberId: "", memberEpoch: -1 });

/**
 * Commits `offsets`; resolves when the coordinator acknowledged them all, rejects with the
 * group-level error (FencedMemberError, StaleMemberEpochError, ...) or the first partition's.
 */
export async function commitOffsets(
  router: CoordinatorRouter,
  who: Committer,
  offsets: readonly OffsetToCommit[],
  options: { readonly signal?: AbortSignal | undefined; readonly deadlineMs: number },
): Promise<void> {
  if (offsets.length === 0) return;
  const byTopic = new Map<string, OffsetToCommit[]>();
  for (const o of offsets) {
    if (o.offset < 0n) throw new RangeError(`offset for ${o.topic}-${o.partition} must be >= 0`);
    byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  }
  const request = {
    groupId: router.groupId,
    memberId: who.memberId,
    memberEpoch: who.memberEpoch,
    topics: [...byTopic].map(([topic, list]) => ({
      topic,
      partitions: list.map((o) => ({
        partition: o.partition,
        committedOffset: String(o.offset),
        committedLeaderEpoch: -1,
        metadata: o.metadata ?? "",
      })),
    })),
  };
  const response = await atCoordinator<OffsetCommitResponse__Output>(
    router,
    "OffsetCommit",
    (group, o, cb) => group.OffsetCommit(request, o, cb),
    options,
  );
  for (const t of response.topics) for (const p of t.partitions) throwIfPartitionError(t.topic, p);
}

/** A committed offset, or null when the group has none for the partition. */
export type Committed = Map<string, bigint | null>;

/**
 * The group's committed offsets of `partitions` (every committed partition when empty), by
 * {@link partitionKey}; null where nothing is committed.
 */
export async function fetchCommitted(
  router: CoordinatorRouter,
  partitions: readonly TopicPartition[],
  options: { readonly signal?: AbortSignal | undefined; readonly deadlineMs: number },
): Promise<Committed> {
  const request = { groupId: router.groupId, topics: toWire(partitions), requireStable: true };
  const response = await atCoordinator<OffsetFetchResponse__Output>(
    router,
    "OffsetFetch",
    (group, o, cb) => group.OffsetFetch(request, o, cb),
    options,
  );
  const out: Committed = new Map(partitions.map((tp) => [partitionKey(tp), null]));
  for (const t of response.topics)
    for (const p of t.partitions) {
      throwIfPartitionError(t.topic, p);
      const offset = BigInt(p.committedOffset);
      out.set(
        partitionKey({ topic: t.topic, partition: p.partition }),
        offset < 0n ? null : offset,
      );
    }
  return out;
}

/** `method` at the coordinator; rejects with the answer's group-level error, if any. */
async function atCoordinator<R extends CoordinatorAnswer>(
  router: CoordinatorRouter,
  method: string,
  start: GroupUnaryStart<R>,
  options: CoordinatorCallOptions,
): Promise<R> {
  const response = await router.unary<R>(method, start, (r) => r, options);
  if (response.errorCode !== ErrorCode.NONE.code)
    throw errorForCode(response.errorCode, response.errorMessage);
  return response;
}

/** Throws the error of one partition of an OffsetCommit or OffsetFetch answer, if any. */
function throwIfPartitionError(
  topic: string,
  p: { readonly partition: number; readonly errorCode: number; readonly errorMessage: string },
): void {
  if (p.errorCode !== ErrorCode.NONE.code)
    throw errorForCode(p.errorCode, p.errorMessage, { topic, partition: p.partition });
}
