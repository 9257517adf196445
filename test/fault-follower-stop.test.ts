// Goal (issue 5 §5): a follower stopped with SIGSTOP leaves the ISR once it has not caught up
// for replica.lag.time.max.ms, while acks=all keeps succeeding and the high watermark keeps
// moving (ISR 2 >= min ISR 2); after SIGCONT it catches up and rejoins. With both followers
// stopped the ISR shrinks to the leader alone: acks=all is refused with NOT_ENOUGH_REPLICAS and
// the high watermark stands still; resumed, they rejoin and acks=all works again. Every
// acknowledged record is then at its offset on the leader.
//
// Node 1 is a dedicated controller and nodes 2-4 are brokers: with combined nodes, stopping two
// of three would also stop the metadata quorum, and no ISR change could commit. The broker
// session timeout (20 s) outlasts every stop, so the controller never fences a stopped broker.
import { ErrorCode } from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import {
  checkPartition,
  FaultCluster,
  faultSeed,
  fetchAll,
  SequenceProducer,
} from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import { mulberry32 } from "./support/prng.ts";

const SEED = faultSeed(5_002);
const TOPIC = "stall";
const LAG_MS = 2_000;
let cluster: FaultCluster | undefined;

afterEach(async (ctx) => {
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? `fault-follower-stop-${SEED}` : undefined,
  );
  cluster = undefined;
});

describe("SIGSTOPped followers", () => {
  it(`leave the ISR after the lag time and rejoin after SIGCONT; min ISR holds (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const c = await FaultCluster.start({
      count: 4,
      dedicatedController: true,
      extra: [
        ...["--replica.lag.time.max.ms", String(LAG_MS)],
        ...["--broker.session.timeout.ms", "20000"],
      ],
    });
    cluster = c;
    const initial = await c.createTopic(TOPIC, {
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2" },
    });
    const leader = initial.leaderId;
    const [f1, f2] = initial.replicas.filter((id) => id !== leader) as [number, number];
    const producer = new SequenceProducer({
      cluster: c,
      topic: TOPIC,
      partition: 0,
      acks: "ACKS_ALL",
      random,
      timeoutMs: 5_000,
      recordsPerBatchMax: 8,
      prefix: "s",
    });
    const hw = async (): Promise<bigint> =>
      waitFor("the leader's HW", () => c.highWatermark(leader, TOPIC, 0), 5_000);
    producer.start();
    await waitFor("20 acks", () => producer.acked.length >= 20, 10_000);

    // One follower stopped: out of the ISR after the lag time; acks=all and the HW go on.
    c.stop(f1);
    const stoppedAt = Date.now();
    await c.waitPartition(`node ${f1} out of the ISR`, TOPIC, 0, (p) => !p.isr.includes(f1));
    const shrunkAfterMs = Date.now() - stoppedAt;
    expect(shrunkAfterMs).toBeGreaterThanOrEqual(LAG_MS - 500);
    const hwAtShrink = await hw();
    const acksAtShrink = producer.acked.length;
    await waitFor("20 acks with ISR 2", () => producer.acked.length >= acksAtShrink + 20, 10_000);
    expect(await hw()).toBeGreaterThan(hwAtShrink);

    // SIGCONT: it catches up and rejoins.
    c.resume(f1);
    await c.waitPartition(`node ${f1} back in the ISR`, TOPIC, 0, (p) => p.isr.length === 3);
    await producer.stop();

    // Both followers stopped: the ISR shrinks to the leader; acks=all is refused, HW frozen.
    // acks=leader batches land on the leader alone: its log end passes the HW, and the HW
    // must not follow it while the ISR is below min ISR.
    c.stop(f1);
    c.stop(f2);
    const leaderOnly = new SequenceProducer({
      cluster: c,
      topic: TOPIC,
      partition: 0,
      acks: "ACKS_LEADER",
      random,
      timeoutMs: 2_000,
      recordsPerBatchMax: 8,
      prefix: "l",
    });
    for (let i = 0; i < 5; i++)
      expect((await leaderOnly.sendOnce()).code).toBe(ErrorCode.NONE.code);
    const shrunk = await c.waitPartition(
      "the ISR down to the leader",
      TOPIC,
      0,
      (p) => p.isr.length === 1,
    );
    expect(shrunk.isr).toEqual([leader]);
    const frozen = await hw();
    const refused = await waitFor(
      "NOT_ENOUGH_REPLICAS",
      async () =>
        (await producer.sendOnce()).code === ErrorCode.NOT_ENOUGH_REPLICAS.code ? true : undefined,
      5_000,
      0,
    );
    expect(refused).toBe(true);
    for (let i = 0; i < 5; i++)
      expect((await producer.sendOnce()).code).toBe(ErrorCode.NOT_ENOUGH_REPLICAS.code);
    expect(await hw()).toBe(frozen);
    const { highWatermark: consumerHw, records: readable } = await fetchAll(c, leader, TOPIC, 0);
    expect(consumerHw).toBe(frozen);
    expect(BigInt(readable.length)).toBe(frozen);

    // Resumed: both rejoin, acks=all works again and the HW moves.
    c.resume(f1);
    c.resume(f2);
    await c.waitPartition("both followers back in the ISR", TOPIC, 0, (p) => p.isr.length === 3);
    const acksBefore = producer.acked.length;
    producer.start();
    await waitFor("acks after recovery", () => producer.acked.length >= acksBefore + 10, 10_000);
    await producer.stop();
    const { records, highWatermark } = await fetchAll(c, leader, TOPIC, 0);
    expect(highWatermark).toBeGreaterThan(frozen);
    expect(checkPartition(records, producer.acked, new Map()), `seed ${SEED}`).toEqual([]);
    expect(checkPartition(records, leaderOnly.acked, new Map()), `seed ${SEED}`).toEqual([]);
    expect(leaderOnly.acked[0]!.baseOffset).toBe(frozen);
    console.log(
      `seed ${SEED}: leader ${leader}; node ${f1} left the ISR ${shrunkAfterMs} ms after SIGSTOP; ` +
        `HW frozen at ${frozen} with both stopped; ${producer.acked.length} acks, answers ` +
        `${JSON.stringify(Object.fromEntries(producer.codes))}; final HW ${highWatermark}`,
    );
  }, 90_000);
});
