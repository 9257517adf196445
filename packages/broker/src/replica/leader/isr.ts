/**
 * ISR changes through the controller: proposals from the pure leader state go out as
 * AlterPartition (compare-and-set on the partition epoch); the answer goes back into the state
 * (`onAlterPartitionResult`), which may advance the HW or ask for a resend. The periodic check
 * shrinks the ISR of every led partition whose followers lag past `replica.lag.time.max.ms`.
 */

import type { AlterPartitionResponse } from "@strand/controller";
import { brokerEpoch } from "@strand/controller";
import { ErrorCode } from "@strand/protocol";
import type { AlterPartitionResult, LeaderPartitionState } from "../../core/leader-partition.ts";
import type { IsrProposal } from "../../core/types.ts";
import type { ReplicaContext } from "../context.ts";
import { onHighWatermarkAdvanced } from "../events.ts";
import type { Partition } from "../partition.ts";

/** Sends `proposal` for `p` (led with `state`) and applies the answer when it comes. */
export function sendIsrProposal(
  ctx: ReplicaContext,
  p: Partition,
  state: LeaderPartitionState,
  proposal: IsrProposal,
  retry = false,
): void {
  if (!retry) {
    (proposal.kind === "shrink"
      ? ctx.metrics?.isrShrinksTotal
      : ctx.metrics?.isrExpandsTotal
    )?.inc();
    ctx.logger.info(
      {
        topic: p.topic,
        partition: p.partition,
        kind: proposal.kind,
        isr: proposal.isr,
        epoch: proposal.leaderEpoch,
      },
      "proposing an ISR change",
    );
  }
  ctx.deps
    .alterPartition({
      type: "alterPartition",
      brokerId: ctx.brokerId,
      brokerEpoch: brokerEpoch(ctx.deps.brokerEpoch()),
      topicId: p.topicId,
      partition: p.partition,
      leaderEpoch: proposal.leaderEpoch,
      partitionEpoch: proposal.partitionEpoch,
      isr: proposal.isr,
    })
    .then(
      (response) => toResult(response, state),
      (): AlterPartitionResult => ({ kind: "failed", error: ErrorCode.NOT_CONTROLLER }),
    )
    .then((result) => applyResult(ctx, p, state, result));
}

function toResult(
  response: AlterPartitionResponse,
  state: LeaderPartitionState,
): AlterPartitionResult {
  const after = response.partition;
  if (response.errorCode.code !== 0) return { kind: "failed", error: response.errorCode };
  if (after === null || after.leaderEpoch !== state.leaderEpoch) {
    return { kind: "failed", error: ErrorCode.FENCED_LEADER_EPOCH };
  }
  return {
    kind: "committed",
    state: { isr: after.isr, leaderEpoch: after.leaderEpoch, partitionEpoch: after.partitionEpoch },
  };
}

function applyResult(
  ctx: ReplicaContext,
  p: Partition,
  state: LeaderPartitionState,
  result: AlterPartitionResult,
): void {
  // Leadership moved or the manager closed meanwhile: the answer no longer applies.
  if (p.leader !== state || ctx.closed) return;
  if (result.kind === "failed") {
    ctx.logger.warn(
      { topic: p.topic, partition: p.partition, error: result.error.name },
      "ISR change refused",
    );
  }
  const outcome = state.onAlterPartitionResult(result);
  if (result.kind === "committed") {
    p.isr = state.isr;
    p.partitionEpoch = state.partitionEpoch;
  }
  if (outcome.highWatermarkAdvanced) onHighWatermarkAdvanced(ctx, p);
  const again = outcome.retry;
  if (again !== null) {
    const timer = setTimeout(() => {
      if (p.leader === state && !ctx.closed) sendIsrProposal(ctx, p, state, again, true);
    }, ctx.config.alterPartitionRetryMs);
    timer.unref();
  }
}

/** The periodic check: shrink lagging ISRs and refresh the partition gauges. */
export function checkIsr(ctx: ReplicaContext): void {
  const nowMs = ctx.clock();
  for (const p of ctx.partitions.values()) {
    const state = p.leader;
    if (state === null) continue;
    const proposal = state.maybeShrinkIsr(nowMs, ctx.config.replicaLagTimeMaxMs);
    if (proposal !== null) sendIsrProposal(ctx, p, state, proposal);
  }
  updateGauges(ctx);
}

/** Partitions led, under-replicated and under min ISR. */
export function updateGauges(ctx: ReplicaContext): void {
  const metrics = ctx.metrics;
  if (metrics === null) return;
  let led = 0;
  let under = 0;
  let underMin = 0;
  for (const p of ctx.partitions.values()) {
    const state = p.leader;
    if (state === null) continue;
    led += 1;
    if (state.isr.length < p.replicas.length) under += 1;
    if (state.isUnderMinIsr) underMin += 1;
  }
  metrics.partitionsLed.set(led);
  metrics.underReplicatedPartitions.set(under);
  metrics.underMinIsrPartitions.set(underMin);
}
