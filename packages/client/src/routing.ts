/**
 * Partition-aware routing with retries (docs/design.md §6, the smart path) for requests whose
 * items are partitions (ListOffsets; the producer and consumer have their own loops with the
 * same rules): each item goes straight to its partition's leader, grouped per leader; a
 * NOT_LEADER_OR_FOLLOWER answer with a leader hint updates the cache and retries at the new
 * leader at once; any other retriable error refreshes metadata and retries after an
 * exponential backoff with jitter, until the deadline; a non-retriable error fails the call.
 */

import { assert, sleep } from "@strand/base";
import type { LeaderHint__Output } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import { errorForCode, StrandClientError, TimeoutError } from "./errors.ts";
import type { BrokerConnection } from "./grpc.ts";
import { backoffMs } from "./retry.ts";

/** One partition of a request. */
export interface PartitionItem {
  /** The topic. */
  readonly topic: string;
  /** The partition number. */
  readonly partition: number;
}

/** The per-partition part of an answer. */
export interface PartitionAnswer {
  /** Strand error code, 0 on success. */
  readonly errorCode: number;
  /** The broker's message. */
  readonly errorMessage: string;
  /** Where the leader is, on NOT_LEADER_OR_FOLLOWER. */
  readonly leaderHint: LeaderHint__Output | null;
}

/** Sends `items` (all led by the broker of `connection`); answers align with `items`. */
export type SendToLeader<I, A> = (
  connection: BrokerConnection,
  items: readonly I[],
  signal: AbortSignal | undefined,
) => Promise<A[]>;

/** Options of {@link routeByLeader}. */
export interface RouteOptions {
  /** What is being done, for errors and logs. */
  readonly what: string;
  /** Absolute time (Date.now() ms) after which retrying stops with TimeoutError. */
  readonly deadlineMs: number;
  /** Cancels the whole operation. */
  readonly signal?: AbortSignal | undefined;
}

/** Immediate retries at hinted leaders before falling back to backoff (ping-pong guard). */
export const IMMEDIATE_HOPS_MAX = 3;
const ROUNDS_MAX = 100_000;

type Outcome<A> =
  | { readonly kind: "ok"; readonly answer: A }
  | { readonly kind: "hop" }
  | { readonly kind: "retry"; readonly error: StrandClientError };

/** Classifies one answer: done, retry at the hinted leader now, or retry after backoff. */
export function classify<A extends PartitionAnswer>(
  ctx: ClientContext,
  item: PartitionItem,
  answer: A,
): Outcome<A> {
  if (answer.errorCode === 0) return { kind: "ok", answer };
  const error = errorForCode(answer.errorCode, answer.errorMessage, item);
  if (
    answer.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER.code &&
    ctx.metadata.applyHint(item.topic, item.partition, answer.leaderHint)
  )
    return { kind: "hop" };
  if (!error.retriable) throw error;
  return { kind: "retry", error };
}

/** Runs a partitioned request to completion; see the module comment. */
export async function routeByLeader<I extends PartitionItem, A extends PartitionAnswer>(
  ctx: ClientContext,
  items: readonly I[],
  send: SendToLeader<I, A>,
  options: RouteOptions,
): Promise<A[]> {
  const results = new Array<A | undefined>(items.length);
  let pending = items.map((_, i) => i);
  let attempt = 0;
  let hops = 0;
  for (let round = 0; round < ROUNDS_MAX && pending.length > 0; round++) {
    const round_ = await routeRound(ctx, items, pending, send, options.signal);
    for (const [i, answer] of round_.done) results[i] = answer;
    pending = round_.again;
    if (pending.length === 0) break;
    if (round_.error === null && hops < IMMEDIATE_HOPS_MAX) {
      hops++;
      continue;
    }
    hops = 0;
    const wait = backoffMs(attempt++, ctx.retry, ctx.random);
    const lastError = round_.error ?? new StrandClientError(`${options.what}: leaders keep moving`);
    if (Date.now() + wait > options.deadlineMs)
      throw new TimeoutError(`${options.what} did not complete in time: ${lastError.message}`, {
        code: ErrorCode.REQUEST_TIMED_OUT,
        retriable: true,
        cause: lastError,
      });
    ctx.logger.debug(
      { what: options.what, attempt, waitMs: wait, err: lastError.message },
      "retry",
    );
    await sleep(wait, options.signal);
    await refreshQuietly(ctx, [...new Set(pending.map((i) => items[i]!.topic))], options.signal);
  }
  return results.map((r, i) => {
    assert(r !== undefined, `no answer for item ${i}`);
    return r;
  });
}

interface RoundResult<A> {
  readonly done: [number, A][];
  readonly again: number[];
  /** The last retriable error (null when every retry is an immediate hop). */
  readonly error: StrandClientError | null;
}

async function routeRound<I extends PartitionItem, A extends PartitionAnswer>(
  ctx: ClientContext,
  items: readonly I[],
  pending: readonly number[],
  send: SendToLeader<I, A>,
  signal: AbortSignal | undefined,
): Promise<RoundResult<A>> {
  const groups = new Map<string, number[]>();
  const result: { done: [number, A][]; again: number[]; error: StrandClientError | null } = {
    done: [],
    again: [],
    error: null,
  };
  for (const i of pending) {
    const item = items[i]!;
    if (ctx.metadata.topic(item.topic) === undefined)
      await ctx.metadata.ensureTopic(item.topic, signal);
    const leader = ctx.metadata.leader(item.topic, item.partition);
    if (leader === null) {
      result.again.push(i);
      result.error = errorForCode(ErrorCode.LEADER_NOT_AVAILABLE.code, "", item);
      continue;
    }
    groups.set(leader.address, [...(groups.get(leader.address) ?? []), i]);
  }
  await Promise.all(
    [...groups].map(async ([address, indexes]) => {
      const group = indexes.map((i) => items[i]!);
      let answers: A[];
      try {
        answers = await send(ctx.pool.get(address), group, signal);
        assert(answers.length === group.length, "one answer per item");
      } catch (error) {
        if (!(error instanceof StrandClientError) || !error.retriable) throw error;
        result.again.push(...indexes);
        result.error = error;
        return;
      }
      indexes.forEach((i, k) => {
        const outcome = classify(ctx, items[i]!, answers[k]!);
        if (outcome.kind === "ok") result.done.push([i, outcome.answer]);
        else result.again.push(i);
        if (outcome.kind === "retry") result.error = outcome.error;
      });
    }),
  );
  return result;
}

/** Refreshes metadata; a failure here is left to the next attempt to report. */
export async function refreshQuietly(
  ctx: ClientContext,
  topics: readonly string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await ctx.metadata.refresh(topics, signal);
  } catch (error) {
    if (signal?.aborted === true) throw error;
    ctx.logger.debug({ err: String(error) }, "metadata refresh failed");
  }
}
