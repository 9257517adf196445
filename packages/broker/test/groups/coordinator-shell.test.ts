// Goal: the coordinator shell around a stand-in replica manager: a partition it leads is
// loaded from the log (COORDINATOR_LOAD_IN_PROGRESS until the high watermark reaches the log
// end it saw), a second coordinator replaying the same log has the same groups, writes are
// applied only when the append succeeds (a failed one answers a retriable error and reloads),
// and losing leadership drops the groups.
import type { MetadataImage } from "@strand/controller";
import { decodeRecordBatch, ErrorCode, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { heartbeat } from "../../src/core/groups/heartbeat.ts";
import { commitOffsets } from "../../src/core/groups/offsets.ts";
import { DEFAULT_GROUP_CONFIG } from "../../src/core/groups/types.ts";
import { GroupCoordinator } from "../../src/groups/coordinator.ts";
import { CoordinatorError, OFFSETS_TOPIC } from "../../src/groups/types.ts";
import type {
  FetchPartitionResult,
  PartitionStatus,
  ProducePartitionResult,
  ReplicaManagerApi,
} from "../../src/replica/types.ts";

/** A one-partition offsets log with a movable high watermark and leadership. */
class FakeReplicas implements ReplicaManagerApi {
  batches: Buffer[] = [];
  leo = 0n;
  hw = 0n;
  leader = true;
  epoch = 1;
  /** Error code of the next produce (0 = succeed). */
  failNext = 0;
  /** The HW follows every append (an ISR that keeps up). */
  autoHw = true;

  async produce(
    _o: unknown,
    parts: readonly { records: Buffer }[],
  ): Promise<ProducePartitionResult[]> {
    const base = {
      topic: OFFSETS_TOPIC,
      partition: 0,
      batchBaseOffsets: [],
      logAppendTimeMs: -1n,
      logStartOffset: 0n,
    };
    if (this.failNext !== 0) {
      const code = this.failNext;
      this.failNext = 0;
      return [{ ...base, errorCode: code, errorMessage: "injected", baseOffset: -1n }];
    }
    const batch = decodeRecordBatch(parts[0]?.records ?? Buffer.alloc(0));
    const stamped = encodeRecordBatch({ ...batch, baseOffset: this.leo });
    this.batches.push(stamped);
    const baseOffset = this.leo;
    this.leo += BigInt(batch.lastOffsetDelta) + 1n;
    if (this.autoHw) this.hw = this.leo;
    return [{ ...base, errorCode: 0, errorMessage: "", baseOffset }];
  }

  async fetch(
    _o: unknown,
    parts: readonly { fetchOffset: bigint }[],
  ): Promise<FetchPartitionResult[]> {
    const from = parts[0]?.fetchOffset ?? 0n;
    const out = this.batches.filter((b) => {
      const [v] = [...iterateBatches(b, { verifyCrc: false })];
      const last = (v?.baseOffset ?? 0n) + BigInt(v?.lastOffsetDelta ?? 0);
      return last >= from && last < this.hw;
    });
    if (out.length === 0) await new Promise((r) => setTimeout(r, 5));
    return [
      {
        topic: OFFSETS_TOPIC,
        partition: 0,
        errorCode: 0,
        errorMessage: "",
        highWatermark: this.hw,
        lastStableOffset: this.hw,
        logStartOffset: 0n,
        records: Buffer.concat(out),
      },
    ];
  }

  async listOffsets(): Promise<never> {
    throw new Error("unused");
  }

  async applyMetadata(): Promise<void> {}

  partitionStatuses(): PartitionStatus[] {
    return [
      {
        topic: OFFSETS_TOPIC,
        partition: 0,
        role: this.leader ? "leader" : "follower",
        leaderEpoch: this.epoch,
        logStartOffset: 0n,
        logEndOffset: this.leo,
        highWatermark: this.hw,
        isr: [1],
        sizeBytes: 0,
        segments: 1,
      },
    ];
  }

  async close(): Promise<void> {}
}

const image = {
  brokers: new Map([
    [1, { id: 1, listeners: [{ name: "client", host: "127.0.0.1", port: 9092 }] }],
  ]),
  topicsByName: new Map([
    [OFFSETS_TOPIC, { name: OFFSETS_TOPIC, partitions: new Map([[0, { leader: 1 }]]) }],
    ["t", { name: "t", partitions: new Map([0, 1, 2, 3].map((p) => [p, { leader: 1 }])) }],
  ]),
} as unknown as MetadataImage;

function coordinator(replicas: FakeReplicas, now: { ms: number }): GroupCoordinator {
  let ids = 0;
  return new GroupCoordinator({
    brokerId: 1,
    replicas,
    image: () => image,
    logger: pino({ level: "silent" }),
    config: DEFAULT_GROUP_CONFIG,
    offsetsTopic: { numPartitions: 1, replicationFactor: 1, segmentBytes: 100 * 1024 * 1024 },
    appendTimeoutMs: 1000,
    clock: () => now.ms,
    newMemberId: () => `member-${++ids}`,
  });
}

async function loaded(c: GroupCoordinator): Promise<void> {
  for (let i = 0; i < 400 && c.partitions.length === 0; i++)
    await new Promise((r) => setTimeout(r, 5));
  expect(c.partitions.length).toBe(1);
}

/** A coordinator that leads the one offsets partition and has loaded it. */
async function leadingCoordinator(): Promise<{
  replicas: FakeReplicas;
  now: { ms: number };
  c: GroupCoordinator;
}> {
  const replicas = new FakeReplicas();
  const now = { ms: 1_000 };
  const c = coordinator(replicas, now);
  c.onMetadata();
  await loaded(c);
  return { replicas, now, c };
}

const join = (c: GroupCoordinator, memberId = "") =>
  c.run("g", (state, topics, nowMs) =>
    heartbeat(
      state,
      {
        groupId: "g",
        memberId,
        memberEpoch: 0,
        instanceId: "",
        rackId: "",
        rebalanceTimeoutMs: 0,
        subscription: { topicNames: ["t"], topicRegex: "" },
        serverAssignor: "",
        owned: null,
        clientId: "c",
        clientHost: "h",
        newMemberId: c.newMemberId(),
      },
      topics,
      DEFAULT_GROUP_CONFIG,
      nowMs,
    ),
  );

const commit = (c: GroupCoordinator, memberId: string, memberEpoch: number, offset: bigint) =>
  c.run("g", (state, topics, nowMs) =>
    commitOffsets(
      state,
      {
        groupId: "g",
        memberId,
        memberEpoch,
        partitions: [{ topic: "t", partition: 2, offset, leaderEpoch: 0, metadata: "" }],
      },
      topics,
      nowMs,
    ),
  );

describe("group coordinator shell", () => {
  it("loads from the log, answers LOAD_IN_PROGRESS meanwhile, and a second coordinator rebuilds the same groups", async () => {
    const replicas = new FakeReplicas();
    const now = { ms: 1_000 };
    const a = coordinator(replicas, now);
    a.onMetadata();
    expect(() => a.route("g")).toThrow(
      expect.objectContaining({ error: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS }),
    );
    await loaded(a);
    const joined = await join(a);
    expect(joined.memberEpoch).toBe(1);
    expect((await commit(a, joined.memberId, 1, 42n)).errorCode).toBe(0);

    // A new leader whose HW lags its log end waits for it before answering.
    replicas.hw = 0n;
    const b = coordinator(replicas, now);
    b.onMetadata();
    await new Promise((r) => setTimeout(r, 50));
    expect(b.partitions.length).toBe(0);
    replicas.hw = replicas.leo;
    await loaded(b);
    expect(b.partitions[0]?.state).toEqual(a.partitions[0]?.state);
    a.close();
    b.close();
  });

  it("applies nothing when an append fails, answers a retriable error, and reloads", async () => {
    const { replicas, c } = await leadingCoordinator();
    const joined = await join(c);
    expect((await commit(c, joined.memberId, 1, 7n)).errorCode).toBe(0);
    replicas.failNext = ErrorCode.NOT_ENOUGH_REPLICAS.code;
    const failed = await commit(c, joined.memberId, 1, 8n).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CoordinatorError);
    expect((failed as CoordinatorError).error).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    await loaded(c);
    expect(c.partitions[0]?.state.groups.get("g")?.offsets.get("t")?.get(2)?.offset).toBe(7n);
    c.close();
  });

  it("drops the groups when leadership moves and removes silent members on the session timer", async () => {
    const { replicas, now, c } = await leadingCoordinator();
    await join(c);
    now.ms += DEFAULT_GROUP_CONFIG.sessionTimeoutMs + 1;
    await c.tick();
    expect(c.partitions[0]?.state.groups.get("g")?.members.size).toBe(0);
    replicas.leader = false;
    c.onMetadata();
    expect(c.partitions.length).toBe(0);
    expect(() => c.route("g")).toThrow(CoordinatorError);
    c.close();
  });
});
