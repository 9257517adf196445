/**
 * Helpers the Produce and Fetch services share for multi-partition requests: grouping
 * partitions by topic for the wire, and putting results back in request order.
 */
import { ErrorCode } from "@strand/protocol";
import type { PartitionError } from "../replica/types.ts";
import { partitionError } from "./wire.ts";

/** Orders results like `items` (matched by topic and partition); a missing one is UNKNOWN. */
export function alignByKey<
  T extends { topic: string; partition: number },
  R extends { topic: string; partition: number },
>(items: readonly T[], results: readonly R[], missing: (item: T, error: PartitionError) => R): R[] {
  // The usual case, results already in the items' order, needs no map or key strings.
  if (results.length === items.length && sameKeys(items, results)) return results.slice();
  const byKey = new Map(results.map((r) => [`${r.topic}\u0000${r.partition}`, r]));
  return items.map(
    (item) =>
      byKey.get(`${item.topic}\u0000${item.partition}`) ??
      missing(
        item,
        partitionError(ErrorCode.UNKNOWN, `no result for ${item.topic}-${item.partition}`),
      ),
  );
}

function sameKeys(
  items: readonly { topic: string; partition: number }[],
  results: readonly { topic: string; partition: number }[],
): boolean {
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const result = results[i]!;
    if (item.topic !== result.topic || item.partition !== result.partition) return false;
  }
  return true;
}

/** Groups items by topic, keeping first-seen topic order. */
export function groupByTopic<T extends { topic: string }, P>(
  items: readonly T[],
  map: (item: T) => P,
): [string, P[]][] {
  // One topic (the usual request) needs no map.
  if (items.length > 0 && items.every((item) => item.topic === items[0]!.topic))
    return [[items[0]!.topic, items.map(map)]];
  const groups = new Map<string, P[]>();
  for (const item of items) {
    const list = groups.get(item.topic) ?? [];
    list.push(map(item));
    groups.set(item.topic, list);
  }
  return [...groups.entries()];
}
