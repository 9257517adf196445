// Goal: the broker lifecycle on a virtual clock. A registered broker starts fenced and is
// unfenced once its metadata reaches its registration offset; heartbeats every 2 s keep it
// live; 9 s without one fences it (and moves its leadership in that same batch); a second
// process with the same id is refused while the first is live; stale epochs are refused;
// producer-id blocks never overlap.
import { describe, expect, it } from "vitest";
import { brokerEpoch, brokerId, metadataOffset } from "../src/types.ts";
import { ids, TestCluster } from "./helpers.ts";

const HEARTBEAT_MS = 2_000;
const SESSION_MS = 9_000;

function register(c: TestCluster, id: number, incarnation: string, nowMs: number) {
  return c.run(
    {
      type: "registerBroker",
      brokerId: brokerId(id),
      incarnationId: incarnation,
      listeners: [],
      rack: null,
    },
    nowMs,
  );
}

describe("broker registration and heartbeats", () => {
  it("registers fenced, unfences once caught up to the registration offset", () => {
    const c = new TestCluster();
    expect(register(c, 1, "i1", 0).response.errorCode.name).toBe("NONE");
    const b = c.image.brokers.get(brokerId(1))!;
    expect(b.fenced).toBe(true);
    expect(b.epoch).toBe(c.image.offset);
    const behind = c.run(
      {
        type: "brokerHeartbeat",
        brokerId: brokerId(1),
        brokerEpoch: b.epoch,
        metadataOffset: metadataOffset(b.epoch - 1),
        wantFence: false,
        wantShutdown: false,
      },
      100,
    );
    expect(behind.response).toMatchObject({ isCaughtUp: false, isFenced: true });
    expect(behind.records).toEqual([]);
    const caughtUp = c.heartbeat(1, 200);
    expect(caughtUp.response).toMatchObject({ isCaughtUp: true, isFenced: false });
    expect(caughtUp.records[0]).toMatchObject({ type: "unfenceBroker", brokerId: 1 });
    expect(c.image.brokers.get(brokerId(1))!.fenced).toBe(false);
  });

  it("keeps heartbeating brokers live and fences a silent one after the session timeout", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    c.addBroker(2, 0);
    c.addBroker(3, 0);
    c.createTopic("t", 3, 3);
    // Broker 1 stops at t=0; brokers 2 and 3 heartbeat every 2 s.
    for (let now = HEARTBEAT_MS; now <= 20_000; now += HEARTBEAT_MS) {
      c.heartbeat(2, now);
      c.heartbeat(3, now);
      const records = c.tick(now);
      if (now <= SESSION_MS) expect(records).toEqual([]);
    }
    expect(c.image.brokers.get(brokerId(1))!.fenced).toBe(true);
    expect(c.image.brokers.get(brokerId(2))!.fenced).toBe(false);
    expect(c.image.brokers.get(brokerId(3))!.fenced).toBe(false);
  });

  it("fences exactly after 9 s, in one batch with the leader moves", () => {
    const c = new TestCluster();
    for (const id of [1, 2, 3]) c.addBroker(id, 0);
    c.createTopic("t", 6, 2);
    for (const id of [2, 3]) c.heartbeat(id, SESSION_MS);
    expect(c.tick(SESSION_MS)).toEqual([]); // 9000 ms since contact: still live
    const led = [...c.image.topicsByName.get("t")!.partitions.values()].filter(
      (p) => p.leader === 1,
    );
    expect(led.length).toBeGreaterThan(0);
    const batch = c.tick(SESSION_MS + 1);
    expect(batch[0]).toMatchObject({ type: "fenceBroker", brokerId: 1 });
    const moves = batch.filter((r) => r.type === "partitionChange");
    for (const p of led) {
      expect(moves).toContainEqual(
        expect.objectContaining({ partition: p.partition, leader: expect.any(Number) }),
      );
      const now = c.partition("t", p.partition);
      expect(now.leader).not.toBe(1);
      expect(now.leaderEpoch).toBe(p.leaderEpoch + 1);
      expect(now.isr).not.toContain(1);
    }
    expect(c.log.at(-1)!.records).toBe(batch);
  });

  it("refuses a second live process with the same id until the first's session expires", () => {
    const c = new TestCluster();
    c.addBroker(1, 0, null, "first");
    const dup = register(c, 1, "second", 5_000);
    expect(dup.response.errorCode.name).toBe("DUPLICATE_BROKER_REGISTRATION");
    expect(dup.records).toEqual([]);
    // The same incarnation may retry its registration.
    expect(register(c, 1, "first", 5_000).response.errorCode.name).toBe("NONE");
    c.heartbeat(1, 5_000);
    // After the session expired (no tick needed) the new process may take over.
    const later = register(c, 1, "second", 5_000 + SESSION_MS + 1);
    expect(later.response.errorCode.name).toBe("NONE");
    expect(c.image.brokers.get(brokerId(1))).toMatchObject({
      incarnationId: "second",
      fenced: true,
    });
  });

  it("refuses heartbeats from unknown brokers and stale epochs", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    const base = {
      type: "brokerHeartbeat" as const,
      metadataOffset: c.image.offset,
      wantFence: false,
      wantShutdown: false,
    };
    const unknown = c.run({ ...base, brokerId: brokerId(9), brokerEpoch: brokerEpoch(1) }, 10);
    expect(unknown.response.errorCode.name).toBe("BROKER_ID_NOT_REGISTERED");
    const stale = c.run(
      { ...base, brokerId: brokerId(1), brokerEpoch: brokerEpoch(c.epochOf(1) + 5) },
      10,
    );
    expect(stale.response.errorCode.name).toBe("STALE_BROKER_EPOCH");
  });

  it("fences a broker that asks for it, moving its leadership", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    c.addBroker(2, 0);
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
    const r = c.heartbeat(1, 100, { wantFence: true });
    expect(r.response.isFenced).toBe(true);
    expect(r.records.map((x) => x.type)).toEqual(["fenceBroker", "partitionChange"]);
    expect(c.partition("t", 0)).toMatchObject({
      leader: 2,
      isr: [2],
      leaderEpoch: 1,
      partitionEpoch: 1,
    });
  });

  it("hands out producer-id blocks of 1000 that never overlap", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    c.addBroker(2, 0);
    const req = (id: number) => ({
      type: "allocateProducerIds" as const,
      brokerId: brokerId(id),
      brokerEpoch: c.epochOf(id),
    });
    const a = c.run(req(1), 0).response;
    const b = c.run(req(2), 0).response;
    expect(a).toMatchObject({ firstProducerId: 0n, size: 1000 });
    expect(b).toMatchObject({ firstProducerId: 1000n, size: 1000 });
    expect(c.image.nextProducerId).toBe(2000n);
    const stale = c.run({ ...req(1), brokerEpoch: brokerEpoch(0) }, 0);
    expect(stale.response.errorCode.name).toBe("STALE_BROKER_EPOCH");
  });

  it("unregisters a broker and moves its leadership in the same batch", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    c.addBroker(2, 0);
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
    const r = c.run({ type: "unregisterBroker", brokerId: brokerId(1) }, 0);
    expect(r.records.map((x) => x.type)).toEqual(["partitionChange", "unregisterBroker"]);
    expect(c.image.brokers.has(brokerId(1))).toBe(false);
    expect(c.partition("t", 0).leader).toBe(2);
    expect(
      c.run({ type: "unregisterBroker", brokerId: brokerId(1) }, 0).response.errorCode.name,
    ).toBe("BROKER_ID_NOT_REGISTERED");
  });
});
