/**
 * The leader's side of a ReplicaFetch request: check the follower (registered, broker epoch),
 * then per partition let the pure `LeaderPartitionState` fence the epoch, check divergence and
 * record the follower's log end (the HW may advance, an ISR expansion may be proposed), and
 * read from the fetch offset up to the leader's log end (followers read past the HW). A
 * request with nothing to send is parked in the replica-fetch purgatory until the leader
 * appends or `replica.fetch.max.wait.ms` passes.
 */
import { brokerId as toBrokerId } from "@strand/controller";
import { ErrorCode, type ErrorCodeInfo, errorCodeInfo } from "@strand/protocol";
import type { ReplicaContext } from "../context.ts";
import { errorOf } from "../errors.ts";
import { onHighWatermarkAdvanced } from "../events.ts";
import { type Partition, partitionKey } from "../partition.ts";
import {
  type ReplicaFetchAnswer,
  type ReplicaFetchPartitionAnswer,
  type ReplicaFetchPartitionQuery,
  type ReplicaFetchQuery,
  ReplicaFetchSession,
  type SessionPartition,
} from "../replica-fetch.ts";
import { sendIsrProposal } from "./isr.ts";

/** Most partitions in one replica fetch. */
export const REPLICA_FETCH_PARTITIONS_MAX = 100_000;
const EMPTY = Buffer.alloc(0);

interface ReadOutcome {
  readonly response: ReplicaFetchAnswer;
  /** Incremental: the session entry of each answered partition, in answer order. */
  readonly answered: readonly SessionPartition[];
  /** Some partition has records, a diverging epoch or an error: answer now. */
  readonly answerNow: boolean;
  /** Partitions that may get data later -> fetch offset. */
  readonly waiting: Map<string, bigint>;
  /** Waiting partitions -> the log end their read saw. */
  readonly seen: Map<string, bigint>;
}

/** Re-reads before parking when the log end moved during the read (a missed wake-up). */
const REREADS_MAX = 3;

/**
 * Answers one request, long-polling when nothing is available; null when the stream closed.
 * `session` is the stream's incremental fetch session (a full request resets it).
 */
export async function answerReplicaFetch(
  ctx: ReplicaContext,
  request: ReplicaFetchQuery,
  isOpen: () => boolean,
  session: ReplicaFetchSession = new ReplicaFetchSession(),
): Promise<ReplicaFetchAnswer | null> {
  const refused = checkRequest(ctx, request) ?? updateSession(request, session);
  if (refused !== null) return refused;
  const read = (): Promise<ReadOutcome> =>
    request.incremental === true
      ? readSession(ctx, request, session)
      : readForFollower(ctx, request);
  const answered = (outcome: ReadOutcome): ReplicaFetchAnswer => {
    commitAnswered(outcome);
    return outcome.response;
  };
  const waitMs = Math.min(Math.max(0, request.maxWaitMs), ctx.config.replicaFetchMaxWaitMs * 10);
  const answerNow = (r: ReadOutcome): boolean =>
    r.answerNow || waitMs === 0 || r.waiting.size === 0 || ctx.closed;
  let first = await read();
  // An append while the read awaited found no waiter to wake: without this re-read the
  // follower (and every acks=all produce behind it) would wait for replica.fetch.max.wait.ms.
  // The check and the registration below run in one turn, so nothing is missed after it.
  for (let i = 0; i < REREADS_MAX && !answerNow(first) && logEndMoved(ctx, first.seen); i++)
    first = await read();
  if (answerNow(first)) return answered(first);
  return new Promise((resolve) => {
    let settled = false;
    const complete = (): void => {
      if (settled) return;
      settled = true;
      if (!isOpen() || ctx.closed) {
        resolve(ctx.closed ? answered(first) : null);
        return;
      }
      read().then(
        (again) => resolve(answered(again)),
        () => resolve(answered(first)),
      );
    };
    const deadlineMs = ctx.clock() + waitMs;
    const minBytes = Math.max(1, request.minBytes);
    const waiter = ctx.replicaFetches.register({
      partitions: first.waiting,
      minBytes,
      bytesAvailable: 0,
      deadlineMs,
      value: { complete },
    });
    if (waiter === null) {
      settled = true;
      resolve(answered(first));
      return;
    }
    ctx.timer.schedule(deadlineMs);
    if (logEndMoved(ctx, first.seen)) complete();
  });
}

/** True when some partition's log end is past the one its last read saw. */
function logEndMoved(ctx: ReplicaContext, seen: ReadonlyMap<string, bigint>): boolean {
  for (const [key, end] of seen) {
    const p = ctx.partitions.get(key);
    if (p !== undefined && p.leader !== null && p.log.logEndOffset > end) return true;
  }
  return false;
}

/**
 * Applies an incremental request to its session (or clears the session on a full one); a
 * refusal when the session would grow past the per-request partition bound.
 */
function updateSession(
  request: ReplicaFetchQuery,
  session: ReplicaFetchSession,
): ReplicaFetchAnswer | null {
  const entries = session.partitions;
  if (request.incremental !== true) {
    entries.clear();
    return null;
  }
  session.round += 1;
  for (const f of request.forgotten ?? []) entries.delete(partitionKey(f.topic, f.partition));
  for (const query of request.partitions) {
    const key = partitionKey(query.topic, query.partition);
    const known = entries.get(key);
    if (known === undefined) {
      entries.set(key, {
        query,
        sentRound: session.round,
        answeredHighWatermark: -1n,
        answeredLogStartOffset: -1n,
      });
    } else {
      known.query = query;
      known.sentRound = session.round;
    }
  }
  if (entries.size <= REPLICA_FETCH_PARTITIONS_MAX) return null;
  const error = ErrorCode.INVALID_REQUEST;
  return {
    correlationId: request.correlationId,
    errorCode: error.code,
    errorMessage: `${error.name}: more than ${REPLICA_FETCH_PARTITIONS_MAX} partitions in the fetch session. ${error.action}`,
    partitions: [],
  };
}

/** Remembers what the answer going out told the follower, so it is not repeated. */
function commitAnswered(outcome: ReadOutcome): void {
  const { answered, response } = outcome;
  for (let i = 0; i < answered.length; i++) {
    const result = response.partitions[i]!;
    const entry = answered[i]!;
    entry.answeredHighWatermark = result.highWatermark ?? -1n;
    entry.answeredLogStartOffset = result.logStartOffset ?? -1n;
  }
}

function checkRequest(ctx: ReplicaContext, request: ReplicaFetchQuery): ReplicaFetchAnswer | null {
  const refuse = (error: ErrorCodeInfo, message: string): ReplicaFetchAnswer => ({
    correlationId: request.correlationId,
    errorCode: error.code,
    errorMessage: `${error.name}: ${message}. ${error.action}`,
    partitions: [],
  });
  const replicaId = toBrokerIdOrNull(request.replicaId);
  const broker = replicaId === null ? undefined : ctx.deps.image().brokers.get(replicaId);
  if (broker === undefined) {
    return refuse(
      ErrorCode.BROKER_ID_NOT_REGISTERED,
      `broker ${request.replicaId} is not registered`,
    );
  }
  // Equal, not "no older": an epoch the controller never handed out (e.g. 2^63-1) would
  // otherwise outlive every re-registration, and a fetch from a previous incarnation of the
  // broker must not count toward the ISR or the high watermark.
  const epoch = request.brokerEpoch;
  if (epoch === null || epoch !== BigInt(broker.epoch)) {
    return refuse(
      ErrorCode.STALE_BROKER_EPOCH,
      `broker epoch ${epoch ?? "(not an int64)"} is not the registered ${broker.epoch}`,
    );
  }
  if (request.partitions.length > REPLICA_FETCH_PARTITIONS_MAX) {
    return refuse(
      ErrorCode.INVALID_REQUEST,
      `more than ${REPLICA_FETCH_PARTITIONS_MAX} partitions`,
    );
  }
  return null;
}

function toBrokerIdOrNull(id: number): ReturnType<typeof toBrokerId> | null {
  return Number.isInteger(id) && id >= 0 && id <= 2 ** 31 - 1 ? toBrokerId(id) : null;
}

async function readForFollower(
  ctx: ReplicaContext,
  request: ReplicaFetchQuery,
): Promise<ReadOutcome> {
  const results: ReplicaFetchPartitionAnswer[] = [];
  const waiting = new Map<string, bigint>();
  const seen = new Map<string, bigint>();
  let answerNow = false;
  let bytes = 0;
  for (const entry of request.partitions) {
    const budget = Math.max(0, Math.max(1, request.maxBytes) - bytes);
    const maxBytes = Math.min(budget, Math.max(1, entry.partitionMaxBytes));
    const r = await readPartition(ctx, request.replicaId, entry, maxBytes, bytes === 0);
    results.push(r.result);
    bytes += r.bytes;
    if (r.result.errorCode !== 0 || r.result.divergingEpoch != null || r.bytes > 0)
      answerNow = true;
    else if (r.fetchOffset !== null) {
      const key = partitionKey(entry.topic, entry.partition);
      waiting.set(key, r.fetchOffset);
      seen.set(key, r.logEndOffset);
    }
  }
  const response = {
    correlationId: request.correlationId,
    errorCode: 0,
    errorMessage: "",
    partitions: results,
  };
  return { response, answered: [], answerNow, waiting, seen };
}

/**
 * Reads every partition of an incremental session: a partition sent in this request is
 * always answered; one left out counts as fetched again at its last position (the follower
 * position the ISR and HW need) and is answered only when it has records, an error, a
 * diverging epoch, or a high watermark or log start the follower has not been told.
 */
async function readSession(
  ctx: ReplicaContext,
  request: ReplicaFetchQuery,
  session: ReplicaFetchSession,
): Promise<ReadOutcome> {
  const results: ReplicaFetchPartitionAnswer[] = [];
  const answered: SessionPartition[] = [];
  // Reused round to round: the previous round's waiter has left the purgatory by now.
  const waiting = session.waiting;
  waiting.clear();
  const seen = session.seen;
  seen.clear();
  let answerNow = false;
  let bytes = 0;
  // By key then get: destructuring each [key, entry] pair allocated per partition per round.
  for (const key of session.partitions.keys()) {
    const entry = session.partitions.get(key)!;
    const query = entry.query;
    const explicit = entry.sentRound === session.round;
    const p = explicit ? undefined : ctx.partitions.get(key);
    // Idle and told everything: no read, no answer, no allocation.
    if (p !== undefined && isIdle(p, entry)) {
      const outcome = p.leader!.onFollowerFetch(followerFetch(ctx, request, query, p));
      if (outcome.kind === "read") {
        if (outcome.highWatermarkAdvanced) onHighWatermarkAdvanced(ctx, p);
        if (outcome.isrProposal !== null) sendIsrProposal(ctx, p, p.leader!, outcome.isrProposal);
        if (isIdle(p, entry)) {
          waiting.set(key, query.fetchOffset!);
          seen.set(key, p.log.logEndOffset);
          continue;
        }
      }
    }
    const budget = Math.max(0, Math.max(1, request.maxBytes) - bytes);
    const maxBytes = Math.min(budget, Math.max(1, query.partitionMaxBytes));
    const r = await readPartition(ctx, request.replicaId, query, maxBytes, bytes === 0, key);
    bytes += r.bytes;
    const news = r.result.errorCode !== 0 || r.result.divergingEpoch != null || r.bytes > 0;
    if (news) answerNow = true;
    else if (r.fetchOffset !== null) {
      waiting.set(key, r.fetchOffset);
      seen.set(key, r.logEndOffset);
    }
    const told =
      r.result.highWatermark === entry.answeredHighWatermark &&
      r.result.logStartOffset === entry.answeredLogStartOffset;
    if (explicit || news || !told) {
      results.push(r.result);
      answered.push(entry);
    }
  }
  const response = {
    correlationId: request.correlationId,
    errorCode: 0,
    errorMessage: "",
    partitions: results,
  };
  return { response, answered, answerNow, waiting, seen };
}

/**
 * A session partition this broker leads, at the leader's log end, whose follower already
 * knows its high watermark and log start: re-reading it would only produce an empty answer.
 */
function isIdle(p: Partition, entry: SessionPartition): boolean {
  const state = p.leader;
  return (
    state !== null &&
    p.topicId === entry.query.topicId &&
    entry.query.currentLeaderEpoch === state.leaderEpoch &&
    entry.query.fetchOffset === p.log.logEndOffset &&
    state.highWatermark === entry.answeredHighWatermark &&
    p.log.logStartOffset === entry.answeredLogStartOffset
  );
}

function followerFetch(
  ctx: ReplicaContext,
  request: ReplicaFetchQuery,
  query: ReplicaFetchPartitionQuery,
  p: Partition,
) {
  return {
    replicaId: toBrokerIdOrNull(request.replicaId) ?? toBrokerId(0),
    fetchOffset: query.fetchOffset!,
    lastFetchedEpoch: query.lastFetchedEpoch,
    currentLeaderEpoch: query.currentLeaderEpoch,
    leaderLogStartOffset: p.log.logStartOffset,
    leaderLogEndOffset: p.log.logEndOffset,
    nowMs: ctx.clock(),
  };
}

interface PartitionRead {
  readonly result: ReplicaFetchPartitionAnswer;
  readonly bytes: number;
  readonly fetchOffset: bigint | null;
  /** The log end the read saw (-1 when nothing was read). */
  readonly logEndOffset: bigint;
}

async function readPartition(
  ctx: ReplicaContext,
  replicaId: number,
  entry: ReplicaFetchPartitionQuery,
  maxBytes: number,
  minOneBatch: boolean,
  key: string = partitionKey(entry.topic, entry.partition),
): Promise<PartitionRead> {
  const failed = (
    error: ErrorCodeInfo,
    message: string,
    extra?: Partial<ReplicaFetchPartitionAnswer>,
  ): PartitionRead => failedRead(entry, error, message, extra);
  const p = ctx.partitions.get(key);
  if (p === undefined)
    return failed(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      `${entry.topic}-${entry.partition} is not on this broker`,
    );
  if (p.topicId !== entry.topicId)
    return failed(ErrorCode.UNKNOWN_TOPIC_ID, `topic id ${entry.topicId} is not ${p.topicId}`);
  const state = p.leader;
  if (state === null) {
    const stale = entry.currentLeaderEpoch < p.leaderEpoch;
    return failed(
      stale ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.NOT_LEADER_OR_FOLLOWER,
      `broker ${ctx.brokerId} does not lead ${p.key}`,
    );
  }
  const fetchOffset = entry.fetchOffset;
  const log = p.log;
  const bounds = () => ({
    highWatermark: state.highWatermark,
    logStartOffset: log.logStartOffset,
    logEndOffset: log.logEndOffset,
    leaderEpoch: state.leaderEpoch,
  });
  if (fetchOffset === null || fetchOffset < 0n) {
    return failed(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `bad fetch offset ${fetchOffset ?? "(not an int64)"}`,
      bounds(),
    );
  }
  const outcome = state.onFollowerFetch({
    replicaId: toBrokerIdOrNull(replicaId) ?? toBrokerId(0),
    fetchOffset,
    lastFetchedEpoch: entry.lastFetchedEpoch,
    currentLeaderEpoch: entry.currentLeaderEpoch,
    leaderLogStartOffset: log.logStartOffset,
    leaderLogEndOffset: log.logEndOffset,
    nowMs: ctx.clock(),
  });
  if (outcome.kind === "error") return failed(outcome.error, outcome.message, bounds());
  if (outcome.kind === "diverging") {
    const { epoch, endOffset } = outcome.divergingEpoch;
    return failed(ErrorCode.NONE, "", { ...bounds(), divergingEpoch: { epoch, endOffset } });
  }
  if (outcome.highWatermarkAdvanced) onHighWatermarkAdvanced(ctx, p);
  if (outcome.isrProposal !== null) sendIsrProposal(ctx, p, state, outcome.isrProposal);
  try {
    const read = await log.read(fetchOffset, { maxBytes, minOneBatch });
    // The bounds written out rather than spread from bounds(): this runs per answer.
    const result = {
      topicId: entry.topicId,
      partition: entry.partition,
      errorCode: 0,
      errorMessage: "",
      records: read.records,
      highWatermark: state.highWatermark,
      logStartOffset: log.logStartOffset,
      logEndOffset: log.logEndOffset,
      leaderEpoch: state.leaderEpoch,
    };
    ctx.metrics?.replicationOutBytesTotal.inc(read.records.length);
    return { result, bytes: read.records.length, fetchOffset, logEndOffset: read.logEndOffset };
  } catch (thrown) {
    const { error } = errorOf(thrown);
    return failed(errorCodeInfo(error.errorCode), error.errorMessage, {
      ...bounds(),
      records: EMPTY,
    });
  }
}

function failedRead(
  entry: ReplicaFetchPartitionQuery,
  error: ErrorCodeInfo,
  message: string,
  extra: Partial<ReplicaFetchPartitionAnswer> | undefined,
): PartitionRead {
  return {
    result: {
      topicId: entry.topicId,
      partition: entry.partition,
      errorCode: error.code,
      errorMessage: message,
      ...extra,
    },
    bytes: 0,
    fetchOffset: null,
    logEndOffset: -1n,
  };
}
