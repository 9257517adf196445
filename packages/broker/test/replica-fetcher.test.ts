// Goal: the follower wing runs over an injected ReplicationTransport in domain types, with no
// gRPC: a ReplicaFetcher sends a query with bigint offsets and its broker epoch, appends the
// leader's bytes to the local log and reports the leader's HW, and closes its connection.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { noopLogger } from "@strand/base";
import {
  applyBatch,
  brokerEpoch,
  brokerId,
  EMPTY_IMAGE,
  leaderEpoch,
  metadataOffset,
} from "@strand/controller";
import { encodeRecordBatch } from "@strand/protocol";
import { LogManager } from "@strand/storage";
import { afterEach, describe, expect, it } from "vitest";
import { FollowerPartitionState } from "../src/core/follower-partition.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../src/core/types.ts";
import { ReplicaFetcher } from "../src/replica/follower/replica-fetcher.ts";
import type { ReplicationTransport } from "../src/replica/follower/types.ts";
import type { ReplicaFetchQuery } from "../src/replica/replica-fetch.ts";
import { epochLookup } from "./replication-helpers.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** An image in which broker 1 has an internal listener. */
function imageWithLeader() {
  const { image } = applyBatch(
    EMPTY_IMAGE,
    [
      {
        type: "registerBroker",
        brokerId: brokerId(1),
        incarnationId: "incarnation-1",
        listeners: [{ name: "internal", host: "leader.test", port: 9093 }],
        rack: null,
        fenced: false,
        brokerEpoch: brokerEpoch(1),
        inControlledShutdown: false,
      },
    ],
    { offset: metadataOffset(1), epoch: 1 },
  );
  return image;
}

/** A leader that answers the first query with `records` and later ones after a pause, empty. */
function fakeLeader(records: Buffer) {
  const queries: ReplicaFetchQuery[] = [];
  const addresses: string[] = [];
  let closed = 0;
  const transport: ReplicationTransport = {
    connect(address) {
      addresses.push(address);
      return {
        openStream(listener) {
          return {
            send(query) {
              queries.push(query);
              const first = queries.length === 1;
              const end = 3n;
              const answer = {
                correlationId: query.correlationId,
                errorCode: 0,
                errorMessage: "",
                partitions: query.partitions.map((p) => ({
                  topicId: p.topicId,
                  partition: p.partition,
                  errorCode: 0,
                  errorMessage: "",
                  highWatermark: end,
                  logStartOffset: 0n,
                  logEndOffset: end,
                  leaderEpoch: 0,
                  records: first ? records : Buffer.alloc(0),
                })),
              };
              setTimeout(() => listener.onAnswer(answer), first ? 0 : 20);
            },
            cancel() {},
          };
        },
        close() {
          closed += 1;
        },
      };
    },
  };
  return { transport, queries, addresses, closed: () => closed };
}

describe("replica fetcher over an injected transport", () => {
  it("fetches, appends the leader's bytes and follows its HW without gRPC", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "strand-fetcher-"));
    dirs.push(dir);
    const logManager = await LogManager.open(dir);
    const log = await logManager.getOrCreateLog("t", 0);
    const records = encodeRecordBatch({
      baseTimestamp: 0n,
      records: [0, 1, 2].map((i) => ({ key: null, value: Buffer.from(`v${i}`) })),
    });
    const leader = fakeLeader(records);
    const state = new FollowerPartitionState({
      leaderId: brokerId(1),
      leaderEpoch: leaderEpoch(0),
      logEndOffset: 0n,
      latestEpoch: -1,
      logStartOffset: 0n,
      highWatermark: 0n,
      endOffsetForEpoch: epochLookup([], () => log.logEndOffset),
      config: DEFAULT_REPLICATION_CONFIG,
    });
    const highWatermarks: bigint[] = [];
    const image = imageWithLeader();
    const fetcher = new ReplicaFetcher(brokerId(1), {
      brokerId: brokerId(2),
      brokerEpoch: () => 7,
      image: () => image,
      logger: noopLogger,
      metrics: null,
      clock: () => Date.now(),
      maxWaitMs: 100,
      partitionMaxBytes: 1 << 20,
      responseMaxBytes: 1 << 20,
      responseTimeoutMs: 1_000,
      backoffMs: 10,
      backoffMaxMs: 100,
      transport: leader.transport,
    });
    fetcher.addPartition({
      key: "t-0",
      topic: "t",
      topicId: "topic-id",
      partition: 0,
      log,
      follower: () => state,
      resetFollower: () => state,
      onHighWatermark: (hw) => highWatermarks.push(hw),
      onAppended: () => {},
    });
    fetcher.start();
    try {
      const deadline = Date.now() + 5_000;
      while (!highWatermarks.includes(3n) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(log.logEndOffset).toBe(3n);
      expect(highWatermarks).toContain(3n);
      expect(leader.addresses[0]).toBe("leader.test:9093");
      const first = leader.queries[0]!;
      expect(first.replicaId).toBe(2);
      expect(first.brokerEpoch).toBe(7n);
      expect(first.partitions[0]).toMatchObject({ topic: "t", partition: 0, fetchOffset: 0n });
    } finally {
      await fetcher.close();
      await logManager.close();
    }
    expect(leader.closed()).toBe(1);
  });
});
