/**
 * The consumer's side of a group subscription: it owns the heartbeat loop (group-member.ts),
 * applies new assignments at the consumer's poll boundary (so a handler never runs on a
 * partition after its offsets were committed for the next owner), and commits: on an
 * interval, on revocation and on close when autoCommit is on, and on commit().
 *
 * A reconciliation runs the plan of group-state.ts: revoke (stop fetching, commit the
 * processed offsets, onRevoked, drop the partitions), acknowledge the new owned set at once,
 * then assign (positions start at the committed offsets, else autoOffsetReset; onAssigned).
 * Losing the partitions (fenced, session expired) drops them at once, without a commit, and
 * calls onLost at the next poll; commits acknowledged earlier stand.
 */
import type { ClientContext } from "./context.ts";
import type { CoordinatorRouter } from "./coordinator.ts";
import { FencedMemberError, StaleMemberEpochError, type StrandClientError } from "./errors.ts";
import { GroupMember, type GroupMemberOptions } from "./group-member.ts";
import { commitOffsets, type OffsetToCommit } from "./group-offsets.ts";
import { partitionKey, planReconciliation, type Subscription } from "./group-state.ts";
import type { TopicPartition } from "./types.ts";

/** Assignment callbacks of a subscription; each is awaited. */
export interface RebalanceListener {
  /** Partitions this member now owns (positions are set; seek() here overrides them). */
  readonly onAssigned?: (partitions: readonly TopicPartition[]) => Promise<void> | void;
  /** Partitions taken away: called after their processed offsets were committed (autoCommit). */
  readonly onRevoked?: (partitions: readonly TopicPartition[]) => Promise<void> | void;
  /** Partitions lost without a commit (fenced, or no heartbeat for the session timeout). */
  readonly onLost?: (partitions: readonly TopicPartition[]) => Promise<void> | void;
}

/** What the session needs from the consumer. */
export interface PartitionHost {
  /** Starts fetching these (from their committed offsets, else autoOffsetReset). */
  add(partitions: readonly TopicPartition[]): void;
  /** Stops returning and fetching these; their positions stay until remove(). */
  stop(partitions: readonly TopicPartition[]): void;
  /** Forgets these partitions. */
  remove(partitions: readonly TopicPartition[]): void;
  /** Processed offsets not committed yet, of `partitions` (every owned one when omitted). */
  uncommitted(partitions?: readonly TopicPartition[]): OffsetToCommit[];
  /** Records acknowledged commits. */
  committed(offsets: readonly OffsetToCommit[]): void;
  /** Wakes a poll() waiting for fetches, so it returns and the next one reconciles. */
  wake(): void;
}

/** Settings of a session. */
export interface GroupSessionOptions extends GroupMemberOptions {
  /** Commit processed offsets on an interval, on revocation and on close. */
  readonly autoCommit: boolean;
  /** The auto-commit interval, in milliseconds. */
  readonly autoCommitIntervalMs: number;
}

/** How often a commit retries after STALE_MEMBER_EPOCH before it gives up. */
const STALE_EPOCH_RETRIES = 5;

/** One group subscription of one consumer. */
export class GroupSession {
  readonly #ctx: ClientContext;
  readonly #router: CoordinatorRouter;
  readonly #host: PartitionHost;
  readonly #options: GroupSessionOptions;
  readonly #listener: RebalanceListener;
  readonly #member: GroupMember;
  #owned: TopicPartition[] = [];
  #target: readonly TopicPartition[] | null = null;
  #lost: TopicPartition[] = [];
  #losses = 0;
  #failure: StrandClientError | null = null;
  #reconciling: Promise<void> | null = null;
  #commits: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  /** A session; start() joins the group. */
  constructor(
    ctx: ClientContext,
    router: CoordinatorRouter,
    host: PartitionHost,
    options: GroupSessionOptions,
    subscription: Subscription,
    listener: RebalanceListener,
  ) {
    this.#ctx = ctx;
    this.#router = router;
    this.#host = host;
    this.#options = options;
    this.#listener = listener;
    this.#member = new GroupMember(ctx, router, options, subscription, {
      assignment: (target) => {
        this.#target = target;
        host.wake();
      },
      lost: (reason) => this.#loseAll(reason),
      failed: (error) => {
        this.#failure ??= error;
        host.wake();
      },
    });
  }

  /** The partitions this member owns now. */
  get owned(): readonly TopicPartition[] {
    return this.#owned;
  }

  /** Joins the group and starts the auto-commit timer. */
  start(): void {
    this.#member.start();
    if (this.#options.autoCommit && this.#timer === null) {
      this.#timer = setInterval(() => {
        this.commitProcessed().catch((error: unknown) =>
          this.#ctx.logger.warn(
            { groupId: this.#router.groupId, err: (error as Error).message },
            "auto commit failed; it is retried on the next interval",
          ),
        );
      }, this.#options.autoCommitIntervalMs);
      this.#timer.unref();
    }
  }

  /** Changes the subscription; the coordinator answers with a new assignment. */
  subscribe(subscription: Subscription): void {
    this.#member.subscribe(subscription);
  }

  /**
   * Called by poll() before it fetches: throws a fatal group error, runs onLost for partitions
   * lost since the last poll, and reconciles a new assignment.
   */
  async beforePoll(): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#reconciling !== null) return this.#reconciling;
    if (this.#lost.length === 0 && this.#target === null) return;
    this.#reconciling = this.#reconcile().finally(() => {
      this.#reconciling = null;
    });
    return this.#reconciling;
  }

  async #reconcile(): Promise<void> {
    if (this.#lost.length > 0) {
      const lost = this.#lost;
      this.#lost = [];
      await (this.#listener.onLost ?? this.#listener.onRevoked)?.(lost);
    }
    const target = this.#target;
    this.#target = null;
    if (target === null) return;
    const losses = this.#losses;
    for (const step of planReconciliation(this.#owned, target).steps) {
      if (this.#losses !== losses) return; // lost meanwhile: the member rejoins from nothing
      if (step.kind === "revoke") await this.#revoke(step.partitions);
      else if (step.kind === "ack") {
        this.#owned = [...step.owned];
        this.#member.acknowledge(step.owned);
      } else {
        this.#host.add(step.partitions);
        await this.#listener.onAssigned?.(step.partitions);
      }
    }
  }

  async #revoke(partitions: readonly TopicPartition[]): Promise<void> {
    this.#host.stop(partitions);
    if (this.#options.autoCommit)
      await this.commitProcessed(partitions).catch((error: unknown) =>
        this.#ctx.logger.warn(
          { groupId: this.#router.groupId, err: (error as Error).message },
          "commit on revocation failed; the next owner starts from the last commit",
        ),
      );
    await this.#listener.onRevoked?.(partitions);
    this.#host.remove(partitions);
    const gone = new Set(partitions.map(partitionKey));
    this.#owned = this.#owned.filter((tp) => !gone.has(partitionKey(tp)));
  }

  #loseAll(reason: string): void {
    this.#losses++;
    const lost = this.#owned;
    this.#ctx.logger.warn(
      { groupId: this.#router.groupId, partitions: lost.length, reason },
      "partitions lost",
    );
    this.#owned = [];
    this.#target = null;
    this.#host.remove(lost);
    if (lost.length > 0) this.#lost.push(...lost);
    this.#host.wake();
  }

  /** Commits the processed offsets of `partitions` (every owned one when omitted). */
  commitProcessed(partitions?: readonly TopicPartition[]): Promise<void> {
    return this.#serialize(() => this.#commit(this.#host.uncommitted(partitions)));
  }

  /** Commits explicit offsets (next offset to consume) as this member. */
  commit(offsets: readonly OffsetToCommit[]): Promise<void> {
    return this.#serialize(() => this.#commit(offsets));
  }

  /** Runs commits one after another, so an older one never lands after a newer one. */
  #serialize(run: () => Promise<void>): Promise<void> {
    const next = this.#commits.then(run);
    this.#commits = next.catch(() => undefined);
    return next;
  }

  async #commit(offsets: readonly OffsetToCommit[]): Promise<void> {
    if (offsets.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      const who = this.#member.committer;
      if (!this.#member.joined)
        throw new FencedMemberError(
          `group ${this.#router.groupId}: not a member right now (joining or fenced); nothing committed`,
          { retriable: true },
        );
      try {
        await commitOffsets(this.#router, who, offsets, {
          signal: this.#ctx.closed,
          deadlineMs: Date.now() + this.#ctx.requestTimeoutMs,
        });
        this.#host.committed(offsets);
        return;
      } catch (error) {
        if (error instanceof StaleMemberEpochError && attempt < STALE_EPOCH_RETRIES) {
          await this.#member.nextHeartbeat(this.#ctx.closed);
          continue;
        }
        if (error instanceof FencedMemberError) this.#member.heartbeatNow();
        throw error;
      }
    }
  }

  /**
   * Leaves the group: stops fetching, commits what was processed (autoCommit), runs
   * onRevoked for the owned partitions, then sends the leave heartbeat.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#reconciling?.catch(() => undefined);
    const owned = this.#owned;
    this.#host.stop(owned);
    try {
      if (this.#options.autoCommit && owned.length > 0) await this.commitProcessed(owned);
    } catch (error) {
      this.#ctx.logger.warn(
        { groupId: this.#router.groupId, err: (error as Error).message },
        "commit on close failed",
      );
    }
    try {
      if (owned.length > 0) await this.#listener.onRevoked?.(owned);
    } finally {
      this.#host.remove(owned);
      this.#owned = [];
      await this.#member.leave();
    }
  }
}
