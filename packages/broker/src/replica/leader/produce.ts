/**
 * Produce on the leader: validate, refuse acks=all below min ISR, append with offsets and the
 * leader epoch stamped, feed the pure state, then answer per acks (none: at once; leader:
 * after the append; all: when the HW passes the batch, via the AcksAllPurgatory).
 * Batches stay opaque: the log validates headers and CRCs; nothing decodes records.
 */
import type { MetadataImage } from "@strand/controller";
import { batchViews, ErrorCode, FRAMING_ONLY } from "@strand/protocol";
import type { LeaderPartitionState } from "../../core/leader-partition.ts";
import type { OffsetRange } from "../../core/producer-state.ts";
import type { ReplicaContext } from "../context.ts";
import { errorOf, NO_ERROR, notLeaderError, partitionError } from "../errors.ts";
import { onHighWatermarkAdvanced, onLeaderLogEnd } from "../events.ts";
import { type Partition, partitionKey } from "../partition.ts";
import type {
  AcksMode,
  PartitionError,
  ProduceOptions,
  ProducePartition,
  ProducePartitionResult,
} from "../types.ts";
import { prepareLeaderAppend } from "./leader-append.ts";

interface Appended {
  readonly state: LeaderPartitionState;
  /** The base offset of each batch of the produce, in order; a duplicate has its original. */
  readonly batchBaseOffsets: readonly bigint[];
  /** The highest offset of the produce's batches: what acks=all waits for. */
  readonly lastOffset: bigint;
}

/** Produces to every partition in parallel; partitions of one call never wait for each other. */
export function produce(
  ctx: ReplicaContext,
  options: ProduceOptions,
  partitions: readonly ProducePartition[],
): Promise<ProducePartitionResult[]> {
  const image = ctx.deps.image();
  // Each call queues on its partition's lock synchronously, so appends keep call order.
  const results = partitions.map((pp) => producePartition(ctx, image, options, pp));
  if (options.acks !== "none") return Promise.all(results);
  for (const r of results) {
    void r.then((res) => {
      if (res.errorCode !== 0)
        ctx.logger.debug(
          { topic: res.topic, partition: res.partition, errorMessage: res.errorMessage },
          "acks=none produce failed",
        );
    });
  }
  return Promise.resolve(partitions.map((pp) => result(pp, NO_ERROR, [], -1n)));
}

async function producePartition(
  ctx: ReplicaContext,
  image: MetadataImage,
  options: ProduceOptions,
  pp: ProducePartition,
): Promise<ProducePartitionResult> {
  const p = ctx.partitions.get(partitionKey(pp.topic, pp.partition));
  if (p === undefined || p.leader === null) {
    return result(pp, notLeaderError(image, pp.topic, pp.partition, ctx.brokerId), [], -1n);
  }
  const appended = await p.lock.run(() => appendAsLeader(ctx, p, options.acks, pp.records));
  if ("errorCode" in appended) return result(pp, appended, [], p.log.logStartOffset);
  if (options.acks !== "all")
    return result(pp, NO_ERROR, appended.batchBaseOffsets, p.log.logStartOffset);
  const error = await waitForHighWatermark(ctx, p, appended, options.timeoutMs);
  const offsets = error.errorCode === 0 ? appended.batchBaseOffsets : [];
  return result(pp, error, offsets, p.log.logStartOffset);
}

/** A result; `baseOffset` is the first batch's (-1n when `batchBaseOffsets` is empty). */
function result(
  pp: ProducePartition,
  error: PartitionError,
  batchBaseOffsets: readonly bigint[],
  logStartOffset: bigint,
): ProducePartitionResult {
  return {
    ...error,
    topic: pp.topic,
    partition: pp.partition,
    baseOffset: batchBaseOffsets[0] ?? -1n,
    batchBaseOffsets,
    logAppendTimeMs: -1n,
    logStartOffset,
  };
}

/**
 * The base offset of each batch of `records` appended from `firstOffset`: the leader assigns
 * one append's offsets contiguously (compaction gaps appear only later, in closed segments), so
 * each batch starts where the one before it ended (header reads).
 */
function appendedBaseOffsets(records: Buffer, firstOffset: bigint): bigint[] {
  const offsets: bigint[] = [];
  let next = firstOffset;
  for (const view of batchViews(records, FRAMING_ONLY)) {
    offsets.push(next);
    next += BigInt(view.lastOffsetDelta) + 1n;
  }
  return offsets;
}

/** Only retried duplicates: their original offsets, nothing appended. */
function duplicatesOnly(state: LeaderPartitionState, duplicates: readonly OffsetRange[]): Appended {
  let lastOffset = -1n;
  for (const d of duplicates) if (d.lastOffset > lastOffset) lastOffset = d.lastOffset;
  return { state, batchBaseOffsets: duplicates.map((d) => d.firstOffset), lastOffset };
}

/** Under the partition lock: still the leader? then append and feed the state. */
async function appendAsLeader(
  ctx: ReplicaContext,
  p: Partition,
  acks: AcksMode,
  records: Buffer,
): Promise<Appended | PartitionError> {
  const state = p.leader;
  if (state === null) return notLeaderError(ctx.deps.image(), p.topic, p.partition, ctx.brokerId);
  if (!Buffer.isBuffer(records) || records.length === 0) {
    return partitionError(ErrorCode.CORRUPT_MESSAGE, "a produce needs at least one whole batch");
  }
  const refused = state.checkProduce(acks);
  if (refused !== null) return partitionError(refused.error, refused.message);
  // Idempotence: retried batches answer their original offsets and are not appended again.
  const prepared = await prepareLeaderAppend(ctx, p, records);
  if ("errorCode" in prepared) return prepared;
  if (prepared.records === null) return duplicatesOnly(state, prepared.duplicates);
  let appended: { firstOffset: bigint; lastOffset: bigint; appendedBytes: number };
  try {
    appended = await p.log.append(prepared.records, {
      assignOffsets: true,
      leaderEpoch: state.leaderEpoch,
    });
  } catch (thrown) {
    const { error, unexpected } = errorOf(thrown);
    if (unexpected)
      ctx.logger.error({ topic: p.topic, partition: p.partition, err: thrown }, "append failed");
    return error;
  }
  p.producers.onLeaderAppend(prepared.records, appended.firstOffset);
  const endOffset = appended.lastOffset + 1n;
  const advanced = state.onLeaderAppend(p.log.logEndOffset);
  ctx.metrics?.inBytesTotal.inc({ topic: p.topic }, appended.appendedBytes);
  // A leader's append is contiguous (the cleaner never touches it): the span is the record count.
  ctx.metrics?.recordsInTotal.inc({ topic: p.topic }, Number(endOffset - appended.firstOffset));
  onLeaderLogEnd(ctx, p, endOffset, appended.appendedBytes);
  if (advanced) onHighWatermarkAdvanced(ctx, p);
  // Each batch answers its own offset: leading duplicates their original ones (which may lie
  // anywhere before the log end), the appended batches where this append put them.
  const batchBaseOffsets = [
    ...prepared.duplicates.map((d) => d.firstOffset),
    ...appendedBaseOffsets(prepared.records, appended.firstOffset),
  ];
  return { state, batchBaseOffsets, lastOffset: appended.lastOffset };
}

/** acks=all: done when the HW passes the batch, REQUEST_TIMED_OUT at the deadline. */
function waitForHighWatermark(
  ctx: ReplicaContext,
  p: Partition,
  appended: Appended,
  timeoutMs: number,
): Promise<PartitionError> {
  const requiredOffset = appended.lastOffset + 1n;
  const state = p.leader;
  if (state === null) {
    return Promise.resolve(notLeaderError(ctx.deps.image(), p.topic, p.partition, ctx.brokerId));
  }
  const now = state.acksAllResult(requiredOffset);
  if (now.done) {
    return Promise.resolve(
      now.error.code === 0
        ? NO_ERROR
        : partitionError(now.error, "the ISR fell below min.insync.replicas"),
    );
  }
  return new Promise((resolve) => {
    const deadlineMs = ctx.clock() + Math.max(0, timeoutMs);
    const waiter = ctx.acks.register(p.key, { requiredOffset, deadlineMs, value: { resolve } });
    if (waiter === null) {
      resolve(
        partitionError(ErrorCode.REQUEST_TIMED_OUT, "too many acks=all produces are waiting"),
      );
      return;
    }
    ctx.timer.schedule(deadlineMs);
  });
}
