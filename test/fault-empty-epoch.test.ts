// Goal: a replica that was elected leader and lost leadership before appending anything
// rejoins the ISR as a follower. Becoming leader records the new epoch at the log end; no
// other replica ever sees that epoch (no batch carries it), so the next leader answers the
// returning replica's fetches with a diverging epoch, and the follower's truncation to its own
// log end must forget the empty epoch. When it did not, every fetch diverged again and the
// replica never rejoined (found as a flaky 30 s "full ISR" timeout in the tail-cache
// leader-change test, whenever its loop deposed such a leader).
//
// Three combined nodes, RF 3: a prefix is committed with acks=all under leader L0. L0 is
// SIGSTOPped, L1 is elected and takes no record; L0 is resumed and rejoins (its last epoch
// holds batches). Then L1 is SIGSTOPped, a third epoch is elected, and L1 is resumed: it must
// rejoin the ISR and reach the leader's log end, and every committed record is still there.
import { afterEach, describe, expect, it } from "vitest";
import { FaultCluster, faultSeed, fetchAll, SequenceProducer } from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import { mulberry32, randomInt } from "./support/prng.ts";

const SEED = faultSeed(14_002);
const TOPIC = "empty-epoch";
let cluster: FaultCluster | undefined;

afterEach(async (ctx) => {
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? `fault-empty-epoch-${SEED}` : undefined,
  );
  cluster = undefined;
});

describe("a leader that appended nothing", () => {
  it(`rejoins the ISR as a follower of the next leader (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const c = await FaultCluster.start({ count: 3, extra: ["--replica.lag.time.max.ms", "60000"] });
    cluster = c;
    const initial = await c.createTopic(TOPIC, {
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2" },
    });
    const committed = new SequenceProducer({
      cluster: c,
      topic: TOPIC,
      partition: 0,
      acks: "ACKS_ALL",
      random,
      timeoutMs: 3_000,
      recordsPerBatchMax: 8,
      prefix: "c",
    });
    for (let i = 0, n = randomInt(random, 3, 8); i < n; i++) {
      await committed.ackOne(`batch ${i} acknowledged`);
    }

    // L1 leads an epoch in which nothing is appended.
    const l0 = initial.leaderId;
    c.stop(l0);
    const onL1 = await c.waitPartition("L1 elected", TOPIC, 0, (p) => p.leaderId !== l0, 30_000);
    c.resume(l0);
    await c.waitPartition("L0 back in the ISR", TOPIC, 0, (p) => p.isr.length === 3, 30_000);

    // L1 is deposed with its empty epoch as its last; it must follow the next leader.
    const l1 = onL1.leaderId;
    c.stop(l1);
    const onL2 = await c.waitPartition(
      "a leader after L1",
      TOPIC,
      0,
      (p) => p.leaderId !== l1 && p.leaderEpoch > onL1.leaderEpoch,
      30_000,
    );
    c.resume(l1);
    const full = await c.waitPartition(
      "L1 back in the ISR",
      TOPIC,
      0,
      (p) => p.isr.length === 3,
      30_000,
    );
    expect(full.leaderEpoch).toBe(onL2.leaderEpoch);
    await waitFor(
      "L1 at the leader's log end",
      async () => (await c.replicationLag(l1, TOPIC, 0)) === 0,
      15_000,
    );

    // A new leader's HW reaches the old one's only once its followers fetched again.
    const last = committed.acked.at(-1)!;
    const acknowledgedEnd = last.baseOffset + BigInt(last.values.length);
    await waitFor(
      "the leader's HW at every acknowledged record",
      async () => ((await c.highWatermark(full.leaderId, TOPIC, 0)) ?? -1n) >= acknowledgedEnd,
      15_000,
    );
    const served = await fetchAll(c, full.leaderId, TOPIC, 0);
    const values = new Set(served.records.map((r) => r.value));
    for (const batch of committed.acked)
      for (const v of batch.values) expect(values.has(v)).toBe(true);
  }, 150_000);
});
