// Goal: leader election follows Kafka's rules. A fenced leader is replaced by the first live
// ISR member in replica order with leaderEpoch + 1, in the fence's batch; the ISR shrinks but
// never to empty (the last member stays, leader none); a replica outside the ISR is elected
// only with unclean.leader.election.enable=true; an unfenced broker retakes leaderless
// partitions; AlterPartition is a compare-and-set on the epochs; controlled shutdown moves
// leadership away before the broker may stop; preferred leaders are restored.
import { describe, expect, it } from "vitest";
import type { MetadataRecord } from "../src/records.ts";
import { brokerId, leaderEpoch, partitionEpoch } from "../src/types.ts";
import { ids, TestCluster } from "./helpers.ts";

/** Three brokers and topic t with one partition on replicas 1,2,3 (leader 1). */
function threeBrokers(configs: Record<string, string> = {}): TestCluster {
  const c = new TestCluster();
  for (const id of [1, 2, 3]) c.addBroker(id, 0);
  const r = c.run(
    {
      type: "createTopic",
      name: "t",
      partitionCount: 1,
      replicationFactor: 3,
      assignments: [ids(1, 2, 3)],
      configs,
    },
    0,
  );
  expect(r.response.errorCode.name).toBe("NONE");
  return c;
}

function fence(c: TestCluster, id: number, nowMs = 1): readonly MetadataRecord[] {
  return c.heartbeat(id, nowMs, { wantFence: true }).records;
}

describe("failover", () => {
  it("picks the first live ISR member in replica order and bumps both epochs", () => {
    const c = threeBrokers();
    const batch = fence(c, 1);
    expect(batch).toEqual([
      expect.objectContaining({ type: "fenceBroker", brokerId: 1 }),
      {
        type: "partitionChange",
        topicId: c.partition("t", 0).topicId,
        partition: 0,
        leader: 2,
        isr: [2, 3],
      },
    ]);
    expect(c.partition("t", 0)).toMatchObject({
      leader: 2,
      isr: [2, 3],
      leaderEpoch: 1,
      partitionEpoch: 1,
    });
  });

  it("never elects outside the ISR and keeps the last ISR member", () => {
    const c = threeBrokers();
    const p = c.partition("t", 0);
    // The leader shrinks the ISR to itself: 2 and 3 fell behind.
    c.run(
      {
        type: "alterPartition",
        brokerId: brokerId(1),
        brokerEpoch: c.epochOf(1),
        topicId: p.topicId,
        partition: 0,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        isr: ids(1),
      },
      0,
    );
    fence(c, 1);
    expect(c.partition("t", 0)).toMatchObject({ leader: null, isr: [1], leaderEpoch: 1 });
    // Broker 1 comes back: it is the only ISR member, so it leads again, in the unfence batch.
    const back = c.heartbeat(1, 2);
    expect(back.records.map((r) => r.type)).toEqual(["unfenceBroker", "partitionChange"]);
    expect(c.partition("t", 0)).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 2 });
  });

  it("elects outside the ISR only when unclean election is enabled for the topic", () => {
    for (const unclean of [false, true]) {
      const c = threeBrokers({ "unclean.leader.election.enable": String(unclean) });
      const p = c.partition("t", 0);
      c.run(
        {
          type: "alterPartition",
          brokerId: brokerId(1),
          brokerEpoch: c.epochOf(1),
          topicId: p.topicId,
          partition: 0,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          isr: ids(1),
        },
        0,
      );
      fence(c, 1);
      if (unclean) expect(c.partition("t", 0)).toMatchObject({ leader: 2, isr: [2] });
      else expect(c.partition("t", 0)).toMatchObject({ leader: null, isr: [1] });
    }
  });

  it("runs unclean elections of leaderless partitions when the config is turned on", () => {
    const c = threeBrokers();
    const p = c.partition("t", 0);
    const shrink = {
      brokerId: brokerId(1),
      brokerEpoch: c.epochOf(1),
      topicId: p.topicId,
      partition: 0,
    };
    c.run(
      {
        type: "alterPartition",
        ...shrink,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        isr: ids(1),
      },
      0,
    );
    fence(c, 1);
    expect(c.partition("t", 0).leader).toBeNull();
    const r = c.run(
      {
        type: "alterConfigs",
        resource: { type: "cluster", name: "" },
        changes: [{ key: "unclean.leader.election.enable", value: "true" }],
      },
      0,
    );
    expect(r.records.map((x) => x.type)).toEqual(["config", "partitionChange"]);
    expect(c.partition("t", 0)).toMatchObject({ leader: 2, isr: [2] });
  });

  it("fences several expired brokers in one batch and elects among the survivors", () => {
    const c = new TestCluster();
    for (const id of [1, 2, 3, 4]) c.addBroker(id, 0);
    c.run(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 1,
        replicationFactor: 4,
        assignments: [ids(1, 2, 3, 4)],
      },
      0,
    );
    c.heartbeat(4, 9_000);
    const batch = c.tick(9_001);
    expect(
      batch
        .filter((r) => r.type === "fenceBroker")
        .map((r) => (r as { brokerId: number }).brokerId),
    ).toEqual([1, 2, 3]);
    expect(c.partition("t", 0)).toMatchObject({
      leader: 4,
      isr: [4],
      leaderEpoch: 1,
      partitionEpoch: 1,
    });
  });
});

describe("alterPartition (ISR compare-and-set)", () => {
  function setup() {
    const c = threeBrokers();
    const p = c.partition("t", 0);
    const req = {
      type: "alterPartition" as const,
      brokerId: brokerId(1),
      brokerEpoch: c.epochOf(1),
      topicId: p.topicId,
      partition: 0,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      isr: ids(1, 2),
    };
    return { c, req };
  }

  it("accepts a matching request and bumps the partition epoch only", () => {
    const { c, req } = setup();
    const r = c.run(req, 0);
    expect(r.response.errorCode.name).toBe("NONE");
    expect(r.response.partition).toMatchObject({ isr: [1, 2], partitionEpoch: 1, leaderEpoch: 0 });
    expect(c.partition("t", 0)).toEqual(r.response.partition);
  });

  it("rejects a stale partition epoch and a stale leader epoch", () => {
    const { c, req } = setup();
    c.run(req, 0);
    const again = c.run({ ...req, isr: ids(1) }, 0);
    expect(again.response.errorCode.name).toBe("INVALID_UPDATE_VERSION");
    expect(again.records).toEqual([]);
    const stale = c.run(
      { ...req, partitionEpoch: partitionEpoch(1), leaderEpoch: leaderEpoch(7) },
      0,
    );
    expect(stale.response.errorCode.name).toBe("FENCED_LEADER_EPOCH");
  });

  it("requires the leader in the ISR and only live replicas", () => {
    const { c, req } = setup();
    expect(c.run({ ...req, isr: ids(2, 3) }, 0).response.errorCode.name).toBe("INVALID_REQUEST");
    expect(c.run({ ...req, isr: ids(1, 1) }, 0).response.errorCode.name).toBe("INVALID_REQUEST");
    c.addBroker(4, 0);
    expect(c.run({ ...req, isr: ids(1, 4) }, 0).response.errorCode.name).toBe("INELIGIBLE_REPLICA");
    fence(c, 3);
    const p = c.partition("t", 0);
    const r = c.run({ ...req, partitionEpoch: p.partitionEpoch, isr: ids(1, 2, 3) }, 0);
    expect(r.response.errorCode.name).toBe("INELIGIBLE_REPLICA");
  });

  it("accepts requests from the leader only, with its current broker epoch", () => {
    const { c, req } = setup();
    const notLeader = c.run({ ...req, brokerId: brokerId(2), brokerEpoch: c.epochOf(2) }, 0);
    expect(notLeader.response.errorCode.name).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(c.run({ ...req, brokerEpoch: c.epochOf(2) }, 0).response.errorCode.name).toBe(
      "STALE_BROKER_EPOCH",
    );
    expect(c.run({ ...req, partition: 5 }, 0).response.errorCode.name).toBe(
      "UNKNOWN_TOPIC_OR_PARTITION",
    );
  });
});

describe("controlled shutdown", () => {
  it("moves leadership away, leaves ISRs where others remain, then lets the broker stop", () => {
    const c = new TestCluster();
    for (const id of [1, 2]) c.addBroker(id, 0);
    c.run(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 2,
        replicationFactor: 2,
        assignments: [ids(1, 2), ids(2, 1)],
      },
      0,
    );
    c.run(
      {
        type: "createTopic",
        name: "solo",
        partitionCount: 1,
        replicationFactor: 1,
        assignments: [ids(1)],
      },
      0,
    );

    const first = c.heartbeat(1, 100, { wantShutdown: true });
    expect(first.response).toMatchObject({ shouldShutdown: false, isFenced: false });
    expect(first.records[0]).toMatchObject({ type: "brokerControlledShutdown", brokerId: 1 });
    expect(c.image.brokers.get(brokerId(1))!.inControlledShutdown).toBe(true);
    expect(c.partition("t", 0)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1 });
    expect(c.partition("t", 1)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 0 });
    // Its only ISR member is leaving: the partition goes offline, the ISR keeps broker 1.
    expect(c.partition("solo", 0)).toMatchObject({ leader: null, isr: [1] });
    // New topics avoid a broker in controlled shutdown.
    expect(c.createTopic("x", 1, 2).response.errorCode.name).toBe("INVALID_REPLICATION_FACTOR");

    const second = c.heartbeat(1, 2_100, { wantShutdown: true });
    expect(second.response).toMatchObject({ shouldShutdown: true, isFenced: true });
    expect(c.image.brokers.get(brokerId(1))).toMatchObject({
      fenced: true,
      inControlledShutdown: false,
    });
    // A restart with a new incarnation is accepted at once and the broker retakes "solo".
    c.addBroker(1, 2_200, null, "restarted");
    expect(c.partition("solo", 0)).toMatchObject({ leader: 1, isr: [1] });
  });

  it("waits until the broker applied the records that moved its leadership", () => {
    const c = new TestCluster();
    for (const id of [1, 2]) c.addBroker(id, 0);
    c.run(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 1,
        replicationFactor: 2,
        assignments: [ids(1, 2)],
      },
      0,
    );
    const before = c.image.offset;
    c.heartbeat(1, 100, { wantShutdown: true });
    const lagging = c.run(
      {
        type: "brokerHeartbeat",
        brokerId: brokerId(1),
        brokerEpoch: c.epochOf(1),
        metadataOffset: before,
        wantFence: false,
        wantShutdown: true,
      },
      2_100,
    );
    expect(lagging.response.shouldShutdown).toBe(false);
    expect(c.heartbeat(1, 4_100, { wantShutdown: true }).response.shouldShutdown).toBe(true);
  });
});

describe("preferred leader rebalance", () => {
  it("moves leadership back to the first replica once it is live and in the ISR", () => {
    const c = threeBrokers();
    fence(c, 1);
    expect(c.partition("t", 0).leader).toBe(2);
    c.heartbeat(1, 2); // unfenced, but not in the ISR yet: no move
    expect(c.run({ type: "electPreferredLeaders" }, 3).response.moved).toBe(0);
    const p = c.partition("t", 0);
    c.run(
      {
        type: "alterPartition",
        brokerId: brokerId(2),
        brokerEpoch: c.epochOf(2),
        topicId: p.topicId,
        partition: 0,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        isr: ids(2, 3, 1),
      },
      4,
    );
    expect(c.run({ type: "electPreferredLeaders" }, 5).response.moved).toBe(1);
    expect(c.partition("t", 0)).toMatchObject({ leader: 1, leaderEpoch: 2, isr: [2, 3, 1] });
  });
});
