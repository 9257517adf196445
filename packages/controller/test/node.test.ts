// Goal: three ControllerNodes over the real gRPC transport on 127.0.0.1 form a working
// metadata quorum: one becomes active after applying its own term's first entry, others
// answer writes with NOT_CONTROLLER and a leader hint, brokers register and unfence, a
// topic with RF 3 is created, a broker whose heartbeats stop is fenced with its partitions'
// leadership moved in the same batch, MetadataFollowers (one live, one late that starts from a
// snapshot) end with the controllers' image, bad input gets INVALID_ARGUMENT, and closing the
// active node moves the controller and the followers elsewhere. The first active controller
// names the cluster: every voter reports the same cluster id, another cluster another id.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as grpcStatus } from "@grpc/grpc-js";
import { ErrorCode } from "@strand/protocol";
import { nodeId } from "@strand/raft";
import { afterEach, describe, expect, it } from "vitest";
import { freePorts, waitFor } from "../../../test/support/free-ports.ts";
import { encodeMetadataBatch } from "../src/codec.ts";
import type { MetadataDelta, MetadataImage } from "../src/image.ts";
import {
  ControllerClient,
  ControllerNode,
  MetadataFollower,
  type VoterConfig,
} from "../src/node/index.ts";
import { imageToRecords } from "../src/snapshot.ts";
import { brokerId } from "../src/types.ts";

const TICK_MS = 20;
const SESSION_TIMEOUT_MS = 1_000;

interface Cluster {
  readonly nodes: ControllerNode[];
  readonly voters: VoterConfig[];
  readonly dir: string;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startCluster(forward = false): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "strand-node-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const ports = await freePorts(3);
  const voters = ports.map((port, k) => ({ id: nodeId(k + 1), host: "127.0.0.1", port }));
  const nodes = await Promise.all(
    voters.map((v) =>
      ControllerNode.start({
        nodeId: v.id,
        dataDir: join(dir, `n${v.id}`),
        listen: `127.0.0.1:${v.port}`,
        voters,
        tickMs: TICK_MS,
        controllerTickMs: 25,
        noOpIntervalMs: 300,
        snapshotEveryEntries: 10,
        compactionLagEntries: 2,
        controller: { sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs: 100 },
        forward,
      }),
    ),
  );
  for (const n of nodes) cleanup.push(() => n.close());
  return { nodes, voters, dir };
}

function active(c: Cluster): ControllerNode | undefined {
  return c.nodes.find((n) => n.controller.isActive);
}

function client(address: string): ControllerClient {
  const cl = new ControllerClient(address);
  cleanup.push(() => cl.close());
  return cl;
}

function follower(addresses: string[]): MetadataFollower {
  const f = new MetadataFollower({ controllers: addresses, backoffMsMin: 20, backoffMsMax: 200 });
  cleanup.push(() => f.close());
  f.start();
  return f;
}

function imageBytes(image: MetadataImage): string {
  return Buffer.from(encodeMetadataBatch(imageToRecords(image))).toString("hex");
}

/** Waits until every image is at the same offset, then expects identical content. */
async function expectSameImages(images: (() => MetadataImage)[]): Promise<void> {
  const same = await waitFor("images at one offset", () => {
    const all = images.map((f) => f());
    return all.every((i) => i.offset === all[0]?.offset) ? all : undefined;
  });
  const first = same[0]!;
  for (const i of same) {
    expect(i.epoch).toBe(first.epoch);
    expect(imageBytes(i)).toBe(imageBytes(first));
  }
}

/** Heartbeats a broker every 100 ms with the follower's applied offset until stopped. */
function heartbeats(cl: () => ControllerClient, id: number, epoch: string, f: MetadataFollower) {
  let on = true;
  const beat = async (): Promise<void> => {
    for (let k = 0; on && k < 10_000; k++) {
      await cl()
        .brokerHeartbeat({
          brokerId: id,
          brokerEpoch: epoch,
          metadataOffset: String(f.appliedOffset),
        })
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  void beat();
  const stop = () => {
    on = false;
  };
  cleanup.push(stop);
  return stop;
}

describe("ControllerNode quorum over gRPC", () => {
  it("registers, creates, fences in one batch, and followers match the controllers", async () => {
    const c = await startCluster();
    const leader = await waitFor("an active controller", () => active(c));
    const other = c.nodes.find((n) => n !== leader)!;
    const toLeader = () => client(active(c)?.address ?? leader.address);

    // A standby answers a write with NOT_CONTROLLER and names the active controller.
    const refused = await client(other.address).registerBroker({
      brokerId: 1,
      incarnationId: "i-1",
      listeners: [{ name: "client", host: "127.0.0.1", port: 9092 }],
    });
    expect(refused.error?.code).toBe(ErrorCode.NOT_CONTROLLER.code);
    expect(refused.error?.controllerId).toBe(leader.id);
    expect(refused.error?.controllerAddress).toBe(leader.address);

    const f = follower(c.nodes.map((n) => n.address));
    const deltas: [MetadataDelta, MetadataImage][] = [];
    f.onDelta((d, image) => deltas.push([d, image]));
    const stops = new Map<number, () => void>();
    const leaderClient = toLeader();
    for (const id of [1, 2, 3]) {
      const res = await leaderClient.registerBroker({
        brokerId: id,
        incarnationId: `i-${id}`,
        listeners: [{ name: "client", host: "127.0.0.1", port: 9000 + id }],
      });
      expect(res.error?.code).toBe(0);
      stops.set(id, heartbeats(toLeader, id, res.brokerEpoch, f));
    }
    await waitFor("3 unfenced brokers", () =>
      [1, 2, 3].every((id) => leader.image.brokers.get(brokerId(id))?.fenced === false),
    );

    const created = await leaderClient.createTopics({
      topics: [{ name: "orders", partitionCount: 3, replicationFactor: 3 }],
    });
    expect(created.topics[0]?.error?.code).toBe(0);
    const topicId = created.topics[0]!.topicId;
    await waitFor("the follower sees the topic", () => f.image.topicsById.has(topicId as never));
    const ledBy3 = [...f.image.topicsById.get(topicId as never)!.partitions.values()].filter(
      (p) => p.leader === 3,
    );
    expect(ledBy3.length).toBe(1);

    // Broker 3 stops heartbeating: after the session timeout it is fenced, and the batch that
    // fences it also moves leadership of the partition it led.
    stops.get(3)!();
    const b3 = brokerId(3);
    const [fencing] = await waitFor(
      "broker 3 fenced",
      () =>
        deltas.find(
          ([d, i]) => d.base.brokers.get(b3)?.fenced === false && i.brokers.get(b3)?.fenced,
        ),
      SESSION_TIMEOUT_MS * 5,
    );
    expect(fencing.changedPartitions.get(topicId as never)?.has(ledBy3[0]!.partition)).toBe(true);
    const moved = f.image.topicsById.get(topicId as never)!.partitions.get(ledBy3[0]!.partition)!;
    expect(moved.leader).not.toBe(3);
    expect(moved.isr).not.toContain(3);
    expect(moved.leaderEpoch).toBe(ledBy3[0]!.leaderEpoch + 1);

    // A late follower starts from a snapshot (the log was compacted) and converges too.
    await waitFor("a compacted log", () => (leader.batchesAfter(0, 1) === null ? true : undefined));
    const late = follower([other.address]);
    const lateDeltas: MetadataDelta[] = [];
    late.onDelta((d) => lateDeltas.push(d));
    await expectSameImages([...c.nodes.map((n) => () => n.image), () => f.image, () => late.image]);
    expect(lateDeltas[0]?.base.offset).toBe(0);
    for (const stop of stops.values()) stop();
  });

  it("names the cluster once: one id on every voter, over the wire, another for another cluster", async () => {
    const [a, b] = await Promise.all([startCluster(), startCluster()]);
    const idOf = async (c: Cluster): Promise<string> => {
      const ids = await waitFor("every voter's cluster id", () => {
        const seen = c.nodes.map((n) => n.controller.image.clusterId);
        return seen.every((id) => id !== null) ? seen : undefined;
      });
      expect(new Set(ids).size).toBe(1);
      const id = ids[0] as string;
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      for (const n of c.nodes)
        expect((await client(n.address).describeCluster()).clusterId).toBe(id);
      return id;
    };
    const [idA, idB] = [await idOf(a), await idOf(b)];
    expect(idA).not.toBe(idB);
    // Written once: a new controller keeps the id (the image replays the same record).
    await waitFor("a snapshot", () => a.nodes.every((n) => n.controller.image.offset > 0));
    expect(imageToRecords(a.nodes[0]!.controller.image)).toContainEqual({
      type: "clusterId",
      clusterId: idA,
    });
  });

  it("answers DescribeCluster with the quorum, refuses bad input, and fails over", async () => {
    const c = await startCluster();
    const leader = await waitFor("an active controller", () => active(c));
    const cl = client(leader.address);
    const described = await waitFor("every voter's match index", async () => {
      const d = await cl.describeCluster();
      return d.quorum?.voters.every((v) => Number(v.matchIndex) > 0) ? d : undefined;
    });
    expect(described.activeControllerId).toBe(leader.id);
    expect(described.quorum?.role).toBe("leader");
    expect(described.quorum?.voters.map((v) => v.nodeId).sort()).toEqual([1, 2, 3]);

    const invalid = [
      () => cl.registerBroker({ brokerId: -1, incarnationId: "x", listeners: [] }),
      () => cl.brokerHeartbeat({ brokerId: 1, brokerEpoch: "-5" }),
      () => cl.alterPartition({ brokerId: 1, topicId: "not-a-uuid", isr: [1] }),
      () => cl.alterConfigs({ target: "CONFIG_TARGET_UNSPECIFIED", name: "t" }),
      () => cl.createTopics({ topics: [{ name: "", partitionCount: 1, replicationFactor: 1 }] }),
    ];
    for (const call of invalid) {
      await expect(call()).rejects.toMatchObject({ code: grpcStatus.INVALID_ARGUMENT });
    }
    const garbage = cl.raw.FetchMetadata({ appliedOffset: "-3" });
    const code = await new Promise<number>((resolve) => {
      garbage.on("error", (e: { code: number }) => resolve(e.code));
      garbage.on("data", () => undefined);
    });
    expect(code).toBe(grpcStatus.INVALID_ARGUMENT);
    // Valid but refused by the handlers: a Strand error code, not a gRPC failure.
    const noTopic = await cl.createTopics({
      topics: [{ name: "t", partitionCount: 1, replicationFactor: 1 }],
    });
    expect(noTopic.topics[0]?.error?.code).toBe(ErrorCode.INVALID_REPLICATION_FACTOR.code);
    expect(noTopic.topics[0]?.error?.message).toContain(
      ErrorCode.INVALID_REPLICATION_FACTOR.action,
    );

    // The follower is connected to the leader; closing the leader moves both elsewhere.
    const f = follower([
      leader.address,
      ...c.nodes.filter((n) => n !== leader).map((n) => n.address),
    ]);
    await waitFor("the follower caught up", () => f.appliedOffset >= leader.image.offset);
    await leader.close();
    const rest = c.nodes.filter((n) => n !== leader);
    const next = await waitFor("a new active controller", () =>
      rest.find((n) => n.controller.isActive),
    );
    expect(next).not.toBe(leader);
    const res = await client(next.address).registerBroker({
      brokerId: 7,
      incarnationId: "i-7",
      listeners: [{ name: "client", host: "127.0.0.1", port: 9007 }],
    });
    expect(res.error?.code).toBe(0);
    await expectSameImages([...rest.map((n) => () => n.image), () => f.image]);
    expect(f.image.brokers.has(brokerId(7))).toBe(true);
    expect(f.connects).toBeGreaterThan(1);
  });

  it("forwards a standby's writes to the active controller when forward is on", async () => {
    const c = await startCluster(true);
    const leader = await waitFor("an active controller", () => active(c));
    const standby = c.nodes.find((n) => n !== leader)!;
    const res = await client(standby.address).registerBroker({
      brokerId: 4,
      incarnationId: "i-4",
      listeners: [{ name: "client", host: "127.0.0.1", port: 9004 }],
    });
    expect(res.error?.code).toBe(0);
    expect(Number(res.brokerEpoch)).toBeGreaterThan(0);
    await waitFor("the standby applied it", () => standby.image.brokers.has(brokerId(4)));
  });
});
