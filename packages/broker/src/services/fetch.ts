/**
 * FetchService: Fetch (a long poll), FetchStream (the same requests on one bidi stream, with
 * correlation ids: request-stream.ts), Subscribe (a server stream built from repeated long
 * polls that pushes batches as the high watermark moves) and ListOffsets. Partitions led
 * elsewhere are forwarded one hop (routing.ts); every field is validated at the edge.
 */
import type * as grpc from "@grpc/grpc-js";
import { idle, onAbort } from "@strand/base";
import type {
  FetchRequest,
  FetchRequest__Output,
  FetchResponse,
  FetchResponse__Output,
  FetchServiceHandlers,
  FetchTopic__Output,
  ListOffsetsRequest,
  ListOffsetsRequest__Output,
  ListOffsetsResponse,
  ListOffsetsResponse__Output,
  SubscribeRequest__Output,
  SubscribeResponse,
  FetchPartitionResult as WireFetchResult,
} from "@strand/protocol";
import {
  InvalidArgumentError,
  int32Field,
  int64Field,
  listField,
  noDuplicates,
  scanBatches,
  topicField,
  totalItemsField,
  WAIT_MS_MAX,
} from "@strand/protocol";
import type {
  FetchOptions,
  FetchPartition,
  FetchPartitionResult,
  ListOffsetsResult,
  OffsetSpec,
  PartitionError,
} from "../replica/types.ts";
import {
  type CallAccess,
  callAccess,
  deniedTopics,
  requireTopics,
  servePermitted,
} from "./access.ts";
import { callSignal } from "./call-signal.ts";
import { DEFAULT_STREAM_BOUNDS, type ServiceContext } from "./context.ts";
import { countStream, type RequestTiming, statusLabel, unaryHandler } from "./instrument.ts";
import { STREAM_REAUTH_MS, serveRequestStream } from "./request-stream.ts";
import { alignByKey, groupByTopic } from "./requests.ts";
import { type CallOrigin, callOrigin, routeRequest, unaryCall } from "./routing.ts";
import { StreamLimits } from "./stream-limits.ts";
import { codeName, hintFromWire, hintToWire, toStatus, UnavailableError } from "./wire.ts";

/** Response size cap when the request sets none (Kafka's fetch.max.bytes). */
export const DEFAULT_FETCH_MAX_BYTES = 52_428_800;
/** Per-partition cap when the request sets none (Kafka's max.partition.fetch.bytes). */
export const DEFAULT_PARTITION_MAX_BYTES = 1_048_576;
/**
 * Fetch requests in flight on one FetchStream at most: each may park a long poll, and a
 * consumer has one or two per broker (a fetch and a prefetch).
 */
export const FETCH_STREAM_IN_FLIGHT_MAX = 100;
/** Long-poll wait of each round of a Subscribe stream. */
export const SUBSCRIBE_POLL_MS = 500;
const FORWARD_SLACK_MS = 5_000;
const INT32_MAX = 2 ** 31 - 1;

/** A validated fetch: options (without signal) and partitions. */
export interface ParsedFetch {
  readonly options: Omit<FetchOptions, "signal">;
  readonly items: readonly FetchPartition[];
}

/** Validates FetchTopic lists (Fetch and Subscribe). */
export function parseFetchTopics(topics: readonly FetchTopic__Output[]): FetchPartition[] {
  const items: FetchPartition[] = [];
  totalItemsField(topics, (t) => t.partitions, "topics[].partitions");
  listField(topics, "topics", 1).forEach((t, ti) => {
    const topic = topicField(t.topic, `topics[${ti}].topic`);
    listField(t.partitions, `topics[${ti}].partitions`, 1).forEach((p, pi) => {
      const where = `topics[${ti}].partitions[${pi}]`;
      const maxBytes = int32Field(p.partitionMaxBytes, `${where}.partition_max_bytes`);
      items.push({
        topic,
        partition: int32Field(p.partition, `${where}.partition`),
        fetchOffset: int64Field(p.fetchOffset, `${where}.fetch_offset`, 0n),
        currentLeaderEpoch:
          p.currentLeaderEpoch === undefined
            ? -1
            : int32Field(p.currentLeaderEpoch, `${where}.current_leader_epoch`, -1),
        partitionMaxBytes: maxBytes === 0 ? DEFAULT_PARTITION_MAX_BYTES : maxBytes,
      });
    });
  });
  noDuplicates(
    items.map((i) => `${i.topic}-${i.partition}`),
    "partition",
  );
  return items;
}

/** Validates a FetchRequest. */
export function parseFetch(req: FetchRequest__Output): ParsedFetch {
  const maxBytes = int32Field(req.maxBytes, "max_bytes");
  return {
    options: {
      maxWaitMs: int32Field(req.maxWaitMs, "max_wait_ms", 0, WAIT_MS_MAX),
      minBytes: int32Field(req.minBytes, "min_bytes"),
      maxBytes: maxBytes === 0 ? DEFAULT_FETCH_MAX_BYTES : maxBytes,
    },
    items: parseFetchTopics(req.topics),
  };
}

function failedFetch(item: FetchPartition, error: PartitionError): FetchPartitionResult {
  return {
    topic: item.topic,
    partition: item.partition,
    ...error,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    records: Buffer.alloc(0),
  };
}

/** Serves a fetch: routes, forwards, merges. */
export function fetchPartitions(
  ctx: ServiceContext,
  options: FetchOptions,
  items: readonly FetchPartition[],
  origin: CallOrigin,
): Promise<FetchPartitionResult[]> {
  return routeRequest(ctx, "Fetch", items, origin, {
    local: async (local) =>
      alignByKey(local, await ctx.replicas.fetch(options, local), failedFetch),
    remote: async (stubs, remote, metadata) => {
      const request: FetchRequest = {
        maxWaitMs: options.maxWaitMs,
        minBytes: options.minBytes,
        maxBytes: options.maxBytes,
        topics: groupByTopic(remote, (i) => ({
          partition: i.partition,
          fetchOffset: String(i.fetchOffset),
          ...(i.currentLeaderEpoch < 0 ? {} : { currentLeaderEpoch: i.currentLeaderEpoch }),
          partitionMaxBytes: i.partitionMaxBytes,
        })).map(([topic, partitions]) => ({ topic, partitions })),
      };
      // The leader measures a forwarded fetch's service time; here the whole call counts as
      // waiting when the client allowed a long poll.
      const sentMs = performance.now();
      const response = await unaryCall<FetchResponse__Output>(
        (o, cb) => stubs.fetch.Fetch(request, metadata, o, cb),
        options.maxWaitMs + FORWARD_SLACK_MS,
      );
      if (options.maxWaitMs > 0) options.onWaited?.(performance.now() - sentMs);
      const results = response.topics.flatMap((t) =>
        t.partitions.map((p) => fetchResultFromWire(t.topic, p)),
      );
      return alignByKey(remote, results, failedFetch);
    },
    failed: failedFetch,
  });
}

function fetchResultFromWire(
  topic: string,
  p: FetchResponse__Output["topics"][number]["partitions"][number],
): FetchPartitionResult {
  const hint = hintFromWire(p.leaderHint);
  return {
    topic,
    partition: p.partition,
    errorCode: p.errorCode,
    errorMessage: p.errorMessage,
    ...(hint === undefined ? {} : { leaderHint: hint }),
    highWatermark: BigInt(p.highWatermark),
    lastStableOffset: BigInt(p.lastStableOffset),
    logStartOffset: BigInt(p.logStartOffset),
    records: p.records,
  };
}

/** Contract fetch result -> wire. */
export function fetchResultToWire(r: FetchPartitionResult): WireFetchResult {
  return {
    partition: r.partition,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    highWatermark: String(r.highWatermark),
    lastStableOffset: String(r.lastStableOffset),
    logStartOffset: String(r.logStartOffset),
    records: r.records,
    leaderHint: hintToWire(r.leaderHint),
  };
}

function fetchOutcome(response: FetchResponse): string {
  for (const t of response.topics ?? [])
    for (const p of t.partitions ?? [])
      if ((p.errorCode ?? 0) !== 0) return codeName(p.errorCode ?? 0);
  return "NONE";
}

async function handleFetch(
  ctx: ServiceContext,
  call: grpc.ServerUnaryCall<FetchRequest__Output, FetchResponse>,
  timing: RequestTiming,
): Promise<FetchResponse> {
  const access = await callAccess(ctx, call);
  const cancel = callSignal(ctx.shutdownSignal, call);
  return serveFetch(
    ctx,
    call.request,
    access,
    callOrigin(call.metadata),
    cancel.signal,
    timing,
  ).finally(cancel.answered);
}

/** Serves one fetch request (of a Fetch call or a FetchStream); parks on `signal`. */
async function serveFetch(
  ctx: ServiceContext,
  request: FetchRequest__Output,
  access: CallAccess,
  origin: CallOrigin,
  signal: AbortSignal,
  timing: RequestTiming,
): Promise<FetchResponse> {
  const parsed = parseFetch(request);
  const onWaited = (ms: number) => {
    timing.waitedMs += ms;
  };
  const denied = deniedTopics(access, "read", parsed.items);
  const results = await servePermitted(parsed.items, denied, failedFetch, (items) =>
    fetchPartitions(ctx, { ...parsed.options, signal, onWaited }, items, origin),
  );
  ctx.metrics.fetchWaitSeconds.observe(timing.waitedMs / 1000);
  return {
    topics: groupByTopic(results, fetchResultToWire).map(([topic, partitions]) => ({
      topic,
      partitions,
    })),
  };
}

/** The offset after the last batch in `records` (null when it holds no whole batch). */
export function nextOffsetAfter(records: Buffer): bigint | null {
  if (records.length === 0) return null;
  const batches = scanBatches(records, { verifyCrc: false }).batches;
  const last = batches.at(-1);
  return last === undefined ? null : last.baseOffset + BigInt(last.lastOffsetDelta) + 1n;
}

function waitDrain(
  call: grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      forget();
      resolve();
    };
    call.once("drain", done);
    // Through onAbort: the stream's signal outlives many drain waits (@strand/base abort.ts).
    const forget = onAbort(signal, done);
  });
}

/** One Subscribe round: fetch, push what arrived, advance offsets, drop failed partitions. */
async function subscribeRound(
  ctx: ServiceContext,
  call: grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>,
  positions: FetchPartition[],
  maxBytes: number,
  signal: AbortSignal,
): Promise<{ positions: FetchPartition[]; pushed: number }> {
  const options: FetchOptions = { minBytes: 1, maxBytes, maxWaitMs: SUBSCRIBE_POLL_MS, signal };
  let results: FetchPartitionResult[];
  try {
    results = await fetchPartitions(ctx, options, positions, callOrigin(call.metadata));
  } catch (error) {
    if (!(error instanceof UnavailableError)) throw error;
    await idle(error.retryAfterMs, signal);
    return { positions, pushed: 0 };
  }
  const next: FetchPartition[] = [];
  let pushed = 0;
  for (const [k, r] of results.entries()) {
    const position = positions[k]!;
    if (signal.aborted) return { positions: [], pushed };
    if (r.errorCode !== 0 || r.records.length > 0) {
      pushed++;
      if (!call.write({ topic: r.topic, result: fetchResultToWire(r) }))
        await waitDrain(call, signal);
    }
    if (r.errorCode !== 0) continue;
    const after = nextOffsetAfter(r.records);
    next.push(after === null ? position : { ...position, fetchOffset: after });
  }
  return { positions: next, pushed };
}

async function subscribe(
  ctx: ServiceContext,
  call: grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>,
): Promise<void> {
  const maxBytes = int32Field(call.request.maxBytes, "max_bytes");
  const positions = parseFetchTopics(call.request.topics);
  requireTopics(await callAccess(ctx, call), "read", positions);
  const cancel = callSignal(ctx.shutdownSignal, call);
  try {
    await subscribeLoop(ctx, call, positions, maxBytes, cancel.signal, () =>
      callAccess(ctx, call, { fresh: true }).then((access) =>
        requireTopics(access, "read", positions),
      ),
    );
  } finally {
    cancel.answered();
  }
}

async function subscribeLoop(
  ctx: ServiceContext,
  call: grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>,
  initial: FetchPartition[],
  maxBytes: number,
  signal: AbortSignal,
  recheckAccess: () => Promise<void>,
): Promise<void> {
  let positions = initial;
  let checkedAt = Date.now();
  while (positions.length > 0 && !signal.aborted) {
    const started = Date.now();
    // A session that ended, a token that expired or a revoked ACL ends the stream within
    // about a round (request-stream.ts, STREAM_REAUTH_MS).
    if (started - checkedAt >= STREAM_REAUTH_MS) {
      await recheckAccess();
      checkedAt = started;
    }
    const round = await subscribeRound(
      ctx,
      call,
      positions,
      maxBytes === 0 ? DEFAULT_FETCH_MAX_BYTES : maxBytes,
      signal,
    );
    positions = round.positions;
    // A replica manager that answers an empty fetch at once must not make this loop spin.
    if (round.pushed === 0 && Date.now() - started < 10) await idle(50, signal);
  }
}

function parseSpec(spec: string, timestampMs: string, where: string): OffsetSpec {
  if (spec === "OFFSET_SPEC_EARLIEST") return "earliest";
  if (spec === "OFFSET_SPEC_LATEST") return "latest";
  if (spec === "OFFSET_SPEC_BY_TIMESTAMP")
    return { timestamp: int64Field(timestampMs, `${where}.timestamp_ms`, 0n) };
  throw new InvalidArgumentError(
    `${where}.spec must be OFFSET_SPEC_EARLIEST, OFFSET_SPEC_LATEST or OFFSET_SPEC_BY_TIMESTAMP`,
  );
}

/** One partition of a ListOffsets, validated. */
export interface ListOffsetsItem {
  readonly topic: string;
  readonly partition: number;
  readonly spec: OffsetSpec;
}

/** A ListOffsets result with its partition. */
export type ListOffsetsItemResult = ListOffsetsResult & {
  readonly topic: string;
  readonly partition: number;
};

/** Validates a ListOffsetsRequest. */
export function parseListOffsets(req: ListOffsetsRequest__Output): ListOffsetsItem[] {
  const items: ListOffsetsItem[] = [];
  totalItemsField(req.topics, (t) => t.partitions, "topics[].partitions");
  listField(req.topics, "topics", 1).forEach((t, ti) => {
    const topic = topicField(t.topic, `topics[${ti}].topic`);
    listField(t.partitions, `topics[${ti}].partitions`, 1).forEach((p, pi) => {
      const where = `topics[${ti}].partitions[${pi}]`;
      items.push({
        topic,
        partition: int32Field(p.partition, `${where}.partition`, 0, INT32_MAX),
        spec: parseSpec(String(p.spec), p.timestampMs, where),
      });
    });
  });
  noDuplicates(
    items.map((i) => `${i.topic}-${i.partition}`),
    "partition",
  );
  return items;
}

function failedOffsets(item: ListOffsetsItem, error: PartitionError): ListOffsetsItemResult {
  return {
    topic: item.topic,
    partition: item.partition,
    ...error,
    offset: -1n,
    timestamp: -1n,
    leaderEpoch: -1,
  };
}

function specToWire(spec: OffsetSpec): {
  spec: "OFFSET_SPEC_EARLIEST" | "OFFSET_SPEC_LATEST" | "OFFSET_SPEC_BY_TIMESTAMP";
  timestampMs: string;
} {
  if (spec === "earliest") return { spec: "OFFSET_SPEC_EARLIEST", timestampMs: "0" };
  if (spec === "latest") return { spec: "OFFSET_SPEC_LATEST", timestampMs: "0" };
  return { spec: "OFFSET_SPEC_BY_TIMESTAMP", timestampMs: String(spec.timestamp) };
}

/** Serves ListOffsets items: routes, forwards, merges. */
export function listOffsets(
  ctx: ServiceContext,
  items: readonly ListOffsetsItem[],
  origin: CallOrigin,
): Promise<ListOffsetsItemResult[]> {
  return routeRequest(ctx, "ListOffsets", items, origin, {
    local: (local) =>
      Promise.all(
        local.map(async (i) => ({
          topic: i.topic,
          partition: i.partition,
          ...(await ctx.replicas.listOffsets(i.topic, i.partition, i.spec)),
        })),
      ),
    remote: async (stubs, remote, metadata) => {
      const request: ListOffsetsRequest = {
        topics: groupByTopic(remote, (i) => ({
          partition: i.partition,
          ...specToWire(i.spec),
        })).map(([topic, partitions]) => ({ topic, partitions })),
      };
      const response = await unaryCall<ListOffsetsResponse__Output>(
        (o, cb) => stubs.fetch.ListOffsets(request, metadata, o, cb),
        FORWARD_SLACK_MS,
      );
      const results = response.topics.flatMap((t) =>
        t.partitions.map((p): ListOffsetsItemResult => {
          const hint = hintFromWire(p.leaderHint);
          return {
            topic: t.topic,
            partition: p.partition,
            errorCode: p.errorCode,
            errorMessage: p.errorMessage,
            ...(hint === undefined ? {} : { leaderHint: hint }),
            offset: BigInt(p.offset),
            timestamp: BigInt(p.timestampMs),
            leaderEpoch: p.leaderEpoch,
          };
        }),
      );
      return alignByKey(remote, results, failedOffsets);
    },
    failed: failedOffsets,
  });
}

async function handleListOffsets(
  ctx: ServiceContext,
  call: grpc.ServerUnaryCall<ListOffsetsRequest__Output, ListOffsetsResponse>,
): Promise<ListOffsetsResponse> {
  const items = parseListOffsets(call.request);
  const denied = deniedTopics(await callAccess(ctx, call), "describe", items);
  const results = await servePermitted(items, denied, failedOffsets, (permitted) =>
    listOffsets(ctx, permitted, callOrigin(call.metadata)),
  );
  return {
    topics: groupByTopic(results, (r) => ({
      partition: r.partition,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      offset: String(r.offset),
      timestampMs: String(r.timestamp),
      leaderEpoch: r.leaderEpoch,
      leaderHint: hintToWire(r.leaderHint),
    })).map(([topic, partitions]) => ({ topic, partitions })),
  };
}

/** The FetchService handlers. */
export function fetchServiceHandlers(ctx: ServiceContext): FetchServiceHandlers {
  const streams = new StreamLimits(ctx.streamBounds ?? DEFAULT_STREAM_BOUNDS);
  return {
    Fetch: unaryHandler(
      ctx,
      "Fetch",
      (call, timing) => handleFetch(ctx, call, timing),
      fetchOutcome,
    ),
    FetchStream: (call) =>
      serveRequestStream<FetchRequest__Output, FetchResponse>(ctx, call, {
        method: "FetchStream",
        inFlightMax: FETCH_STREAM_IN_FLIGHT_MAX,
        serve: (request, access, signal, timing) =>
          serveFetch(ctx, request, access, callOrigin(call.metadata), signal, timing),
        outcome: fetchOutcome,
      }),
    ListOffsets: unaryHandler(ctx, "ListOffsets", (call) => handleListOffsets(ctx, call)),
    Subscribe: (call) => {
      // A stream lives as long as the consumer: counted open, never timed as one request.
      ctx.metrics.openStreams.inc({ method: "Subscribe" });
      const stop = () => ctx.metrics.openStreams.dec({ method: "Subscribe" });
      let release = () => {};
      const served = (async () => {
        release = streams.acquire("Subscribe", call.getPeer());
        await subscribe(ctx, call);
      })();
      served.finally(() => release()).catch(() => undefined);
      served.then(
        () => {
          stop();
          countStream(ctx, "Subscribe", "NONE");
          if (!call.cancelled) call.end();
        },
        (error: unknown) => {
          stop();
          const status = toStatus(error);
          countStream(ctx, "Subscribe", statusLabel(status.code));
          if (!call.cancelled) call.emit("error", status);
        },
      );
    },
  };
}
