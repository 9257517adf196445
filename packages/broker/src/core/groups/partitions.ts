/**
 * Set algebra on {@link TopicPartitions}. A partition is keyed as "topic\u0000partition"
 * inside the helpers (topic names never hold NUL); results are normalized: topics sorted,
 * partitions sorted ascending, no empty topic lists.
 */
import type { TopicPartitions } from "./records.ts";

/** "topic\u0000partition". */
export type PartitionKey = string;

/** The key of one partition. */
export function keyOf(topic: string, partition: number): PartitionKey {
  return `${topic}\u0000${partition}`;
}

/** Splits a key back into topic and partition. */
export function splitKey(key: PartitionKey): { topic: string; partition: number } {
  const at = key.lastIndexOf("\u0000");
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

/** Every partition of `tp` as keys. */
export function keysOf(tp: TopicPartitions): Set<PartitionKey> {
  const keys = new Set<PartitionKey>();
  for (const [topic, partitions] of tp) for (const p of partitions) keys.add(keyOf(topic, p));
  return keys;
}

/** Builds normalized TopicPartitions from keys. */
export function fromKeys(keys: Iterable<PartitionKey>): TopicPartitions {
  const byTopic = new Map<string, number[]>();
  for (const key of keys) {
    const { topic, partition } = splitKey(key);
    let list = byTopic.get(topic);
    if (list === undefined) {
      list = [];
      byTopic.set(topic, list);
    }
    list.push(partition);
  }
  const sorted = [...byTopic.keys()].sort();
  return new Map(sorted.map((t) => [t, [...new Set(byTopic.get(t))].sort((a, b) => a - b)]));
}

/** Normalizes (sorts, dedupes, drops empty topics). */
export function normalize(tp: TopicPartitions): TopicPartitions {
  return fromKeys(keysOf(tp));
}

/** Number of partitions. */
export function sizeOf(tp: TopicPartitions): number {
  let n = 0;
  for (const partitions of tp.values()) n += partitions.length;
  return n;
}

/** Same partitions? */
export function samePartitions(a: TopicPartitions, b: TopicPartitions): boolean {
  const ka = keysOf(a);
  const kb = keysOf(b);
  if (ka.size !== kb.size) return false;
  for (const k of ka) if (!kb.has(k)) return false;
  return true;
}

/** a \ b. */
export function minus(a: TopicPartitions, b: TopicPartitions): TopicPartitions {
  const kb = keysOf(b);
  return fromKeys([...keysOf(a)].filter((k) => !kb.has(k)));
}

/** a ∩ b. */
export function intersect(a: TopicPartitions, b: TopicPartitions): TopicPartitions {
  const kb = keysOf(b);
  return fromKeys([...keysOf(a)].filter((k) => kb.has(k)));
}

/** a ∪ b. */
export function union(a: TopicPartitions, b: TopicPartitions): TopicPartitions {
  return fromKeys([...keysOf(a), ...keysOf(b)]);
}

/** Is every partition of a in b? */
export function isSubset(a: TopicPartitions, b: TopicPartitions): boolean {
  const kb = keysOf(b);
  for (const k of keysOf(a)) if (!kb.has(k)) return false;
  return true;
}

/** The empty set. */
export const NO_PARTITIONS: TopicPartitions = new Map();
