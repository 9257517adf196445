/**
 * The pure half of a consumer-group member (KIP-848, docs/consumer-groups.md): what the next
 * heartbeat says, what a heartbeat answer means, and how a new assignment is reconciled with
 * the partitions the member owns. No I/O and no clocks, so the rules are unit-tested without
 * gRPC; group-member.ts drives it.
 *
 * Reconciliation order (docs/client.md): revoke first (stop fetching, commit what was
 * processed, run onRevoked), then acknowledge the new owned set in a heartbeat, then assign
 * (start from the committed offsets, run onAssigned). The coordinator gives a partition to a
 * new owner only after the old owner's acknowledgement, so two members never own it at once.
 */
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse__Output,
  GroupTopicPartitions,
  GroupTopicPartitions__Output,
} from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { TopicPartition } from "./types.ts";

/** What a member subscribes to: topic names, or one regular expression. */
export type Subscription = { readonly topics: readonly string[] } | { readonly pattern: RegExp };

/** The key of a partition in sets and maps. */
export const partitionKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

/** Partitions sorted by topic, then partition (a stable order for callbacks and logs). */
export function sortPartitions(list: Iterable<TopicPartition>): TopicPartition[] {
  return [...list].map((tp) => ({ topic: tp.topic, partition: tp.partition })).sort(byPartition);
}

/** Orders partitions by topic, then partition number. */
export function byPartition(a: TopicPartition, b: TopicPartition): number {
  return a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1;
}

/** Partitions grouped by topic, as the wire carries them. */
export function toWire(list: Iterable<TopicPartition>): GroupTopicPartitions[] {
  const byTopic = new Map<string, number[]>();
  for (const tp of sortPartitions(list))
    byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

/** The wire's per-topic lists as partitions; throws on a malformed entry. */
export function fromWire(topics: readonly GroupTopicPartitions__Output[]): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (const t of topics)
    for (const partition of t.partitions) {
      if (t.topic === "" || !Number.isInteger(partition) || partition < 0)
        throw new RangeError(`the coordinator sent a bad partition ${t.topic}-${partition}`);
      out.push({ topic: t.topic, partition });
    }
  return sortPartitions(out);
}

/** One step of a reconciliation, in the order it must run. */
export type ReconcileStep =
  | { readonly kind: "revoke"; readonly partitions: readonly TopicPartition[] }
  | { readonly kind: "ack"; readonly owned: readonly TopicPartition[] }
  | { readonly kind: "assign"; readonly partitions: readonly TopicPartition[] };

/** How to move from the owned set to a new assignment. */
export interface ReconciliationPlan {
  /** Owned partitions the assignment no longer lists. */
  readonly revoke: readonly TopicPartition[];
  /** Partitions in both. */
  readonly keep: readonly TopicPartition[];
  /** Listed partitions not owned yet. */
  readonly assign: readonly TopicPartition[];
  /** revoke (if any), then ack (always: the coordinator waits for it), then assign (if any). */
  readonly steps: readonly ReconcileStep[];
}

/** Plans the reconciliation of `owned` with the coordinator's new `assignment`. */
export function planReconciliation(
  owned: readonly TopicPartition[],
  assignment: readonly TopicPartition[],
): ReconciliationPlan {
  const target = new Set(assignment.map(partitionKey));
  const have = new Set(owned.map(partitionKey));
  const revoke = sortPartitions(owned.filter((tp) => !target.has(partitionKey(tp))));
  const keep = sortPartitions(owned.filter((tp) => target.has(partitionKey(tp))));
  const assign = sortPartitions(dedupe(assignment).filter((tp) => !have.has(partitionKey(tp))));
  const steps: ReconcileStep[] = [];
  if (revoke.length > 0) steps.push({ kind: "revoke", partitions: revoke });
  steps.push({ kind: "ack", owned: sortPartitions([...keep, ...assign]) });
  if (assign.length > 0) steps.push({ kind: "assign", partitions: assign });
  return { revoke, keep, assign, steps };
}

function dedupe(list: readonly TopicPartition[]): TopicPartition[] {
  const seen = new Map<string, TopicPartition>();
  for (const tp of list) seen.set(partitionKey(tp), tp);
  return [...seen.values()];
}

/** What the member should do after a heartbeat answer. */
export type HeartbeatOutcome =
  /** Joined or still in: heartbeat again after `intervalMs`; reconcile `assignment` if set. */
  | {
      readonly kind: "ok";
      readonly intervalMs: number;
      readonly assignment: readonly TopicPartition[] | null;
    }
  /** The coordinator moved or is loading: retry (at the hinted address when there is one). */
  | { readonly kind: "retry"; readonly code: number; readonly message: string }
  /** Fenced or unknown: drop every partition without committing and rejoin with epoch 0. */
  | { readonly kind: "fenced"; readonly code: number; readonly message: string }
  /** Anything else is not retriable: the consumer fails with it. */
  | { readonly kind: "fatal"; readonly code: number; readonly message: string };

/** Static settings of a member. */
export interface MemberConfig {
  /** The group. */
  readonly groupId: string;
  /** Static membership id, or undefined for a dynamic member. */
  readonly groupInstanceId?: string | undefined;
  /** Rebalance timeout sent to the coordinator (0 = its default). */
  readonly rebalanceTimeoutMs: number;
  /** Server assignor ("uniform" or "range"); undefined keeps the group's. */
  readonly assignor?: string | undefined;
  /** Sent for the coordinator's describe output. */
  readonly clientId: string;
}

/** Epoch sent to leave for good (dynamic member). */
export const LEAVE_EPOCH = -1;
/** Epoch sent by a static member leaving temporarily (it keeps its partitions for a while). */
export const STATIC_LEAVE_EPOCH = -2;
/** Heartbeat interval used until the coordinator names one. */
const DEFAULT_INTERVAL_MS = 3_000;

/**
 * The member's protocol state: id, epoch, subscription and the owned set it last reported.
 * Fields the coordinator needs only on change (subscription, owned) are sent when dirty.
 */
export class MemberState {
  readonly #config: MemberConfig;
  #memberId = "";
  #epoch = 0;
  #subscription: Subscription;
  #subscriptionDirty = true;
  #owned: TopicPartition[] = [];
  #ownedDirty = true;
  #intervalMs = DEFAULT_INTERVAL_MS;

  /** A member that has not joined yet. */
  constructor(config: MemberConfig, subscription: Subscription) {
    this.#config = config;
    this.#subscription = subscription;
  }

  /** The id the coordinator gave (empty before the first answer). */
  get memberId(): string {
    return this.#memberId;
  }

  /** The member epoch (0 until joined). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The owned set last acknowledged (or to be acknowledged in the next heartbeat). */
  get owned(): readonly TopicPartition[] {
    return this.#owned;
  }

  /** The heartbeat interval the coordinator asked for. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Whether the member has joined (has an id and a positive epoch). */
  get joined(): boolean {
    return this.#memberId !== "" && this.#epoch > 0;
  }

  /** Changes the subscription; sent in the next heartbeat. */
  subscribe(subscription: Subscription): void {
    this.#subscription = subscription;
    this.#subscriptionDirty = true;
  }

  /** Records a new owned set (the ack of a reconciliation); sent in the next heartbeat. */
  setOwned(owned: readonly TopicPartition[]): void {
    this.#owned = sortPartitions(owned);
    this.#ownedDirty = true;
  }

  /**
   * After a failed or unanswered heartbeat the coordinator may not have seen the last
   * subscription and owned set (or it moved): send both again.
   */
  resendAll(): void {
    this.#subscriptionDirty = true;
    this.#ownedDirty = true;
  }

  /** Forgets the membership: the next heartbeat joins with epoch 0 and nothing owned. */
  fence(): void {
    this.#memberId = "";
    this.#epoch = 0;
    this.#owned = [];
    this.resendAll();
  }

  /**
   * The next heartbeat. Sending marks subscription and owned clean; call resendAll() when the
   * heartbeat fails.
   */
  heartbeat(): ConsumerGroupHeartbeatRequest {
    const joining = this.#epoch === 0;
    const request: ConsumerGroupHeartbeatRequest = {
      groupId: this.#config.groupId,
      memberId: this.#memberId,
      memberEpoch: this.#epoch,
      instanceId: this.#config.groupInstanceId ?? "",
      rebalanceTimeoutMs: this.#config.rebalanceTimeoutMs,
      clientId: this.#config.clientId,
      serverAssignor: joining ? (this.#config.assignor ?? "") : "",
    };
    if (joining || this.#subscriptionDirty)
      request.subscription = subscriptionToWire(this.#subscription);
    if (joining || this.#ownedDirty) request.owned = { topics: toWire(this.#owned) };
    this.#subscriptionDirty = false;
    this.#ownedDirty = false;
    return request;
  }

  /** The heartbeat that leaves the group (-2 keeps a static member's partitions a while). */
  leaveHeartbeat(): ConsumerGroupHeartbeatRequest {
    const epoch = this.#config.groupInstanceId === undefined ? LEAVE_EPOCH : STATIC_LEAVE_EPOCH;
    return {
      groupId: this.#config.groupId,
      memberId: this.#memberId,
      memberEpoch: epoch,
      instanceId: this.#config.groupInstanceId ?? "",
      clientId: this.#config.clientId,
    };
  }

  /** Applies a heartbeat answer and says what to do next. */
  onResponse(response: ConsumerGroupHeartbeatResponse__Output): HeartbeatOutcome {
    const code = response.errorCode;
    const message = response.errorMessage;
    if (code !== ErrorCode.NONE.code) {
      if (
        code === ErrorCode.FENCED_MEMBER_EPOCH.code ||
        code === ErrorCode.UNKNOWN_MEMBER_ID.code
      ) {
        this.fence();
        return { kind: "fenced", code, message };
      }
      this.resendAll();
      if (isCoordinatorCode(code) || code === ErrorCode.UNRELEASED_INSTANCE_ID.code)
        return { kind: "retry", code, message };
      return { kind: "fatal", code, message };
    }
    if (response.memberId === "" || response.memberEpoch < 1)
      return {
        kind: "fatal",
        code: ErrorCode.UNKNOWN.code,
        message: `the coordinator answered member "${response.memberId}" epoch ${response.memberEpoch}`,
      };
    this.#memberId = response.memberId;
    this.#epoch = response.memberEpoch;
    if (response.heartbeatIntervalMs > 0) this.#intervalMs = response.heartbeatIntervalMs;
    const assignment =
      response.assignment === null || response.assignment === undefined
        ? null
        : fromWire(response.assignment.topics);
    return { kind: "ok", intervalMs: this.#intervalMs, assignment };
  }
}

/** The subscription as the wire carries it. */
export function subscriptionToWire(s: Subscription): { topicNames: string[]; topicRegex: string } {
  return "pattern" in s
    ? { topicNames: [], topicRegex: s.pattern.source }
    : { topicNames: [...s.topics], topicRegex: "" };
}

/** Whether `code` means "find the coordinator again, or wait for it, and retry". */
export function isCoordinatorCode(code: number): boolean {
  return (
    code === ErrorCode.NOT_COORDINATOR.code ||
    code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS.code ||
    code === ErrorCode.COORDINATOR_NOT_AVAILABLE.code
  );
}
