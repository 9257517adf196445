/**
 * ProduceService: Produce (unary) and ProduceStream (correlation ids). Protobuf is turned
 * into the replica manager's contract types at the edge; every field is validated; batches
 * are framed and CRC-checked here so a corrupt partition fails alone (CORRUPT_MESSAGE) and
 * garbage never reaches a log. Partitions led elsewhere are forwarded one hop (routing.ts).
 */
import type * as grpc from "@grpc/grpc-js";
import type {
  ProduceRequest,
  ProduceRequest__Output,
  ProduceResponse,
  ProduceResponse__Output,
  ProduceServiceHandlers,
  ProducePartitionResult as WireResult,
} from "@strand/protocol";
import {
  ErrorCode,
  InvalidArgumentError,
  int32Field,
  listField,
  noDuplicates,
  scanBatches,
  topicField,
  totalItemsField,
  WAIT_MS_MAX,
} from "@strand/protocol";
import type {
  AcksMode,
  PartitionError,
  ProduceOptions,
  ProducePartition,
  ProducePartitionResult,
} from "../replica/types.ts";
import { type CallAccess, callAccess, deniedTopics } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { initProducerIdHandler } from "./init-producer-id.ts";
import { unaryHandler } from "./instrument.ts";
import { serveRequestStream } from "./request-stream.ts";
import { alignByKey, groupByTopic } from "./requests.ts";
import { type CallOrigin, callOrigin, routeRequest, unaryCall } from "./routing.ts";
import { codeName, hintFromWire, hintToWire, partitionError } from "./wire.ts";

/** Produce requests in flight on one ProduceStream at most. */
export const STREAM_IN_FLIGHT_MAX = 1_000;
/** Extra time a forwarded produce may take over its own timeout (network, queueing). */
const FORWARD_SLACK_MS = 5_000;

/** A validated produce request. */
interface ParsedProduce {
  readonly options: ProduceOptions;
  readonly items: readonly ProducePartition[];
  /** Items whose batches are malformed or whose topic the caller may not write: never routed. */
  readonly corrupt: ReadonlyMap<number, PartitionError>;
}

const ACKS: Record<string, AcksMode> = {
  ACKS_UNSPECIFIED: "all",
  ACKS_NONE: "none",
  ACKS_LEADER: "leader",
  ACKS_ALL: "all",
};

/** Validates a ProduceRequest; throws InvalidArgumentError naming the bad field. */
export function parseProduce(req: ProduceRequest__Output, defaultTimeoutMs: number): ParsedProduce {
  const acks = ACKS[String(req.acks)];
  if (acks === undefined)
    throw new InvalidArgumentError(
      `acks ${String(req.acks)} is unknown; use ACKS_NONE, ACKS_LEADER or ACKS_ALL`,
    );
  const timeoutMs = int32Field(req.timeoutMs, "timeout_ms", 0, WAIT_MS_MAX);
  const items: ProducePartition[] = [];
  const corrupt = new Map<number, PartitionError>();
  totalItemsField(req.topics, (t) => t.partitions, "topics[].partitions");
  listField(req.topics, "topics", 1).forEach((t, ti) => {
    const topic = topicField(t.topic, `topics[${ti}].topic`);
    listField(t.partitions, `topics[${ti}].partitions`, 1).forEach((p, pi) => {
      const where = `topics[${ti}].partitions[${pi}]`;
      const partition = int32Field(p.partition, `${where}.partition`);
      const records = p.records;
      if (!Buffer.isBuffer(records) || records.length === 0)
        throw new InvalidArgumentError(
          `${where}.records is empty; send one or more RecordBatch v2 batches`,
        );
      const problem = batchProblem(records);
      if (problem !== null)
        corrupt.set(
          items.length,
          partitionError(ErrorCode.CORRUPT_MESSAGE, `${topic}-${partition}: ${problem}`),
        );
      items.push({ topic, partition, records });
    });
  });
  // One partition (the usual request) cannot repeat: no key strings to build.
  if (items.length > 1)
    noDuplicates(
      items.map((i) => `${i.topic}-${i.partition}`),
      "partition",
    );
  return {
    options: { acks, timeoutMs: timeoutMs === 0 ? defaultTimeoutMs : timeoutMs },
    items,
    corrupt,
  };
}

/**
 * Why `records` is not a run of whole, well-framed RecordBatch v2 batches, or null. The CRC is
 * left to the leader's log append, which checks it once; checking it here too would double the
 * broker's largest per-byte cost.
 */
export function batchProblem(records: Buffer): string | null {
  try {
    const scan = scanBatches(records, { verifyCrc: false });
    if (scan.batches.length === 0)
      return `the ${records.length} record bytes hold no complete batch`;
    if (scan.partialTail)
      return `${records.length - scan.validBytes} bytes after the last whole batch`;
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

function failedResult(item: ProducePartition, error: PartitionError): ProducePartitionResult {
  return {
    topic: item.topic,
    partition: item.partition,
    ...error,
    baseOffset: -1n,
    batchBaseOffsets: [],
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
  };
}

/** Serves a parsed produce: routes, forwards, merges. */
export async function produce(
  ctx: ServiceContext,
  parsed: ParsedProduce,
  origin: CallOrigin,
): Promise<ProducePartitionResult[]> {
  const corrupt = parsed.corrupt;
  const routable =
    corrupt.size === 0 ? parsed.items : parsed.items.filter((_, i) => !corrupt.has(i));
  const served = await routeRequest(ctx, "Produce", routable, origin, {
    local: async (items) =>
      alignByKey(items, await ctx.replicas.produce(parsed.options, items), failedResult),
    remote: (stubs, items, metadata) =>
      forwardProduce(stubs.produce, parsed.options, items, metadata),
    failed: failedResult,
  });
  if (corrupt.size === 0) return served;
  let k = 0;
  return parsed.items.map((item, i) => {
    const bad = corrupt.get(i);
    return bad === undefined ? served[k++]! : failedResult(item, bad);
  });
}

async function forwardProduce(
  client: {
    Produce: (
      r: ProduceRequest,
      m: grpc.Metadata,
      o: grpc.CallOptions,
      cb: (e: grpc.ServiceError | null, r?: ProduceResponse__Output) => void,
    ) => unknown;
  },
  options: ProduceOptions,
  items: readonly ProducePartition[],
  metadata: grpc.Metadata,
): Promise<ProducePartitionResult[]> {
  const acks =
    options.acks === "none" ? "ACKS_NONE" : options.acks === "leader" ? "ACKS_LEADER" : "ACKS_ALL";
  const request: ProduceRequest = {
    acks,
    timeoutMs: options.timeoutMs,
    topics: groupByTopic(items, (i) => ({ partition: i.partition, records: i.records })).map(
      ([topic, partitions]) => ({ topic, partitions }),
    ),
  };
  const response = await unaryCall<ProduceResponse__Output>(
    (o, cb) => client.Produce(request, metadata, o, cb),
    options.timeoutMs + FORWARD_SLACK_MS,
  );
  const results: ProducePartitionResult[] = [];
  for (const t of response.topics)
    for (const p of t.partitions) {
      const hint = hintFromWire(p.leaderHint);
      results.push({
        topic: t.topic,
        partition: p.partition,
        errorCode: p.errorCode,
        errorMessage: p.errorMessage,
        ...(hint === undefined ? {} : { leaderHint: hint }),
        baseOffset: BigInt(p.baseOffset),
        batchBaseOffsets: p.batchBaseOffsets.map(BigInt),
        logAppendTimeMs: BigInt(p.logAppendTimeMs),
        logStartOffset: BigInt(p.logStartOffset),
      });
    }
  return alignByKey(items, results, failedResult);
}

/** Contract results -> ProduceResponse. */
export function produceResponse(results: readonly ProducePartitionResult[]): ProduceResponse {
  return {
    topics: groupByTopic(
      results,
      (r): WireResult => ({
        partition: r.partition,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        baseOffset: String(r.baseOffset),
        batchBaseOffsets: r.batchBaseOffsets.map(String),
        logAppendTimeMs: String(r.logAppendTimeMs),
        logStartOffset: String(r.logStartOffset),
        leaderHint: hintToWire(r.leaderHint),
      }),
    ).map(([topic, partitions]) => ({ topic, partitions })),
  };
}

function outcome(response: ProduceResponse): string {
  for (const t of response.topics ?? [])
    for (const p of t.partitions ?? [])
      if ((p.errorCode ?? 0) !== 0) return codeName(p.errorCode ?? 0);
  return "NONE";
}

async function handleProduce(
  ctx: ServiceContext,
  req: ProduceRequest__Output,
  origin: CallOrigin,
  access: CallAccess,
): Promise<ProduceResponse> {
  const parsed = withDenied(parseProduce(req, ctx.defaults.requestTimeoutMs), access);
  if (parsed.options.acks === "none") {
    produce(ctx, parsed, origin).catch((error: unknown) =>
      ctx.logger.warn({ err: String(error) }, "acks=none produce failed"),
    );
    return { topics: [] };
  }
  return produceResponse(await produce(ctx, parsed, origin));
}

/** Fails the items whose topic the caller may not WRITE (TOPIC_AUTHORIZATION_FAILED). */
function withDenied(parsed: ParsedProduce, access: CallAccess): ParsedProduce {
  const denied = deniedTopics(access, "write", parsed.items);
  if (denied.size === 0) return parsed;
  return { ...parsed, corrupt: new Map([...parsed.corrupt, ...denied]) };
}

/** The ProduceService handlers. */
export function produceServiceHandlers(ctx: ServiceContext): ProduceServiceHandlers {
  return {
    Produce: unaryHandler(
      ctx,
      "Produce",
      async (call) =>
        handleProduce(ctx, call.request, callOrigin(call.metadata), await callAccess(ctx, call)),
      outcome,
    ),
    ProduceStream: (call) =>
      serveRequestStream<ProduceRequest__Output, ProduceResponse>(ctx, call, {
        method: "ProduceStream",
        inFlightMax: STREAM_IN_FLIGHT_MAX,
        serve: (request, access) => handleProduce(ctx, request, callOrigin(call.metadata), access),
        outcome,
      }),
    InitProducerId: initProducerIdHandler(ctx),
  };
}
