// Goal: idempotence holds at the replica-manager level with real logs and replication over
// gRPC: a retried batch (same producer id, epoch, sequence) after a successful append answers
// the original offset and the log holds it once; after a leader change the new leader (a
// follower that replicated the batch) dedupes the retry; after a restart the state is rebuilt
// from disk; a producer state rebuilt from a log equals the leader's incremental one, also
// after a truncation and after compaction left offset gaps and emptied batches; InitProducerId
// hands out ids from controller blocks.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  applyBatch,
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
import { ErrorCode, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { Log, LogManager, OffsetMap } from "@strand/storage";
import { afterEach, describe, expect, it } from "vitest";
import { checkBatches } from "../src/core/producer-state.ts";
import { ProducerIdManager } from "../src/producer/producer-id-manager.ts";
import { PartitionProducerState } from "../src/replica/partition-producers.ts";
import { ReplicaManager } from "../src/replica/replica-manager.ts";
import { grpcReplicationTransport } from "../src/services/replication-client.ts";
import { createReplicationHandlers } from "../src/services/replication-service.ts";
import { replicationServiceDefinition } from "../src/services/replication-wire.ts";

const TOPIC = "payments";
const TOPIC_ID = topicId("00000000-0000-4000-8000-0000000000aa");
const CONFIG = {
  replicaLagTimeMaxMs: 2_000,
  isrCheckIntervalMs: 50,
  replicaFetchMaxWaitMs: 50,
  replicaFetchBackoffMs: 30,
  replicaFetchBackoffMaxMs: 200,
  minInsyncReplicas: 1,
  alterPartitionRetryMs: 20,
};
const ALL = { acks: "all", timeoutMs: 10_000 } as const;

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A batch of `count` records of producer 7 (epoch 0) starting at `seq`. */
function idempotent(seq: number, count = 2, pid = 7n): Buffer {
  return encodeRecordBatch({
    baseTimestamp: BigInt(Date.now()),
    producerId: pid,
    producerEpoch: 0,
    baseSequence: seq,
    records: Array.from({ length: count }, (_, i) => ({
      key: null,
      value: Buffer.from(`${pid}:${seq + i}`),
    })),
  });
}

interface Node {
  readonly id: number;
  readonly logManager: LogManager;
  readonly manager: ReplicaManager;
  readonly server: grpc.Server;
}

/** Three replica managers and a metadata image in a list, as replica-manager.test.ts. */
class Cluster {
  image: MetadataImage = EMPTY_IMAGE;
  readonly records: MetadataRecord[] = [];
  readonly nodes = new Map<number, Node>();
  readonly dirs = new Map<number, string>();
  readonly ports = new Map<number, number>();
  blocks = 0;

  async append(records: MetadataRecord[]): Promise<void> {
    this.records.push(...records);
    const { image, delta } = applyBatch(this.image, records, {
      offset: metadataOffset(this.records.length),
      epoch: 1,
    });
    this.image = image;
    await Promise.all([...this.nodes.values()].map((n) => n.manager.applyMetadata(delta, image)));
  }

  async alterPartition(req: AlterPartitionRequest): Promise<AlterPartitionResponse> {
    const p = this.image.topicsById.get(req.topicId)!.partitions.get(req.partition)!;
    if (p.leaderEpoch !== req.leaderEpoch || p.partitionEpoch !== req.partitionEpoch)
      return { errorCode: ErrorCode.FENCED_LEADER_EPOCH, errorMessage: null, partition: p };
    await this.append([
      {
        type: "partitionChange",
        topicId: req.topicId,
        partition: req.partition,
        isr: [...req.isr],
      },
    ]);
    const now = this.image.topicsById.get(req.topicId)!.partitions.get(req.partition)!;
    return { errorCode: ErrorCode.NONE, errorMessage: null, partition: now };
  }

  async start(id: number): Promise<Node> {
    const dir = this.dirs.get(id) ?? (await mkdtemp(path.join(tmpdir(), `strand-idem-${id}-`)));
    this.dirs.set(id, dir);
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `127.0.0.1:${this.ports.get(id) ?? 0}`,
        grpc.ServerCredentials.createInsecure(),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    if (!this.ports.has(id)) {
      this.ports.set(id, port);
      await this.append([
        {
          type: "registerBroker",
          brokerId: brokerId(id),
          incarnationId: `incarnation-${id}`,
          listeners: [
            { name: "internal", host: "127.0.0.1", port },
            { name: "client", host: "127.0.0.1", port },
          ],
          rack: null,
          fenced: false,
          brokerEpoch: brokerEpoch(id),
          inControlledShutdown: false,
        },
      ]);
    }
    const logManager = await LogManager.open(dir);
    const manager = new ReplicaManager({
      deps: {
        brokerId: id,
        brokerEpoch: () => id,
        alterPartition: (req) => this.alterPartition(req),
        image: () => this.image,
        allocateProducerIds: async () => {
          this.blocks += 1;
          return {
            errorCode: 0,
            errorMessage: "",
            firstProducerId: BigInt(this.blocks * 10),
            size: 10,
          };
        },
      },
      logManager,
      config: CONFIG,
      replicationTransport: grpcReplicationTransport(),
    });
    server.addService(
      replicationServiceDefinition(),
      createReplicationHandlers(manager.replicaFetchLeader()),
    );
    const node = { id, logManager, manager, server };
    this.nodes.set(id, node);
    const { delta } = applyBatch(EMPTY_IMAGE, this.records, {
      offset: metadataOffset(this.records.length),
      epoch: 1,
    });
    await manager.applyMetadata(delta, this.image);
    return node;
  }

  async stop(id: number): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.nodes.delete(id);
    await node.manager.close();
    node.server.forceShutdown();
  }

  createTopic(): Promise<void> {
    return this.append([
      { type: "topic", name: TOPIC, topicId: TOPIC_ID },
      {
        type: "partition",
        topicId: TOPIC_ID,
        partition: 0,
        replicas: [1, 2, 3].map(brokerId),
        isr: [1, 2, 3].map(brokerId),
        leader: brokerId(1),
        leaderEpoch: leaderEpoch(0),
        partitionEpoch: partitionEpoch(0),
      },
    ]);
  }

  moveLeader(to: number): Promise<void> {
    const isr = [1, 2, 3].filter((id) => this.nodes.has(id)).map(brokerId);
    return this.append([
      { type: "partitionChange", topicId: TOPIC_ID, partition: 0, leader: brokerId(to), isr },
    ]);
  }

  produce(id: number, records: Buffer) {
    return this.nodes
      .get(id)!
      .manager.produce(ALL, [{ topic: TOPIC, partition: 0, records }])
      .then((r) => r[0]!);
  }

  async logValues(id: number): Promise<string[]> {
    const log = this.nodes.get(id)!.logManager.getLog(TOPIC, 0)!;
    const read = await log.read(log.logStartOffset, { maxBytes: 1 << 24 });
    const values: string[] = [];
    for (const view of iterateBatches(read.records)) {
      for (let i = 0; i < view.recordCount; i++)
        values.push(`${view.producerId}:${view.baseSequence + i}@${view.baseOffset + BigInt(i)}`);
    }
    return values;
  }

  endOffset(id: number): bigint {
    return this.nodes.get(id)!.logManager.getLog(TOPIC, 0)!.logEndOffset;
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
    for (const dir of this.dirs.values()) await rm(dir, { recursive: true, force: true });
  }
}

let cluster: Cluster | null = null;
const dirs: string[] = [];

async function threeNodes(): Promise<Cluster> {
  cluster = new Cluster();
  for (const id of [1, 2, 3]) await cluster.start(id);
  await cluster.createTopic();
  return cluster;
}

afterEach(async () => {
  await cluster?.close();
  cluster = null;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("idempotent produce through the replica manager", () => {
  it("a retried batch answers its original offset and the log holds it once", async () => {
    const c = await threeNodes();
    const first = idempotent(0);
    expect(await c.produce(1, first)).toMatchObject({ errorCode: 0, baseOffset: 0n });
    expect(await c.produce(1, idempotent(2))).toMatchObject({ errorCode: 0, baseOffset: 2n });
    // The response to the second produce was "lost": the client retries both in-flight batches.
    expect(await c.produce(1, idempotent(0))).toMatchObject({ errorCode: 0, baseOffset: 0n });
    expect(await c.produce(1, idempotent(2))).toMatchObject({ errorCode: 0, baseOffset: 2n });
    expect(c.endOffset(1)).toBe(4n);
    const gap = await c.produce(1, idempotent(9));
    expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER.code);
    expect(await c.produce(1, idempotent(4))).toMatchObject({ errorCode: 0, baseOffset: 4n });
    expect(await c.logValues(1)).toEqual(["7:0@0", "7:1@1", "7:2@2", "7:3@3", "7:4@4", "7:5@5"]);
  });

  it("a retry mixing duplicates and new batches answers each batch's own offset", async () => {
    const c = await threeNodes();
    // Producer A's a1 is written but its answer is lost; producer B writes b1 meanwhile.
    expect(await c.produce(1, idempotent(0, 2, 7n))).toMatchObject({ baseOffset: 0n });
    expect(await c.produce(1, idempotent(0, 2, 8n))).toMatchObject({ baseOffset: 2n });
    // A retries a1 together with a2, queued since: a2 lands after b1, a1 keeps its offset.
    const retry = await c.produce(1, Buffer.concat([idempotent(0, 2, 7n), idempotent(2, 3, 7n)]));
    expect(retry).toMatchObject({ errorCode: 0, baseOffset: 0n, batchBaseOffsets: [0n, 4n] });
    // Duplicates need not be contiguous: a2 (offset 4) and a1 (offset 0) around B's b1, b2.
    expect(await c.produce(1, idempotent(2, 1, 8n))).toMatchObject({ baseOffset: 7n });
    const again = await c.produce(
      1,
      Buffer.concat([idempotent(0, 2, 7n), idempotent(2, 3, 7n), idempotent(5, 1, 7n)]),
    );
    expect(again).toMatchObject({ errorCode: 0, batchBaseOffsets: [0n, 4n, 8n] });
    expect(await c.logValues(1)).toEqual([
      ...["7:0@0", "7:1@1", "8:0@2", "8:1@3", "7:2@4", "7:3@5", "7:4@6"],
      ...["8:2@7", "7:5@8"],
    ]);
    // Only duplicates: each answers its original offset.
    const dups = await c.produce(1, Buffer.concat([idempotent(2, 3, 7n), idempotent(5, 1, 7n)]));
    expect(dups).toMatchObject({ errorCode: 0, baseOffset: 4n, batchBaseOffsets: [4n, 8n] });
  });

  it("the new leader dedupes a retry of a batch the old leader appended", async () => {
    const c = await threeNodes();
    for (let seq = 0; seq < 6; seq += 2) await c.produce(1, idempotent(seq));
    await waitFor("followers replicated", () => c.endOffset(2) === 6n && c.endOffset(3) === 6n);
    await c.stop(1); // the response to seq 4 never reached the client
    await c.moveLeader(2);
    expect(await c.produce(2, idempotent(4))).toMatchObject({ errorCode: 0, baseOffset: 4n });
    expect(await c.produce(2, idempotent(6))).toMatchObject({ errorCode: 0, baseOffset: 6n });
    expect(c.endOffset(2)).toBe(8n);
    expect((await c.logValues(2)).map((v) => v.split("@")[0])).toEqual(
      Array.from({ length: 8 }, (_, i) => `7:${i}`),
    );
  });

  it("a restarted leader rebuilds the state from its log", async () => {
    const c = await threeNodes();
    for (let seq = 0; seq < 6; seq += 2) await c.produce(1, idempotent(seq));
    await c.stop(1);
    await c.stop(2);
    await c.stop(3);
    await c.start(1);
    await c.moveLeader(1);
    expect(await c.produce(1, idempotent(4))).toMatchObject({ errorCode: 0, baseOffset: 4n });
    const unknown = await c.produce(1, idempotent(3, 1, 99n));
    expect(unknown.errorCode).toBe(ErrorCode.UNKNOWN_PRODUCER_ID.code);
    expect(c.endOffset(1)).toBe(6n);
  });

  it("InitProducerId hands out distinct ids, one controller block at a time", async () => {
    const c = await threeNodes();
    const ids: bigint[] = [];
    for (let i = 0; i < 25; i++)
      ids.push((await c.nodes.get(1)!.manager.initProducerId()).producerId);
    const more = await Promise.all(
      Array.from({ length: 10 }, () => c.nodes.get(2)!.manager.initProducerId()),
    );
    const all = [...ids, ...more.map((r) => r.producerId)];
    expect(new Set(all).size).toBe(all.length);
    expect(more.every((r) => r.producerEpoch === 0 && r.errorCode === 0)).toBe(true);
    expect(c.blocks).toBeGreaterThanOrEqual(4);
  });
});

describe("producer state over a log", () => {
  async function openLog(): Promise<Log> {
    const dir = await mkdtemp(path.join(tmpdir(), "strand-producer-log-"));
    dirs.push(dir);
    return Log.open(dir, { segmentBytes: 1_024 });
  }

  /** The leader's path: sync, check, append with offsets stamped, apply. */
  async function leaderAppend(log: Log, state: PartitionProducerState, records: Buffer) {
    await state.sync();
    const check = checkBatches(state.map, records);
    if (check.kind !== "append" || check.skipBytes === records.length) return check;
    const rest = records.subarray(check.skipBytes);
    const appended = await log.append(rest, { assignOffsets: true, leaderEpoch: 0 });
    state.onLeaderAppend(rest, appended.firstOffset);
    return check;
  }

  it("rebuilding from a compacted log (gaps, emptied batches) keeps every producer's sequence", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "strand-producer-log-"));
    dirs.push(dir);
    const log = await Log.open(dir, { segmentBytes: 1_024, cleanupPolicy: "compact" });
    const incremental = new PartitionProducerState(log);
    // Every producer writes the same key, so compaction removes all but the last record.
    const keyed = (seq: number, pid: bigint) =>
      encodeRecordBatch({
        baseTimestamp: BigInt(Date.now()),
        producerId: pid,
        producerEpoch: 3,
        baseSequence: seq,
        records: [{ key: Buffer.from("same"), value: Buffer.from(`${pid}:${seq}`) }],
      });
    for (let i = 0; i < 60; i++)
      await leaderAppend(log, incremental, keyed(Math.floor(i / 3), BigInt(i % 3)));
    await log.append(
      encodeRecordBatch({
        baseTimestamp: 0n,
        records: [{ key: Buffer.from("same"), value: null }],
      }),
      { assignOffsets: true, leaderEpoch: 0 },
    );
    const result = await log.clean({
      nowMs: Date.now(),
      upperBound: log.logEndOffset,
      map: new OffsetMap(1 << 20),
    });
    expect(result.recordsRemoved).toBeGreaterThan(0);
    const rebuilt = new PartitionProducerState(log);
    await rebuilt.sync();
    for (const pid of [0n, 1n, 2n]) {
      const want = incremental.map.entry(pid)!;
      const got = rebuilt.map.entry(pid)!;
      expect(got.epoch).toBe(3);
      expect(got.batches.at(-1)).toEqual(want.batches.at(-1));
    }
    // The next sequence is accepted and a retry of the last batch is a duplicate.
    expect(checkBatches(rebuilt.map, keyed(20, 0n)).kind).toBe("append");
    const retry = checkBatches(rebuilt.map, keyed(19, 0n));
    expect(retry.kind === "append" ? retry.duplicates.length : -1).toBe(1);
    await log.close();
  });

  it("rebuilding from the log equals the incremental state, also after a truncation", async () => {
    const log = await openLog();
    const incremental = new PartitionProducerState(log);
    for (let i = 0; i < 40; i++) {
      const pid = BigInt(i % 3);
      const seq = Math.floor(i / 3) * 2;
      await leaderAppend(log, incremental, idempotent(seq, 2, pid));
      if (i % 5 === 0) await leaderAppend(log, incremental, idempotent(seq, 2, pid)); // retry
    }
    expect(log.logEndOffset).toBe(80n);
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(1);
    const rebuilt = new PartitionProducerState(log);
    expect((await rebuilt.sync()).batchesRead).toBe(40);
    expect([...rebuilt.map.entries()]).toEqual([...incremental.map.entries()]);

    await log.truncateTo(50n);
    const report = await incremental.sync();
    expect(report.rebuilt).toBe(true);
    const fresh = new PartitionProducerState(log);
    await fresh.sync();
    expect([...incremental.map.entries()]).toEqual([...fresh.map.entries()]);
    expect(incremental.map.entry(0n)!.batches.at(-1)!.lastOffset).toBeLessThan(50n);
    await log.close();
  });
});

describe("ProducerIdManager", () => {
  it("asks for the next block before the current one runs out and never repeats an id", async () => {
    let calls = 0;
    const manager = new ProducerIdManager(async () => {
      calls += 1;
      return { errorCode: 0, errorMessage: "", firstProducerId: BigInt(calls * 100), size: 10 };
    });
    const ids: bigint[] = [];
    for (let i = 0; i < 35; i++) ids.push((await manager.initProducerId()).producerId);
    expect(new Set(ids).size).toBe(35);
    expect(ids.slice(0, 3)).toEqual([100n, 101n, 102n]);
    expect(calls).toBeGreaterThanOrEqual(4);
  });

  it("reports an unreachable controller as unavailable and a refusal as an error code", async () => {
    const down = new ProducerIdManager(() => Promise.reject(new Error("connection refused")));
    await expect(down.initProducerId()).rejects.toThrow(/retry after a short backoff/);
    const refused = new ProducerIdManager(async () => ({
      errorCode: ErrorCode.UNKNOWN.code,
      errorMessage: "the producer id space is exhausted",
      firstProducerId: -1n,
      size: 0,
    }));
    expect(await refused.initProducerId()).toMatchObject({ errorCode: -1, producerId: -1n });
  });
});
