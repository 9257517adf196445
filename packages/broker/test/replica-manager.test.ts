// Goal: the broker data plane works end to end in-process: three ReplicaManagers with their own
// LogManagers and gRPC internal servers on 127.0.0.1 replicate over ReplicationService streams;
// acks=all completes once followers replicate, consumers never see data at or above the HW,
// long polls wake on data, the ISR shrinks and expands through a fake controller's
// compare-and-set, a diverged old leader truncates to the new leader's log, and bad input is
// answered per partition while the rest of the request succeeds.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { sleep } from "@strand/base";
import {
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  applyBatch,
  type BrokerId,
  brokerEpoch,
  brokerId,
  EMPTY_IMAGE,
  leaderEpoch,
  type MetadataImage,
  type MetadataRecord,
  metadataOffset,
  partitionEpoch,
  topicId,
} from "@strand/controller";
import type { ReplicaFetchResponse__Output } from "@strand/protocol";
import { BatchHeaderView, ErrorCode, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { type Log, LogManager } from "@strand/storage";
import { afterEach, describe, expect, it } from "vitest";
import { type BrokerMetrics, createBrokerMetrics } from "../src/admin/metrics.ts";
import type { ReplicaManagerConfig } from "../src/replica/options.ts";
import { ReplicaManager } from "../src/replica/replica-manager.ts";
import { grpcReplicationTransport } from "../src/services/replication-client.ts";
import { createReplicationHandlers } from "../src/services/replication-service.ts";
import {
  replicationClient,
  replicationServiceDefinition,
} from "../src/services/replication-wire.ts";

const TOPIC = "orders";
const TOPIC_ID = topicId("00000000-0000-4000-8000-000000000001");
const CONFIG: Partial<ReplicaManagerConfig> = {
  replicaLagTimeMaxMs: 400,
  isrCheckIntervalMs: 50,
  replicaFetchMaxWaitMs: 100,
  replicaFetchBackoffMs: 30,
  replicaFetchBackoffMaxMs: 200,
  replicaFetchResponseTimeoutMs: 2_000,
  minInsyncReplicas: 2,
  messageMaxBytes: 64 * 1024,
  alterPartitionRetryMs: 20,
};

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function batch(count: number, valueBytes = 16, timestampMs = Date.now()): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    key: null,
    value: Buffer.alloc(valueBytes, 97 + (i % 26)),
  }));
  return encodeRecordBatch({ baseTimestamp: BigInt(timestampMs), records });
}

interface Node {
  readonly id: BrokerId;
  readonly metrics: BrokerMetrics;
  readonly dir: string;
  readonly logManager: LogManager;
  readonly manager: ReplicaManager;
  readonly server: grpc.Server;
  readonly port: number;
}

/** The metadata quorum in small: a record list, an image, AlterPartition by hand. */
class FakeController {
  image: MetadataImage = EMPTY_IMAGE;
  readonly records: MetadataRecord[] = [];
  readonly nodes = new Map<number, Node>();
  #offset = 0;

  async append(records: MetadataRecord[]): Promise<void> {
    this.#offset += 1;
    this.records.push(...records);
    const { image, delta } = applyBatch(this.image, records, {
      offset: metadataOffset(this.#offset),
      epoch: 1,
    });
    this.image = image;
    await Promise.all([...this.nodes.values()].map((n) => n.manager.applyMetadata(delta, image)));
  }

  /** Everything so far as one delta from the empty image (a node that starts or restarts). */
  async catchUp(node: Node): Promise<void> {
    const { delta } = applyBatch(EMPTY_IMAGE, this.records, {
      offset: metadataOffset(this.#offset),
      epoch: 1,
    });
    await node.manager.applyMetadata(delta, this.image);
  }

  register(id: number, port: number): Promise<void> {
    return this.append([
      {
        type: "registerBroker",
        brokerId: brokerId(id),
        incarnationId: `incarnation-${id}-${this.#offset}`,
        listeners: [
          { name: "internal", host: "127.0.0.1", port },
          { name: "client", host: "127.0.0.1", port },
        ],
        rack: null,
        fenced: false,
        brokerEpoch: brokerEpoch(this.#offset + 1),
        inControlledShutdown: false,
      },
    ]);
  }

  partition(n = 0) {
    return this.image.topicsById.get(TOPIC_ID)!.partitions.get(n)!;
  }

  async alterPartition(req: AlterPartitionRequest): Promise<AlterPartitionResponse> {
    const p = this.image.topicsById.get(req.topicId)?.partitions.get(req.partition) ?? null;
    const fail = (code: typeof ErrorCode.NONE) => ({
      errorCode: code,
      errorMessage: code.name,
      partition: p,
    });
    if (p === null) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (this.image.brokers.get(req.brokerId)?.epoch !== req.brokerEpoch)
      return fail(ErrorCode.STALE_BROKER_EPOCH);
    if (p.leader !== req.brokerId || p.leaderEpoch !== req.leaderEpoch)
      return fail(ErrorCode.FENCED_LEADER_EPOCH);
    if (p.partitionEpoch !== req.partitionEpoch) return fail(ErrorCode.INVALID_UPDATE_VERSION);
    if (req.isr.some((b) => !p.replicas.includes(b))) return fail(ErrorCode.INELIGIBLE_REPLICA);
    await this.append([
      {
        type: "partitionChange",
        topicId: req.topicId,
        partition: req.partition,
        isr: [...req.isr],
      },
    ]);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      partition: this.partition(req.partition),
    };
  }
}

class Cluster {
  readonly controller = new FakeController();
  readonly dirs = new Map<number, string>();

  async start(id: number, config: Partial<ReplicaManagerConfig> = CONFIG): Promise<Node> {
    const dir = this.dirs.get(id) ?? (await mkdtemp(path.join(tmpdir(), `strand-replica-${id}-`)));
    this.dirs.set(id, dir);
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    await this.controller.register(id, port);
    const logManager = await LogManager.open(dir);
    const ctrl = this.controller;
    const metrics = createBrokerMetrics(id);
    const manager = new ReplicaManager({
      metrics,
      deps: {
        brokerId: id,
        brokerEpoch: () => ctrl.image.brokers.get(brokerId(id))!.epoch,
        alterPartition: (req) => ctrl.alterPartition(req),
        image: () => ctrl.image,
      },
      logManager,
      config,
      replicationTransport: grpcReplicationTransport(),
    });
    server.addService(
      replicationServiceDefinition(),
      createReplicationHandlers(manager.replicaFetchLeader()),
    );
    const node: Node = { id: brokerId(id), dir, logManager, manager, server, port, metrics };
    ctrl.nodes.set(id, node);
    await ctrl.catchUp(node);
    return node;
  }

  async stop(id: number): Promise<void> {
    const node = this.controller.nodes.get(id);
    if (node === undefined) return;
    this.controller.nodes.delete(id);
    await node.manager.close();
    node.server.forceShutdown();
  }

  /** A topic with `partitions` partitions, all on brokers 1..3, led by `leader`. */
  createTopic(partitions = 1, leader = 1, epoch = 0): Promise<void> {
    const records: MetadataRecord[] = [{ type: "topic", name: TOPIC, topicId: TOPIC_ID }];
    for (let n = 0; n < partitions; n++) {
      records.push({
        type: "partition",
        topicId: TOPIC_ID,
        partition: n,
        replicas: [1, 2, 3].map(brokerId),
        isr: [1, 2, 3].map(brokerId),
        leader: brokerId(leader),
        leaderEpoch: leaderEpoch(epoch),
        partitionEpoch: partitionEpoch(0),
      });
    }
    return this.controller.append(records);
  }

  node(id: number): Node {
    return this.controller.nodes.get(id)!;
  }

  status(id: number, n = 0) {
    return this.node(id)
      .manager.partitionStatuses()
      .find((s) => s.topic === TOPIC && s.partition === n);
  }

  async close(): Promise<void> {
    for (const id of [...this.controller.nodes.keys()]) await this.stop(id);
    for (const dir of this.dirs.values()) await rm(dir, { recursive: true, force: true });
  }
}

let cluster: Cluster | null = null;

async function threeNodes(partitions = 1, epoch = 0): Promise<Cluster> {
  cluster = new Cluster();
  for (const id of [1, 2, 3]) await cluster.start(id);
  await cluster.createTopic(partitions, 1, epoch);
  return cluster;
}

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const ALL = { acks: "all", timeoutMs: 10_000 } as const;
const produceTo = (
  node: Node,
  records: Buffer,
  n = 0,
  options: { acks: "all" | "leader" | "none"; timeoutMs: number } = ALL,
) => node.manager.produce(options, [{ topic: TOPIC, partition: n, records }]).then((r) => r[0]!);

function fetchFrom(
  node: Node,
  fetchOffset: bigint,
  options: { maxWaitMs?: number; minBytes?: number; epoch?: number; signal?: AbortSignal } = {},
) {
  return node.manager
    .fetch(
      {
        minBytes: options.minBytes ?? 1,
        maxBytes: 1 << 20,
        maxWaitMs: options.maxWaitMs ?? 0,
        signal: options.signal,
      },
      [
        {
          topic: TOPIC,
          partition: 0,
          fetchOffset,
          currentLeaderEpoch: options.epoch ?? -1,
          partitionMaxBytes: 1 << 20,
        },
      ],
    )
    .then((r) => r[0]!);
}

type ReadOptions = Parameters<Log["read"]>[1];
type ReadResult = Awaited<ReturnType<Log["read"]>>;

/**
 * Holds the first leader log read that `matches` after it has read (its result is fixed) until
 * `release()`: appends and HW advances can then happen between a fetch's read and its parking.
 */
function holdOneRead(
  node: Node,
  matches: (options: ReadOptions, result: ReadResult) => boolean,
): { entered: Promise<void>; release: () => void } {
  const log = node.logManager.getLog(TOPIC, 0)!;
  const read = log.read.bind(log);
  let release!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const hit = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let armed = true;
  log.read = async (start, options) => {
    const result = await read(start, options);
    if (armed && matches(options, result)) {
      armed = false;
      entered();
      await gate;
    }
    return result;
  };
  return { entered: hit, release };
}

/** Every batch in `records` ends at or below `hw` (whole batches below the HW only). */
function expectBelow(records: Buffer, hw: bigint): void {
  for (const view of iterateBatches(records)) expect(view.nextOffset <= hw).toBe(true);
}

async function logBytes(node: Node): Promise<Buffer> {
  const log = node.logManager.getLog(TOPIC, 0)!;
  const read = await log.read(log.logStartOffset, { maxBytes: 1 << 24 });
  return read.records;
}

describe("ReplicaManager over gRPC, three brokers", () => {
  it("acks=all completes once followers replicate; offsets are contiguous; ListOffsets", async () => {
    const c = await threeNodes();
    const leader = c.node(1);
    let next = 0n;
    for (let i = 0; i < 5; i++) {
      const res = await produceTo(leader, batch(3));
      expect(res.errorCode).toBe(0);
      expect(res.baseOffset).toBe(next);
      next += 3n;
    }
    expect(c.status(1)!.highWatermark).toBe(15n);
    await waitFor("followers' logs end at 15", () =>
      [2, 3].every((id) => c.status(id)!.logEndOffset === 15n),
    );
    const fetched = await fetchFrom(leader, 0n);
    expect(fetched.errorCode).toBe(0);
    expect([...iterateBatches(fetched.records)].map((v) => v.baseOffset)).toEqual([
      0n,
      3n,
      6n,
      9n,
      12n,
    ]);
    expectBelow(fetched.records, fetched.highWatermark);
    expect((await logBytes(c.node(2))).equals(await logBytes(leader))).toBe(true);
    expect((await leader.manager.listOffsets(TOPIC, 0, "earliest")).offset).toBe(0n);
    expect((await leader.manager.listOffsets(TOPIC, 0, "latest")).offset).toBe(15n);
    expect((await leader.manager.listOffsets(TOPIC, 0, { timestamp: 0n })).offset).toBe(0n);
    const notLeader = await c.node(2).manager.listOffsets(TOPIC, 0, "latest");
    expect(notLeader.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER.code);
    expect(notLeader.leaderHint?.leaderId).toBe(1);
  });

  it("a long poll completes when data arrives and times out otherwise", async () => {
    const c = await threeNodes();
    const leader = c.node(1);
    const t0 = Date.now();
    const empty = await fetchFrom(leader, 0n, { maxWaitMs: 200 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(empty.records.length).toBe(0);
    const t1 = Date.now();
    const waiting = fetchFrom(leader, 0n, { maxWaitMs: 8_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect((await produceTo(leader, batch(2))).errorCode).toBe(0);
    const woke = await waiting;
    expect(Date.now() - t1).toBeLessThan(4_000);
    expect(woke.records.length).toBeGreaterThan(0);
    expectBelow(woke.records, woke.highWatermark);
    const aborter = new AbortController();
    const aborted = fetchFrom(leader, 2n, { maxWaitMs: 8_000, signal: aborter.signal });
    aborter.abort();
    expect((await aborted).records.length).toBe(0);
  });

  it("a long poll whose read raced an HW advance answers at once, not at maxWaitMs", async () => {
    const c = await threeNodes();
    const leader = c.node(1);
    const gate = holdOneRead(
      leader,
      (options, result) => options.maxOffset !== undefined && result.records.length === 0,
    );
    const t0 = Date.now();
    const waiting = fetchFrom(leader, 0n, { maxWaitMs: 20_000 });
    await gate.entered;
    // The HW moves while the consumer's (empty) read is still on its way back.
    expect((await produceTo(leader, batch(2))).errorCode).toBe(0);
    gate.release();
    const woke = await waiting;
    expect(woke.records.length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("a follower fetch whose read raced an append is answered at once: acks=all does not wait for replica.fetch.max.wait.ms", async () => {
    cluster = new Cluster();
    const slowPolls = { ...CONFIG, replicaFetchMaxWaitMs: 15_000, replicaLagTimeMaxMs: 60_000 };
    for (const id of [1, 2, 3]) await cluster.start(id, slowPolls);
    await cluster.createTopic(1, 1, 0);
    const c = cluster;
    const leader = c.node(1);
    const gate = holdOneRead(
      leader,
      (options, result) => options.maxOffset === undefined && result.records.length === 0,
    );
    await gate.entered;
    const producing = produceTo(leader, batch(2), 0, { acks: "all", timeoutMs: 30_000 });
    await waitFor("the leader appended", () => c.status(1)!.logEndOffset === 2n);
    const t0 = Date.now();
    gate.release();
    expect((await producing).errorCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(7_500);
  });

  it("a stopped follower leaves the ISR; below min ISR acks=all is refused; restart rejoins", async () => {
    const c = await threeNodes();
    const leader = c.node(1);
    expect((await produceTo(leader, batch(1))).errorCode).toBe(0);
    const stoppedAt = Date.now();
    await c.stop(3);
    // An idle caught-up follower stays in sync (Kafka's rule); new data makes broker 3 lag, and
    // the acks=all produce completes once the ISR shrank and the HW moved over [1,2]. Broker 3
    // was last caught up at its last fetch, which may have reached the leader up to one
    // replica.fetch.max.wait.ms before it stopped: the shrink can come no earlier than that.
    expect((await produceTo(leader, batch(2))).errorCode).toBe(0);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(
      CONFIG.replicaLagTimeMaxMs! - CONFIG.replicaFetchMaxWaitMs!,
    );
    expect(c.controller.partition().isr.join()).toBe("1,2");
    expect(c.status(1)!.highWatermark).toBe(3n);
    await c.stop(2);
    const leaderOnly = { acks: "leader", timeoutMs: 1_000 } as const;
    expect((await produceTo(leader, batch(1), 0, leaderOnly)).errorCode).toBe(0);
    await waitFor("ISR shrinks to [1]", () => c.controller.partition().isr.join() === "1");
    const refused = await produceTo(leader, batch(1));
    expect(refused.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS.code);
    // acks=leader still appends, but the HW is frozen below min ISR: consumers see nothing new.
    expect((await produceTo(leader, batch(3), 0, leaderOnly)).errorCode).toBe(0);
    expect(c.status(1)!.logEndOffset).toBe(7n);
    const frozen = await fetchFrom(leader, 0n);
    expect(frozen.highWatermark).toBe(3n);
    expectBelow(frozen.records, 3n);
    expect((await fetchFrom(leader, 3n)).records.length).toBe(0);
    await c.start(3);
    await waitFor("broker 3 rejoins the ISR", () =>
      c.controller.partition().isr.includes(brokerId(3)),
    );
    await waitFor("HW reaches 7", () => c.status(1)!.highWatermark === 7n);
    expect((await produceTo(leader, batch(1))).errorCode).toBe(0);
    await waitFor("broker 3 caught up", () => c.status(3)?.logEndOffset === 8n);
    expect((await logBytes(c.node(3))).equals(await logBytes(leader))).toBe(true);
  });

  it("an old leader with unreplicated batches truncates to the new leader's log", async () => {
    const c = await threeNodes();
    const old = c.node(1);
    for (let i = 0; i < 2; i++) expect((await produceTo(old, batch(2))).errorCode).toBe(0);
    await waitFor("replicated", () => [2, 3].every((id) => c.status(id)!.logEndOffset === 4n));
    await c.stop(2);
    await c.stop(3);
    for (let i = 0; i < 3; i++) {
      expect(
        (await produceTo(old, batch(5), 0, { acks: "leader", timeoutMs: 1_000 })).errorCode,
      ).toBe(0);
    }
    expect(c.status(1)!.logEndOffset).toBe(19n);
    await c.stop(1);
    await c.controller.append([
      {
        type: "partitionChange",
        topicId: TOPIC_ID,
        partition: 0,
        leader: brokerId(2),
        isr: [2, 3].map(brokerId),
      },
    ]);
    const leader = await c.start(2);
    await c.start(3);
    expect(c.status(2)!.role).toBe("leader");
    expect(c.status(2)!.leaderEpoch).toBe(1);
    for (let i = 0; i < 2; i++) expect((await produceTo(leader, batch(1))).errorCode).toBe(0);
    await c.start(1);
    await waitFor(
      "old leader's log ends at the new leader's",
      () => c.status(1)?.logEndOffset === 6n,
      15_000,
    );
    expect((await logBytes(c.node(1))).equals(await logBytes(leader))).toBe(true);
    await waitFor("old leader rejoins the ISR", () =>
      c.controller.partition().isr.includes(brokerId(1)),
    );
  });

  it("counts leader elections, and as unclean only a leader outside the ISR it knew", async () => {
    const c = await threeNodes();
    const elections = async (id: number) => {
      const m = c.node(id).metrics;
      return {
        all: (await m.leaderElectionsTotal.get()).values[0]?.value ?? 0,
        unclean: (await m.uncleanLeaderElectionsTotal.get()).values[0]?.value ?? 0,
      };
    };
    expect(await elections(1)).toEqual({ all: 1, unclean: 0 });
    const change = (leader: number, isr: number[]) =>
      c.controller.append([
        {
          type: "partitionChange",
          topicId: TOPIC_ID,
          partition: 0,
          leader: brokerId(leader),
          isr: isr.map(brokerId),
        },
      ]);
    await change(2, [2, 3]);
    expect(await elections(2)).toEqual({ all: 1, unclean: 0 });
    // The ISR shrinks to {2}; then 3, outside it, is elected (what an unclean election does).
    await c.controller.append([
      { type: "partitionChange", topicId: TOPIC_ID, partition: 0, isr: [brokerId(2)] },
    ]);
    await change(3, [3]);
    expect(await elections(3)).toEqual({ all: 1, unclean: 1 });
    expect(await elections(1)).toEqual({ all: 1, unclean: 0 });
  });

  it("bad input gets its own code while the rest of the request succeeds", async () => {
    const c = await threeNodes(3, 4);
    const leader = c.node(1);
    const badCrc = batch(2);
    badCrc.writeUInt8(badCrc.readUInt8(badCrc.length - 1) ^ 0xff, badCrc.length - 1);
    const results = await leader.manager.produce(ALL, [
      { topic: TOPIC, partition: 0, records: Buffer.from("definitely not a record batch") },
      { topic: TOPIC, partition: 1, records: badCrc },
      { topic: TOPIC, partition: 2, records: batch(1, 100 * 1024) },
      { topic: TOPIC, partition: 9, records: batch(1) },
      { topic: "nope", partition: 0, records: batch(1) },
      { topic: TOPIC, partition: 2, records: batch(3) },
    ]);
    expect(results.map((r) => r.errorCode)).toEqual([
      ErrorCode.CORRUPT_MESSAGE.code,
      ErrorCode.CORRUPT_MESSAGE.code,
      ErrorCode.MESSAGE_TOO_LARGE.code,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
      0,
    ]);
    expect(results[5]!.baseOffset).toBe(0n);
    const fetched = await leader.manager.fetch({ minBytes: 1, maxBytes: 1 << 20, maxWaitMs: 0 }, [
      {
        topic: TOPIC,
        partition: 2,
        fetchOffset: 0n,
        currentLeaderEpoch: 3,
        partitionMaxBytes: 1 << 20,
      },
      {
        topic: TOPIC,
        partition: 2,
        fetchOffset: 0n,
        currentLeaderEpoch: 4,
        partitionMaxBytes: 1 << 20,
      },
      {
        topic: TOPIC,
        partition: 2,
        fetchOffset: 99n,
        currentLeaderEpoch: 4,
        partitionMaxBytes: 1 << 20,
      },
      {
        topic: TOPIC,
        partition: 7,
        fetchOffset: 0n,
        currentLeaderEpoch: -1,
        partitionMaxBytes: 1 << 20,
      },
    ]);
    expect(fetched.map((r) => r.errorCode)).toEqual([
      ErrorCode.FENCED_LEADER_EPOCH.code,
      0,
      ErrorCode.OFFSET_OUT_OF_RANGE.code,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
    ]);
    expect(new BatchHeaderView(fetched[1]!.records).validate().partitionLeaderEpoch).toBe(4);
    const follower = await c
      .node(2)
      .manager.produce(ALL, [{ topic: TOPIC, partition: 0, records: batch(1) }]);
    expect(follower[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER.code);
    expect(follower[0]!.leaderHint).toMatchObject({
      leaderId: 1,
      leaderEpoch: 4,
      port: leader.port,
    });
  });

  it("the replication service fences stale leader and broker epochs per partition and per request", async () => {
    const c = await threeNodes(2, 4);
    const leader = c.node(1);
    // A raw follower stream, as broker 3 (its real fetcher keeps running beside it).
    const client = replicationClient(`127.0.0.1:${leader.port}`, 8 << 20);
    const call = client.ReplicaFetch();
    const answers: ReplicaFetchResponse__Output[] = [];
    call.on("data", (r: ReplicaFetchResponse__Output) => answers.push(r));
    call.on("error", () => {});
    const epoch3 = String(c.controller.image.brokers.get(brokerId(3))!.epoch);
    const entry = (partition: number, currentLeaderEpoch: number) => ({
      topicId: TOPIC_ID,
      topic: TOPIC,
      partition,
      fetchOffset: "0",
      lastFetchedEpoch: -1,
      currentLeaderEpoch,
      logStartOffset: "0",
      partitionMaxBytes: 1 << 20,
    });
    try {
      call.write({
        correlationId: "1",
        replicaId: 3,
        brokerEpoch: epoch3,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        partitions: [entry(0, 3), entry(1, 4), { ...entry(5, 4) }],
      });
      await waitFor("first answer", () => answers.length === 1);
      expect(answers[0]!.errorCode).toBe(0);
      expect(answers[0]!.partitions.map((p) => p.errorCode)).toEqual([
        ErrorCode.FENCED_LEADER_EPOCH.code,
        0,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
      ]);
      call.write({
        correlationId: "2",
        replicaId: 3,
        brokerEpoch: "0",
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        partitions: [entry(1, 4)],
      });
      await waitFor("second answer", () => answers.length === 2);
      expect(answers[1]!.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH.code);
      // A newer epoch than the registered one is refused too: the epoch must be the follower's
      // current registration, so 2^63-1 cannot pose as any broker's future epoch.
      const newer = [String(BigInt(epoch3) + 1n), "9223372036854775807"];
      for (const [k, brokerEpoch] of newer.entries()) {
        call.write({
          correlationId: String(3 + k),
          replicaId: 3,
          brokerEpoch,
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 20,
          partitions: [entry(1, 4)],
        });
        await waitFor("a newer epoch's answer", () => answers.length === 3 + k);
        expect(answers[2 + k]!.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH.code);
        expect(answers[2 + k]!.errorMessage).toContain(`is not the registered ${epoch3}`);
        expect(answers[2 + k]!.partitions).toEqual([]);
      }
    } finally {
      call.cancel();
      client.close();
    }
  });

  it("an incremental fetch session answers only what changed and still counts left-out partitions as fetched", async () => {
    const c = await threeNodes(2, 4);
    const leader = c.node(1);
    // Idle followers that send nothing but empty incremental requests stay in the ISR for
    // many times replica.lag.time.max.ms (400 ms): the leader counts their last position.
    await sleep(1_500);
    expect(c.controller.partition(0).isr.join()).toBe("1,2,3");
    expect(c.controller.partition(1).isr.join()).toBe("1,2,3");
    // A raw session as broker 3 (its real fetcher keeps running beside it).
    const client = replicationClient(`127.0.0.1:${leader.port}`, 8 << 20);
    const call = client.ReplicaFetch();
    const answers: ReplicaFetchResponse__Output[] = [];
    call.on("data", (r: ReplicaFetchResponse__Output) => answers.push(r));
    call.on("error", () => {});
    const epoch3 = String(c.controller.image.brokers.get(brokerId(3))!.epoch);
    let correlation = 0;
    const send = (
      partitions: number[],
      forgotten: number[] = [],
      maxWaitMs = 0,
    ): Promise<ReplicaFetchResponse__Output> => {
      const want = answers.length + 1;
      correlation += 1;
      call.write({
        correlationId: String(correlation),
        replicaId: 3,
        brokerEpoch: epoch3,
        maxWaitMs,
        minBytes: 1,
        maxBytes: 1 << 20,
        incremental: true,
        forgotten: forgotten.map((partition) => ({ topic: TOPIC, partition })),
        partitions: partitions.map((partition) => ({
          topicId: TOPIC_ID,
          topic: TOPIC,
          partition,
          fetchOffset: "0",
          lastFetchedEpoch: -1,
          currentLeaderEpoch: 4,
          logStartOffset: "0",
          partitionMaxBytes: 1 << 20,
        })),
      });
      return waitFor(`answer ${correlation}`, () => answers.length >= want).then(
        () => answers[want - 1]!,
      );
    };
    const answered = (r: ReplicaFetchResponse__Output) => r.partitions.map((p) => p.partition);
    try {
      // Partitions sent in a request are answered, even with nothing to say.
      expect(answered(await send([0, 1]))).toEqual([0, 1]);
      // Left out and idle: not answered at all.
      expect(answered(await send([]))).toEqual([]);
      // Left out but with records at the remembered position: answered with them.
      const produced = await produceTo(leader, batch(2), 1, { acks: "leader", timeoutMs: 5_000 });
      expect(produced.errorCode).toBe(0);
      const withRecords = await send([]);
      expect(answered(withRecords)).toEqual([1]);
      expect(withRecords.partitions[0]!.records.length).toBeGreaterThan(0);
      // Forgotten: no longer answered. A long poll still wakes for a remembered partition.
      const polled = send([], [1], 5_000);
      await sleep(50);
      await produceTo(leader, batch(1), 0, { acks: "leader", timeoutMs: 5_000 });
      const woken = await polled;
      expect(answered(woken)).toEqual([0]);
      expect(woken.partitions[0]!.records.length).toBeGreaterThan(0);
    } finally {
      call.cancel();
      client.close();
    }
  });
});
