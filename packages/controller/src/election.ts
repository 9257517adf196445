/**
 * Partition leader election and ISR changes when brokers leave (fenced, controlled shutdown,
 * unregistered) or come back (unfenced), and preferred-leader rebalancing. Pure functions of
 * the image; they return PartitionChange records and never change state.
 *
 * Rules (Kafka KRaft's PartitionChangeBuilder):
 * - a leaving broker is removed from the ISR, unless that would empty it: then the ISR keeps
 *   its last member, so the partition can come back without data loss when that broker does;
 * - the leader stays if it is still eligible; otherwise the new leader is the first replica in
 *   replica order that is in the (new) ISR and eligible; the leader epoch is bumped;
 * - with no such replica the partition has no leader, unless unclean election is enabled for
 *   the topic: then the first eligible replica leads and the ISR becomes just that replica.
 */
import { assert } from "@strand/base";
import type { MetadataImage, PartitionRegistration, TopicImage } from "./image.ts";
import { configResourceKey } from "./image.ts";
import type { PartitionChangeRecord } from "./records.ts";
import type { BrokerId } from "./types.ts";
import { UNCLEAN_LEADER_ELECTION } from "./validation.ts";

/** Whether a broker may lead a partition or join an ISR. */
export type Eligibility = (id: BrokerId) => boolean;

/** Eligible = registered, unfenced, not shutting down, and not in `leaving`. */
export function eligibleIn(image: MetadataImage, leaving: ReadonlySet<BrokerId>): Eligibility {
  return (id) => {
    const b = image.brokers.get(id);
    return b !== undefined && !b.fenced && !b.inControlledShutdown && !leaving.has(id);
  };
}

/** Whether unclean leader election is enabled for a topic (topic, then cluster, then false). */
export function uncleanElectionEnabled(image: MetadataImage, topicName: string): boolean {
  const topicValue = image.configs
    .get(configResourceKey({ type: "topic", name: topicName }))
    ?.get(UNCLEAN_LEADER_ELECTION);
  const value =
    topicValue ??
    image.configs
      .get(configResourceKey({ type: "cluster", name: "" }))
      ?.get(UNCLEAN_LEADER_ELECTION);
  return value === "true";
}

/** Input of {@link partitionChange}. */
export interface ChangeRules {
  /** Brokers to take out of the ISR (never emptying it). */
  readonly removeFromIsr: ReadonlySet<BrokerId>;
  /** Who may lead or stay in the ISR. */
  readonly eligible: Eligibility;
  /** Whether a replica outside the ISR may be elected. */
  readonly unclean: boolean;
}

function sameList(a: readonly BrokerId[], b: readonly BrokerId[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The PartitionChange for one partition under `rules`, or null when nothing changes. */
export function partitionChange(
  p: PartitionRegistration,
  rules: ChangeRules,
): PartitionChangeRecord | null {
  let isr: readonly BrokerId[] = p.isr.filter((b) => !rules.removeFromIsr.has(b));
  if (isr.length === 0) isr = p.isr.slice(-1);
  let leader: BrokerId | null = null;
  if (p.leader !== null && rules.eligible(p.leader) && isr.includes(p.leader)) {
    leader = p.leader;
  } else {
    leader = p.replicas.find((b) => isr.includes(b) && rules.eligible(b)) ?? null;
    if (leader === null && rules.unclean) {
      leader = p.replicas.find(rules.eligible) ?? null;
      if (leader !== null) isr = [leader];
    }
  }
  assert(leader === null || isr.includes(leader), `leader ${leader} outside the ISR ${isr}`);
  assert(
    isr.every((b) => p.replicas.includes(b)),
    `ISR ${isr} outside the replicas ${p.replicas}`,
  );
  const leaderChanged = leader !== p.leader;
  const isrChanged = !sameList(isr, p.isr);
  if (!leaderChanged && !isrChanged) return null;
  return {
    type: "partitionChange",
    topicId: p.topicId,
    partition: p.partition,
    ...(leaderChanged ? { leader } : {}),
    ...(isrChanged ? { isr } : {}),
  };
}

function* partitionsOf(image: MetadataImage): Generator<[TopicImage, PartitionRegistration]> {
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions.values()) yield [topic, p];
  }
}

/**
 * The partitions that list any of `brokers` as a replica, each once, from the image's
 * broker index: a fence costs the fenced broker's partitions, not the cluster's.
 */
export function* partitionsOfBrokers(
  image: MetadataImage,
  brokers: ReadonlySet<BrokerId>,
): Generator<[TopicImage, PartitionRegistration]> {
  const seen = new Set<string>();
  for (const b of brokers) {
    for (const [key, { topicId, partition }] of image.partitionsByBroker.get(b) ?? []) {
      if (seen.has(key)) continue;
      seen.add(key);
      const topic = image.topicsById.get(topicId);
      assert(topic !== undefined, `broker index names missing topic of ${key}`);
      const p = topic.partitions.get(partition);
      assert(p !== undefined, `broker index names missing ${key}`);
      yield [topic, p];
    }
  }
}

/**
 * Leader moves and ISR shrinks for brokers that leave (fenced, shutting down, unregistering):
 * one PartitionChange per affected partition, for the same batch as the brokers' records.
 * `unclean: false` forces clean elections (controlled shutdown never elects out of the ISR).
 */
export function changesForLeavingBrokers(
  image: MetadataImage,
  leaving: ReadonlySet<BrokerId>,
  options: { readonly allowUnclean: boolean } = { allowUnclean: true },
): PartitionChangeRecord[] {
  const eligible = eligibleIn(image, leaving);
  const out: PartitionChangeRecord[] = [];
  for (const [topic, p] of partitionsOfBrokers(image, leaving)) {
    const affected =
      (p.leader !== null && leaving.has(p.leader)) || p.isr.some((b) => leaving.has(b));
    if (!affected) continue;
    const unclean = options.allowUnclean && uncleanElectionEnabled(image, topic.name);
    const change = partitionChange(p, { removeFromIsr: leaving, eligible, unclean });
    if (change !== null) out.push(change);
    // The batch that fences (or shuts down, or removes) a broker leaves it leading nothing.
    const leader = change?.leader !== undefined ? change.leader : p.leader;
    assert(leader === null || !leaving.has(leader), `leaving broker ${leader} still leads`);
  }
  return out;
}

/**
 * Elections for partitions without a leader, e.g. after a broker is unfenced or unclean
 * election is enabled. `eligible` reflects the state after the batch's broker records.
 * `among`: only partitions these brokers replicate (from the broker index), when only they
 * became eligible (an unfence); otherwise every partition.
 */
export function electOfflinePartitions(
  image: MetadataImage,
  eligible: Eligibility,
  among?: ReadonlySet<BrokerId>,
): PartitionChangeRecord[] {
  const out: PartitionChangeRecord[] = [];
  const none = new Set<BrokerId>();
  const candidates = among === undefined ? partitionsOf(image) : partitionsOfBrokers(image, among);
  for (const [topic, p] of candidates) {
    if (p.leader !== null) continue;
    const unclean = uncleanElectionEnabled(image, topic.name);
    const change = partitionChange(p, { removeFromIsr: none, eligible, unclean });
    if (change?.leader !== undefined && change.leader !== null) out.push(change);
  }
  return out;
}

/**
 * Preferred-leader rebalancing: moves leadership back to each partition's first replica when
 * that replica is eligible and in the ISR.
 */
export function preferredLeaderChanges(image: MetadataImage): PartitionChangeRecord[] {
  const eligible = eligibleIn(image, new Set());
  const out: PartitionChangeRecord[] = [];
  for (const [, p] of partitionsOf(image)) {
    const preferred = p.replicas[0];
    if (preferred === undefined || preferred === p.leader) continue;
    if (!eligible(preferred) || !p.isr.includes(preferred)) continue;
    out.push({
      type: "partitionChange",
      topicId: p.topicId,
      partition: p.partition,
      leader: preferred,
    });
  }
  return out;
}
