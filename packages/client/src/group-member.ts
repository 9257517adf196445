/**
 * A consumer-group member's heartbeat loop (KIP-848): joins with epoch 0, heartbeats at the
 * interval the coordinator names (at once when the owned set changed), hands new assignments
 * and losses to its listener, and leaves with epoch -1 (-2 for a static member) on leave().
 *
 * Fencing (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) loses every partition without a commit and
 * rejoins with epoch 0. A member that gets no heartbeat answer for `sessionTimeoutMs` also
 * gives its partitions up: the coordinator has removed it by then and may have handed them to
 * another member, so reading on would break exclusive ownership.
 */
import type { ConsumerGroupHeartbeatResponse__Output } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import type { CoordinatorRouter } from "./coordinator.ts";
import { AbortedError, errorForCode, StrandClientError } from "./errors.ts";
import type { Committer } from "./group-offsets.ts";
import { type MemberConfig, MemberState, type Subscription } from "./group-state.ts";
import { unary } from "./grpc.ts";
import { backoffMs } from "./retry.ts";
import type { TopicPartition } from "./types.ts";

/** What the member tells the consumer. */
export interface MemberListener {
  /** A new assignment: the complete set the member may own (reconcile it). */
  assignment(target: readonly TopicPartition[]): void;
  /** Every partition is lost (fenced or session expired): drop them without committing. */
  lost(reason: string): void;
  /** A non-retriable error: the consumer fails with it. */
  failed(error: StrandClientError): void;
}

/** Settings of a member beyond the protocol's. */
export interface GroupMemberOptions extends MemberConfig {
  /** Give partitions up after this long without a heartbeat answer, in milliseconds. */
  readonly sessionTimeoutMs: number;
}

/** One member of one group; start() begins heartbeating. */
export class GroupMember {
  readonly #ctx: ClientContext;
  readonly #router: CoordinatorRouter;
  readonly #options: GroupMemberOptions;
  readonly #listener: MemberListener;
  readonly #state: MemberState;
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #kick: (() => void) | null = null;
  #kicked = false;
  #beats: (() => void)[] = [];

  /** A member that has not joined yet. */
  constructor(
    ctx: ClientContext,
    router: CoordinatorRouter,
    options: GroupMemberOptions,
    subscription: Subscription,
    listener: MemberListener,
  ) {
    this.#ctx = ctx;
    this.#router = router;
    this.#options = options;
    this.#listener = listener;
    this.#state = new MemberState(options, subscription);
  }

  /** The id and epoch commits carry. */
  get committer(): Committer {
    return { memberId: this.#state.memberId, memberEpoch: this.#state.epoch };
  }

  /** Whether the member is in the group (has an id and an epoch). */
  get joined(): boolean {
    return this.#state.joined;
  }

  /** Starts the heartbeat loop (idempotent). */
  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      if (!(error instanceof AbortedError))
        this.#listener.failed(
          error instanceof StrandClientError ? error : new StrandClientError(String(error)),
        );
    });
  }

  /** Changes the subscription and heartbeats at once. */
  subscribe(subscription: Subscription): void {
    this.#state.subscribe(subscription);
    this.heartbeatNow();
  }

  /** Acknowledges a new owned set (after revocations) and heartbeats at once. */
  acknowledge(owned: readonly TopicPartition[]): void {
    this.#state.setOwned(owned);
    this.heartbeatNow();
  }

  /** Cuts the wait before the next heartbeat short. */
  heartbeatNow(): void {
    this.#kicked = true;
    this.#kick?.();
  }

  /** Resolves after the next answered heartbeat (e.g. to refresh a stale epoch). */
  nextHeartbeat(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) return reject(new AbortedError("waiting for a heartbeat"));
      this.#beats.push(resolve);
      this.heartbeatNow();
    });
  }

  async #run(): Promise<void> {
    let lastAnswerMs = Date.now();
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      let waitMs: number;
      try {
        const outcome = this.#apply(await this.#heartbeat());
        if (outcome === "stop") return;
        lastAnswerMs = Date.now();
        failures = 0;
        waitMs = outcome;
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        if (!(error instanceof StrandClientError) || !error.retriable) throw error;
        this.#state.resendAll();
        waitMs = backoffMs(failures++, this.#ctx.retry, this.#ctx.random);
        this.#ctx.logger.warn(
          { groupId: this.#router.groupId, err: error.message, waitMs },
          "heartbeat failed",
        );
      }
      if (this.#state.joined && Date.now() - lastAnswerMs > this.#options.sessionTimeoutMs) {
        this.#state.fence();
        this.#listener.lost(`no heartbeat answer for ${this.#options.sessionTimeoutMs} ms`);
        lastAnswerMs = Date.now();
      }
      await this.#wait(waitMs);
    }
  }

  /** Applies an answer: the wait before the next heartbeat, or "stop" after a fatal error. */
  #apply(response: ConsumerGroupHeartbeatResponse__Output): number | "stop" {
    const outcome = this.#state.onResponse(response);
    const beats = this.#beats;
    this.#beats = [];
    for (const resolve of beats) resolve();
    switch (outcome.kind) {
      case "ok":
        if (outcome.assignment !== null) this.#listener.assignment(outcome.assignment);
        return outcome.intervalMs;
      case "fenced":
        this.#ctx.logger.warn(
          { groupId: this.#router.groupId, code: outcome.code, err: outcome.message },
          "fenced: partitions lost, rejoining",
        );
        this.#listener.lost(`fenced (${errorForCode(outcome.code, outcome.message).message})`);
        return 0;
      case "retry":
        return backoffMs(0, this.#ctx.retry, this.#ctx.random);
      case "fatal":
        this.#listener.failed(errorForCode(outcome.code, outcome.message));
        return "stop";
    }
  }

  #heartbeat(): Promise<ConsumerGroupHeartbeatResponse__Output> {
    const request = this.#state.heartbeat();
    const ctx = this.#ctx;
    return this.#router.unary<ConsumerGroupHeartbeatResponse__Output>(
      "ConsumerGroupHeartbeat",
      (group, o, cb) => group.ConsumerGroupHeartbeat(request, o, cb),
      (r) => r,
      {
        signal: this.#stop.signal,
        deadlineMs: Date.now() + Math.min(ctx.requestTimeoutMs, this.#options.sessionTimeoutMs),
      },
    );
  }

  /** Sleeps `ms`, less when heartbeatNow() is called or the member stops. */
  async #wait(ms: number): Promise<void> {
    if (this.#kicked || ms <= 0) {
      this.#kicked = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener("abort", done);
        this.#kick = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#kick = done;
      this.#stop.signal.addEventListener("abort", done, { once: true });
    });
    this.#kicked = false;
  }

  /**
   * Stops heartbeating and leaves the group (epoch -1, or -2 for a static member, which keeps
   * its partitions until the session timeout). Best effort: a coordinator that cannot be
   * reached removes the member after the session timeout instead.
   */
  async leave(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    await this.#loop;
    for (const resolve of this.#beats) resolve();
    this.#beats = [];
    if (this.#state.memberId === "") return;
    const request = this.#state.leaveHeartbeat();
    const ctx = this.#ctx;
    try {
      const response = await this.#router.call(
        "ConsumerGroupHeartbeat",
        (c, signal) =>
          unary<ConsumerGroupHeartbeatResponse__Output>(
            (o, cb) => c.group.ConsumerGroupHeartbeat(request, o, cb),
            { address: c.address, method: "leave", timeoutMs: ctx.requestTimeoutMs, signal },
          ),
        (r) => r,
        { signal: ctx.closed, deadlineMs: Date.now() + ctx.requestTimeoutMs },
      );
      if (response.errorCode !== ErrorCode.NONE.code)
        ctx.logger.warn(
          { groupId: this.#router.groupId, err: response.errorMessage, code: response.errorCode },
          "leave refused",
        );
    } catch (error) {
      ctx.logger.warn(
        { groupId: this.#router.groupId, err: (error as Error).message },
        "leave failed; the coordinator removes the member after its session timeout",
      );
    }
    this.#state.fence();
  }
}
