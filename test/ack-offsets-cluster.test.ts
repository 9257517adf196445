// Goal: every offset the SDK acknowledges is the offset at which that record is read back, on
// a real cluster (1 controller + 2 brokers, RF 2), when a retry mixes a duplicate with new
// batches and other producers' records lie in between.
// 1. The reproduction: the follower is SIGSTOPped so acks=all times out; producer A's
//    a1 is written but its produce times out; producer B writes b1; A's retry carries a1 + a2
//    in one request: a1 is a duplicate (its original offset), a2 lands after b1 and must be
//    reported there (before the fix it was reported at b1's offset).
// 2. Two producers with several sends always outstanding while the follower stalls a few
//    times (acks=all timeouts, retries mixing duplicates and new batches) and then the leader
//    is SIGKILLed: every ack reads back its record.
import {
  type Logger,
  type Producer,
  type RecordMetadata,
  Strand,
  type StrandOptions,
  silentLogger,
} from "@strand/client";
import { afterEach, describe, expect, it } from "vitest";
import { FaultCluster } from "./support/fault.ts";
import { waitFor } from "./support/free-ports.ts";

const TOPIC = "acked";
let cluster: FaultCluster | undefined;
const clients: Strand[] = [];

afterEach(async (ctx) => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.destroy(ctx.task.result?.state === "fail" ? "ack-offsets-cluster" : undefined);
  cluster = undefined;
});

/** A logger that counts the client's "produce retry" lines (the retry after a timeout). */
function retryCounter(): { logger: Logger; retries: () => number } {
  let retries = 0;
  const logger: Logger = {
    ...silentLogger,
    debug: (_fields, message) => {
      if (message === "produce retry") retries++;
    },
    child: () => logger,
  };
  return { logger, retries: () => retries };
}

function client(c: FaultCluster, options: Partial<StrandOptions>): Strand {
  const strand = new Strand({
    brokers: c.brokerIds.map((id) => c.node(id).clientAddress),
    deliveryTimeoutMs: 60_000,
    ...options,
  });
  clients.push(strand);
  return strand;
}

/** An acknowledged record: what was sent and where send() said it is. */
interface Ack {
  readonly value: string;
  readonly offset: bigint;
}

async function send(producer: Producer, values: readonly string[]): Promise<Ack[]> {
  const out: RecordMetadata[] = await producer.send({
    topic: TOPIC,
    messages: values.map((value) => ({ partition: 0, value })),
  });
  return out.map((r, i) => ({ value: values[i]!, offset: r.offset }));
}

/** Every record of the partition by offset, read with a consumer up to the high watermark. */
async function readBack(strand: Strand): Promise<Map<bigint, string>> {
  const high = (await strand.admin().fetchTopicOffsets(TOPIC))[0]!.high;
  const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
  consumer.assign([{ topic: TOPIC, partition: 0 }]);
  const byOffset = new Map<bigint, string>();
  try {
    await waitFor(
      `records up to ${high}`,
      async () => {
        for (const b of await consumer.poll())
          for (const m of b.messages) byOffset.set(m.offset, m.value?.toString() ?? "");
        return byOffset.size >= Number(high) ? true : undefined;
      },
      20_000,
      0,
    );
  } finally {
    await consumer.close();
  }
  return byOffset;
}

function expectReadBack(acks: readonly Ack[], log: ReadonlyMap<bigint, string>): void {
  const wrong = acks.filter((a) => log.get(a.offset) !== a.value);
  expect(
    wrong.map((a) => `${a.value}@${a.offset} holds ${log.get(a.offset)}`),
    `${wrong.length} of ${acks.length} acks`,
  ).toEqual([]);
}

describe("acknowledged offsets", () => {
  it("a retry of a1 + a2 after B's b1 reports a2 where it is, also across a leader kill", async () => {
    const c = await FaultCluster.start({
      count: 3,
      dedicatedController: true,
      // The stopped follower stays in the ISR (and unfenced, also on a loaded machine), so
      // acks=all waits for it and times out.
      extra: [
        ...["--replica.lag.time.max.ms", "10000"],
        ...["--broker.session.timeout.ms", "8000"],
      ],
    });
    cluster = c;
    const view = await c.createTopic(TOPIC, {
      partitions: 1,
      replicationFactor: 2,
      configs: {
        // acks=all needs only the leader once the follower is out of the ISR (the leader kill).
        "min.insync.replicas": "1",
      },
    });
    const follower = view.replicas.find((id) => id !== view.leaderId)!;
    const counter = retryCounter();
    // A: acks=all timing out after 1 s at the leader, then a long backoff, so a2 is queued
    // behind a1 and leaves with a1's retry.
    const producerA = client(c, {
      requestTimeoutMs: 1_000,
      retry: { initialMs: 3_000, maxMs: 3_000, multiplier: 1 },
      logger: counter.logger,
    }).producer({ lingerMs: 0 });
    // B: acks=leader, so b1 is written (and answered) while the follower is stopped.
    const producerB = client(c, { requestTimeoutMs: 5_000 }).producer({
      lingerMs: 0,
      acks: "leader",
    });
    const acks: Ack[] = [...(await send(producerA, ["a0"])), ...(await send(producerB, ["b0"]))];

    c.stop(follower);
    const a1 = send(producerA, ["a1-0", "a1-1"]);
    await waitFor("a1 timed out after its write", async () => counter.retries() > 0 || undefined);
    const b1 = await send(producerB, ["b1-0"]);
    const a2 = send(producerA, ["a2-0", "a2-1", "a2-2"]);
    c.resume(follower);
    const [acked1, acked2] = await Promise.all([a1, a2]);
    acks.push(...acked1!, ...b1, ...acked2!);
    // a1 keeps its original offsets; a2 lies after b1.
    expect(acked2![0]!.offset).toBeGreaterThan(b1[0]!.offset);
    expectReadBack(acks, await readBack(clients[1]!));

    // Two producers, many sends outstanding: while the follower stalls, their
    // acks=all produces time out after the write, and each retry carries the written batches
    // plus those queued since, behind the other producer's records. Then the leader is killed.
    const counters = [retryCounter(), retryCounter()];
    const producers = counters.map((r) =>
      client(c, {
        requestTimeoutMs: 400,
        retry: { initialMs: 50, maxMs: 200 },
        logger: r.logger,
      }).producer({ lingerMs: 1 }),
    );
    let stop = false;
    let sent = 0;
    // Open loop: a send every few ms whatever the acks, so sends queue behind a stalled
    // request and its retry carries them too (a closed loop would resend only duplicates).
    const loads = producers.map(async (producer, p) => {
      const pending = new Set<Promise<void>>();
      for (let i = 0; i < 100_000 && !stop; i++) {
        if (pending.size < 40) {
          const one = send(producer, [`p${p}-${i}`, `p${p}-${i}b`]).then((acked) => {
            acks.push(...acked);
            sent++;
            pending.delete(one);
          });
          pending.add(one);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.all(pending);
    });
    const progress = (what: string, count: number) => {
      const target = sent + count;
      return waitFor(what, () => sent >= target || undefined, 30_000);
    };
    await progress("acks under load", 100);
    for (let stall = 0; stall < 4; stall++) {
      const before = counters.map((r) => r.retries());
      c.stop(follower);
      // Both producers' produces timed out after their writes: their retries interleave.
      await waitFor(
        "both producers' produces timed out during the stall",
        () => counters.every((r, i) => r.retries() > before[i]!) || undefined,
      );
      c.resume(follower);
      await progress("acks after the stall", 100);
    }
    const leader = (await c.partition(TOPIC, 0))!.leaderId;
    await c.kill(leader);
    c.restart(leader);
    await progress("acks after the leader kill", 200);
    stop = true;
    await Promise.all(loads);
    expectReadBack(acks, await readBack(clients[1]!));
  }, 120_000);
});
