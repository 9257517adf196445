// Goal (issue 5 §5): with acks=all, RF 3 and min.insync.replicas 2, SIGKILL of the partition
// leader in the middle of a produce stream loses nothing. A producer sends one batch at a time
// to whoever leads, a consumer tails the leader; the leader is killed after a seeded number of
// acknowledged batches; once a new leader is elected production goes on. Then the partition,
// read from the new leader, holds every acknowledged record at its acknowledged offset, in
// order, with contiguous offsets and no value twice, and every record the consumer was ever
// given is still at its offset with its value. The killed node restarts, rejoins the ISR, and
// its log ends byte-identical to the other two replicas' (read from their data dirs). While it
// restarts, a client with stale metadata sends it acks=leader batches: it must acknowledge
// none that do not stay (it once did, as leader of the old epoch while replaying metadata).
import { afterEach, describe, expect, it } from "vitest";
import {
  checkPartition,
  FaultCluster,
  faultSeed,
  fetchAll,
  PinnedProducer,
  readPartitionDir,
  SequenceProducer,
  TailConsumer,
} from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import { mulberry32, randomInt } from "./support/prng.ts";

const SEED = faultSeed(5_001);
const TOPIC = "kill";
let cluster: FaultCluster | undefined;

afterEach(async (ctx) => {
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? `fault-leader-kill-${SEED}` : undefined,
  );
  cluster = undefined;
});

describe("SIGKILL of the partition leader under acks=all", () => {
  it(`loses no acknowledged record and shows no consumer a vanishing one (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const c = await FaultCluster.start({
      count: 3,
      extra: ["--replica.lag.time.max.ms", "3000"],
    });
    cluster = c;
    const initial = await c.createTopic(TOPIC, {
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2" },
    });
    const producer = new SequenceProducer({
      cluster: c,
      topic: TOPIC,
      partition: 0,
      acks: "ACKS_ALL",
      random,
      timeoutMs: 3_000,
      recordsPerBatchMax: 8,
      prefix: "s",
    });
    const consumer = new TailConsumer(c, TOPIC, 0);
    producer.start();
    consumer.start();

    // The deliberately timed fault: SIGKILL the leader after a seeded number of acks.
    const acksBeforeKill = randomInt(random, 30, 120);
    await waitFor(`${acksBeforeKill} acks`, () => producer.acked.length >= acksBeforeKill, 20_000);
    const victim = initial.leaderId;
    const seenBeforeKill = consumer.seen.size;
    await c.kill(victim);
    const ackedAtKill = producer.acked.length;

    const after = await c.waitPartition(
      "a new leader",
      TOPIC,
      0,
      (p) => p.leaderId !== victim && p.leaderEpoch > initial.leaderEpoch,
    );
    const target = producer.acked.length + randomInt(random, 30, 80);
    await waitFor("acks from the new leader", () => producer.acked.length >= target, 20_000);
    await producer.stop();

    const last = producer.acked.at(-1)!;
    const end = last.baseOffset + BigInt(last.values.length);
    await waitFor("the consumer reached the last ack", () => consumer.next >= end, 10_000);
    await consumer.stop();

    const { records, highWatermark } = await fetchAll(c, after.leaderId, TOPIC, 0);
    expect(highWatermark).toBeGreaterThanOrEqual(end);
    const problems = checkPartition(records, producer.acked, consumer.seen);
    expect(problems, `seed ${SEED}`).toEqual([]);
    // The run really spanned the fault: acks and consumed records on both sides of it.
    expect(ackedAtKill).toBeGreaterThanOrEqual(acksBeforeKill);
    expect(producer.acked.some((b) => b.leaderId === after.leaderId)).toBe(true);
    expect(producer.acked.some((b) => b.leaderId === victim)).toBe(true);
    expect(seenBeforeKill).toBeGreaterThan(0);
    expect(consumer.seen.size).toBeGreaterThan(seenBeforeKill);

    // The killed node comes back as a follower, catches up and rejoins the ISR.
    // Meanwhile a client whose metadata still names it leader sends it acks=leader batches from
    // the moment its listener is up: whatever it acknowledges must stay (a restarted broker
    // must not act as leader of an epoch it lost while it was down).
    const back = c.restart(victim);
    const stale = new PinnedProducer({
      address: back.clientAddress,
      brokerId: victim,
      topic: TOPIC,
      partition: 0,
    });
    stale.start();
    await c.waitReady([back]);
    await c.waitPartition(`node ${victim} back in the ISR`, TOPIC, 0, (p) => p.isr.length === 3);
    await stale.stop();
    const followers = [1, 2, 3].filter((id) => id !== after.leaderId);
    await waitFor(
      "both followers at the leader's log end",
      async () => {
        for (const id of followers) if ((await c.replicationLag(id, TOPIC, 0)) !== 0) return false;
        return true;
      },
      10_000,
    );
    console.log(
      `seed ${SEED}: killed leader ${victim} after ${ackedAtKill} acks; new leader ${after.leaderId}; ` +
        `${producer.acked.length} acks, answers ${JSON.stringify(Object.fromEntries(producer.codes))}; ` +
        `consumer saw ${consumer.seen.size} records; HW ${highWatermark}; the restarted node ` +
        `answered a stale client ${JSON.stringify(Object.fromEntries(stale.codes))}`,
    );
    await c.killAll();
    const logs = await Promise.all(
      [1, 2, 3].map((id) => readPartitionDir(c.partitionDir(id, TOPIC, 0))),
    );
    const leaderLog = logs[after.leaderId - 1]!;
    expect(leaderLog.records.slice(0, records.length)).toEqual(records);
    expect(checkPartition(leaderLog.records, producer.acked, consumer.seen)).toEqual([]);
    expect(
      checkPartition(leaderLog.records, stale.acked, new Map()),
      `acks from restarted node ${victim}: ${JSON.stringify(Object.fromEntries(stale.codes))}`,
    ).toEqual([]);
    for (const [k, log] of logs.entries()) {
      expect(log.logEndOffset, `node ${k + 1}`).toBe(leaderLog.logEndOffset);
      expect(log.epochs, `node ${k + 1}`).toEqual(leaderLog.epochs);
      expect(log.bytes.equals(leaderLog.bytes), `node ${k + 1} byte-identical`).toBe(true);
    }
  }, 90_000);
});
