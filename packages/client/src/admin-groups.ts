/**
 * Consumer-group administration (list, describe with lag, delete, reset offsets), used by
 * {@link Admin}. ListGroups asks every broker (each lists the groups it coordinates) and
 * merges; the rest go to the group's coordinator through a {@link CoordinatorRouter}.
 */
import { sleep } from "@strand/base";
import type {
  DeleteGroupsResponse__Output,
  DescribeGroupsResponse__Output,
  GroupDescription__Output,
  ListGroupsResponse__Output,
  OffsetResetSpec,
  ResetOffsetsResponse__Output,
} from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import { CoordinatorRouter } from "./coordinator.ts";
import { errorForCode, StrandClientError, TimeoutError } from "./errors.ts";
import { byPartition, fromWire, sortPartitions, toWire } from "./group-state.ts";
import { unary } from "./grpc.ts";
import { anySignal, backoffMs } from "./retry.ts";
import type { TopicPartition } from "./types.ts";

/** A group as ListGroups reports it. */
export interface ListedGroup {
  /** The group id. */
  readonly groupId: string;
  /** "empty", "assigning", "reconciling", "stable" or "dead". */
  readonly state: string;
  /** Active members. */
  readonly members: number;
  /** The coordinator's broker id. */
  readonly coordinatorId: number;
}

/** One member of a described group. */
export interface GroupMember {
  /** The member id the coordinator gave. */
  readonly memberId: string;
  /** The static instance id, or null for a dynamic member. */
  readonly instanceId: string | null;
  /** The member's client id. */
  readonly clientId: string;
  /** The member's host as the coordinator saw it. */
  readonly clientHost: string;
  /** The member epoch. */
  readonly memberEpoch: number;
  /** Subscribed topic names (empty with a pattern). */
  readonly topics: readonly string[];
  /** The subscription's pattern source, or null. */
  readonly pattern: string | null;
  /** The partitions it owns. */
  readonly assignment: readonly TopicPartition[];
  /** The partitions it will own once revocations elsewhere finish. */
  readonly targetAssignment: readonly TopicPartition[];
}

/** Committed offset, log end offset and lag of one partition. */
export interface GroupPartitionLag extends TopicPartition {
  /** The committed offset (next to consume), or null when nothing is committed. */
  readonly committedOffset: bigint | null;
  /** The log end offset (high watermark), or null when unknown. */
  readonly logEndOffset: bigint | null;
  /** logEndOffset - committedOffset (from the log start when nothing is committed), or null. */
  readonly lag: bigint | null;
  /** The member that owns the partition, or null. */
  readonly owner: string | null;
}

/** A described group. */
export interface GroupDescription {
  /** The group id. */
  readonly groupId: string;
  /** "empty", "assigning", "reconciling", "stable" or "dead". */
  readonly state: string;
  /** The group epoch. */
  readonly groupEpoch: number;
  /** The target assignment's epoch. */
  readonly assignmentEpoch: number;
  /** The server assignor. */
  readonly assignor: string;
  /** The coordinator's broker id. */
  readonly coordinatorId: number;
  /** Active members. */
  readonly members: readonly GroupMember[];
  /** Per partition: committed offset, log end offset, lag, owner (sorted). */
  readonly offsets: readonly GroupPartitionLag[];
  /** The sum of the known lags. */
  readonly totalLag: bigint;
}

/** Where resetOffsets moves committed offsets. */
export type OffsetResetTarget =
  | "earliest"
  | "latest"
  | { readonly timestamp: number | bigint }
  | { readonly offset: number | bigint }
  | { readonly shiftBy: number | bigint };

/** One partition of a reset. */
export interface OffsetReset extends TopicPartition {
  /** The committed offset before, or null when none. */
  readonly previousOffset: bigint | null;
  /** The offset the reset commits (or would commit, in a dry run). */
  readonly newOffset: bigint;
}

/** The outcome of resetOffsets. */
export interface OffsetResetResult {
  /** Whether the offsets were committed (false: a dry run). */
  readonly executed: boolean;
  /** Old and new offset per partition (sorted). */
  readonly partitions: readonly OffsetReset[];
}

/** Options of the group admin calls. */
export interface GroupCallOptions {
  /** Cancels the call. */
  readonly signal?: AbortSignal;
  /** Total time, retries included, in milliseconds (default requestTimeoutMs). */
  readonly timeoutMs?: number;
}

/** Options of {@link Admin.resetOffsets}. */
export interface ResetOffsetsOptions extends GroupCallOptions {
  /** Topics (every partition) or single partitions to move; default every committed one. */
  readonly topics?: readonly (string | TopicPartition)[];
  /** Commit the new offsets; without it the call is a dry run. */
  readonly execute?: boolean;
}

const nullIfNegative = (v: string): bigint | null => {
  const n = BigInt(v);
  return n < 0n ? null : n;
};

/** The spec of a reset target, as the wire carries it; throws RangeError when malformed. */
export function resetSpecOf(to: OffsetResetTarget): OffsetResetSpec {
  if (to === "earliest") return { earliest: true };
  if (to === "latest") return { latest: true };
  if (typeof to !== "object" || to === null) throw new RangeError(`bad reset target ${String(to)}`);
  if ("timestamp" in to) return { timestampMs: String(BigInt(to.timestamp)) };
  if ("offset" in to) {
    if (BigInt(to.offset) < 0n) throw new RangeError("reset offset must be >= 0");
    return { offset: String(BigInt(to.offset)) };
  }
  if ("shiftBy" in to) return { shiftBy: String(BigInt(to.shiftBy)) };
  throw new RangeError("reset target must be earliest, latest, timestamp, offset or shiftBy");
}

/** Group operations over one client context. */
export class GroupAdmin {
  readonly #ctx: ClientContext;

  /** Uses `ctx`'s connections. */
  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
  }

  #deadline(options: GroupCallOptions): { signal: AbortSignal | undefined; deadlineMs: number } {
    return {
      signal: anySignal(options.signal, this.#ctx.closed),
      deadlineMs: Date.now() + (options.timeoutMs ?? this.#ctx.requestTimeoutMs),
    };
  }

  /** Every group of the cluster: each broker lists the groups it coordinates. */
  async listGroups(
    options: GroupCallOptions & { readonly states?: readonly string[] } = {},
  ): Promise<ListedGroup[]> {
    const ctx = this.#ctx;
    const { signal, deadlineMs } = this.#deadline(options);
    await ctx.metadata.refresh([], signal);
    const brokers = [...ctx.metadata.brokers];
    const answers = await Promise.all(
      brokers.map(([id, address]) =>
        this.#retry(`ListGroups at broker ${id}`, deadlineMs, signal, () =>
          unary<ListGroupsResponse__Output>(
            (o, cb) =>
              ctx.pool
                .get(address)
                .group.ListGroups({ statesFilter: [...(options.states ?? [])] }, o, cb),
            { address, method: "ListGroups", timeoutMs: ctx.requestTimeoutMs, signal },
          ),
        ).then((r) => ({ id, r })),
      ),
    );
    const merged = new Map<string, ListedGroup>();
    for (const { id, r } of answers) {
      if (r.errorCode !== ErrorCode.NONE.code) throw errorForCode(r.errorCode, r.errorMessage);
      for (const g of r.groups) {
        // During a coordinator move two brokers may list a group: keep the coordinator's word.
        if (merged.has(g.groupId) && g.coordinatorId !== id) continue;
        merged.set(g.groupId, {
          groupId: g.groupId,
          state: g.state,
          members: g.members,
          coordinatorId: g.coordinatorId,
        });
      }
    }
    return [...merged.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  /** Retries a broker call on retriable errors until the deadline. */
  async #retry<T>(
    what: string,
    deadlineMs: number,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof StrandClientError) || !error.retriable) throw error;
        const wait = backoffMs(attempt, this.#ctx.retry, this.#ctx.random);
        if (Date.now() + wait > deadlineMs)
          throw new TimeoutError(`${what} did not complete in time: ${error.message}`, {
            code: ErrorCode.REQUEST_TIMED_OUT,
            retriable: true,
            cause: error,
          });
        await sleep(wait, signal);
      }
    }
  }

  /** Describes groups, with per-partition committed offset, log end offset and lag. */
  async describeGroups(
    groupIds: readonly string[],
    options: GroupCallOptions & { readonly includeLag?: boolean } = {},
  ): Promise<GroupDescription[]> {
    const includeLag = options.includeLag ?? true;
    return Promise.all(
      groupIds.map(async (groupId) => {
        const router = new CoordinatorRouter(this.#ctx, groupId);
        const r = await router.unary<DescribeGroupsResponse__Output>(
          "DescribeGroups",
          (group, o, cb) => group.DescribeGroups({ groupIds: [groupId], includeLag }, o, cb),
          (answer) => answer.groups.find((g) => g.groupId === groupId) ?? missing(groupId),
          this.#deadline(options),
        );
        const g = r.groups.find((x) => x.groupId === groupId);
        if (g === undefined)
          throw errorForCode(ErrorCode.UNKNOWN.code, missing(groupId).errorMessage);
        if (g.errorCode !== ErrorCode.NONE.code) throw errorForCode(g.errorCode, g.errorMessage);
        return describedGroup(g);
      }),
    );
  }

  /** Deletes groups with no active members, and their committed offsets. */
  async deleteGroups(groupIds: readonly string[], options: GroupCallOptions = {}): Promise<void> {
    for (const groupId of groupIds) {
      const router = new CoordinatorRouter(this.#ctx, groupId);
      const r = await router.unary<DeleteGroupsResponse__Output>(
        "DeleteGroups",
        (group, o, cb) => group.DeleteGroups({ groupIds: [groupId] }, o, cb),
        (answer) => answer.results.find((x) => x.groupId === groupId) ?? missing(groupId),
        this.#deadline(options),
      );
      const result = r.results.find((x) => x.groupId === groupId) ?? missing(groupId);
      if (result.errorCode !== ErrorCode.NONE.code)
        throw errorForCode(result.errorCode, result.errorMessage);
    }
  }

  /**
   * Moves a group's committed offsets (every committed partition, or those of `topics`):
   * a dry run that only reports old -> new unless `execute`; refused (GroupNotEmptyError)
   * while the group has active members.
   */
  async resetOffsets(
    groupId: string,
    to: OffsetResetTarget,
    options: ResetOffsetsOptions = {},
  ): Promise<OffsetResetResult> {
    const whole = (options.topics ?? []).filter((t): t is string => typeof t === "string");
    const parts = (options.topics ?? []).filter((t): t is TopicPartition => typeof t !== "string");
    const request = {
      groupId,
      topics: [...whole.map((topic) => ({ topic, partitions: [] })), ...toWire(parts)],
      spec: resetSpecOf(to),
      execute: options.execute ?? false,
    };
    const router = new CoordinatorRouter(this.#ctx, groupId);
    const r = await router.unary<ResetOffsetsResponse__Output>(
      "ResetOffsets",
      (group, o, cb) => group.ResetOffsets(request, o, cb),
      (answer) => answer,
      this.#deadline(options),
    );
    if (r.errorCode !== ErrorCode.NONE.code) throw errorForCode(r.errorCode, r.errorMessage);
    const bad = r.partitions.find((p) => p.errorCode !== ErrorCode.NONE.code);
    if (bad !== undefined)
      throw errorForCode(bad.errorCode, bad.errorMessage, {
        topic: bad.topic,
        partition: bad.partition,
      });
    const partitions = r.partitions
      .map((p) => ({
        topic: p.topic,
        partition: p.partition,
        previousOffset: nullIfNegative(p.previousOffset),
        newOffset: BigInt(p.newOffset),
      }))
      .sort(byPartition);
    return { executed: r.executed, partitions };
  }
}

function missing(groupId: string): { errorCode: number; errorMessage: string } {
  return { errorCode: ErrorCode.UNKNOWN.code, errorMessage: `no answer for group ${groupId}` };
}

/** The SDK's view of a described group. */
export function describedGroup(g: GroupDescription__Output): GroupDescription {
  const offsets = g.offsets
    .map((o) => ({
      topic: o.topic,
      partition: o.partition,
      committedOffset: nullIfNegative(o.committedOffset),
      logEndOffset: nullIfNegative(o.logEndOffset),
      lag: nullIfNegative(o.lag),
      owner: o.ownerMemberId === "" ? null : o.ownerMemberId,
    }))
    .sort(byPartition);
  return {
    groupId: g.groupId,
    state: g.state,
    groupEpoch: g.groupEpoch,
    assignmentEpoch: g.assignmentEpoch,
    assignor: g.assignor,
    coordinatorId: g.coordinatorId,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId === "" ? null : m.instanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberEpoch: m.memberEpoch,
      topics: [...(m.subscription?.topicNames ?? [])],
      pattern: m.subscription?.topicRegex ? m.subscription.topicRegex : null,
      assignment: sortPartitions(fromWire(m.assignment)),
      targetAssignment: sortPartitions(fromWire(m.targetAssignment)),
    })),
    offsets,
    totalLag: offsets.reduce((sum, o) => sum + (o.lag ?? 0n), 0n),
  };
}
