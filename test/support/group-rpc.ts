/**
 * Raw GroupService calls for cluster tests that drive the group protocol by hand (no SDK): a
 * member that owns exactly its last assignment, commits, OffsetFetch and FindCoordinator.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type ConsumerGroupHeartbeatResponse__Output,
  type GroupServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { unary } from "./cluster.ts";
import { type FaultCluster, within } from "./fault.ts";

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
