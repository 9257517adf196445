// Goal: the group consumer's heartbeat loop, reconciliation and commits behave against an
// in-process fake GroupService (fake-groups.ts): members share a topic's partitions with no
// partition owned twice; a joining member gets partitions only after the old owner committed
// them and acknowledged the revocation, and starts at the committed offsets (nothing read
// twice); NOT_COORDINATOR with a hint and COORDINATOR_LOAD_IN_PROGRESS are followed/retried;
// a fence drops the partitions without committing, calls onLost and rejoins with epoch 0;
// STALE_MEMBER_EPOCH on a commit refreshes the epoch and commits again; close() commits and
// leaves with epoch -1 (-2 for a static member); a manual-assign consumer with a groupId
// starts at the committed offsets and commits standalone; admin lists, describes with lag,
// deletes and resets groups.
import { afterEach, describe, expect, it } from "vitest";
import {
  type Consumer,
  type ConsumerOptions,
  FencedMemberError,
  GroupNotEmptyError,
  Strand,
} from "../src/index.ts";
import { FakeCluster } from "./fake-cluster.ts";
import { FakeGroups } from "./fake-groups.ts";

const clusters: FakeCluster[] = [];
const clients: Strand[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(clusters.splice(0).map((c) => c.stop()));
});

async function until(condition: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function setup(brokers = 2) {
  const fake = FakeGroups.install();
  const cluster = await FakeCluster.start(brokers, fake.hook);
  clusters.push(cluster);
  cluster.addTopic("t", 4);
  for (let p = 0; p < 4; p++)
    for (let i = 0; i < 5; i++) cluster.appendOther("t", p, [`p${p}-${i}`]);
  const strand = new Strand({
    brokers: [cluster.addresses[0]!],
    requestTimeoutMs: 3_000,
    retry: { initialMs: 10, maxMs: 50, multiplier: 2 },
  });
  clients.push(strand);
  return { cluster, groups: fake.groups(), strand };
}

/** A member that records what it reads and its assign/revoke events. */
function member(strand: Strand, options: Partial<ConsumerOptions> = {}) {
  const consumer = strand.consumer({
    groupId: "g",
    autoOffsetReset: "earliest",
    maxWaitMs: 20,
    ...options,
  });
  const seen: string[] = [];
  const events: string[] = [];
  const stop = new AbortController();
  const subscribe = () =>
    consumer.subscribe({
      topics: ["t"],
      onAssigned: (ps) => {
        events.push(`assigned ${ps.map((p) => p.partition).join(",")}`);
      },
      onRevoked: (ps) => {
        events.push(`revoked ${ps.map((p) => p.partition).join(",")}`);
      },
      onLost: (ps) => {
        events.push(`lost ${ps.map((p) => p.partition).join(",")}`);
      },
    });
  subscribe();
  const running = consumer.run({
    signal: stop.signal,
    eachMessage: ({ message }) => {
      seen.push(message.value!.toString());
    },
  });
  return { consumer, seen, events, stop, running };
}

const owned = (c: Consumer) => c.groupAssignment().map((p) => p.partition);

describe("group consumer", () => {
  it("shares partitions without overlap; a joiner starts at the commits of the old owner", async () => {
    const { groups, strand } = await setup();
    const a = member(strand);
    await until(() => a.seen.length === 20);
    expect(owned(a.consumer)).toEqual([0, 1, 2, 3]);
    const b = member(strand);
    await until(() => owned(a.consumer).length === 2 && owned(b.consumer).length === 2);
    // Ownership never overlapped: the fake hands a partition over only after the owner's ack.
    expect([...owned(a.consumer), ...owned(b.consumer)].sort()).toEqual([0, 1, 2, 3]);
    expect(a.events).toEqual(["assigned 0,1,2,3", `revoked ${owned(b.consumer).join(",")}`]);
    // The revoked partitions were committed (all 5 records each) before the ack.
    const g = groups.groups.get("g")!;
    for (const p of owned(b.consumer)) expect(g.offsets.get(`t-${p}`)).toBe(5n);
    const commitAt = groups.log.find((c) => c.method === "OffsetCommit")!.at;
    const ackAt = groups.log.find(
      (c) =>
        c.method === "Heartbeat" &&
        c.request.memberEpoch > 0 &&
        c.request.owned?.topics?.[0]?.partitions.length === 2,
    )!.at;
    expect(commitAt).toBeLessThanOrEqual(ackAt);
    // B read nothing: everything of its partitions was committed by A.
    await new Promise((r) => setTimeout(r, 100));
    expect(b.seen).toEqual([]);
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.running, b.running]);
  });

  it("follows NOT_COORDINATOR hints and retries COORDINATOR_LOAD_IN_PROGRESS", async () => {
    const { groups, strand } = await setup(3);
    const a = member(strand);
    await until(() => a.seen.length === 20);
    groups.coordinatorId = 3; // the coordinator moved: broker 1 now answers NOT_COORDINATOR
    groups.heartbeatErrors.push(14, 14);
    const before = groups.log.length;
    await until(() =>
      groups.log
        .slice(before)
        .some((c) => c.broker === 3 && c.method === "Heartbeat" && c.response.errorCode === 0),
    );
    const later = groups.log.slice(before).filter((c) => c.method === "Heartbeat");
    expect(later.some((c) => c.response.errorCode === 16 && c.broker === 1)).toBe(true);
    expect(owned(a.consumer)).toEqual([0, 1, 2, 3]); // no fence: same member, same partitions
    a.stop.abort();
    await a.running;
  });

  it("on a fence drops the partitions without committing, calls onLost and rejoins with epoch 0", async () => {
    const { cluster, groups, strand } = await setup();
    const a = member(strand, { autoCommit: false });
    await until(() => a.seen.length === 20);
    await a.consumer.commit();
    const commits = groups.log.filter((c) => c.method === "OffsetCommit").length;
    cluster.appendOther("t", 0, ["late"]);
    groups.heartbeatErrors.push(110);
    await until(() => a.events.includes("lost 0,1,2,3"));
    await until(() => a.events.at(-1) === "assigned 0,1,2,3");
    const joins = groups.log.filter((c) => c.method === "Heartbeat" && c.request.memberEpoch === 0);
    expect(joins.length).toBe(2);
    expect(groups.log.filter((c) => c.method === "OffsetCommit").length).toBe(commits);
    expect(groups.groups.get("g")!.offsets.get("t-0")).toBe(5n); // the acknowledged commit stands
    await until(() => a.seen.includes("late"));
    a.stop.abort();
    await a.running;
  });

  it("refreshes a stale epoch and commits again; a fenced commit throws FencedMemberError", async () => {
    const { groups, strand } = await setup();
    const a = member(strand, { autoCommit: false });
    await until(() => a.seen.length === 20);
    groups.commitErrors.push(113);
    await a.consumer.commit([{ topic: "t", partition: 1, offset: 3n }]);
    expect(groups.groups.get("g")!.offsets.get("t-1")).toBe(3n);
    const [stale, retried] = groups.log.filter((c) => c.method === "OffsetCommit").slice(-2);
    expect(stale!.response.errorCode).toBe(113);
    const m = groups.groups.get("g")!.members.get(retried!.request.memberId)!;
    expect(retried!.request.memberEpoch).toBe(m.epoch); // a member commit: its id and epoch
    groups.commitErrors.push(110);
    await expect(a.consumer.commit([{ topic: "t", partition: 1, offset: 4n }])).rejects.toThrow(
      FencedMemberError,
    );
    a.stop.abort();
    await a.running;
  });

  it("close() commits what was processed and leaves with -1; a static member with -2", async () => {
    const { groups, strand } = await setup();
    const a = member(strand, { autoCommitIntervalMs: 60_000 });
    await until(() => a.seen.length === 20);
    a.stop.abort();
    await a.running;
    await a.consumer.close();
    const g = groups.groups.get("g")!;
    expect([0, 1, 2, 3].map((p) => g.offsets.get(`t-${p}`))).toEqual([5n, 5n, 5n, 5n]);
    expect(g.members.size).toBe(0);
    expect(groups.log.at(-1)).toMatchObject({ method: "Heartbeat", request: { memberEpoch: -1 } });
    expect(a.events.at(-1)).toBe("revoked 0,1,2,3");

    const s = member(strand, { groupInstanceId: "pod-0", groupId: "g2" });
    await until(() => s.seen.length === 20);
    s.stop.abort();
    await s.running;
    await s.consumer.close();
    expect(groups.log.at(-1)).toMatchObject({
      method: "Heartbeat",
      request: { memberEpoch: -2, instanceId: "pod-0" },
    });
  });

  it("auto-commits processed offsets on the interval", async () => {
    const { groups, strand } = await setup();
    const a = member(strand, { autoCommitIntervalMs: 50 });
    await until(() => a.seen.length === 20);
    await until(() => groups.groups.get("g")?.offsets.get("t-3") === 5n);
    a.stop.abort();
    await a.running;
  });

  it("with manual assign and a groupId, starts at the committed offsets and commits standalone", async () => {
    const { groups, strand } = await setup();
    const g = groups.group("g");
    g.offsets.set("t-0", 3n);
    const c = strand.consumer({ groupId: "g", autoOffsetReset: "earliest", maxWaitMs: 20 });
    c.assign([
      { topic: "t", partition: 0 },
      { topic: "t", partition: 1 },
    ]);
    const seen: string[] = [];
    for (let i = 0; i < 50 && seen.length < 7; i++)
      for (const b of await c.poll()) for (const m of b.messages) seen.push(m.value!.toString());
    expect(seen.filter((v) => v.startsWith("p0"))).toEqual(["p0-3", "p0-4"]);
    expect(seen.filter((v) => v.startsWith("p1"))).toHaveLength(5);
    await c.poll(); // the previous poll's records count as processed now
    await c.commit();
    const commit = groups.log.filter((x) => x.method === "OffsetCommit").at(-1)!;
    expect(commit.request).toMatchObject({ memberId: "", memberEpoch: -1 });
    expect(g.offsets.get("t-1")).toBe(5n);
    expect(() => c.subscribe({ topics: ["t"] })).toThrow(RangeError);
  });
});

describe("group consumer through the iterator", () => {
  it("subscribes by pattern; on close commits the batches the loop asked past, not the one it broke out of", async () => {
    const { cluster, groups, strand } = await setup();
    cluster.addTopic("other", 1);
    cluster.appendOther("other", 0, ["o0"]);
    const c = strand.consumer({ groupId: "it", autoOffsetReset: "earliest", maxWaitMs: 20 });
    c.subscribe({ pattern: /t|oth.*/ });
    const seen: string[] = [];
    let last = "";
    for await (const batch of c) {
      for (const m of batch.messages) seen.push(m.value!.toString());
      last = `${batch.topic}-${batch.partition}`;
      if (seen.length === 21) break; // 20 of t and 1 of other
    }
    expect(c.groupAssignment()).toHaveLength(5);
    await c.close();
    const offsets = groups.groups.get("it")!.offsets;
    const ends = new Map([...[0, 1, 2, 3].map((p) => [`t-${p}`, 5n] as const), ["other-0", 1n]]);
    // A break may come from a throw midway: that batch stays uncommitted (at-least-once).
    for (const [k, end] of ends) expect(offsets.get(k), k).toBe(k === last ? undefined : end);
  });
});

describe("group admin", () => {
  it("lists, describes with lag, resets (dry run, then execute) and deletes", async () => {
    const { cluster, groups, strand } = await setup(2);
    groups.coordinatorId = 2;
    const g = groups.group("g");
    g.offsets.set("t-0", 2n);
    g.offsets.set("t-1", 5n);
    cluster.appendOther("t", 1, ["more"]);
    const admin = strand.admin();
    expect(await admin.listGroups()).toEqual([
      { groupId: "g", state: "empty", members: 0, coordinatorId: 2 },
    ]);
    const [d] = await admin.describeGroups(["g"]);
    expect(d!.offsets.map((o) => [o.partition, o.committedOffset, o.logEndOffset, o.lag])).toEqual([
      [0, 2n, 5n, 3n],
      [1, 5n, 6n, 1n],
    ]);
    expect(d!.totalLag).toBe(4n);
    const dry = await admin.resetOffsets("g", { shiftBy: -1 });
    expect(dry.executed).toBe(false);
    expect(dry.partitions.map((p) => [p.previousOffset, p.newOffset])).toEqual([
      [2n, 1n],
      [5n, 4n],
    ]);
    expect(g.offsets.get("t-0")).toBe(2n);
    await admin.resetOffsets("g", "earliest", { execute: true });
    expect(g.offsets.get("t-1")).toBe(0n);
    g.members.set("x", {
      id: "x",
      epoch: 1,
      instanceId: "",
      topics: [],
      owned: new Set(),
      sent: null,
      lastSeen: Date.now(),
    });
    await expect(admin.deleteGroups(["g"])).rejects.toThrow(GroupNotEmptyError);
    g.members.clear();
    await admin.deleteGroups(["g"]);
    expect(await admin.listGroups()).toEqual([]);
  });
});

describe("group consumer without a coordinator", () => {
  it("gives its partitions up after sessionTimeoutMs without a heartbeat answer, then rejoins", async () => {
    const { groups, strand } = await setup();
    const a = member(strand, { sessionTimeoutMs: 400 });
    await until(() => a.seen.length === 20);
    groups.coordinatorId = -1; // FindCoordinator: COORDINATOR_NOT_AVAILABLE; heartbeats fail
    await until(() => a.events.includes("lost 0,1,2,3"));
    expect(owned(a.consumer)).toEqual([]);
    groups.groups.get("g")!.members.clear(); // the coordinator expired it meanwhile
    groups.coordinatorId = 2;
    await until(() => owned(a.consumer).length === 4);
    a.stop.abort();
    await a.running;
  });
});
