// Goal (issue 12 §2, §4): `__consumer_offsets` really compacts, and compaction loses nothing a
// coordinator needs. On a 3-node cluster whose offsets topic rolls a segment every few commits
// (offsets.topic.segment.bytes) and whose cleaners run every 200 ms, two members of one group
// commit many rounds; then only one of them goes on committing, so the other's last commits
// and the group's membership records lie in closed segments the cleaner rewrites. Once every
// node's cleaner has removed superseded commits from the offsets partition, the coordinator's
// broker is killed with SIGKILL: its own log holds fewer records than were written (it was
// compacted), and the new coordinator, loading from its compacted log, accepts both members at
// their epochs and answers every acknowledged commit.
import { afterEach, describe, expect, it } from "vitest";
import { metricSum } from "./support/cluster.ts";
import { FaultCluster, readPartitionDir } from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";
import {
  type GroupRpc,
  groupRpcWithTopic,
  joinTwo,
  Member,
  nextCoordinator,
  resumeAt,
} from "./support/group-rpc.ts";

const GROUP = "ledger-app";
const TOPIC = "ledger";
const OFFSETS = "__consumer_offsets";
const PARTITIONS = 4;
const BOTH_ROUNDS = 30;
const A_ONLY_ROUNDS = 20;
let cluster: FaultCluster | undefined;
let rpc: GroupRpc | undefined;

afterEach(async (ctx) => {
  rpc?.close();
  rpc = undefined;
  await cluster?.destroy(
    ctx.task.result?.state === "fail" ? "offsets-compaction-cluster" : undefined,
  );
  cluster = undefined;
});

async function removedRecords(c: FaultCluster, id: number): Promise<number> {
  const { body } = await c.node(id).http("/metrics");
  return metricSum(body, "strand_log_cleaner_removed_records_total", `topic="${OFFSETS}"`);
}

describe("__consumer_offsets compaction", () => {
  it("compacts the offsets partition and a new coordinator still has every acknowledged commit", async () => {
    const c = await FaultCluster.start({
      count: 3,
      extra: [
        ...["--offsets.topic.num.partitions", "1", "--offsets.topic.replication.factor", "3"],
        // A commit batch of two partitions is ~400 bytes: a segment rolls every few commits.
        ...["--offsets.topic.segment.bytes", "2048"],
        ...["--log.cleaner.backoff.ms", "200", "--log.cleaner.min.cleanable.ratio", "0.01"],
        ...[
          "--group.consumer.heartbeat.interval.ms",
          "200",
          "--group.consumer.session.timeout.ms",
          "120000",
        ],
      ],
    });
    cluster = c;
    const groups = await groupRpcWithTopic(c, GROUP, TOPIC, PARTITIONS);
    rpc = groups;
    const coord = await waitFor("a coordinator", () => groups.coordinator(1), 30_000, 100);

    const a = new Member(groups, TOPIC);
    const b = new Member(groups, TOPIC);
    await joinTwo(coord, a, b, PARTITIONS);

    // Every commit below was acknowledged (replicated to the offsets partition's ISR).
    const acked = new Map<number, number>();
    let written = 0;
    const commitRound = async (m: Member, round: number) => {
      const offsets = new Map(m.partitions().map((p) => [p, round * 100 + p]));
      expect(await groups.commit(coord, m, TOPIC, offsets)).toBe(0);
      for (const [p, o] of offsets) acked.set(p, o);
      written += offsets.size;
    };
    for (let round = 1; round <= BOTH_ROUNDS; round++)
      for (const m of [a, b]) await commitRound(m, round);
    // b's last commits are now followed by many segments of a's: they get cleaned.
    for (let round = BOTH_ROUNDS + 1; round <= BOTH_ROUNDS + A_ONLY_ROUNDS; round++)
      await commitRound(a, round);

    // Every replica's cleaner compacts its own copy of the offsets partition.
    await waitFor(
      "every node's cleaner removed superseded commits",
      async () => {
        const removed = await Promise.all([1, 2, 3].map((id) => removedRecords(c, id)));
        return removed.every((r) => r >= written / 2);
      },
      60_000,
      200,
    );

    await c.kill(coord);
    const onDisk = await readPartitionDir(c.partitionDir(coord, OFFSETS, 0));
    expect(onDisk.records.length).toBeLessThan(written);

    const survivor = [1, 2, 3].find((id) => id !== coord) ?? 1;
    const next = await nextCoordinator(groups, coord, survivor);
    // The membership records were written once, at the join, into segments since compacted:
    // the members carry on at their epochs without rejoining.
    const epoch = a.epoch;
    await resumeAt(next, [a, b]);
    expect([a.epoch, b.epoch]).toEqual([epoch, epoch]);
    const fetched = await groups.fetchOffsets(next);
    expect(fetched.errorCode).toBe(0);
    expect(fetched.offsets).toEqual(acked);
  }, 180_000);
});
