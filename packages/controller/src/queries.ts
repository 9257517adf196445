/**
 * Read-only queries over an image: describe calls, the per-broker view of a delta (which
 * partitions this broker now leads, follows or dropped), and an invariant checker used by
 * tests and the simulator.
 */
import {
  type BrokerRegistration,
  configResourceKey,
  type MetadataDelta,
  type MetadataImage,
  type PartitionRegistration,
  partitionKey,
} from "./image.ts";
import type { ConfigResource } from "./records.ts";
import type { BrokerId } from "./types.ts";
import { TOPIC_CONFIGS } from "./validation.ts";

/** A topic as describe calls show it. */
export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: readonly PartitionRegistration[];
}

/** Describes a topic by name, or null when it does not exist. */
export function describeTopic(image: MetadataImage, name: string): TopicDescription | null {
  const topic = image.topicsByName.get(name);
  if (topic === undefined) return null;
  const partitions = [...topic.partitions.values()].sort((a, b) => a.partition - b.partition);
  return { name: topic.name, topicId: topic.id, partitions };
}

/** The topic names, sorted. */
export function listTopics(image: MetadataImage): string[] {
  return [...image.topicsByName.keys()].sort();
}

/** The brokers with their state, sorted by id. */
export function describeCluster(image: MetadataImage): BrokerRegistration[] {
  return [...image.brokers.values()].sort((a, b) => a.id - b.id);
}

/** One config entry with where its value comes from. */
export interface ConfigEntry {
  readonly key: string;
  readonly value: string;
  readonly source: "topic" | "broker" | "cluster" | "default";
}

/** The effective configs of a resource: its own values, then cluster values, then defaults. */
export function describeConfigs(image: MetadataImage, resource: ConfigResource): ConfigEntry[] {
  const own = image.configs.get(configResourceKey(resource));
  const cluster = image.configs.get(configResourceKey({ type: "cluster", name: "" }));
  const out: ConfigEntry[] = [];
  for (const [key, def] of [...TOPIC_CONFIGS].sort(([a], [b]) => a.localeCompare(b))) {
    const mine = own?.get(key);
    const shared = cluster?.get(key);
    if (mine !== undefined) out.push({ key, value: mine, source: resource.type });
    else if (shared !== undefined) out.push({ key, value: shared, source: "cluster" });
    else out.push({ key, value: def.defaultValue, source: "default" });
  }
  return out;
}

/** What a delta means for one broker's replicas. */
export interface LocalChanges {
  /** Partitions this broker now leads (new or changed). */
  readonly leaders: readonly PartitionRegistration[];
  /** Partitions this broker now follows (new or changed). */
  readonly followers: readonly PartitionRegistration[];
  /** Partitions whose replica this broker must delete (topic removed or reassigned away). */
  readonly deleted: readonly PartitionRegistration[];
}

/** The partitions of `delta` that concern `brokerId`, against the image the delta produced. */
export function localChanges(
  delta: MetadataDelta,
  image: MetadataImage,
  brokerId: BrokerId,
): LocalChanges {
  const leaders: PartitionRegistration[] = [];
  const followers: PartitionRegistration[] = [];
  const deleted: PartitionRegistration[] = [];
  for (const topic of delta.deletedTopics.values()) {
    for (const p of topic.partitions.values()) if (p.replicas.includes(brokerId)) deleted.push(p);
  }
  for (const [topicId, numbers] of delta.changedPartitions) {
    for (const n of numbers) {
      const now = image.topicsById.get(topicId)?.partitions.get(n);
      const before = delta.base.topicsById.get(topicId)?.partitions.get(n);
      if (now === undefined) continue;
      if (now.replicas.includes(brokerId))
        (now.leader === brokerId ? leaders : followers).push(now);
      else if (before?.replicas.includes(brokerId)) deleted.push(now);
    }
  }
  return { leaders, followers, deleted };
}

/** Returns every broken invariant of an image (empty when consistent). */
export function imageViolations(image: MetadataImage): string[] {
  const out: string[] = [];
  for (const topic of image.topicsById.values()) {
    if (image.topicsByName.get(topic.name) !== topic) out.push(`topic ${topic.name}: name index`);
    for (const p of topic.partitions.values()) {
      const at = `${topic.name}-${p.partition}`;
      if (p.isr.length === 0) out.push(`${at}: empty ISR`);
      if (new Set(p.replicas).size !== p.replicas.length) out.push(`${at}: repeated replica`);
      if (!p.isr.every((b) => p.replicas.includes(b))) out.push(`${at}: ISR outside replicas`);
      if (p.leader === null) continue;
      if (!p.isr.includes(p.leader)) out.push(`${at}: leader outside the ISR`);
      const b = image.brokers.get(p.leader);
      if (b === undefined || b.fenced) out.push(`${at}: leader ${p.leader} fenced or unknown`);
    }
  }
  if (image.topicsByName.size !== image.topicsById.size) out.push("topic indexes differ in size");
  out.push(...brokerIndexViolations(image));
  return out;
}

/** Differences between the image's broker index and a full scan of the partitions. */
export function brokerIndexViolations(image: MetadataImage): string[] {
  const scan = new Map<BrokerId, Set<string>>();
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions.values()) {
      for (const b of p.replicas) {
        const keys = scan.get(b) ?? new Set<string>();
        scan.set(b, keys.add(partitionKey(p.topicId, p.partition)));
      }
    }
  }
  const out: string[] = [];
  for (const b of new Set([...scan.keys(), ...image.partitionsByBroker.keys()])) {
    const want = [...(scan.get(b) ?? [])].sort();
    const have = [...(image.partitionsByBroker.get(b)?.keys() ?? [])].sort();
    if (want.join() !== have.join()) out.push(`broker ${b}: index ${have} but replicas ${want}`);
  }
  return out;
}
