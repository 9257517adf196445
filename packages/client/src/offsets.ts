/**
 * ListOffsets through the routing layer: earliest (log start), latest (high watermark) or
 * the first offset at or after a timestamp, per partition, at each partition's leader.
 */
import type {
  ListOffsetsPartitionResult__Output,
  ListOffsetsResponse__Output,
} from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import { unary } from "./grpc.ts";
import { type PartitionItem, routeByLeader } from "./routing.ts";

/** What to look up: the log start, the high watermark, or a timestamp (ms). */
export type OffsetQuery = "earliest" | "latest" | { readonly timestamp: bigint };

/** One partition and what to look up. */
export interface OffsetLookup extends PartitionItem {
  /** What to look up. */
  readonly query: OffsetQuery;
}

/** The answer: the offset (-1n when no batch has a timestamp at or after the one asked). */
export interface OffsetAnswer {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The offset found, or -1n. */
  readonly offset: bigint;
  /** The timestamp of the batch found (timestamp lookups), else -1n. */
  readonly timestamp: bigint;
}

function specOf(query: OffsetQuery): {
  spec: "OFFSET_SPEC_EARLIEST" | "OFFSET_SPEC_LATEST" | "OFFSET_SPEC_BY_TIMESTAMP";
  timestampMs: string;
} {
  if (query === "earliest") return { spec: "OFFSET_SPEC_EARLIEST", timestampMs: "0" };
  if (query === "latest") return { spec: "OFFSET_SPEC_LATEST", timestampMs: "0" };
  return { spec: "OFFSET_SPEC_BY_TIMESTAMP", timestampMs: String(query.timestamp) };
}

/** Looks offsets up at each partition's leader, with the routing layer's retries. */
export async function listOffsets(
  ctx: ClientContext,
  lookups: readonly OffsetLookup[],
  options: { readonly signal?: AbortSignal | undefined; readonly deadlineMs: number },
): Promise<OffsetAnswer[]> {
  const answers = await routeByLeader<OffsetLookup, ListOffsetsPartitionResult__Output>(
    ctx,
    lookups,
    async (connection, items, signal) => {
      const byTopic = new Map<string, OffsetLookup[]>();
      for (const i of items) byTopic.set(i.topic, [...(byTopic.get(i.topic) ?? []), i]);
      const response = await unary<ListOffsetsResponse__Output>(
        (o, cb) =>
          connection.fetch.ListOffsets(
            {
              isolationLevel: "ISOLATION_LEVEL_READ_UNCOMMITTED",
              topics: [...byTopic].map(([topic, list]) => ({
                topic,
                partitions: list.map((i) => {
                  const epoch = ctx.metadata.leader(i.topic, i.partition)?.leaderEpoch;
                  return {
                    partition: i.partition,
                    ...specOf(i.query),
                    ...(epoch === undefined ? {} : { currentLeaderEpoch: epoch }),
                  };
                }),
              })),
            },
            o,
            cb,
          ),
        {
          address: connection.address,
          method: "ListOffsets",
          timeoutMs: ctx.requestTimeoutMs,
          signal,
        },
      );
      return items.map((i) => {
        const t = response.topics.find((x) => x.topic === i.topic);
        const p = t?.partitions.find((x) => x.partition === i.partition);
        return (
          p ?? {
            partition: i.partition,
            errorCode: -1,
            errorMessage: `${connection.address} sent no answer for ${i.topic}-${i.partition}`,
            offset: "-1",
            timestampMs: "-1",
            leaderEpoch: -1,
            leaderHint: null,
          }
        );
      });
    },
    { what: "ListOffsets", deadlineMs: options.deadlineMs, signal: options.signal },
  );
  return answers.map((a, k) => ({
    topic: lookups[k]!.topic,
    partition: lookups[k]!.partition,
    offset: BigInt(a.offset),
    timestamp: BigInt(a.timestampMs),
  }));
}
