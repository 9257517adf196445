// Goal (issue 14, tail cache): a replica that led, followed and leads again serves only bytes
// its log has. Three combined nodes, RF 3, min ISR 1, a long replica lag time. Node A, the
// first replica, leads: a prefix is committed (acks=all) and, with both followers SIGSTOPped,
// N batches go to A alone (acks=leader), so A's tail cache holds them. A is then SIGSTOPped
// (not killed: its memory, cache included, survives) and the followers resumed; the second
// replica B is elected and M batches are committed on it. A resumes as a follower, truncates
// its N batches (they must leave its cache too) and replicates B's without caching them (a
// follower's appends are not cached). Then B is SIGSTOPped and A, first in replica order, is
// elected again and takes K more batches, which its cache holds. Everything A serves from its
// cache and its file is then checked, offset by offset, against A's own log read from disk
// after the nodes stop.
import { ErrorCode } from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import {
  FaultCluster,
  faultSeed,
  fetchAll,
  readPartitionDir,
  SequenceProducer,
} from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import { mulberry32, randomInt } from "./support/prng.ts";

const SEED = faultSeed(14_001);
const TOPIC = "tail-leader-change";
let cluster: FaultCluster | undefined;

afterEach(async (ctx) => {
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? `tail-cache-leader-${SEED}` : undefined,
  );
  cluster = undefined;
});

/** Bytes held in node `id`'s tail cache now (its /metrics). */
async function cachedBytes(c: FaultCluster, id: number): Promise<number> {
  const { body } = await c.node(id).http("/metrics");
  const line = body.split("\n").find((l) => l.startsWith("strand_log_tail_cache_bytes{"));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
}

describe("tail cache across leader changes", () => {
  it(`a replica that led, followed and leads again serves only what its log holds (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const c = await FaultCluster.start({ count: 3, extra: ["--replica.lag.time.max.ms", "60000"] });
    cluster = c;
    const initial = await c.createTopic(TOPIC, {
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "1" },
    });
    const a = initial.leaderId;
    const followers = initial.replicas.filter((id) => id !== a);
    expect(initial.replicas[0]).toBe(a);
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

    const committed = producer("c", "ACKS_ALL");
    for (let i = 0, k = randomInt(random, 3, 10); i < k; i++) await committed.ackOne(`c ${i}`);
    for (const id of followers) c.stop(id);
    const unreplicated = producer("u", "ACKS_LEADER");
    for (let i = 0, n = randomInt(random, 3, 8); i < n; i++)
      expect((await unreplicated.sendOnce()).code).toBe(ErrorCode.NONE.code);
    expect(await cachedBytes(c, a)).toBeGreaterThan(0);

    // A stops with its cache; a follower is elected and takes M batches.
    c.stop(a);
    for (const id of followers) c.resume(id);
    const onB = await c.waitPartition(
      "a follower elected",
      TOPIC,
      0,
      (p) => p.leaderId !== a && p.leaderEpoch > initial.leaderEpoch,
      30_000,
    );
    const fresh = producer("m", "ACKS_ALL");
    for (let i = 0, m = randomInt(random, 8, 16); i < m; i++) await fresh.ackOne(`m ${i}`);

    // A follows: truncates the u batches and replicates B's.
    c.resume(a);
    await c.waitPartition("A back in the ISR", TOPIC, 0, (p) => p.isr.length === 3, 30_000);
    await waitFor(
      "A at B's log end",
      async () => (await c.replicationLag(a, TOPIC, 0)) === 0,
      15_000,
    );

    // A leads again: the controller elects the first unfenced replica in the ISR, and A is
    // the first replica; stop whoever leads until A does (bounded).
    let again = onB;
    for (let round = 0; round < 3 && again.leaderId !== a; round++) {
      const leader = again.leaderId;
      c.stop(leader);
      again = await c.waitPartition("a new leader", TOPIC, 0, (p) => p.leaderId !== leader, 30_000);
      c.resume(leader);
      await c.waitPartition("a full ISR", TOPIC, 0, (p) => p.isr.length === 3, 30_000);
    }
    expect(again.leaderId).toBe(a);
    expect(again.leaderEpoch).toBeGreaterThan(onB.leaderEpoch);
    // A follower's appends are not cached: only what A appends as leader again is.
    expect(await cachedBytes(c, a)).toBe(0);
    const later = producer("k", "ACKS_ALL");
    for (let i = 0, k = randomInt(random, 2, 6); i < k; i++) await later.ackOne(`k ${i}`);
    expect(await cachedBytes(c, a)).toBeGreaterThan(0);
    const served = await fetchAll(c, a, TOPIC, 0);
    const firstU = unreplicated.acked[0]?.baseOffset ?? 0n;
    const servedTail = await fetchAll(c, a, TOPIC, 0, firstU);

    await c.killAll();
    const onDisk = await readPartitionDir(c.partitionDir(a, TOPIC, 0));
    const disk = onDisk.records.filter((r) => r.offset < served.highWatermark);
    expect(served.records).toEqual(disk);
    expect(servedTail.records).toEqual(disk.filter((r) => r.offset >= firstU));
    // Every m record is there; a u record only where A's log kept it (replicated before the stop).
    const values = new Set(served.records.map((r) => r.value));
    for (const batch of [...fresh.acked, ...later.acked])
      for (const v of batch.values) expect(values.has(v)).toBe(true);
    const diskValues = new Set(onDisk.records.map((r) => r.value));
    for (const v of values) expect(diskValues.has(v)).toBe(true);
  }, 180_000);
});
