// Goal (issue 12 §1, §4): on a 3-node cluster driven with raw GroupService calls, two members
// join one group and reconcile to disjoint assignments that cover every partition; they
// commit offsets (acknowledged = replicated to the offsets partition's ISR); the broker that
// coordinates the group is killed with SIGKILL; another broker becomes the coordinator, loads
// the group from __consumer_offsets, accepts the members' next heartbeats at their epochs, and
// answers every acknowledged commit.
import { afterEach, describe, expect, it } from "vitest";
import { unary } from "./support/cluster.ts";
import { FaultCluster, within } from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import {
  type GroupRpc,
  groupRpcWithTopic,
  joinTwo,
  Member,
  nextCoordinator,
  resumeAt,
} from "./support/group-rpc.ts";

const GROUP = "orders-app";
const TOPIC = "orders";
const PARTITIONS = 4;
let cluster: FaultCluster | undefined;
let rpc: GroupRpc | undefined;

afterEach(async (ctx) => {
  rpc?.close();
  rpc = undefined;
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? "groups-coordinator-cluster" : undefined,
  );
  cluster = undefined;
});

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
    const groups = await groupRpcWithTopic(c, GROUP, TOPIC, PARTITIONS);
    rpc = groups;

    // FindCoordinator creates the offsets topic; every broker names the same coordinator.
    const coord = await waitFor("a coordinator", () => groups.coordinator(1), 30_000, 100);
    for (const id of [2, 3])
      expect(
        await waitFor(
          `broker ${id} agrees`,
          async () => (await groups.coordinator(id)) === coord && coord,
          10_000,
        ),
      ).toBe(coord);

    const a = new Member(groups, TOPIC);
    const b = new Member(groups, TOPIC);
    await joinTwo(coord, a, b, PARTITIONS);

    // Commits are acknowledged only once replicated to the offsets partition's ISR.
    const acked = new Map<number, number>();
    for (let round = 1; round <= 5; round++) {
      for (const m of [a, b]) {
        const offsets = new Map(m.partitions().map((p) => [p, round * 100 + p]));
        expect(await groups.commit(coord, m, TOPIC, offsets)).toBe(0);
        for (const [p, o] of offsets) acked.set(p, o);
      }
    }

    await c.kill(coord);
    const survivors = [1, 2, 3].filter((id) => id !== coord);
    const next = await nextCoordinator(groups, coord, survivors[0] ?? 1);
    // The new coordinator loads the group: retriable answers until it has, then the members
    // carry on at their epochs, without rejoining.
    const epochBefore = a.epoch;
    await resumeAt(next, [a, b]);
    expect([a.epoch, b.epoch]).toEqual([epochBefore, epochBefore]);

    const fetched = await groups.fetchOffsets(next);
    expect(fetched.errorCode).toBe(0);
    expect(fetched.offsets).toEqual(acked);

    // And the group goes on: commits on the new coordinator, described as stable with lag.
    expect(await groups.commit(next, a, TOPIC, new Map(a.partitions().map((p) => [p, 900])))).toBe(
      0,
    );
    const described = await unary<{
      groups: { state: string; members: unknown[]; offsets: { committedOffset: string }[] }[];
    }>((cb) =>
      groups
        .client(next)
        .DescribeGroups({ groupIds: [GROUP], includeLag: true }, within(10_000), cb),
    );
    expect(described.groups[0]?.state).toBe("stable");
    expect(described.groups[0]?.members.length).toBe(2);
  }, 180_000);
});
