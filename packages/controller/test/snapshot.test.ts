// Goal: a snapshot (the image written as records) taken at any offset, loaded and followed by
// the log's tail, gives exactly the image of a full replay; also after a round trip through
// the byte codec. A seeded generator of operation sequences (registrations, heartbeats,
// fencing by timeout, topics, ISR changes, configs, shutdowns, producer ids) checks it at
// every offset, with the image invariants checked after every batch. A failing seed is
// printed and replays exactly.
import { describe, expect, it } from "vitest";
import { decodeMetadataBatch, encodeMetadataBatch } from "../src/codec.ts";
import { applyBatch, EMPTY_IMAGE, type MetadataImage, replay } from "../src/image.ts";
import { imageToRecords, loadSnapshot } from "../src/snapshot.ts";
import { type BrokerId, brokerId, metadataOffset } from "../src/types.ts";
import { type LoggedBatch, prng, TestCluster } from "./helpers.ts";

function replayLog(batches: readonly LoggedBatch[], from: MetadataImage): MetadataImage {
  let image = from;
  for (const b of batches) {
    image = applyBatch(image, b.records, { offset: metadataOffset(b.offset), epoch: 1 }).image;
  }
  return image;
}

/** Checks snapshot-at-every-offset + tail == full replay for a log. */
function checkSnapshots(log: readonly LoggedBatch[]): void {
  const full = replayLog(log, EMPTY_IMAGE);
  let prefix = EMPTY_IMAGE;
  for (let i = 0; i <= log.length; i++) {
    const records = decodeMetadataBatch(encodeMetadataBatch(imageToRecords(prefix)));
    const loaded = loadSnapshot(records, { offset: prefix.offset, epoch: prefix.epoch });
    expect(loaded).toEqual(prefix);
    expect(replayLog(log.slice(i), loaded)).toEqual(full);
    const next = log[i];
    if (next !== undefined) prefix = replayLog([next], prefix);
  }
}

type Rng = ReturnType<typeof prng>;

function pick<T>(rng: Rng, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[rng.int(items.length)];
}

/** One random operation against the cluster at nowMs. */
function randomOp(c: TestCluster, rng: Rng, nowMs: number): void {
  const brokers = [...c.image.brokers.values()];
  const live = brokers.filter((b) => !b.fenced);
  const roll = rng.int(100);
  if (roll < 12) {
    const id = 1 + rng.int(6);
    c.run(
      {
        type: "registerBroker",
        brokerId: brokerId(id),
        incarnationId: `inc-${id}-${rng.int(3)}`,
        listeners: [{ name: "internal", host: "127.0.0.1", port: 9000 + id }],
        rack: pick(rng, ["a", "b", "c", null]) ?? null,
      },
      nowMs,
    );
  } else if (roll < 45) {
    const b = pick(rng, brokers);
    if (b === undefined) return;
    c.run(
      {
        type: "brokerHeartbeat",
        brokerId: b.id,
        brokerEpoch: b.epoch,
        metadataOffset: c.image.offset,
        wantFence: rng.int(20) === 0,
        wantShutdown: rng.int(25) === 0,
      },
      nowMs,
    );
  } else if (roll < 55) {
    c.tick(nowMs);
  } else if (roll < 65) {
    const name = pick(rng, ["a", "b", "c", "d", "e"])!;
    c.createTopic(
      name,
      1 + rng.int(4),
      1 + rng.int(3),
      rng.int(3) === 0 ? { "unclean.leader.election.enable": "true" } : {},
    );
  } else if (roll < 70) {
    const name = pick(rng, [...c.image.topicsByName.keys()]);
    if (name !== undefined) c.run({ type: "deleteTopic", name }, nowMs);
  } else if (roll < 85) {
    alterRandomIsr(c, rng, nowMs);
  } else if (roll < 90) {
    c.run({ type: "electPreferredLeaders" }, nowMs);
  } else if (roll < 94) {
    const b = pick(rng, live);
    if (b !== undefined)
      c.run({ type: "allocateProducerIds", brokerId: b.id, brokerEpoch: b.epoch }, nowMs);
  } else if (roll < 98) {
    c.run(
      {
        type: "alterConfigs",
        resource: { type: "cluster", name: "" },
        changes: [
          {
            key: "unclean.leader.election.enable",
            value: pick(rng, ["true", "false", null]) ?? null,
          },
        ],
      },
      nowMs,
    );
  } else {
    const b = pick(rng, brokers);
    if (b !== undefined) c.run({ type: "unregisterBroker", brokerId: b.id }, nowMs);
  }
}

function alterRandomIsr(c: TestCluster, rng: Rng, nowMs: number): void {
  const partitions = [...c.image.topicsById.values()].flatMap((t) => [...t.partitions.values()]);
  const p = pick(
    rng,
    partitions.filter((x) => x.leader !== null),
  );
  if (p === undefined || p.leader === null) return;
  const leader = c.image.brokers.get(p.leader)!;
  const others = p.replicas.filter((b) => b !== p.leader && rng.int(2) === 0);
  const isr: BrokerId[] = [p.leader, ...others];
  const stale = rng.int(10) === 0;
  c.run(
    {
      type: "alterPartition",
      brokerId: p.leader,
      brokerEpoch: leader.epoch,
      topicId: p.topicId,
      partition: p.partition,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: stale ? (Math.max(0, p.partitionEpoch - 1) as never) : p.partitionEpoch,
      isr,
    },
    nowMs,
  );
}

describe("snapshots", () => {
  it("snapshot at every offset + tail equals full replay (scripted cluster)", () => {
    const c = new TestCluster();
    for (const [id, rack] of [
      [1, "a"],
      [2, "b"],
      [3, "a"],
    ] as const)
      c.addBroker(id, 0, rack);
    c.createTopic("orders", 3, 3, { "retention.ms": "60000" });
    c.run({ type: "allocateProducerIds", brokerId: brokerId(2), brokerEpoch: c.epochOf(2) }, 0);
    c.run({ type: "updateFeature", name: "metadata.version", level: 3 }, 0);
    c.heartbeat(1, 1_000, { wantShutdown: true });
    c.heartbeat(1, 3_000, { wantShutdown: true });
    c.createTopic("gone", 1, 1);
    c.run({ type: "deleteTopic", name: "gone" }, 0);
    expect(c.log.length).toBeGreaterThan(10);
    checkSnapshots(c.log);
  });

  it("replay(image, record, offset) never changes its input image", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    const before = c.image;
    const copy = structuredClone(before);
    const after = replay(
      before,
      { type: "fenceBroker", brokerId: brokerId(1), brokerEpoch: c.epochOf(1) },
      metadataOffset(99),
    );
    expect(after.brokers.get(brokerId(1))!.fenced).toBe(true);
    expect(before.brokers.get(brokerId(1))!.fenced).toBe(false);
    expect(before).toEqual(copy);
  });

  const seen = new Set<string>();
  for (let seed = 1; seed <= 25; seed++) {
    it(`random operation sequence, seed ${seed}`, () => {
      const rng = prng(seed);
      const c = new TestCluster();
      let nowMs = 0;
      try {
        for (let step = 0; step < 150; step++) {
          nowMs += rng.int(3_000);
          randomOp(c, rng, nowMs);
        }
        checkSnapshots(c.log);
      } catch (error) {
        throw new Error(`seed ${seed} failed at log length ${c.log.length}: ${String(error)}`, {
          cause: error,
        });
      }
      for (const batch of c.log) for (const r of batch.records) seen.add(r.type);
    });
  }

  it("the random sequences wrote every kind of state change", () => {
    for (const type of [
      "registerBroker",
      "unregisterBroker",
      "fenceBroker",
      "unfenceBroker",
      "brokerControlledShutdown",
      "topic",
      "partition",
      "partitionChange",
      "removeTopic",
      "config",
      "producerIdsBlock",
    ]) {
      expect(seen, type).toContain(type);
    }
  });
});
