// Goal: the idempotent producer works end to end on a real 3-node cluster (`strand server
// start` processes): InitProducerId is answered by any broker with distinct ids; batches with
// per-partition sequences are appended once even when a client resends them after a lost
// response (the same batch sent twice answers its original offset) and when the leader is
// killed mid-send and the un-acknowledged batches are resent to the new leader; in the end
// every record is in each partition's log exactly once, in send order.
import { rmSync } from "node:fs";
import type {
  FetchResponse__Output,
  InitProducerIdResponse__Output,
  ProduceResponse__Output,
} from "@strand/protocol";
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { closeAllStubs, formCluster, type NodeProcess, stubs, unary } from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";

const TOPIC = "idem";
const RETRIABLE = new Set([3, 5, 6, 7, 19, 20, 56]);
const nodes: NodeProcess[] = [];
const roots: string[] = [];

afterEach(async () => {
  closeAllStubs();
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
});
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface SentBatch {
  readonly partition: number;
  readonly bytes: Buffer;
  readonly values: readonly string[];
}

/** A producer's side: id, epoch and the next sequence per partition. */
class Sequencer {
  readonly producerId: bigint;
  readonly epoch: number;
  readonly #next = new Map<number, number>();
  constructor(producerId: bigint, epoch: number) {
    this.producerId = producerId;
    this.epoch = epoch;
  }

  batch(partition: number, count: number): SentBatch {
    const seq = this.#next.get(partition) ?? 0;
    this.#next.set(partition, seq + count);
    const values = Array.from({ length: count }, (_, i) => `p${partition}-${seq + i}`);
    const bytes = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      producerId: this.producerId,
      producerEpoch: this.epoch,
      baseSequence: seq,
      records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    return { partition, bytes, values };
  }
}

function produceOnce(address: string, b: SentBatch): Promise<ProduceResponse__Output> {
  return unary((cb) =>
    stubs(address).produce.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 5_000,
        topics: [{ topic: TOPIC, partitions: [{ partition: b.partition, records: b.bytes }] }],
      },
      cb,
    ),
  );
}

/** Sends `b` until it is acknowledged, as a retrying client does; returns its base offset. */
async function sendUntilAcked(address: string, b: SentBatch, timeoutMs = 30_000): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await produceOnce(address, b).catch(() => null);
    const p = r?.topics[0]?.partitions[0];
    if (p !== undefined && p.errorCode === 0) return BigInt(p.baseOffset);
    if (p !== undefined && !RETRIABLE.has(p.errorCode))
      throw new Error(`produce refused: ${p.errorCode} ${p.errorMessage}`);
    if (Date.now() > deadline) throw new Error(`no ack for ${b.values[0]}: ${p?.errorMessage}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every record value of a partition, in offset order, read through `address`. */
async function readAll(address: string, partition: number, expected: number): Promise<string[]> {
  return waitFor(`partition ${partition} holds ${expected} records`, async () => {
    const values: string[] = [];
    let offset = 0n;
    for (let turn = 0; turn < 100; turn++) {
      const r = await unary<FetchResponse__Output>((cb) =>
        stubs(address).fetch.Fetch(
          {
            maxWaitMs: 0,
            minBytes: 1,
            maxBytes: 1 << 20,
            topics: [
              {
                topic: TOPIC,
                partitions: [
                  { partition, fetchOffset: String(offset), partitionMaxBytes: 1 << 20 },
                ],
              },
            ],
          },
          cb,
        ),
      ).catch(() => null);
      const p = r?.topics[0]?.partitions[0];
      if (p === undefined || p.errorCode !== 0) return undefined;
      if (p.records.length === 0) break;
      for (const view of iterateBatches(p.records)) {
        const decoded = decodeRecordBatch(
          p.records.subarray(view.position, view.position + view.sizeBytes),
        );
        for (const rec of decoded.records) values.push(rec.value!.toString());
        offset = view.nextOffset;
      }
    }
    return values.length >= expected ? values : undefined;
  });
}

describe("idempotent producer on a 3-node cluster", () => {
  it("retries and a leader kill mid-send leave every record once, in order", async () => {
    const { nodes: ns } = await formCluster(3, "idem", { nodes, roots });
    const s1 = stubs(ns[0]!.clientAddress);
    await unary((cb) =>
      s1.admin.CreateTopics({ topics: [{ name: TOPIC, partitionCount: 2 }] }, cb),
    );
    const md = await waitFor("leaders with a full ISR", async () => {
      const r = await unary<{ topics: { partitions: { leaderId: number; isr: number[] }[] }[] }>(
        (cb) => s1.metadata.Metadata({ topics: [TOPIC] }, cb),
      );
      const ps = r.topics[0]?.partitions ?? [];
      return ps.length === 2 && ps.every((p) => p.leaderId > 0 && p.isr.length === 3)
        ? ps
        : undefined;
    });

    // Any broker answers InitProducerId, from its own block: the ids differ.
    const init = async (n: NodeProcess) =>
      unary<InitProducerIdResponse__Output>((cb) =>
        stubs(n.clientAddress).produce.InitProducerId({}, cb),
      );
    const [a, b] = [await init(ns[2]!), await init(ns[0]!)];
    expect(a).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    expect(a.producerId).not.toBe(b.producerId);
    const producer = new Sequencer(BigInt(a.producerId), a.producerEpoch);

    const leader0 = md[0]!.leaderId;
    const entry = ns.find((n) => n.id !== leader0)!; // forwards to the leaders; survives the kill
    const sent: SentBatch[] = [];
    const offsets = new Map<SentBatch, bigint>();
    for (let k = 0; k < 4; k++)
      for (const p of [0, 1]) {
        const batch = producer.batch(p, 3);
        sent.push(batch);
        offsets.set(batch, await sendUntilAcked(entry.clientAddress, batch));
      }
    // Lost responses: the client resends its last two batches per partition; same offsets.
    for (const batch of sent.slice(-4)) {
      expect(await sendUntilAcked(entry.clientAddress, batch)).toBe(offsets.get(batch));
    }

    // Kill partition 0's leader while a batch is in flight; resend every un-acked batch.
    const inFlight = [producer.batch(0, 3), producer.batch(1, 3)];
    sent.push(...inFlight);
    const lost = inFlight.map((batch) => produceOnce(entry.clientAddress, batch).catch(() => null));
    await ns[leader0 - 1]!.kill("SIGKILL");
    await Promise.all(lost);
    for (const batch of inFlight) await sendUntilAcked(entry.clientAddress, batch);
    for (let k = 0; k < 2; k++)
      for (const p of [0, 1]) {
        const batch = producer.batch(p, 2);
        sent.push(batch);
        await sendUntilAcked(entry.clientAddress, batch);
      }

    for (const p of [0, 1]) {
      const expected = sent.filter((s) => s.partition === p).flatMap((s) => [...s.values]);
      expect(await readAll(entry.clientAddress, p, expected.length)).toEqual(expected);
    }
  });
});
