// Goal: the Controller shell binds the pure handlers to a metadata log the way the Raft
// integration will: only the active controller answers; responses complete when their batch
// commits (and reads wait for earlier proposals); losing leadership fails pending requests
// with NOT_CONTROLLER and drops uncommitted state; tick() fences expired brokers and
// rebalances preferred leaders on its interval; a standby replaying the same committed
// batches (through the byte codec) builds the same image.
import { describe, expect, it } from "vitest";
import { decodeMetadataBatch, encodeMetadataBatch } from "../src/codec.ts";
import { Controller, type MetadataLog } from "../src/controller.ts";
import type { MetadataRecord } from "../src/records.ts";
import { brokerId, type MetadataOffset, metadataOffset } from "../src/types.ts";
import { ids } from "./helpers.ts";

/** An in-memory metadata log: appends get offsets, `commit` delivers them to the replicas. */
class MemoryLog implements MetadataLog {
  readonly entries: { offset: MetadataOffset; bytes: Uint8Array }[] = [];
  committed = 0;
  leader = true;

  append(records: readonly MetadataRecord[]): MetadataOffset | null {
    if (!this.leader) return null;
    const offset = metadataOffset(this.entries.length + 1);
    this.entries.push({ offset, bytes: encodeMetadataBatch(records) });
    return offset;
  }

  /** Commits every entry and applies it on each controller (in log order). */
  commit(...replicas: Controller[]): void {
    for (const e of this.entries.slice(this.committed)) {
      for (const r of replicas)
        r.apply(decodeMetadataBatch(e.bytes), { offset: e.offset, epoch: 1 });
    }
    this.committed = this.entries.length;
  }
}

function setup() {
  const log = new MemoryLog();
  const active = new Controller({ log });
  const standby = new Controller({ log: { append: () => null } });
  active.activate(0);
  return { log, active, standby };
}

const register = (id: number, incarnationId = `inc-${id}`) => ({
  type: "registerBroker" as const,
  brokerId: brokerId(id),
  incarnationId,
  listeners: [{ name: "client", host: "127.0.0.1", port: 9092 }],
  rack: null,
});

async function addBroker(
  { log, active, standby }: ReturnType<typeof setup>,
  id: number,
  nowMs: number,
): Promise<void> {
  const registered = active.handle(register(id), nowMs);
  log.commit(active, standby);
  const { brokerEpoch } = await registered;
  expect(brokerEpoch).not.toBeNull();
  const hb = active.handle(
    {
      type: "brokerHeartbeat",
      brokerId: brokerId(id),
      brokerEpoch: brokerEpoch!,
      metadataOffset: active.image.offset,
      wantFence: false,
      wantShutdown: false,
    },
    nowMs,
  );
  log.commit(active, standby);
  expect((await hb).isFenced).toBe(false);
}

describe("Controller", () => {
  it("answers NOT_CONTROLLER while not active", async () => {
    const c = new Controller({ log: new MemoryLog() });
    const r = await c.handle(register(1), 0);
    expect(r.errorCode.name).toBe("NOT_CONTROLLER");
  });

  it("answers NOT_CONTROLLER to ACL changes with their empty lists (the wire maps them)", async () => {
    const c = new Controller({ log: new MemoryLog() });
    const created = await c.handle({ type: "createAcls", acls: [] }, 0);
    expect([created.errorCode.name, created.ids]).toEqual(["NOT_CONTROLLER", []]);
    const deleted = await c.handle({ type: "deleteAcls", filters: [] }, 0);
    expect([deleted.errorCode.name, deleted.removed]).toEqual(["NOT_CONTROLLER", []]);
  });

  it("completes a response when its batch commits, with the broker epoch", async () => {
    const { log, active, standby } = setup();
    let done = false;
    const pending = active.handle(register(1), 0).then((r) => {
      done = true;
      return r;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    expect(active.latestImage.brokers.has(brokerId(1))).toBe(true);
    expect(active.image.brokers.has(brokerId(1))).toBe(false);
    log.commit(active, standby);
    const r = await pending;
    expect(r.errorCode.name).toBe("NONE");
    expect(r.brokerEpoch).toBe(1);
    expect(standby.image).toEqual(active.image);
  });

  it("answers later requests against pending proposals, after they commit", async () => {
    const s = setup();
    for (const id of [1, 2]) await addBroker(s, id, 0);
    const create = {
      type: "createTopic" as const,
      name: "t",
      partitionCount: 2,
      replicationFactor: 2,
    };
    const first = s.active.handle(create, 10);
    const second = s.active.handle(create, 10);
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    await Promise.resolve();
    expect(secondDone).toBe(false); // waits for the first create to commit
    s.log.commit(s.active, s.standby);
    expect((await first).errorCode.name).toBe("NONE");
    expect((await second).errorCode.name).toBe("TOPIC_ALREADY_EXISTS");
  });

  it("fails pending requests and drops uncommitted state when leadership is lost", async () => {
    const s = setup();
    await addBroker(s, 1, 0);
    const pending = s.active.handle(
      { type: "createTopic", name: "t", partitionCount: 1, replicationFactor: 1 },
      5,
    );
    expect(s.active.latestImage.topicsByName.has("t")).toBe(true);
    s.active.deactivate();
    expect((await pending).errorCode.name).toBe("NOT_CONTROLLER");
    expect(s.active.latestImage.topicsByName.has("t")).toBe(false);
    s.log.leader = false;
    s.active.activate(6);
    const refused = await s.active.handle(
      { type: "createTopic", name: "u", partitionCount: 1, replicationFactor: 1 },
      7,
    );
    expect(refused.errorCode.name).toBe("NOT_CONTROLLER");
    expect(s.active.isActive).toBe(false);
  });

  it("tick fences expired brokers and later restores the preferred leader", async () => {
    const log = new MemoryLog();
    const active = new Controller({ log, config: { preferredLeaderCheckIntervalMs: 60_000 } });
    const standby = new Controller({ log: { append: () => null } });
    active.activate(0);
    const s = { log, active, standby };
    for (const id of [1, 2]) await addBroker(s, id, 0);
    const created = active.handle(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 1,
        replicationFactor: 2,
        assignments: [ids(1, 2)],
      },
      0,
    );
    log.commit(active, standby);
    const topicId = (await created).topicId!;
    const beat = (id: number, nowMs: number) =>
      active.handle(
        {
          type: "brokerHeartbeat",
          brokerId: brokerId(id),
          brokerEpoch: active.image.brokers.get(brokerId(id))!.epoch,
          metadataOffset: active.image.offset,
          wantFence: false,
          wantShutdown: false,
        },
        nowMs,
      );
    for (let now = 2_000; now <= 12_000; now += 2_000) {
      void beat(2, now);
      active.tick(now);
      log.commit(active, standby);
    }
    const p = () => active.image.topicsById.get(topicId)!.partitions.get(0)!;
    expect(active.image.brokers.get(brokerId(1))!.fenced).toBe(true);
    expect(p()).toMatchObject({ leader: 2, isr: [2] });
    // Broker 1 returns and catches up; the leader adds it back to the ISR.
    void beat(1, 13_000);
    log.commit(active, standby);
    const alter = active.handle(
      {
        type: "alterPartition",
        brokerId: brokerId(2),
        brokerEpoch: active.image.brokers.get(brokerId(2))!.epoch,
        topicId,
        partition: 0,
        leaderEpoch: p().leaderEpoch,
        partitionEpoch: p().partitionEpoch,
        isr: ids(2, 1),
      },
      13_000,
    );
    log.commit(active, standby);
    expect((await alter).errorCode.name).toBe("NONE");
    void beat(1, 59_999);
    void beat(2, 59_999);
    active.tick(59_999); // within the interval: no rebalance yet
    log.commit(active, standby);
    expect(p().leader).toBe(2);
    void beat(1, 60_000);
    void beat(2, 60_000);
    active.tick(60_000);
    log.commit(active, standby);
    expect(p()).toMatchObject({ leader: 1, isr: [2, 1] });
    expect(standby.image).toEqual(active.image);
  });
});
