// Goal: on a real 3-node cluster, the partition leader refuses every hostile batch of
// test/support/hostile-batches.ts (unknown codec, corrupt gzip, zip bomb, 2^30 headers,
// record counts and offset deltas that disagree with the records, absurd timestamps, control
// and transactional batches) with its documented error code, the log end offset does not
// move, the leader keeps accepting valid produces (acks=all, so the whole ISR copied them),
// and everything the partition holds afterwards decodes (no poison pill was stored).
import { rmSync } from "node:fs";
import type {
  FetchResponse__Output,
  MetadataResponse__Output,
  ProduceResponse__Output,
} from "@strand/protocol";
import { decodeRecordBatch, ErrorCode, iterateBatches } from "@strand/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { closeAllStubs, formCluster, type NodeProcess, stubs, unary } from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";
import { hostileBatches, validBatch } from "./support/hostile-batches.ts";

const TOPIC = "hostile";
const nodes: NodeProcess[] = [];
const roots: string[] = [];

afterEach(async () => {
  closeAllStubs();
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
});
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

async function produce(address: string, records: Buffer) {
  const r = await unary<ProduceResponse__Output>((cb) =>
    stubs(address).produce.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 10_000,
        topics: [{ topic: TOPIC, partitions: [{ partition: 0, records }] }],
      },
      cb,
    ),
  );
  return r.topics[0]!.partitions[0]!;
}

/** Every record value of partition 0 as `address` serves it, decoding every batch. */
async function readValues(address: string, expected: number): Promise<string[]> {
  return waitFor(`${address} serves ${expected} records`, async () => {
    const r = await unary<FetchResponse__Output>((cb) =>
      stubs(address).fetch.Fetch(
        {
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 22,
          topics: [
            {
              topic: TOPIC,
              partitions: [{ partition: 0, fetchOffset: "0", partitionMaxBytes: 1 << 22 }],
            },
          ],
        },
        cb,
      ),
    ).catch(() => null);
    const p = r?.topics[0]?.partitions[0];
    if (p === undefined || p.errorCode !== 0) return undefined;
    const values: string[] = [];
    for (const view of iterateBatches(p.records))
      for (const rec of decodeRecordBatch(p.records, { position: view.position }).records)
        values.push(rec.value!.toString("hex"));
    return values.length >= expected ? values : undefined;
  });
}

describe("leader record validation on a 3-node cluster", () => {
  it("refuses each hostile batch with its code, keeps the log end and keeps serving", async () => {
    const { nodes: ns } = await formCluster(3, "hostile", { nodes, roots });
    const s1 = stubs(ns[0]!.clientAddress);
    await unary((cb) =>
      s1.admin.CreateTopics({ topics: [{ name: TOPIC, partitionCount: 1 }] }, cb),
    );
    const leaderId = await waitFor("a leader with a full ISR", async () => {
      const r = await unary<MetadataResponse__Output>((cb) =>
        s1.metadata.Metadata({ topics: [TOPIC] }, cb),
      );
      const p = r.topics[0]?.partitions[0];
      return p !== undefined && p.leaderId > 0 && p.isr.length === 3 ? p.leaderId : undefined;
    });
    const leader = ns[leaderId - 1]!.clientAddress;

    // Metadata from node 1 may name the leader a moment before the leader has applied its
    // own leadership: NOT_LEADER_OR_FOLLOWER then appends nothing, and a client retries.
    const first = await waitFor("the leader to accept a produce", async () => {
      const r = await produce(leader, validBatch(2));
      return r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER.code ? undefined : r;
    });
    expect(first).toMatchObject({ errorCode: 0, baseOffset: "0" });
    let logEnd = 2n;
    for (const hostile of hostileBatches()) {
      const refused = await produce(leader, Buffer.from(hostile.bytes));
      const expected = ErrorCode[hostile.code];
      expect({ name: hostile.name, code: refused.errorCode }).toEqual({
        name: hostile.name,
        code: expected.code,
      });
      expect(refused.errorMessage).toContain(expected.name);
      // The log end did not move: the next valid batch lands where the last one ended.
      const next = await produce(leader, validBatch(1));
      expect({ name: hostile.name, baseOffset: next.baseOffset }).toEqual({
        name: hostile.name,
        baseOffset: String(logEnd),
      });
      logEnd += 1n;
    }
    // The partition holds only what decodes: 2 + one record per hostile case.
    expect(await readValues(leader, Number(logEnd))).toHaveLength(Number(logEnd));
  }, 120_000);
});
