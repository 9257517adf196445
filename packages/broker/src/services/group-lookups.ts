/**
 * What the group coordinator asks of the rest of the cluster, built on the edge's routing:
 * offsets (ListOffsets at each partition's leader), record timestamps (a small fetch at the
 * leader, for lag in seconds) and the creation of the offsets topic through the controller.
 */
import { decodeRecordBatch, ErrorCode, iterateBatches } from "@strand/protocol";
import type { OffsetLookup, OffsetLookupResult, OffsetsTopicSettings } from "../groups/types.ts";
import { OFFSETS_TOPIC } from "../groups/types.ts";
import type { ServiceContext } from "./context.ts";
import { fetchPartitions, listOffsets } from "./fetch.ts";
import { internalOrigin } from "./routing.ts";

const TIMESTAMP_FETCH_BYTES = 64 * 1024;

/** ListOffsets routed to leaders, never forwarded twice. */
export async function lookupOffsets(
  ctx: ServiceContext,
  items: readonly OffsetLookup[],
): Promise<OffsetLookupResult[]> {
  if (items.length === 0) return [];
  const results = await listOffsets(ctx, items, internalOrigin(ctx));
  return results.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    offset: r.offset,
  }));
}

/** The timestamp of the first record at or after `offset` (null when there is none). */
export async function recordTimestamp(
  ctx: ServiceContext,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<bigint | null> {
  const [r] = await fetchPartitions(
    ctx,
    { minBytes: 0, maxBytes: TIMESTAMP_FETCH_BYTES, maxWaitMs: 0 },
    [
      {
        topic,
        partition,
        fetchOffset: offset,
        currentLeaderEpoch: -1,
        partitionMaxBytes: TIMESTAMP_FETCH_BYTES,
      },
    ],
    internalOrigin(ctx),
  );
  if (r === undefined || r.errorCode !== 0) return null;
  for (const view of iterateBatches(r.records, { verifyCrc: false })) {
    const batch = decodeRecordBatch(r.records, { position: view.position });
    const rec = batch.records.find((x) => x.offset >= offset);
    if (rec !== undefined) return rec.timestamp;
  }
  return null;
}

/**
 * Creates `__consumer_offsets`: RF capped at the registered brokers, min ISR min(2, RF),
 * compacted and never deleted by time or size (the log is the only copy of the commits;
 * compaction keeps the last record per key, so a coordinator's load time follows the number of
 * live groups and partitions, not the number of commits ever made).
 */
export async function createOffsetsTopic(
  ctx: ServiceContext,
  settings: OffsetsTopicSettings,
): Promise<void> {
  const image = ctx.image();
  if (image.topicsByName.has(OFFSETS_TOPIC)) return;
  const rf = Math.max(1, Math.min(settings.replicationFactor, image.brokers.size));
  const response = await ctx.controller.createTopics({
    topics: [
      {
        name: OFFSETS_TOPIC,
        partitionCount: settings.numPartitions,
        replicationFactor: rf,
        configs: {
          "min.insync.replicas": String(Math.min(2, rf)),
          "cleanup.policy": "compact",
          "retention.ms": "-1",
          "segment.bytes": String(settings.segmentBytes),
        },
      },
    ],
  });
  const code = response.error?.code || response.topics[0]?.error?.code || 0;
  if (code !== 0 && code !== ErrorCode.TOPIC_ALREADY_EXISTS.code)
    throw new Error(
      `creating ${OFFSETS_TOPIC} failed: ${response.error?.message || response.topics[0]?.error?.message || code}`,
    );
  ctx.logger.info(
    { partitions: settings.numPartitions, replicationFactor: rf },
    `created ${OFFSETS_TOPIC}`,
  );
}
