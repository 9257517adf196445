// Goal (issue 12 §1, §4): on a 3-node cluster driven with raw GroupService calls, two members
// join one group and reconcile to disjoint assignments that cover every partition; they
// commit offsets (acknowledged = replicated to the offsets partition's ISR); the broker that
// coordinates the group is killed with SIGKILL; another broker becomes the coordinator, loads
// the group from __consumer_offsets, accepts the members' next heartbeats at their epochs, and
// answers every acknowledged commit.
import * as grpc from "@grpc/grpc-js";
import {
  type ConsumerGroupHeartbeatResponse__Output,
  type GroupServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { unary } from "./support/cluster.ts";
import { FaultCluster, within } from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";

const GROUP = "orders-app";
const TOPIC = "orders";
const PARTITIONS = 4;
let cluster: FaultCluster | undefined;
const clients = new Map<number, GroupServiceClient>();

afterEach(async (ctx) => {
  for (const c of clients.values()) c.close();
  clients.clear();
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? "groups-coordinator-cluster" : undefined,
  );
  cluster = undefined;
});

function groupClient(c: FaultCluster, id: number): GroupServiceClient {
  let client = clients.get(id);
  if (client === undefined) {
    client = new (strandGrpc().strand.v1.GroupService)(
      c.node(id).clientAddress,
      grpc.credentials.createInsecure(),
    );
    clients.set(id, client);
  }
  return client;
}

/** The coordinator of GROUP as broker `askId` sees it (undefined until one is known). */
async function coordinator(c: FaultCluster, askId: number): Promise<number | undefined> {
  const r = await unary<{
    results: { errorCode: number; coordinator?: { nodeId: number } | null }[];
  }>((cb) => groupClient(c, askId).FindCoordinator({ groupIds: [GROUP] }, within(5_000), cb));
  const res = r.results[0];
  return res?.errorCode === 0 ? res.coordinator?.nodeId : undefined;
}

type Owned = Map<string, number[]>;

/** A member following the protocol with raw calls: it owns exactly its last assignment. */
class Member {
  memberId = "";
  epoch = 0;
  owned: Owned = new Map();

  async beat(c: FaultCluster, coordId: number): Promise<ConsumerGroupHeartbeatResponse__Output> {
    const r = await unary<ConsumerGroupHeartbeatResponse__Output>((cb) =>
      groupClient(c, coordId).ConsumerGroupHeartbeat(
        {
          groupId: GROUP,
          memberId: this.memberId,
          memberEpoch: this.epoch,
          ...(this.epoch === 0 ? { subscription: { topicNames: [TOPIC] } } : {}),
          owned: { topics: [...this.owned].map(([topic, partitions]) => ({ topic, partitions })) },
        },
        within(10_000),
        cb,
      ),
    );
    if (r.errorCode === 0) {
      this.memberId = r.memberId;
      this.epoch = r.memberEpoch;
      if (r.assignment)
        this.owned = new Map(r.assignment.topics.map((t) => [t.topic, t.partitions]));
    }
    return r;
  }

  partitions(): number[] {
    return [...(this.owned.get(TOPIC) ?? [])].sort();
  }
}

async function commit(
  c: FaultCluster,
  coordId: number,
  m: Member,
  offsets: Map<number, number>,
): Promise<number> {
  const r = await unary<{ errorCode: number; topics: { partitions: { errorCode: number }[] }[] }>(
    (cb) =>
      groupClient(c, coordId).OffsetCommit(
        {
          groupId: GROUP,
          memberId: m.memberId,
          memberEpoch: m.epoch,
          topics: [
            {
              topic: TOPIC,
              partitions: [...offsets].map(([partition, offset]) => ({
                partition,
                committedOffset: offset,
                committedLeaderEpoch: -1,
                metadata: "",
              })),
            },
          ],
        },
        within(10_000),
        cb,
      ),
  );
  return (
    r.errorCode ||
    (r.topics.flatMap((t) => t.partitions).find((p) => p.errorCode !== 0)?.errorCode ?? 0)
  );
}

describe("group coordinator failover", () => {
  it("keeps members and every acknowledged commit when the coordinator's broker is killed", async () => {
    const c = await FaultCluster.start({
      count: 3,
      extra: [
        ...["--offsets.topic.num.partitions", "3", "--offsets.topic.replication.factor", "3"],
        ...[
          "--group.consumer.heartbeat.interval.ms",
          "200",
          "--group.consumer.session.timeout.ms",
          "30000",
        ],
      ],
    });
    cluster = c;
    await c.createTopic(TOPIC, {
      partitions: PARTITIONS,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2" },
    });

    // FindCoordinator creates the offsets topic; every broker names the same coordinator.
    const coord = await waitFor("a coordinator", () => coordinator(c, 1), 30_000, 100);
    for (const id of [2, 3])
      expect(
        await waitFor(
          `broker ${id} agrees`,
          async () => (await coordinator(c, id)) === coord && coord,
          10_000,
        ),
      ).toBe(coord);

    const a = new Member();
    const b = new Member();
    await waitFor("a joins", async () => (await a.beat(c, coord)).errorCode === 0, 30_000, 100);
    await waitFor("b joins", async () => (await b.beat(c, coord)).errorCode === 0, 10_000, 100);
    await waitFor(
      "disjoint assignments covering every partition",
      async () => {
        for (const m of [a, b]) expect((await m.beat(c, coord)).errorCode).toBe(0);
        const [pa, pb] = [a.partitions(), b.partitions()];
        expect(pa.filter((p) => pb.includes(p))).toEqual([]);
        return pa.length + pb.length === PARTITIONS && pa.length === 2 && a.epoch === b.epoch;
      },
      20_000,
      100,
    );

    // Commits are acknowledged only once replicated to the offsets partition's ISR.
    const acked = new Map<number, number>();
    for (let round = 1; round <= 5; round++) {
      for (const m of [a, b]) {
        const offsets = new Map(m.partitions().map((p) => [p, round * 100 + p]));
        expect(await commit(c, coord, m, offsets)).toBe(0);
        for (const [p, o] of offsets) acked.set(p, o);
      }
    }

    await c.kill(coord);
    const survivors = [1, 2, 3].filter((id) => id !== coord);
    const next = await waitFor(
      "a new coordinator",
      async () => {
        const id = await coordinator(c, survivors[0] ?? 1);
        return id !== undefined && id !== coord ? id : undefined;
      },
      30_000,
      100,
    );
    // The new coordinator loads the group: retriable answers until it has, then the members
    // carry on at their epochs, without rejoining.
    const epochBefore = a.epoch;
    for (const m of [a, b])
      await waitFor(
        "a heartbeat on the new coordinator",
        async () => (await m.beat(c, next)).errorCode === 0,
        30_000,
        100,
      );
    expect([a.epoch, b.epoch]).toEqual([epochBefore, epochBefore]);

    const fetched = await unary<{
      errorCode: number;
      topics: { topic: string; partitions: { partition: number; committedOffset: string }[] }[];
    }>((cb) =>
      groupClient(c, next).OffsetFetch({ groupId: GROUP, topics: [] }, within(10_000), cb),
    );
    expect(fetched.errorCode).toBe(0);
    const got = new Map(
      fetched.topics.flatMap((t) =>
        t.partitions.map((p) => [p.partition, Number(p.committedOffset)] as const),
      ),
    );
    expect(got).toEqual(acked);

    // And the group goes on: commits on the new coordinator, described as stable with lag.
    expect(await commit(c, next, a, new Map(a.partitions().map((p) => [p, 900])))).toBe(0);
    const described = await unary<{
      groups: { state: string; members: unknown[]; offsets: { committedOffset: string }[] }[];
    }>((cb) =>
      groupClient(c, next).DescribeGroups(
        { groupIds: [GROUP], includeLag: true },
        within(10_000),
        cb,
      ),
    );
    expect(described.groups[0]?.state).toBe("stable");
    expect(described.groups[0]?.members.length).toBe(2);
  }, 180_000);
});
