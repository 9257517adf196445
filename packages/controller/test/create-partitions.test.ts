// Goal: createPartitions raises a topic's partition count the way Kafka's CreatePartitions
// does: the new partitions (numbered after the existing ones) are placed as if the topic had
// been created with the new count (name-seeded, rack-aware, the topic's replication factor),
// written as PartitionRecords in one batch, leaving the old partitions untouched; a count at
// or below the current one, an unknown topic, or too few live brokers is refused with nothing
// written; validateOnly answers without writing; replaying the log rebuilds the same image.
import { describe, expect, it } from "vitest";
import { applyBatch, EMPTY_IMAGE } from "../src/image.ts";
import type { PartitionRecord } from "../src/records.ts";
import { metadataOffset } from "../src/types.ts";
import { TestCluster } from "./helpers.ts";

const RACKS = ["r1", "r1", "r2", "r2", "r3", "r3"];

function cluster(): TestCluster {
  const c = new TestCluster();
  for (const [i, rack] of RACKS.entries()) c.addBroker(i + 1, 0, rack);
  return c;
}

function add(c: TestCluster, name: string, count: number, validateOnly = false) {
  return c.run({ type: "createPartitions", name, count, validateOnly }, 0);
}

function rackOf(id: number): string {
  return RACKS[id - 1]!;
}

describe("createPartitions", () => {
  it("places the new partitions like a creation with the new count, in one batch", () => {
    const c = cluster();
    expect(c.createTopic("orders", 3, 3).response.errorCode.name).toBe("NONE");
    const before = c.image.topicsByName.get("orders")!;
    const batches = c.log.length;
    const r = add(c, "orders", 9);
    expect(r.response.errorCode.name).toBe("NONE");
    expect(c.log.length).toBe(batches + 1);
    const records = c.log.at(-1)!.records as PartitionRecord[];
    expect(records.map((x) => [x.type, x.partition])).toEqual(
      [3, 4, 5, 6, 7, 8].map((p) => ["partition", p]),
    );

    // The same name and brokers, created with 9 partitions at once, give the same replicas.
    const fresh = cluster();
    const created = fresh.createTopic("orders", 9, 3).response.assignments;
    expect(r.response.assignments).toEqual(created.slice(3));
    for (const [k, rec] of records.entries()) {
      expect(rec.topicId).toBe(before.id);
      expect(rec.replicas).toEqual(created[3 + k]);
      expect(new Set(rec.replicas.map(rackOf)).size).toBe(3); // one replica per rack
      expect(rec.isr).toEqual(rec.replicas);
      expect(rec.leader).toBe(rec.replicas[0]);
      expect(rec.leaderEpoch).toBe(0);
      expect(rec.partitionEpoch).toBe(0);
    }
    // The old partitions are the same objects: untouched.
    const after = c.image.topicsByName.get("orders")!;
    expect(after.partitions.size).toBe(9);
    for (const p of [0, 1, 2]) expect(after.partitions.get(p)).toBe(before.partitions.get(p));
  });

  it("refuses an equal or lower count, an unknown topic and bad counts, writing nothing", () => {
    const c = cluster();
    c.createTopic("t", 4, 2);
    const batches = c.log.length;
    for (const count of [4, 3, 1, 0, 4.5, 10_001]) {
      const r = add(c, "t", count);
      expect(r.response.errorCode.name, String(count)).toBe("INVALID_PARTITIONS");
      expect(r.records).toEqual([]);
    }
    expect(add(c, "t", 4).response.errorMessage).toContain("has 4 partition(s)");
    expect(add(c, "nope", 5).response.errorCode.name).toBe("UNKNOWN_TOPIC_OR_PARTITION");
    expect(c.log.length).toBe(batches);
  });

  it("refuses when fewer brokers are live than the topic's replication factor", () => {
    const c = cluster();
    c.createTopic("t", 1, 3);
    for (const id of [1, 2, 3, 4]) c.heartbeat(id, 0, { wantFence: true });
    const r = add(c, "t", 2);
    expect(r.response.errorCode.name).toBe("INVALID_REPLICATION_FACTOR");
    expect(r.records).toEqual([]);
  });

  it("validateOnly answers the placement and writes nothing", () => {
    const c = cluster();
    c.createTopic("t", 2, 2);
    const batches = c.log.length;
    const r = add(c, "t", 5, true);
    expect(r.response.errorCode.name).toBe("NONE");
    expect(r.response.assignments).toHaveLength(3);
    expect(r.records).toEqual([]);
    expect(c.log.length).toBe(batches);
    expect(c.image.topicsByName.get("t")!.partitions.size).toBe(2);
  });

  it("replaying the metadata log rebuilds the same topic, and a second raise continues", () => {
    const c = cluster();
    c.createTopic("t", 2, 3);
    add(c, "t", 4);
    add(c, "t", 7);
    let image = EMPTY_IMAGE;
    for (const b of c.log)
      image = applyBatch(image, b.records, { offset: metadataOffset(b.offset), epoch: 1 }).image;
    const replayed = image.topicsByName.get("t")!;
    const live = c.image.topicsByName.get("t")!;
    expect([...replayed.partitions.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([...replayed.partitions.values()]).toEqual([...live.partitions.values()]);
  });
});
