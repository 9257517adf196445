// Goal (issue 5 §5): an old leader with unreplicated batches comes back as a follower, truncates
// them and ends with exactly the new leader's log. Three combined nodes, RF 3, min ISR 1: a
// committed prefix is produced with acks=all; both followers are SIGSTOPped and N batches go to
// the leader with acks=leader (they land on it alone); the leader is SIGKILLed and the
// followers resumed. The replica lag time is long, so they are still in the ISR and one of
// them is elected (unclean election stays off). M batches go to the new leader; the old leader
// restarts, truncates its N batches and replicates the M. Its partition folder, read with
// @strand/storage, is then byte-identical to both other replicas'.
import { ErrorCode } from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import {
  checkPartition,
  FaultCluster,
  faultSeed,
  readPartitionDir,
  SequenceProducer,
} from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import { mulberry32, randomInt } from "./support/prng.ts";

const SEED = faultSeed(5_003);
const TOPIC = "diverge";
let cluster: FaultCluster | undefined;

afterEach(async (ctx) => {
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? `fault-divergence-${SEED}` : undefined,
  );
  cluster = undefined;
});

describe("divergence", () => {
  it(`an old leader truncates its unreplicated batches and ends equal to the new leader (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const c = await FaultCluster.start({
      count: 3,
      extra: ["--replica.lag.time.max.ms", "60000"],
    });
    cluster = c;
    const initial = await c.createTopic(TOPIC, {
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "1" },
    });
    const oldLeader = initial.leaderId;
    const followers = initial.replicas.filter((id) => id !== oldLeader);
    const producer = (prefix: string, acks: "ACKS_ALL" | "ACKS_LEADER"): SequenceProducer =>
      new SequenceProducer({
        cluster: c,
        topic: TOPIC,
        partition: 0,
        acks,
        random,
        timeoutMs: 3_000,
        recordsPerBatchMax: 8,
        prefix,
      });

    // A prefix every replica holds (acks=all with the full ISR).
    const committed = producer("c", "ACKS_ALL");
    const k = randomInt(random, 3, 15);
    for (let i = 0; i < k; i++) await committed.ackOne(`committed batch ${i}`);

    // N batches on the leader alone.
    for (const id of followers) c.stop(id);
    const unreplicated = producer("u", "ACKS_LEADER");
    const n = randomInt(random, 3, 10);
    for (let i = 0; i < n; i++)
      expect((await unreplicated.sendOnce()).code).toBe(ErrorCode.NONE.code);
    await c.kill(oldLeader);
    for (const id of followers) c.resume(id);
    const before = await readPartitionDir(c.partitionDir(oldLeader, TOPIC, 0));
    const uValues = unreplicated.acked.flatMap((b) => b.values);
    expect(before.records.slice(-uValues.length).map((r) => r.value)).toEqual(uValues);

    // A follower is elected; M batches go to it.
    const after = await c.waitPartition(
      "a new leader",
      TOPIC,
      0,
      (p) => p.leaderId !== oldLeader && p.leaderEpoch > initial.leaderEpoch,
      20_000,
    );
    const fresh = producer("m", "ACKS_ALL");
    const m = randomInt(random, 2, 10);
    for (let i = 0; i < m; i++) await fresh.ackOne(`batch ${i} on the new leader`);
    // The old leader comes back, truncates, catches up and rejoins.
    const back = c.restart(oldLeader);
    await c.waitReady([back]);
    await c.waitPartition(`node ${oldLeader} in the ISR`, TOPIC, 0, (p) => p.isr.length === 3);
    await waitFor(
      "every follower at the leader's log end",
      async () => {
        for (const id of [1, 2, 3].filter((x) => x !== after.leaderId))
          if ((await c.replicationLag(id, TOPIC, 0)) !== 0) return false;
        return true;
      },
      10_000,
    );
    await c.killAll();
    const logs = await Promise.all(
      [1, 2, 3].map((id) => readPartitionDir(c.partitionDir(id, TOPIC, 0))),
    );
    const leaderLog = logs[after.leaderId - 1]!;
    for (const [i, log] of logs.entries()) {
      expect(log.logEndOffset, `node ${i + 1}`).toBe(leaderLog.logEndOffset);
      expect(log.epochs, `node ${i + 1}`).toEqual(leaderLog.epochs);
      expect(log.bytes.equals(leaderLog.bytes), `node ${i + 1} byte-identical`).toBe(true);
    }
    // A follower's long poll parked at the old leader may have been answered with the first
    // unreplicated batch just before the SIGSTOP took hold (the answer waits in the socket and
    // is applied on SIGCONT): such a prefix of them is legitimately replicated, and stays at
    // its offsets. The rest must be gone, and the new leader's epoch starts where they began.
    const finalAt = new Map(leaderLog.records.map((r) => [r.value, r.offset]));
    const oldAt = new Map(before.records.map((r) => [r.value, r.offset]));
    const kept = uValues.filter((v) => finalAt.has(v));
    const truncated = uValues.slice(kept.length);
    expect(kept, "replicated unacknowledged records are a prefix").toEqual(
      uValues.slice(0, kept.length),
    );
    for (const v of kept) expect(finalAt.get(v), v).toBe(oldAt.get(v));
    for (const v of truncated) expect(finalAt.has(v), `${v} truncated`).toBe(false);
    expect(truncated.length).toBeGreaterThan(0);
    expect(fresh.acked[0]!.baseOffset).toBe(oldAt.get(truncated[0]!));
    expect(checkPartition(leaderLog.records, committed.acked, new Map())).toEqual([]);
    expect(checkPartition(leaderLog.records, fresh.acked, new Map())).toEqual([]);
    console.log(
      `seed ${SEED}: old leader ${oldLeader} had ${n} unreplicated batches (${uValues.length} ` +
        `records, ${truncated.length} truncated) after ${k} committed; new leader ${after.leaderId} took ${m}; log end ` +
        `${leaderLog.logEndOffset}, epochs ${JSON.stringify(leaderLog.epochs, (_, v) => (typeof v === "bigint" ? Number(v) : v))}`,
    );
  }, 90_000);
});
