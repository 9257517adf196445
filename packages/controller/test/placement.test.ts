// Goal: new topics get RF distinct replicas per partition, preferred leaders (first replicas)
// spread evenly over the brokers, replicas spread over racks, the same assignment for the same
// input, and createTopic refuses a replication factor above the number of live brokers.
import { describe, expect, it } from "vitest";
import { type PlacementBroker, placeReplicas } from "../src/placement.ts";
import { type BrokerId, brokerId } from "../src/types.ts";
import { TestCluster } from "./helpers.ts";

function brokers(racks: (string | null)[]): PlacementBroker[] {
  return racks.map((rack, i) => ({ id: brokerId(i + 1), rack }));
}

function leaderCounts(assignment: BrokerId[][]): Map<BrokerId, number> {
  const counts = new Map<BrokerId, number>();
  for (const replicas of assignment) counts.set(replicas[0]!, (counts.get(replicas[0]!) ?? 0) + 1);
  return counts;
}

describe("replica placement", () => {
  it("gives every partition RF distinct replicas", () => {
    for (const rf of [1, 2, 3, 5]) {
      const a = placeReplicas({
        brokers: brokers([null, null, null, null, null]),
        partitionCount: 17,
        replicationFactor: rf,
        startIndex: 3,
        shiftSeed: 11,
      });
      expect(a).toHaveLength(17);
      for (const replicas of a) {
        expect(replicas).toHaveLength(rf);
        expect(new Set(replicas).size).toBe(rf);
      }
    }
  });

  it("spreads preferred leaders evenly over the brokers", () => {
    const a = placeReplicas({
      brokers: brokers(["a", "a", "b", "b", "c", "c"]),
      partitionCount: 12,
      replicationFactor: 3,
      startIndex: 5,
      shiftSeed: 2,
    });
    const counts = leaderCounts(a);
    expect(counts.size).toBe(6);
    for (const n of counts.values()) expect(n).toBe(2);
    // Followers are spread too: every broker holds 12 * 3 / 6 = 6 replicas.
    const all = a.flat();
    for (let id = 1; id <= 6; id++) expect(all.filter((b) => b === id)).toHaveLength(6);
  });

  it("puts the replicas of a partition on different racks", () => {
    const racks = ["r1", "r1", "r1", "r2", "r2", "r3"];
    const rackOf = (b: BrokerId) => racks[b - 1];
    const a = placeReplicas({
      brokers: brokers(racks),
      partitionCount: 30,
      replicationFactor: 3,
      startIndex: 0,
      shiftSeed: 0,
    });
    for (const replicas of a) expect(new Set(replicas.map(rackOf)).size).toBe(3);
    const two = placeReplicas({
      brokers: brokers(racks),
      partitionCount: 30,
      replicationFactor: 2,
      startIndex: 7,
      shiftSeed: 3,
    });
    for (const replicas of two) expect(new Set(replicas.map(rackOf)).size).toBe(2);
  });

  it("is deterministic and independent of the input order", () => {
    const input = brokers(["a", "b", "c", "a", "b"]);
    const req = { partitionCount: 9, replicationFactor: 3, startIndex: 4, shiftSeed: 9 };
    const first = placeReplicas({ brokers: input, ...req });
    expect(placeReplicas({ brokers: input, ...req })).toEqual(first);
    expect(placeReplicas({ brokers: [...input].reverse(), ...req })).toEqual(first);
  });

  it("createTopic places deterministically on live brokers and refuses RF > live brokers", () => {
    const build = () => {
      const c = new TestCluster();
      for (const [id, rack] of [
        [1, "a"],
        [2, "b"],
        [3, "c"],
        [4, "a"],
      ] as const)
        c.addBroker(id, 0, rack);
      return c;
    };
    const c1 = build();
    const c2 = build();
    const r1 = c1.createTopic("orders", 8, 3);
    const r2 = c2.createTopic("orders", 8, 3);
    expect(r1.response.errorCode.name).toBe("NONE");
    expect(r1.response.assignments).toEqual(r2.response.assignments);
    expect(r1.response.topicId).toEqual(r2.response.topicId);
    expect(c1.image).toEqual(c2.image);
    for (let p = 0; p < 8; p++) {
      const part = c1.partition("orders", p);
      expect(part.leader).toBe(part.replicas[0]);
      expect(part.isr).toEqual(part.replicas);
    }
    const tooMany = c1.createTopic("big", 1, 5);
    expect(tooMany.response.errorCode.name).toBe("INVALID_REPLICATION_FACTOR");
    expect(tooMany.records).toEqual([]);
    // A fenced broker does not count as live.
    c1.heartbeat(4, 1, { wantFence: true });
    expect(c1.createTopic("four", 1, 4).response.errorCode.name).toBe("INVALID_REPLICATION_FACTOR");
    const three = c1.createTopic("three", 6, 3);
    expect(three.response.assignments.flat()).not.toContain(4);
    expect(c1.createTopic("zero", 1, 0).response.errorCode.name).toBe("INVALID_REPLICATION_FACTOR");
  });
});
