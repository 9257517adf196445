// Goal: the GroupService edge on one real node: the offsets topic is created on first use,
// FindCoordinator names this broker, two members join and reconcile to disjoint halves, commits
// are fenced by epoch and fetched back, DescribeGroups reports lag = log end - committed,
// DeleteGroups and ResetOffsets refuse a group with members and work once it is empty, and
// malformed requests are INVALID_ARGUMENT. Metrics expose the group's members and lag.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  type ClientStubs,
  clientStubs,
  encodeRecordBatch,
  type GroupServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../../../../test/support/free-ports.ts";
import { loadNodeConfig } from "../../src/config/index.ts";
import { BrokerNode } from "../../src/node/node.ts";

let node: BrokerNode;
let dir: string;
let stubs: ClientStubs;
let groups: GroupServiceClient;

type Cb<R> = (error: grpc.ServiceError | null, r?: R) => void;
function call<Req, R>(fn: (req: Req, cb: Cb<R>) => unknown, req: Req): Promise<R> {
  return new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r as R))));
}

/** Retries while the answer is retriable (coordinator loading, topic being created). */
async function until<R extends { errorCode?: number }>(
  f: () => Promise<R>,
  ok = (r: R) => r.errorCode === 0,
): Promise<R> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await f();
    if (ok(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "strand-groups-"));
  const [client, internal] = (await freePorts(2)) as [number, number];
  const config = loadNodeConfig({
    flags: {
      "node.id": "1",
      "data.dir": dir,
      "listeners.client": `127.0.0.1:${client}`,
      "listeners.internal": `127.0.0.1:${internal}`,
      "controller.quorum.voters": `1@127.0.0.1:${internal}`,
      "listeners.admin": "127.0.0.1:0",
      "min.insync.replicas": "1",
      "offsets.topic.num.partitions": "3",
      "group.consumer.heartbeat.interval.ms": "200",
      "group.consumer.session.timeout.ms": "3000",
    },
    env: {},
  });
  node = await BrokerNode.start(config, { logger: pino({ level: "silent" }) });
  const address = `127.0.0.1:${node.ports.client}`;
  stubs = clientStubs(address);
  groups = new (strandGrpc().strand.v1.GroupService)(address, grpc.credentials.createInsecure());
  await until(
    async () => {
      const r = await call(stubs.admin.CreateTopics.bind(stubs.admin), {
        topics: [{ name: "t", partitionCount: 4, replicationFactor: 1 }],
      });
      return { errorCode: r.topics[0]?.errorCode };
    },
    (r) => r.errorCode === 0 || r.errorCode === 36,
  );
}, 60_000);

afterAll(async () => {
  groups?.close();
  stubs?.close();
  await node?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const hb = (req: object) =>
  call(groups.ConsumerGroupHeartbeat.bind(groups), { groupId: "g", ...req });
const count = (a: { topics?: { partitions?: number[] }[] } | null | undefined) =>
  (a?.topics ?? []).reduce((n, t) => n + (t.partitions?.length ?? 0), 0);

describe("GroupService on one node", () => {
  it("finds the coordinator once the offsets topic exists", async () => {
    const r = await until(async () => {
      const res = await call(groups.FindCoordinator.bind(groups), { groupIds: ["g"] });
      return res.results[0] ?? { errorCode: -1, coordinator: null };
    });
    expect(r.errorCode).toBe(0);
    expect(r.coordinator?.nodeId).toBe(1);
  }, 60_000);

  it("two members reconcile to disjoint halves, commit, describe with lag, and are refused admin changes", async () => {
    const sub = { subscription: { topicNames: ["t"] } };
    const a = await until(() => hb({ memberEpoch: 0, ...sub, owned: { topics: [] } }));
    expect(count(a.assignment)).toBe(4);
    const b = await hb({ memberEpoch: 0, ...sub, owned: { topics: [] } });
    expect(b.errorCode).toBe(0);
    // a is asked to revoke two; it acknowledges; b then gets them.
    const a2 = await hb({ memberId: a.memberId, memberEpoch: a.memberEpoch });
    expect(count(a2.assignment)).toBe(2);
    const a3 = await hb({
      memberId: a.memberId,
      memberEpoch: a2.memberEpoch,
      owned: a2.assignment,
    });
    const b2 = await hb({
      memberId: b.memberId,
      memberEpoch: b.memberEpoch,
      owned: { topics: [] },
    });
    expect(count(b2.assignment)).toBe(2);
    expect(a3.memberEpoch).toBe(b2.memberEpoch);

    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now() - 5_000),
      records: [
        { key: null, value: Buffer.from("x") },
        { key: null, value: Buffer.from("y") },
      ],
    });
    const produced = await call(stubs.produce.Produce.bind(stubs.produce), {
      acks: "ACKS_ALL",
      timeoutMs: 5000,
      topics: [{ topic: "t", partitions: [{ partition: 0, records: batch }] }],
    });
    expect(produced.topics[0]?.partitions[0]?.errorCode).toBe(0);

    const commit = (memberId: string, memberEpoch: number, offset: number) =>
      call(groups.OffsetCommit.bind(groups), {
        groupId: "g",
        memberId,
        memberEpoch,
        topics: [
          {
            topic: "t",
            partitions: [
              { partition: 0, committedOffset: offset, committedLeaderEpoch: -1, metadata: "" },
            ],
          },
        ],
      });
    expect((await commit(a.memberId, a3.memberEpoch - 1, 1)).errorCode).toBe(113);
    expect((await commit("", -1, 1)).errorCode).toBe(25);
    expect((await commit(a.memberId, a3.memberEpoch, 1)).errorCode).toBe(0);
    const fetched = await call(groups.OffsetFetch.bind(groups), { groupId: "g", topics: [] });
    expect(fetched.topics[0]?.partitions[0]?.committedOffset).toBe("1");

    const described = await call(groups.DescribeGroups.bind(groups), {
      groupIds: ["g"],
      includeLag: true,
    });
    const g = described.groups[0];
    expect(g?.state).toBe("stable");
    expect(g?.members?.length).toBe(2);
    const p0 = g?.offsets?.find((o) => o.partition === 0);
    expect([p0?.committedOffset, p0?.logEndOffset, p0?.lag]).toEqual(["1", "2", "1"]);
    expect(g?.offsets?.length).toBe(4);
    // The metrics agree with describe: partition 0 lags by one record, about 5 s old.
    const text = await node.metrics.registry.metrics();
    expect(text).toMatch(/strand_group_lag_records\{[^}]*group="g"[^}]*topic="t"[^}]*\} 1\n/);
    expect(text).toMatch(/strand_group_lag_max_records\{[^}]*group="g"[^}]*\} 1\n/);
    const seconds = Number(
      /strand_group_lag_seconds\{[^}]*group="g"[^}]*\} ([\d.e+-]+)/.exec(text)?.[1],
    );
    expect(seconds).toBeGreaterThanOrEqual(4);
    // Bounded labels (issue 12): group and topic, never partition or member.
    const labels = new Set(
      [...text.matchAll(/^strand_group_\w+\{([^}]*)\}/gm)].flatMap((m) =>
        (m[1] ?? "").split(",").map((kv) => kv.split("=")[0]),
      ),
    );
    labels.delete("le"); // histogram buckets
    labels.delete("node_id");
    expect([...labels].sort()).toEqual(["group", "topic"]);

    const listed = await call(groups.ListGroups.bind(groups), { statesFilter: [] });
    expect(listed.groups.map((x) => [x.groupId, x.members])).toEqual([["g", 2]]);
    const del = await call(groups.DeleteGroups.bind(groups), { groupIds: ["g"] });
    expect(del.results[0]?.errorCode).toBe(68);
    const reset = await call(groups.ResetOffsets.bind(groups), {
      groupId: "g",
      spec: { earliest: true },
      execute: true,
    });
    expect(reset.errorCode).toBe(68);

    // Both leave: the group is empty; a dry-run reset reports, an executed one commits.
    expect((await hb({ memberId: a.memberId, memberEpoch: -1 })).errorCode).toBe(0);
    expect((await hb({ memberId: b.memberId, memberEpoch: -1 })).errorCode).toBe(0);
    const dry = await call(groups.ResetOffsets.bind(groups), {
      groupId: "g",
      spec: { latest: true },
      execute: false,
    });
    expect(dry.executed).toBe(false);
    expect(dry.partitions.map((p) => [p.previousOffset, p.newOffset])).toEqual([["1", "2"]]);
    const done = await call(groups.ResetOffsets.bind(groups), {
      groupId: "g",
      spec: { shiftBy: -5 },
      execute: true,
    });
    expect(done.partitions[0]?.newOffset).toBe("0");
    const after = await call(groups.OffsetFetch.bind(groups), {
      groupId: "g",
      topics: [{ topic: "t", partitions: [0] }],
    });
    expect(after.topics[0]?.partitions[0]?.committedOffset).toBe("0");
    const metrics = await node.metrics.registry.metrics();
    expect(metrics).toMatch(/strand_group_members\{[^}]*group="g"[^}]*\} 0/);
    expect(
      (await call(groups.DeleteGroups.bind(groups), { groupIds: ["g"] })).results[0]?.errorCode,
    ).toBe(0);
    expect(
      (await call(groups.DescribeGroups.bind(groups), { groupIds: ["g"] })).groups[0]?.state,
    ).toBe("dead");
  }, 60_000);

  it("answers malformed requests with INVALID_ARGUMENT and bad group ids with INVALID_GROUP_ID", async () => {
    await expect(
      hb({ memberEpoch: 0, subscription: { topicNames: ["t"], topicRegex: "x" } }),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(hb({ memberEpoch: 0, subscription: { topicRegex: "(" } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    await expect(hb({ memberEpoch: 3 })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    const bad = await call(groups.ConsumerGroupHeartbeat.bind(groups), {
      groupId: "",
      memberEpoch: 0,
    });
    expect(bad.errorCode).toBe(24);
    await expect(call(groups.ResetOffsets.bind(groups), { groupId: "g" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
  });
});
