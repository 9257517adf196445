// Goal: replaying metadata costs what changed, not the size of the cluster. A topic of P
// partitions replays in O(P) (it took O(P^2): a 10,000-partition CreateTopics held the
// controller at 100% CPU for minutes), readers' images never change under them, and the
// broker -> partitions index the elections use always equals a full scan.
import { describe, expect, it } from "vitest";
import { changesForLeavingBrokers } from "../src/election.ts";
import { applyBatch, EMPTY_IMAGE, type MetadataImage } from "../src/image.ts";
import { brokerIndexViolations } from "../src/queries.ts";
import type { MetadataRecord } from "../src/records.ts";
import {
  type BrokerId,
  brokerEpoch,
  brokerId,
  leaderEpoch,
  metadataOffset,
  partitionEpoch,
  topicId,
} from "../src/types.ts";
import { prng } from "./helpers.ts";

const BROKERS = [1, 2, 3, 4, 5].map(brokerId);

function withBrokers(): MetadataImage {
  const records: MetadataRecord[] = BROKERS.map((id) => ({
    type: "registerBroker",
    brokerId: id,
    incarnationId: `inc-${id}`,
    listeners: [],
    rack: null,
    fenced: false,
    brokerEpoch: brokerEpoch(id),
    inControlledShutdown: false,
  }));
  return applyBatch(EMPTY_IMAGE, records, { offset: metadataOffset(1), epoch: 1 }).image;
}

function topicRecords(name: string, partitions: number, n = partitions): MetadataRecord[] {
  const id = topicId(`00000000-0000-8000-8000-${String(n).padStart(12, "0")}`);
  const out: MetadataRecord[] = [{ type: "topic", name, topicId: id }];
  for (let p = 0; p < partitions; p++) {
    const replicas = [0, 1, 2].map((i) => BROKERS[(p + i) % BROKERS.length]!);
    out.push({
      type: "partition",
      topicId: id,
      partition: p,
      replicas,
      isr: replicas,
      leader: replicas[0]!,
      leaderEpoch: leaderEpoch(0),
      partitionEpoch: partitionEpoch(0),
    });
  }
  return out;
}

/** Best of five wall times of replaying `records` as one batch. */
function replayMs(base: MetadataImage, records: readonly MetadataRecord[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    applyBatch(base, records, { offset: metadataOffset(2), epoch: 1 });
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

describe("metadata image at scale", () => {
  it("replays a topic's partitions in time linear in their number", () => {
    const base = withBrokers();
    // The same 8,000 partitions as 32 topics and as one: equal work when replay is linear;
    // ~32x more copying for the single topic when each record copies its topic's partition
    // map. The bound leaves room for GC pauses on a loaded machine (seen: up to ~4x).
    const many = Array.from({ length: 32 }, (_, i) => topicRecords(`t${i}`, 250, i)).flat();
    const one = topicRecords("t", 8_000);
    replayMs(base, many); // warm up the JIT
    expect(replayMs(base, one) / Math.max(replayMs(base, many), 1)).toBeLessThan(8);
    // ~0.1 s here; the quadratic replay took tens of seconds.
    expect(replayMs(base, topicRecords("t", 10_000))).toBeLessThan(2_000);
  });

  it("never changes an image a reader holds, and refuses replay after apply", () => {
    const base = withBrokers();
    const first = applyBatch(base, topicRecords("t", 10), {
      offset: metadataOffset(2),
      epoch: 1,
    });
    const before = first.image.topicsByName.get("t")!;
    const id = before.id;
    const second = applyBatch(
      first.image,
      [
        {
          type: "partitionChange",
          topicId: id,
          partition: 3,
          isr: before.partitions.get(3)!.replicas.slice(0, 1),
        },
      ],
      { offset: metadataOffset(3), epoch: 1 },
    );
    expect(first.image.topicsByName.get("t")).toBe(before);
    expect(before.partitions.get(3)!.isr).toHaveLength(3);
    expect(second.image.topicsByName.get("t")!.partitions.get(3)!.isr).toHaveLength(1);
    expect(() => first.delta.replay({ type: "noOp" }, metadataOffset(4))).toThrow(/after apply/);
  });

  it("keeps the broker index equal to a full scan under random replays", () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rng = prng(seed);
      let image = withBrokers();
      let offset = 2;
      const topics: { id: ReturnType<typeof topicId>; name: string }[] = [];
      for (let step = 0; step < 200; step++) {
        const records = randomBatch(image, rng, topics, step);
        image = applyBatch(image, records, { offset: metadataOffset(offset++), epoch: 1 }).image;
        expect(brokerIndexViolations(image), `seed ${seed} step ${step}`).toEqual([]);
      }
    }
  });

  it("elects for a fenced broker from the index: the same changes as a full scan", () => {
    let image = withBrokers();
    image = applyBatch(image, topicRecords("t", 50), { offset: metadataOffset(2), epoch: 1 }).image;
    const leaving = new Set([brokerId(2)]);
    const changes = changesForLeavingBrokers(image, leaving);
    let scanned = 0;
    for (const p of image.topicsByName.get("t")!.partitions.values()) {
      if (p.replicas.includes(brokerId(2))) scanned++;
    }
    expect(changes).toHaveLength(scanned);
    expect(changes.every((c) => c.isr !== undefined && !c.isr.includes(brokerId(2)))).toBe(true);
  });
});

function randomReplicas(rng: ReturnType<typeof prng>): BrokerId[] {
  const pool = [...BROKERS];
  const out: BrokerId[] = [];
  const n = 1 + rng.int(3);
  while (out.length < n) out.push(pool.splice(rng.int(pool.length), 1)[0]!);
  return out;
}

function randomBatch(
  image: MetadataImage,
  rng: ReturnType<typeof prng>,
  topics: { id: ReturnType<typeof topicId>; name: string }[],
  step: number,
): MetadataRecord[] {
  const roll = rng.int(10);
  const live = topics.filter((t) => image.topicsById.has(t.id));
  if (roll < 3 || live.length === 0) {
    const id = topicId(`00000000-0000-8000-8000-${String(step).padStart(12, "0")}`);
    const name = `t${step}`;
    topics.push({ id, name });
    const out: MetadataRecord[] = [{ type: "topic", name, topicId: id }];
    for (let p = 0; p < 1 + rng.int(5); p++) {
      const replicas = randomReplicas(rng);
      out.push({
        type: "partition",
        topicId: id,
        partition: p,
        replicas,
        isr: replicas,
        leader: replicas[0]!,
        leaderEpoch: leaderEpoch(0),
        partitionEpoch: partitionEpoch(0),
      });
    }
    // Sometimes move a partition in the batch that creates the topic.
    if (rng.int(2) === 0) {
      const replicas = randomReplicas(rng);
      out.push({
        type: "partitionChange",
        topicId: id,
        partition: 0,
        replicas,
        isr: replicas,
        leader: replicas[0]!,
      });
    }
    return out;
  }
  const t = live[rng.int(live.length)]!;
  if (roll < 4) return [{ type: "removeTopic", topicId: t.id }];
  const out: MetadataRecord[] = [];
  const topic = image.topicsById.get(t.id)!;
  for (let i = 0; i < 1 + rng.int(3); i++) {
    const replicas = randomReplicas(rng);
    const partition = rng.int(topic.partitions.size);
    out.push({
      type: "partitionChange",
      topicId: t.id,
      partition,
      replicas,
      isr: replicas,
      leader: replicas[0]!,
    });
  }
  return out;
}
