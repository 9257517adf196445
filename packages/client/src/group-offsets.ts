/**
 * OffsetCommit and OffsetFetch at a group's coordinator. A member's commit carries its id and
 * epoch (the coordinator fences stale ones); a standalone commit (a consumer that assigns
 * partitions itself) carries an empty id and epoch -1.
 */
import type { OffsetCommitResponse__Output, OffsetFetchResponse__Output } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import type { CoordinatorRouter } from "./coordinator.ts";
import { errorForCode } from "./errors.ts";
import { partitionKey, toWire } from "./group-state.ts";
import { unary } from "./grpc.ts";
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
  ctx: ClientContext,
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
  const response = await router.call(
    "OffsetCommit",
    (c, signal) =>
      unary<OffsetCommitResponse__Output>((o, cb) => c.group.OffsetCommit(request, o, cb), {
        address: c.address,
        method: "OffsetCommit",
        timeoutMs: ctx.requestTimeoutMs,
        signal,
      }),
    (r) => r,
    options,
  );
  if (response.errorCode !== ErrorCode.NONE.code)
    throw errorForCode(response.errorCode, response.errorMessage);
  for (const t of response.topics)
    for (const p of t.partitions)
      if (p.errorCode !== ErrorCode.NONE.code)
        throw errorForCode(p.errorCode, p.errorMessage, { topic: t.topic, partition: p.partition });
}

/** A committed offset, or null when the group has none for the partition. */
export type Committed = Map<string, bigint | null>;

/**
 * The group's committed offsets of `partitions` (every committed partition when empty), by
 * {@link partitionKey}; null where nothing is committed.
 */
export async function fetchCommitted(
  ctx: ClientContext,
  router: CoordinatorRouter,
  partitions: readonly TopicPartition[],
  options: { readonly signal?: AbortSignal | undefined; readonly deadlineMs: number },
): Promise<Committed> {
  const request = { groupId: router.groupId, topics: toWire(partitions), requireStable: true };
  const response = await router.call(
    "OffsetFetch",
    (c, signal) =>
      unary<OffsetFetchResponse__Output>((o, cb) => c.group.OffsetFetch(request, o, cb), {
        address: c.address,
        method: "OffsetFetch",
        timeoutMs: ctx.requestTimeoutMs,
        signal,
      }),
    (r) => r,
    options,
  );
  if (response.errorCode !== ErrorCode.NONE.code)
    throw errorForCode(response.errorCode, response.errorMessage);
  const out: Committed = new Map(partitions.map((tp) => [partitionKey(tp), null]));
  for (const t of response.topics)
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE.code)
        throw errorForCode(p.errorCode, p.errorMessage, { topic: t.topic, partition: p.partition });
      const offset = BigInt(p.committedOffset);
      out.set(
        partitionKey({ topic: t.topic, partition: p.partition }),
        offset < 0n ? null : offset,
      );
    }
  return out;
}
