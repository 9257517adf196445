/**
 * What happens when a leader's log end or HW moves, a deadline passes, or leadership ends:
 * the purgatories are fed and the waiters that come out are answered.
 */
import { ErrorCode } from "@strand/protocol";
import type { ReplicaContext } from "./context.ts";
import { NO_ERROR, notLeaderError, partitionError } from "./errors.ts";
import type { Partition } from "./partition.ts";

/** The leader appended `bytes` ending at `endOffset`: wake followers waiting for data. */
export function onLeaderLogEnd(
  ctx: ReplicaContext,
  p: Partition,
  endOffset: bigint,
  bytes: number,
): void {
  p.recordAppend(endOffset, bytes);
  for (const w of ctx.replicaFetches.onHighWatermark(p.key, endOffset, bytes)) w.value.complete();
}

/** The leader's HW advanced: answer acks=all produces and consumer long polls it satisfies. */
export function onHighWatermarkAdvanced(ctx: ReplicaContext, p: Partition): void {
  const state = p.leader;
  if (state === null) return;
  const hw = state.highWatermark;
  for (const w of ctx.acks.onHighWatermark(p.key, hw)) {
    const result = state.acksAllResult(w.requiredOffset);
    const done = result.done ? result.error : ErrorCode.REQUEST_TIMED_OUT;
    w.value.resolve(
      done.code === 0 ? NO_ERROR : partitionError(done, "the ISR fell below min.insync.replicas"),
    );
  }
  const bytes = p.takeCommittedBytes(hw);
  for (const w of ctx.consumerFetches.onHighWatermark(p.key, hw, bytes)) w.value.complete();
}

/** Deadlines passed: time out produces, answer long polls with what there is. */
export function expireWaiters(ctx: ReplicaContext, nowMs: number): void {
  for (const w of ctx.acks.expire(nowMs)) {
    w.value.resolve(
      partitionError(
        ErrorCode.REQUEST_TIMED_OUT,
        `the high watermark did not reach offset ${w.requiredOffset} in time`,
      ),
    );
  }
  for (const w of ctx.consumerFetches.expire(nowMs)) w.value.complete();
  for (const w of ctx.replicaFetches.expire(nowMs)) w.value.complete();
}

/** Leadership of `p` ended (or the manager closes): answer every waiter on it now. */
export function releaseLeaderWaiters(ctx: ReplicaContext, p: Partition): void {
  const error = notLeaderError(ctx.deps.image(), p.topic, p.partition, ctx.brokerId);
  for (const w of ctx.acks.removePartition(p.key)) w.value.resolve(error);
  for (const w of ctx.consumerFetches.removePartition(p.key)) w.value.complete();
  for (const w of ctx.replicaFetches.removePartition(p.key)) w.value.complete();
  p.clearPendingBytes();
}
