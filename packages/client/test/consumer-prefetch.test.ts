// Goal: while the application processes the batches poll() returned, the consumer already
// fetches the next ones (one fetch per leader ahead, only for partitions with nothing
// buffered), and `prefetch: false` waits for the next poll() as before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Strand } from "../src/index.ts";
import { FakeCluster } from "./fake-cluster.ts";

let cluster: FakeCluster;
const clients: Strand[] = [];

beforeAll(async () => {
  cluster = await FakeCluster.start(1);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await cluster.stop();
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function firstPoll(topic: string, prefetch: boolean) {
  cluster.addTopic(topic, 1);
  cluster.appendOther(topic, 0, ["a", "b", "c"]);
  const strand = new Strand({ brokers: [cluster.addresses[0]!] });
  clients.push(strand);
  const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 50, prefetch });
  consumer.assign([{ topic, partition: 0 }]);
  let batches = await consumer.poll();
  for (let i = 0; i < 50 && batches.length === 0; i++) batches = await consumer.poll();
  expect(batches.flatMap((b) => b.messages.map((m) => m.offset))).toEqual([0n, 1n, 2n]);
  const calls = () => cluster.fetchCalls.filter((c) => c.offsets.includes(`${topic}-0@3`));
  return { consumer, calls };
}

describe("consumer prefetch", () => {
  it("fetches the next records while the application works on a batch", async () => {
    const { consumer, calls } = await firstPoll("prefetch-on", true);
    await until(() => calls().length > 0);
    // One fetch ahead at a time: the prefetch is not repeated while it waits for records.
    expect(calls().length).toBeLessThanOrEqual(2);
    cluster.appendOther("prefetch-on", 0, ["d"]);
    let next = await consumer.poll();
    for (let i = 0; i < 50 && next.length === 0; i++) next = await consumer.poll();
    expect(next.flatMap((b) => b.messages.map((m) => m.offset))).toEqual([3n]);
  });

  it("with prefetch false, fetches only in poll()", async () => {
    const { calls } = await firstPoll("prefetch-off", false);
    await new Promise((r) => setTimeout(r, 150));
    expect(calls()).toHaveLength(0);
  });
});
