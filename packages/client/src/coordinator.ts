/**
 * Routing to a group's coordinator: FindCoordinator on any broker, then the call at the
 * coordinator. NOT_COORDINATOR follows the answer's hint (or finds the coordinator again),
 * COORDINATOR_LOAD_IN_PROGRESS waits and retries at the same broker, COORDINATOR_NOT_AVAILABLE
 * and transport failures find it again; each retry backs off, until the call's deadline.
 * Other codes are the caller's to interpret: the answer is returned as is.
 */
import type {
  CoordinatorHint__Output,
  FindCoordinatorResponse__Output,
  GroupServiceClient,
} from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import {
  ConnectionError,
  CoordinatorNotAvailableError,
  errorForCode,
  StrandClientError,
  TimeoutError,
} from "./errors.ts";
import { isCoordinatorCode } from "./group-state.ts";
import { type BrokerConnection, type UnaryStart, unary } from "./grpc.ts";
import { backoffMs, sleep } from "./retry.ts";

/** The group-level outcome of an answer from a coordinator. */
export interface CoordinatorAnswer {
  /** The Strand error code (0 = NONE). */
  readonly errorCode: number;
  /** The broker's message. */
  readonly errorMessage: string;
  /** Where the coordinator is, when the answer says (NOT_COORDINATOR). */
  readonly coordinator?: CoordinatorHint__Output | null | undefined;
}

/** Starts one GroupService call: picks the method and its request (see {@link UnaryStart}). */
export type GroupUnaryStart<R> = (
  group: GroupServiceClient,
  ...rest: Parameters<UnaryStart<R>>
) => ReturnType<UnaryStart<R>>;

/** Options of one routed call. */
export interface CoordinatorCallOptions {
  /** Cancels the call. */
  readonly signal?: AbortSignal | undefined;
  /** Give up (TimeoutError) after this time, epoch ms. */
  readonly deadlineMs: number;
}

/** The client address of a hint, or null when it names no reachable broker. */
export function hintAddress(hint: CoordinatorHint__Output | null | undefined): string | null {
  if (hint === null || hint === undefined || hint.nodeId < 0 || hint.host === "") return null;
  if (!Number.isInteger(hint.port) || hint.port < 1 || hint.port > 65_535) return null;
  return hint.host.includes(":") ? `[${hint.host}]:${hint.port}` : `${hint.host}:${hint.port}`;
}

/** Finds and follows one group's coordinator; shared by a member, its commits and admin. */
export class CoordinatorRouter {
  readonly #ctx: ClientContext;
  /** The group. */
  readonly groupId: string;
  #address: string | null = null;
  #brokerTurn = 0;

  /** A router for `groupId`; nothing is sent until the first call. */
  constructor(ctx: ClientContext, groupId: string) {
    this.#ctx = ctx;
    this.groupId = groupId;
  }

  /** The coordinator's address as last found, or null. */
  get address(): string | null {
    return this.#address;
  }

  /** Forgets the coordinator: the next call finds it again. */
  forget(): void {
    this.#address = null;
  }

  /**
   * Runs `invoke` at the coordinator and returns its answer once `outcome(answer)` is not a
   * coordinator code; retries those and transport failures until `options.deadlineMs`.
   */
  async call<R>(
    method: string,
    invoke: (connection: BrokerConnection, signal: AbortSignal | undefined) => Promise<R>,
    outcome: (answer: R) => CoordinatorAnswer,
    options: CoordinatorCallOptions,
  ): Promise<R> {
    let last: StrandClientError | null = null;
    for (let attempt = 0; ; attempt++) {
      try {
        const address = this.#address ?? (await this.#find(options.signal));
        const answer = await invoke(this.#ctx.pool.get(address), options.signal);
        const o = outcome(answer);
        if (!isCoordinatorCode(o.errorCode)) return answer;
        last = errorForCode(o.errorCode, o.errorMessage);
        this.#follow(o, address);
      } catch (error) {
        if (!(error instanceof StrandClientError) || !error.retriable) throw error;
        last = error;
        this.#address = null;
      }
      const wait = backoffMs(Math.min(attempt, 8), this.#ctx.retry, this.#ctx.random);
      if (Date.now() + wait > options.deadlineMs)
        throw new TimeoutError(
          `${method} for group ${this.groupId} did not complete in time: ${last.message}`,
          { code: ErrorCode.REQUEST_TIMED_OUT, retriable: true, cause: last },
        );
      this.#ctx.logger.debug(
        { groupId: this.groupId, method, waitMs: wait, err: last.message },
        "coordinator retry",
      );
      await sleep(wait, options.signal);
    }
  }

  /**
   * {@link call} for one unary GroupService method, with the client's request timeout and
   * `method` in error messages: `start(group, o, cb)` only picks the method and its request.
   */
  unary<R>(
    method: string,
    start: GroupUnaryStart<R>,
    outcome: (answer: R) => CoordinatorAnswer,
    options: CoordinatorCallOptions,
  ): Promise<R> {
    const timeoutMs = this.#ctx.requestTimeoutMs;
    return this.call(
      method,
      (c, signal) =>
        unary<R>((o, cb) => start(c.group, o, cb), {
          address: c.address,
          method,
          timeoutMs,
          signal,
        }),
      outcome,
      options,
    );
  }

  /** Where to go after a coordinator code: the hint, the same broker, or a new lookup. */
  #follow(o: CoordinatorAnswer, address: string): void {
    if (o.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS.code) {
      this.#address = address;
      return;
    }
    const hinted =
      o.errorCode === ErrorCode.NOT_COORDINATOR.code ? hintAddress(o.coordinator) : null;
    this.#address = hinted !== null && hinted !== address ? hinted : null;
  }

  /** FindCoordinator at a live broker (taking turns, so one dead broker is not asked twice). */
  async #find(signal: AbortSignal | undefined): Promise<string> {
    const ctx = this.#ctx;
    if (ctx.metadata.brokers.size === 0) await ctx.metadata.refresh([], signal);
    const addresses = [...ctx.metadata.brokers.values()];
    const broker = addresses[this.#brokerTurn++ % Math.max(1, addresses.length)];
    if (broker === undefined)
      throw new ConnectionError("the cluster reports no live broker", { retriable: true });
    const response = await unary<FindCoordinatorResponse__Output>(
      (o, cb) => ctx.pool.get(broker).group.FindCoordinator({ groupIds: [this.groupId] }, o, cb),
      { address: broker, method: "FindCoordinator", timeoutMs: ctx.requestTimeoutMs, signal },
    );
    const result = response.results.find((r) => r.groupId === this.groupId);
    if (result === undefined)
      throw new CoordinatorNotAvailableError(`${broker} did not answer for group ${this.groupId}`, {
        code: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        retriable: true,
        broker,
      });
    if (result.errorCode !== ErrorCode.NONE.code)
      throw errorForCode(result.errorCode, result.errorMessage, { broker });
    const address = hintAddress(result.coordinator);
    if (address === null)
      throw new CoordinatorNotAvailableError(
        `group ${this.groupId} has no coordinator right now (its offsets partition has no leader)`,
        { code: ErrorCode.COORDINATOR_NOT_AVAILABLE, retriable: true, broker },
      );
    this.#address = address;
    ctx.logger.debug({ groupId: this.groupId, coordinator: address }, "found the coordinator");
    return address;
  }
}
