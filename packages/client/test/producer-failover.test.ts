// Goal (failover): a produce stream moves to a new leader within about one leader probe
// interval of metadata naming it, not after the request deadline. The fake cluster's leader
// for a partition stops answering (its Produce calls hang, as a SIGSTOPped broker's do); the
// cluster then names another leader with a newer epoch; the pending send must land there in
// well under requestTimeoutMs. A slow leader that stays leader is waited for, not abandoned.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Strand, type StrandOptions } from "../src/index.ts";
import { FakeCluster } from "./fake-cluster.ts";

const clients: Strand[] = [];
let cluster: FakeCluster;

beforeAll(async () => {
  cluster = await FakeCluster.start(3);
  cluster.producerIds = true;
});
afterAll(async () => {
  await cluster.stop();
});
afterEach(async () => {
  cluster.script = null;
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(options: Partial<StrandOptions> = {}) {
  const strand = new Strand({
    brokers: [cluster.addresses[2]!],
    requestTimeoutMs: 10_000,
    deliveryTimeoutMs: 30_000,
    ...options,
  });
  clients.push(strand);
  return strand;
}

/** Resolves with the outcome of `p`, or "pending" if it has not settled after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending" | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([p.catch((error: unknown) => ({ error })), bound]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("producer failover (leader probe)", () => {
  it("moves a batch whose leader never answers to the new leader within the probe interval", async () => {
    cluster.addTopic("moving", 1, () => 1);
    const producer = client().producer({ lingerMs: 0, leaderProbeMs: 200 });
    // Warm up: connection, producer id and metadata, so the timing below is the failover's.
    await producer.send({ topic: "moving", messages: [{ value: "warm" }] });
    // Broker 1 stops answering Produce for good (a paused leader).
    cluster.script = ({ broker }) => (broker === 1 ? { drop: true } : null);
    const sent = producer.send({ topic: "moving", messages: [{ value: "after" }] });
    await sleep(300);
    // The cluster elects broker 2 (a newer epoch); metadata now says so.
    const part = cluster.topics.get("moving")![0]!;
    part.leader = 2;
    part.epoch = 1;
    const movedAt = Date.now();
    const out = await within(sent, 3_000);
    expect(out).toEqual([{ topic: "moving", partition: 0, offset: 1n }]);
    // About one probe interval plus a metadata round trip; far below requestTimeoutMs.
    expect(Date.now() - movedAt).toBeLessThan(1_500);
    const last = cluster.produceCalls.at(-1)!;
    expect(last.broker).toBe(2);
    // The same batch, sequence included: a copy the old leader wrote would be a DUPLICATE.
    expect(last.sequences).toEqual(["42/1"]);
  });

  it("ends a backoff at once when the probe finds the leader moved", async () => {
    cluster.addTopic("backoff", 1, () => 1);
    const producer = client({ retry: { initialMs: 5_000, maxMs: 5_000, multiplier: 1 } }).producer({
      lingerMs: 0,
      leaderProbeMs: 200,
    });
    await producer.send({ topic: "backoff", messages: [{ value: "warm" }] });
    // Broker 1 answers with a retriable error (no hint): the partition backs off 5 s.
    cluster.script = ({ broker }) => (broker === 1 ? { code: 19 } : null);
    const sent = producer.send({ topic: "backoff", messages: [{ value: "after" }] });
    await sleep(300);
    const part = cluster.topics.get("backoff")![0]!;
    part.leader = 2;
    part.epoch = 1;
    const movedAt = Date.now();
    expect(await within(sent, 3_000)).toEqual([{ topic: "backoff", partition: 0, offset: 1n }]);
    expect(Date.now() - movedAt).toBeLessThan(1_500);
    expect(cluster.produceCalls.at(-1)!.broker).toBe(2);
  });

  it("waits for a slow leader that is still the leader (no abandon, no second copy)", async () => {
    cluster.addTopic("slow", 1, () => 1);
    const producer = client().producer({ lingerMs: 0, leaderProbeMs: 100 });
    await producer.send({ topic: "slow", messages: [{ value: "warm" }] });
    const before = cluster.produceCalls.length;
    cluster.script = () => ({ delayMs: 800 });
    const out = await within(producer.send({ topic: "slow", messages: [{ value: "x" }] }), 3_000);
    expect(out).toEqual([{ topic: "slow", partition: 0, offset: 1n }]);
    expect(cluster.produceCalls.length - before).toBe(1);
  });
});
