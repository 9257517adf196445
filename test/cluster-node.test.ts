// Goal: `strand server start` processes on 127.0.0.1 form a working cluster: one node and three
// combined nodes become ready; topics are created with the cluster defaults; any broker answers
// metadata and forwards partition requests one hop to the leader (same answer as the smart
// path, counted in strand_broker_forwarded_requests_total); bad input gets a clear error while
// the node keeps serving; a whole-cluster restart keeps the topics; SIGTERM exits 0 in time; an
// empty metadata dir on a multi-voter node without --bootstrap is refused, and so is a
// metadata log whose voters are not the configured ones, or formatted for another cluster id
// (exit 2, one clear line); produce/fetch
// round trip the exact bytes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { ProduceResponse__Output } from "@strand/protocol";
import { clientChannelOptions, encodeRecordBatch, strandGrpc } from "@strand/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  closeAllStubs,
  layout,
  metricSum,
  type NodeProcess,
  startNode,
  stubs,
  unary,
  waitReady,
} from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";

const nodes: NodeProcess[] = [];
const roots: string[] = [];

afterEach(async () => {
  if (process.env.STRAND_TEST_DUMP_LOGS)
    for (const n of nodes) for (const l of n.lines) console.log(n.id, l);
  closeAllStubs();
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
});
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "strand-node-"));
  roots.push(r);
  return r;
}

function batch(values: readonly string[]): Buffer {
  return encodeRecordBatch({
    baseTimestamp: 1_700_000_000_000n,
    records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
  });
}

function produceTo(
  address: string,
  topic: string,
  partition: number,
  records: Buffer,
): Promise<ProduceResponse__Output> {
  return unary((cb) =>
    stubs(address).produce.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 5_000,
        topics: [{ topic, partitions: [{ partition, records }] }],
      },
      cb,
    ),
  );
}

/** A Produce sent gzip-compressed at the gRPC level (grpc-encoding: gzip). */
function gzipProduce(address: string, records: Buffer): Promise<ProduceResponse__Output> {
  const client = new (strandGrpc().strand.v1.ProduceService)(
    address,
    grpc.credentials.createInsecure(),
    { ...clientChannelOptions(), "grpc.default_compression_algorithm": 2 },
  );
  return unary<ProduceResponse__Output>((cb) =>
    client.Produce(
      {
        acks: "ACKS_LEADER",
        timeoutMs: 5_000,
        topics: [{ topic: "orders", partitions: [{ partition: 0, records }] }],
      },
      cb,
    ),
  ).finally(() => client.close());
}

describe("one node", () => {
  it("serves metadata and admin, refuses bad input clearly, keeps serving, exits 0 on SIGTERM", async () => {
    const l = await layout(1);
    const node = startNode(l, 1, tempRoot());
    nodes.push(node);
    await waitReady([node]);
    const s = stubs(node.clientAddress);
    const created = await unary<{ topics: { errorCode: number; name: string }[] }>((cb) =>
      s.admin.CreateTopics({ topics: [{ name: "orders", partitionCount: 2 }] }, cb),
    );
    expect(created.topics).toEqual([expect.objectContaining({ name: "orders", errorCode: 0 })]);
    const md = await unary<{
      topics: { partitions: { leaderId: number; replicas: number[] }[] }[];
      brokers: unknown[];
    }>((cb) => s.metadata.Metadata({ allTopics: true }, cb));
    expect(md.brokers).toHaveLength(1);
    expect(md.topics[0]?.partitions.map((p) => [p.leaderId, p.replicas])).toEqual([
      [1, [1]],
      [1, [1]],
    ]);
    // Garbage bytes: CORRUPT_MESSAGE for that partition only; unknown topic / partition: code 3.
    const garbage = await produceTo(
      node.clientAddress,
      "orders",
      0,
      Buffer.from("not a record batch"),
    );
    expect(garbage.topics[0]?.partitions[0]?.errorCode).toBe(2);
    expect(garbage.topics[0]?.partitions[0]?.errorMessage).toMatch(/CORRUPT_MESSAGE.*re-encode/);
    const unknown = await produceTo(node.clientAddress, "nope", 0, batch(["x"]));
    expect(unknown.topics[0]?.partitions[0]).toMatchObject({ errorCode: 3 });
    const badPartition = await produceTo(node.clientAddress, "orders", 7, batch(["x"]));
    expect(badPartition.topics[0]?.partitions[0]?.errorMessage).toMatch(/has no partition 7/);
    await expect(produceTo(node.clientAddress, "orders", -1, batch(["x"]))).rejects.toThrow(
      /INVALID_ARGUMENT.*partition/,
    );
    await expect(
      unary((cb) =>
        s.fetch.Fetch(
          { topics: [{ topic: "orders", partitions: [{ partition: 0, fetchOffset: "-5" }] }] },
          cb,
        ),
      ),
    ).rejects.toThrow(/INVALID_ARGUMENT.*fetch_offset/);
    // Bounded work: 10,000 partitions per request in total, not per list (one Fetch of 1M
    // partitions took 25 s of CPU), and a gzip request measured inflated (24 MiB of zeros is
    // ~24 KB on the wire; the default socket.request.max.bytes is 17 MiB).
    const partitions = Array.from({ length: 5_001 }, (_, partition) => ({
      partition,
      fetchOffset: "0",
    }));
    await expect(
      unary((cb) =>
        s.fetch.Fetch(
          {
            topics: [
              { topic: "orders", partitions },
              { topic: "other", partitions },
            ],
          },
          cb,
        ),
      ),
    ).rejects.toThrow(/INVALID_ARGUMENT.*10002 items in total; at most 10000/);
    await expect(gzipProduce(node.clientAddress, Buffer.alloc(24 * 1024 * 1024))).rejects.toThrow(
      /RESOURCE_EXHAUSTED.*decompresses to a size larger than/,
    );
    expect(
      (await produceTo(node.clientAddress, "orders", 0, batch(["still serving"]))).topics[0]
        ?.partitions[0]?.errorCode,
    ).toBe(0);
    expect((await node.http("/readyz")).status).toBe(200);
    expect((await node.http("/metrics")).body).toContain("strand_broker_requests_total");
    const started = Date.now();
    expect(await node.kill("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("round trip: produce acks=all, fetch back the exact bytes", async () => {
    const l = await layout(1);
    const node = startNode(l, 1, tempRoot());
    nodes.push(node);
    await waitReady([node]);
    const s = stubs(node.clientAddress);
    await unary((cb) => s.admin.CreateTopics({ topics: [{ name: "t", partitionCount: 1 }] }, cb));
    const records = batch(["a", "b", "c"]);
    const r = await produceTo(node.clientAddress, "t", 0, records);
    expect(r.topics[0]?.partitions[0]).toMatchObject({ errorCode: 0, baseOffset: "0" });
    const f = await unary<{ topics: { partitions: { records: Buffer; errorCode: number }[] }[] }>(
      (cb) =>
        s.fetch.Fetch(
          {
            maxWaitMs: 100,
            topics: [{ topic: "t", partitions: [{ partition: 0, fetchOffset: "0" }] }],
          },
          cb,
        ),
    );
    expect(f.topics[0]?.partitions[0]?.records.subarray(61)).toEqual(records.subarray(61));
  });
});

describe("a data dir of another cluster layout", () => {
  it("a single-voter node on a 3-voter node's data dir says so and exits 2", async () => {
    const dataRoot = tempRoot();
    // Node 1 of a 3-voter cluster formats its metadata log (the others never start).
    const l3 = await layout(3);
    const former = startNode(l3, 1, dataRoot, ["--bootstrap"]);
    nodes.push(former);
    // Its controller started: the metadata dir is fully formatted (meta.json and the bootstrap
    // snapshot naming the three voters).
    await waitFor(
      "node 1 formatted",
      () => former.lines.some((l) => l.includes('"controller node started"')),
      30_000,
    );
    await former.kill("SIGKILL");
    // `strand server start`'s default quorum is the node alone: same dir, one voter (same
    // cluster id: the default passes none, so only the voter set can tell).
    const standalone = startNode({ ...(await layout(1)), clusterId: l3.clusterId }, 1, dataRoot);
    nodes.push(standalone);
    const code = await Promise.race([
      standalone.exited,
      new Promise<string>((r) => setTimeout(() => r("still running"), 30_000)),
    ]);
    expect(code, standalone.tail()).toBe(2);
    expect(standalone.stderr).toContain("belongs to a quorum of voters {1,2,3}");
    expect(standalone.stderr).toContain("controller.quorum.voters names {1}");
  });
});

describe("a data dir of another cluster", () => {
  it("a node started with another --cluster-id than its dir was formatted with exits 2", async () => {
    const dataRoot = tempRoot();
    const l = await layout(1);
    const first = startNode(l, 1, dataRoot);
    nodes.push(first);
    await waitFor(
      "node 1 formatted",
      () => first.lines.some((line) => line.includes('"controller node started"')),
      30_000,
    );
    await first.kill("SIGKILL");
    const other = startNode({ ...l, clusterId: "BBBBBBBBBBBBBBBBBBBBBB" }, 1, dataRoot);
    nodes.push(other);
    expect(await other.exited, other.tail()).toBe(2);
    expect(other.stderr.trim().split("\n")).toHaveLength(1);
    expect(other.stderr).toContain(
      `was formatted for cluster ${l.clusterId} but cluster.id is BBBBBBBBBBBBBBBBBBBBBB`,
    );
  });
});

describe("three combined nodes", () => {
  it("forwards one hop, answers like the leader, refuses an unformatted voter, survives a full restart", async () => {
    const l = await layout(3);
    const dataRoot = tempRoot();
    const first = [1, 2, 3].map((id) => startNode(l, id, dataRoot, ["--bootstrap"]));
    nodes.push(...first);
    await waitReady(first, 30_000);
    const s1 = stubs(first[0]!.clientAddress);
    const created = await unary<{ topics: { errorCode: number; errorMessage: string }[] }>((cb) =>
      s1.admin.CreateTopics({ topics: [{ name: "rf3", partitionCount: 3 }] }, cb),
    );
    expect(created.topics[0]).toMatchObject({ errorCode: 0 });
    // Every node sees the topic with RF 3 (default.replication.factor 3, three live brokers).
    for (const n of first) {
      const md = await waitFor(`node ${n.id} sees rf3`, async () => {
        const r = await unary<{
          topics: { partitions: { leaderId: number; replicas: number[]; isr: number[] }[] }[];
        }>((cb) => stubs(n.clientAddress).metadata.Metadata({ topics: ["rf3"] }, cb));
        return r.topics[0]?.partitions.length === 3 ? r : undefined;
      });
      for (const p of md.topics[0]!.partitions) expect(p.replicas).toHaveLength(3);
    }
    // Smart path (to the leader) and forwarded path (to a non-leader) answer alike.
    const md = await unary<{ topics: { partitions: { leaderId: number }[] }[] }>((cb) =>
      s1.metadata.Metadata({ topics: ["rf3"] }, cb),
    );
    const leader = md.topics[0]!.partitions[0]!.leaderId;
    const other = first.find((n) => n.id !== leader)!;
    const viaLeader = await produceTo(first[leader - 1]!.clientAddress, "rf3", 0, batch(["x"]));
    const viaOther = await produceTo(other.clientAddress, "rf3", 0, batch(["y"]));
    expect(viaOther.topics[0]?.partitions[0]?.errorCode).toBe(
      viaLeader.topics[0]?.partitions[0]?.errorCode,
    );
    expect(BigInt(viaOther.topics[0]!.partitions[0]!.baseOffset)).toBe(1n);
    // The per-batch offsets survive the hop (routing converts the leader's answer back).
    expect(viaOther.topics[0]!.partitions[0]!.batchBaseOffsets).toEqual(["1"]);
    expect(
      metricSum(
        (await other.http("/metrics")).body,
        "strand_broker_forwarded_requests_total",
        'method="Produce"',
      ),
    ).toBeGreaterThanOrEqual(1);
    // Whole-cluster restart (SIGTERM, exit 0): the topic is still there; no --bootstrap needed.
    expect(await Promise.all(first.map((n) => n.kill("SIGTERM")))).toEqual([0, 0, 0]);
    nodes.splice(0);
    const again = [1, 2, 3].map((id) => startNode(l, id, dataRoot));
    nodes.push(...again);
    await waitReady(again, 30_000);
    const after = await unary<{ topics: { errorCode: number; partitions: unknown[] }[] }>((cb) =>
      stubs(again[2]!.clientAddress).metadata.Metadata({ topics: ["rf3"] }, cb),
    );
    expect(after.topics[0]).toMatchObject({ errorCode: 0 });
    expect(after.topics[0]?.partitions).toHaveLength(3);
    // A voter whose metadata dir is empty (a lost disk) is refused without --bootstrap.
    const wiped = startNode(l, 3, tempRoot());
    nodes.push(wiped);
    expect(await wiped.exited).toBe(2);
    expect(wiped.stderr.trim().split("\n")).toHaveLength(1);
    expect(wiped.stderr).toMatch(/is empty.*--bootstrap/);
    // Two cluster boots, each bounded at 30 s by waitReady: the default 30 s test bound is
    // too tight for both on a loaded 2-core machine.
  }, 90_000);
});
