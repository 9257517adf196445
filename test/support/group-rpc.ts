/**
 * Raw GroupService calls for cluster tests that drive the group protocol by hand (no SDK): a
 * member that owns exactly its last assignment, commits, OffsetFetch and FindCoordinator, and
 * the steps the coordinator failover tests share (two members settle, the next coordinator,
 * the members carry on there).
 */
import * as grpc from "@grpc/grpc-js";
import {
  type ConsumerGroupHeartbeatResponse__Output,
  type GroupServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { unary } from "./cluster.ts";
import { type FaultCluster, within } from "./fault.ts";
import { waitFor } from "./free-ports.ts";

/**
 * Creates `topic` on `cluster` (replication factor 3, min ISR 2) and returns a GroupRpc for
 * `groupId` there; close() it when the test ends.
 */
export async function groupRpcWithTopic(
  cluster: FaultCluster,
  groupId: string,
  topic: string,
  partitions: number,
): Promise<GroupRpc> {
  await cluster.createTopic(topic, {
    partitions,
    replicationFactor: 3,
    configs: { "min.insync.replicas": "2" },
  });
  return new GroupRpc(cluster, groupId);
}

/** One GroupService client per node of a cluster; close() when the test ends. */
export class GroupRpc {
  readonly #clients = new Map<number, GroupServiceClient>();
  readonly cluster: FaultCluster;
  readonly groupId: string;

  constructor(cluster: FaultCluster, groupId: string) {
    this.cluster = cluster;
    this.groupId = groupId;
  }

  client(id: number): GroupServiceClient {
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = new (strandGrpc().strand.v1.GroupService)(
        this.cluster.node(id).clientAddress,
        grpc.credentials.createInsecure(),
      );
      this.#clients.set(id, client);
    }
    return client;
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }

  /** The group's coordinator as broker `askId` sees it (undefined until one is known). */
  async coordinator(askId: number): Promise<number | undefined> {
    const r = await unary<{
      results: { errorCode: number; coordinator?: { nodeId: number } | null }[];
    }>((cb) => this.client(askId).FindCoordinator({ groupIds: [this.groupId] }, within(5_000), cb));
    const res = r.results[0];
    return res?.errorCode === 0 ? res.coordinator?.nodeId : undefined;
  }

  /** OffsetCommit by `m` at its epoch; the first error code, 0 when every partition committed. */
  async commit(
    coordId: number,
    m: Member,
    topic: string,
    offsets: ReadonlyMap<number, number>,
  ): Promise<number> {
    const r = await unary<{ errorCode: number; topics: { partitions: { errorCode: number }[] }[] }>(
      (cb) =>
        this.client(coordId).OffsetCommit(
          {
            groupId: this.groupId,
            memberId: m.memberId,
            memberEpoch: m.epoch,
            topics: [
              {
                topic,
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

  /** Every committed offset of the group (partition -> offset), asking `coordId`. */
  async fetchOffsets(
    coordId: number,
  ): Promise<{ errorCode: number; offsets: Map<number, number> }> {
    const r = await unary<{
      errorCode: number;
      topics: { topic: string; partitions: { partition: number; committedOffset: string }[] }[];
    }>((cb) =>
      this.client(coordId).OffsetFetch({ groupId: this.groupId, topics: [] }, within(10_000), cb),
    );
    const offsets = new Map(
      r.topics.flatMap((t) =>
        t.partitions.map((p) => [p.partition, Number(p.committedOffset)] as const),
      ),
    );
    return { errorCode: r.errorCode, offsets };
  }
}

/** A member following the protocol with raw calls: it owns exactly its last assignment. */
export class Member {
  memberId = "";
  epoch = 0;
  owned = new Map<string, number[]>();
  readonly rpc: GroupRpc;
  readonly topic: string;

  constructor(rpc: GroupRpc, topic: string) {
    this.rpc = rpc;
    this.topic = topic;
  }

  async beat(coordId: number): Promise<ConsumerGroupHeartbeatResponse__Output> {
    const r = await unary<ConsumerGroupHeartbeatResponse__Output>((cb) =>
      this.rpc.client(coordId).ConsumerGroupHeartbeat(
        {
          groupId: this.rpc.groupId,
          memberId: this.memberId,
          memberEpoch: this.epoch,
          ...(this.epoch === 0 ? { subscription: { topicNames: [this.topic] } } : {}),
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
    return [...(this.owned.get(this.topic) ?? [])].sort();
  }
}

/**
 * Joins `a` and `b` at `coord` and waits until the group is stable: each owns half of the
 * topic's `partitions`, none owned twice, at one group epoch.
 */
export async function joinTwo(
  coord: number,
  a: Member,
  b: Member,
  partitions: number,
): Promise<void> {
  await waitFor("a joins", async () => (await a.beat(coord)).errorCode === 0, 30_000, 100);
  await waitFor("b joins", async () => (await b.beat(coord)).errorCode === 0, 10_000, 100);
  await waitFor(
    "disjoint halves of every partition at one epoch",
    async () => {
      for (const m of [a, b]) {
        const r = await m.beat(coord);
        if (r.errorCode !== 0) throw new Error(`heartbeat refused: ${r.errorMessage}`);
      }
      const [pa, pb] = [a.partitions(), b.partitions()];
      const twice = pa.filter((p) => pb.includes(p));
      if (twice.length > 0) throw new Error(`partitions ${twice.join(",")} owned twice`);
      return pa.length === partitions / 2 && pb.length === partitions / 2 && a.epoch === b.epoch;
    },
    20_000,
    100,
  );
}

/** The coordinator `askId` names once it is no longer `old` (killed). */
export function nextCoordinator(rpc: GroupRpc, old: number, askId: number): Promise<number> {
  return waitFor(
    "a new coordinator",
    async () => {
      const id = await rpc.coordinator(askId);
      return id !== undefined && id !== old ? id : undefined;
    },
    30_000,
    100,
  );
}

/**
 * Heartbeats every member at `coord` until it is accepted: a coordinator still loading the
 * group answers with a retriable code first.
 */
export async function resumeAt(coord: number, members: readonly Member[]): Promise<void> {
  for (const m of members)
    await waitFor(
      "a heartbeat on the new coordinator",
      async () => (await m.beat(coord)).errorCode === 0,
      30_000,
      100,
    );
}
