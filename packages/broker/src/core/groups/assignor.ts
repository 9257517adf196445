/**
 * Server-side assignors (KIP-848): `uniform` keeps every partition with its previous owner
 * when it can and moves only what balance requires; `range` gives each member a contiguous
 * range of every topic it subscribes to. Both are deterministic functions of their input.
 */
import { assert } from "@strand/base";
import { fromKeys, keyOf, keysOf, type PartitionKey, splitKey } from "./partitions.ts";
import type { AssignorName, TopicPartitions } from "./records.ts";
import type { TopicsMetadata } from "./topics.ts";

/** What an assignor decides from. */
export interface AssignmentInput {
  /** Member id -> the existing topics it subscribes to. */
  readonly members: ReadonlyMap<string, readonly string[]>;
  readonly topics: TopicsMetadata;
  /** The previous target assignment (stickiness). */
  readonly previous: ReadonlyMap<string, TopicPartitions>;
}

/** Runs the named assignor; every member of the input gets an entry (maybe empty). */
export function assignPartitions(
  name: AssignorName,
  input: AssignmentInput,
): Map<string, TopicPartitions> {
  return name === "range" ? rangeAssign(input) : uniformAssign(input);
}

/** Range: per topic, members sorted by id, contiguous ranges, the first ones one larger. */
export function rangeAssign(input: AssignmentInput): Map<string, TopicPartitions> {
  const owned = new Map<string, PartitionKey[]>();
  for (const id of input.members.keys()) owned.set(id, []);
  const byTopic = new Map<string, string[]>();
  for (const [id, topics] of input.members)
    for (const t of topics) byTopic.set(t, [...(byTopic.get(t) ?? []), id]);
  for (const [topic, ids] of byTopic) {
    const count = input.topics.get(topic) ?? 0;
    const sorted = [...ids].sort();
    const base = Math.floor(count / sorted.length);
    const extra = count % sorted.length;
    let next = 0;
    sorted.forEach((id, i) => {
      const n = base + (i < extra ? 1 : 0);
      for (let p = next; p < next + n; p++) owned.get(id)?.push(keyOf(topic, p));
      next += n;
    });
  }
  return new Map([...owned].map(([id, keys]) => [id, fromKeys(keys)]));
}

/**
 * Uniform: (1) every member keeps the previous partitions it still subscribes to; (2) each
 * unowned partition goes to the least-loaded member subscribed to its topic; (3) while some
 * member holds at least two more partitions than another member that could take one of them,
 * one partition moves from the most loaded to the least loaded. With identical subscriptions
 * this ends with counts differing by at most one and moves only the surplus.
 */
export function uniformAssign(input: AssignmentInput): Map<string, TopicPartitions> {
  const ids = [...input.members.keys()].sort();
  const subscribed = new Map(ids.map((id) => [id, new Set(input.members.get(id))]));
  const owner = new Map<PartitionKey, string>();
  const owned = new Map<string, Set<PartitionKey>>(ids.map((id) => [id, new Set()]));
  const all = allPartitions(input, subscribed);
  for (const id of ids) {
    for (const key of keysOf(input.previous.get(id) ?? new Map())) {
      if (!all.has(key) || owner.has(key)) continue;
      if (!subscribed.get(id)?.has(splitKey(key).topic)) continue;
      owner.set(key, id);
      owned.get(id)?.add(key);
    }
  }
  for (const key of [...all].sort(comparePartitionKeys)) {
    if (owner.has(key)) continue;
    const topic = splitKey(key).topic;
    const to = leastLoaded(ids, owned, (id) => subscribed.get(id)?.has(topic) === true);
    assert(to !== null, "a subscribed partition has a subscriber");
    owner.set(key, to);
    owned.get(to)?.add(key);
  }
  rebalance(ids, owned, subscribed);
  return new Map(ids.map((id) => [id, fromKeys(owned.get(id) ?? [])]));
}

function allPartitions(
  input: AssignmentInput,
  subscribed: ReadonlyMap<string, ReadonlySet<string>>,
): Set<PartitionKey> {
  const topics = new Set<string>();
  for (const s of subscribed.values()) for (const t of s) topics.add(t);
  const all = new Set<PartitionKey>();
  for (const t of topics) {
    const count = input.topics.get(t) ?? 0;
    for (let p = 0; p < count; p++) all.add(keyOf(t, p));
  }
  return all;
}

function leastLoaded(
  ids: readonly string[],
  owned: ReadonlyMap<string, ReadonlySet<PartitionKey>>,
  eligible: (id: string) => boolean,
): string | null {
  let best: string | null = null;
  for (const id of ids) {
    if (!eligible(id)) continue;
    if (best === null || (owned.get(id)?.size ?? 0) < (owned.get(best)?.size ?? 0)) best = id;
  }
  return best;
}

/** Step (3) of {@link uniformAssign}; each move lowers the sum of squared counts, so it ends. */
function rebalance(
  ids: readonly string[],
  owned: Map<string, Set<PartitionKey>>,
  subscribed: ReadonlyMap<string, ReadonlySet<string>>,
): void {
  for (;;) {
    const byLoad = [...ids].sort(
      (a, b) => (owned.get(b)?.size ?? 0) - (owned.get(a)?.size ?? 0) || (a < b ? -1 : 1),
    );
    if (!moveOne(byLoad, owned, subscribed)) return;
  }
}

function moveOne(
  byLoad: readonly string[],
  owned: Map<string, Set<PartitionKey>>,
  subscribed: ReadonlyMap<string, ReadonlySet<string>>,
): boolean {
  for (const from of byLoad) {
    const fromSet = owned.get(from) ?? new Set<PartitionKey>();
    for (const to of [...byLoad].reverse()) {
      const toSet = owned.get(to) ?? new Set<PartitionKey>();
      if (fromSet.size - toSet.size < 2) break;
      // The highest partition moves: deterministic, and leaves low partitions in place.
      const candidate = [...fromSet]
        .sort(comparePartitionKeys)
        .reverse()
        .find((k) => subscribed.get(to)?.has(splitKey(k).topic) === true);
      if (candidate === undefined) continue;
      fromSet.delete(candidate);
      toSet.add(candidate);
      return true;
    }
  }
  return false;
}

function comparePartitionKeys(a: PartitionKey, b: PartitionKey): number {
  const x = splitKey(a);
  const y = splitKey(b);
  if (x.topic !== y.topic) return x.topic < y.topic ? -1 : 1;
  return x.partition - y.partition;
}
