/**
 * Consumer fetch on the leader: whole batches below the HW only, fencing by leader epoch, and
 * a long poll parked in the DelayedFetchPurgatory that completes on HW advances (no polling)
 * or at maxWaitMs, or when the caller aborts.
 */

import { onAbort } from "@strand/base";
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  ErrorCode,
  OFFSET_BATCH_LENGTH,
  OFFSET_RECORD_COUNT,
} from "@strand/protocol";
import { LogOffsetOutOfRangeError } from "@strand/storage";
import type { ReplicaContext } from "../context.ts";
import { errorOf, NO_ERROR, notLeaderError, partitionError } from "../errors.ts";
import { partitionKey } from "../partition.ts";
import type {
  FetchOptions,
  FetchPartition,
  FetchPartitionResult,
  PartitionError,
} from "../types.ts";

/** Longest long poll, whatever the caller asks. */
const FETCH_WAIT_MS_MAX = 60_000;

interface ReadAll {
  readonly results: FetchPartitionResult[];
  readonly bytes: number;
  readonly failed: boolean;
  /** Readable partitions (led here, no error) -> their fetch offset. */
  readonly readable: Map<string, bigint>;
  /** Readable partitions -> the HW their read was bounded by. */
  readonly seen: Map<string, bigint>;
}

/** Re-reads before parking when the HW moved during the read (a wake-up the read missed). */
const REREADS_MAX = 3;

/** A consumer fetch: read now, or park until minBytes, maxWaitMs or abort. */
export async function fetch(
  ctx: ReplicaContext,
  options: FetchOptions,
  partitions: readonly FetchPartition[],
): Promise<FetchPartitionResult[]> {
  const minBytes = Math.max(1, options.minBytes);
  const waitMs = Math.min(Math.max(0, options.maxWaitMs), FETCH_WAIT_MS_MAX);
  const answerNow = (r: ReadAll): boolean =>
    waitMs === 0 || r.failed || r.bytes >= minBytes || r.readable.size === 0;
  let first = await readAll(ctx, options, partitions);
  // An HW advance while the read awaited found no waiter to wake: without this re-read the
  // fetch would park until maxWaitMs although committed data is there. The check and the
  // registration below run in one turn, so nothing is missed after the last check.
  for (let i = 0; i < REREADS_MAX && !answerNow(first) && hwMoved(ctx, first.seen); i++)
    first = await readAll(ctx, options, partitions);
  if (answerNow(first)) return first.results;
  if (options.signal?.aborted === true || ctx.closed) return first.results;
  return new Promise((resolve) => {
    let settled = false;
    let forget: (() => void) | null = null;
    const parkedAtMs = ctx.clock();
    const complete = (): void => {
      if (settled) return;
      settled = true;
      options.onWaited?.(Math.max(0, ctx.clock() - parkedAtMs));
      forget?.();
      readAll(ctx, options, partitions).then(
        (again) => resolve(again.results),
        () => resolve(first.results),
      );
    };
    const deadlineMs = ctx.clock() + waitMs;
    const waiter = ctx.consumerFetches.register({
      partitions: first.readable,
      minBytes,
      bytesAvailable: first.bytes,
      deadlineMs,
      value: { complete },
    });
    if (waiter === null) {
      settled = true;
      resolve(first.results);
      return;
    }
    ctx.timer.schedule(deadlineMs);
    // Through onAbort: a Subscribe stream's signal outlives many parked rounds (base abort.ts).
    const signal = options.signal;
    if (signal !== undefined && !signal.aborted) forget = onAbort(signal, complete);
    if (hwMoved(ctx, first.seen)) complete();
  });
}

/** True when some partition's HW is past the one its last read was bounded by. */
function hwMoved(ctx: ReplicaContext, seen: ReadonlyMap<string, bigint>): boolean {
  for (const [key, hw] of seen) {
    const state = ctx.partitions.get(key)?.leader ?? null;
    if (state !== null && state.highWatermark > hw) return true;
  }
  return false;
}

async function readAll(
  ctx: ReplicaContext,
  options: FetchOptions,
  partitions: readonly FetchPartition[],
): Promise<ReadAll> {
  const results: FetchPartitionResult[] = [];
  const readable = new Map<string, bigint>();
  const seen = new Map<string, bigint>();
  let bytes = 0;
  let failed = false;
  for (const fp of partitions) {
    const budget = Math.max(0, options.maxBytes - bytes);
    const r = await readOne(ctx, fp, Math.min(budget, fp.partitionMaxBytes), bytes === 0);
    results.push(r);
    if (r.errorCode !== 0) failed = true;
    else {
      const key = partitionKey(fp.topic, fp.partition);
      readable.set(key, fp.fetchOffset);
      seen.set(key, r.highWatermark);
    }
    bytes += r.records.length;
  }
  return { results, bytes, failed, readable, seen };
}

async function readOne(
  ctx: ReplicaContext,
  fp: FetchPartition,
  maxBytes: number,
  minOneBatch: boolean,
): Promise<FetchPartitionResult> {
  const p = ctx.partitions.get(partitionKey(fp.topic, fp.partition));
  const state = p?.leader ?? null;
  if (p === undefined || state === null) {
    return empty(fp, notLeaderError(ctx.deps.image(), fp.topic, fp.partition, ctx.brokerId));
  }
  const epochError = checkEpoch(fp.currentLeaderEpoch, state.leaderEpoch);
  if (epochError !== null) return empty(fp, epochError);
  const hw = state.highWatermark;
  const base = {
    topic: fp.topic,
    partition: fp.partition,
    highWatermark: hw,
    lastStableOffset: hw,
  };
  try {
    const read = await p.log.read(fp.fetchOffset, { maxBytes, maxOffset: hw, minOneBatch });
    ctx.metrics?.outBytesTotal.inc({ topic: fp.topic }, read.records.length);
    ctx.metrics?.recordsOutTotal.inc({ topic: fp.topic }, countRecords(read.records));
    return { ...NO_ERROR, ...base, logStartOffset: read.logStartOffset, records: read.records };
  } catch (thrown) {
    const error =
      thrown instanceof LogOffsetOutOfRangeError
        ? partitionError(
            ErrorCode.OFFSET_OUT_OF_RANGE,
            `offset ${fp.fetchOffset} is outside [${thrown.logStartOffset}, ${hw}]`,
          )
        : errorOf(thrown).error;
    return { ...error, ...base, logStartOffset: p.log.logStartOffset, records: EMPTY };
  }
}

const EMPTY = Buffer.alloc(0);

/** Kafka's fencing of a client's leader epoch (-1 skips the check). */
function checkEpoch(requested: number, current: number): PartitionError | null {
  if (requested < 0 || requested === current) return null;
  if (requested < current) {
    return partitionError(
      ErrorCode.FENCED_LEADER_EPOCH,
      `leader epoch ${requested} is older than the current ${current}`,
    );
  }
  // The leader has not seen that epoch yet (its metadata lags the client's): retriable.
  return partitionError(
    ErrorCode.UNKNOWN_LEADER_EPOCH,
    `leader epoch ${requested} is newer than this leader's ${current}; retry shortly`,
  );
}

function empty(fp: FetchPartition, error: PartitionError): FetchPartitionResult {
  return {
    ...error,
    topic: fp.topic,
    partition: fp.partition,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    records: EMPTY,
  };
}

/** Records in whole batches read from a log, from their headers only (no decoding). */
export function countRecords(batches: Buffer): number {
  let count = 0;
  let position = 0;
  // Each turn moves past one batch; a log batch is never shorter than its header.
  while (position + BATCH_HEADER_BYTES <= batches.length) {
    count += batches.readInt32BE(position + OFFSET_RECORD_COUNT);
    const size = batches.readInt32BE(position + OFFSET_BATCH_LENGTH) + BATCH_LOG_OVERHEAD_BYTES;
    if (size < BATCH_HEADER_BYTES) break;
    position += size;
  }
  return count;
}
