/**
 * Consumer-group benchmark (issue 12 §5) on a local 3-node cluster (started and stopped here),
 * a 6-partition RF-3 topic:
 *
 * 1. throughput: read a preloaded topic from the start with today's manual-assign consumer,
 *    then with a 3-member group (three clients in this process), in the same run; the group
 *    should reach >= 90 % of the manual consumer;
 * 2. join: with records flowing to a 2-member group, the time from a third member's
 *    subscribe() to its first assignment and to its first record (target <= 1 s);
 * 3. leave: the time from a member leaving to the first record of each of its partitions at
 *    another member: a clean close() (target <= 1 s) vs kill -9 of a member process
 *    (scripts/bench/group-member.ts; bounded below by the session timeout).
 *
 * A script, never a test.
 *   npm run bench -- groups [--records 300000] [--record-size 100] [--session-timeout-ms 6000]
 *     [--heartbeat-ms 250] [--json] [--help]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Consumer, Strand } from "@strand/client";
import { BenchCluster } from "./bench/cluster.ts";
import { stopOnSignals } from "./lib/cluster.ts";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "300000" },
    "record-size": { type: "string", default: "100" },
    "session-timeout-ms": { type: "string", default: "6000" },
    "heartbeat-ms": { type: "string", default: "250" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: npm run bench -- groups [--records N] [--record-size B] [--session-timeout-ms MS] [--heartbeat-ms MS] [--json]",
  );
  process.exit(0);
}
const RECORDS = Number(values.records);
const RECORD_SIZE = Number(values["record-size"]);
const SESSION_MS = Number(values["session-timeout-ms"]);
const HEARTBEAT_MS = Number(values["heartbeat-ms"]);
const PARTITIONS = 6;
/** Broker settings of the group coordinator (names as in docs/configuration.md). */
const GROUP_FLAGS = [
  "--group.consumer.session.timeout.ms",
  String(SESSION_MS),
  "--group.consumer.heartbeat.interval.ms",
  String(HEARTBEAT_MS),
];
const log = (line: string) => {
  if (!values.json) console.error(line);
};

async function until(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function preload(strand: Strand, topic: string): Promise<void> {
  const producer = strand.producer({ lingerMs: 5, batchSize: 256 * 1024 });
  const value = Buffer.alloc(RECORD_SIZE, 120);
  const chunk = 1_000;
  for (let i = 0; i < RECORDS; i += chunk)
    await producer.send({
      topic,
      messages: Array.from({ length: Math.min(chunk, RECORDS - i) }, (_, k) => ({
        value,
        partition: (i + k) % PARTITIONS,
      })),
    });
  await producer.close();
}

/** Records per second of a manual-assign consumer reading the topic from the start. */
async function manualThroughput(brokers: string[], topic: string): Promise<number> {
  const strand = new Strand({ brokers });
  const consumer = strand.consumer({ autoOffsetReset: "earliest" });
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
  let start = 0;
  let seen = 0;
  while (seen < RECORDS)
    for (const b of await consumer.poll()) {
      if (start === 0) start = performance.now();
      seen += b.messages.length;
    }
  const seconds = (performance.now() - start) / 1000;
  await strand.close();
  return seen / seconds;
}

/** Records per second of a 3-member group reading the topic from the start. */
async function groupThroughput(brokers: string[], topic: string): Promise<number> {
  const clients = [0, 1, 2].map(() => new Strand({ brokers }));
  let seen = 0;
  let last = 0;
  const stop = new AbortController();
  // From the first record, as for the manual consumer: joining is measured on its own below.
  let start = 0;
  const runs = clients.map((s) => {
    const c = s.consumer({ groupId: "bench-throughput", autoOffsetReset: "earliest" });
    c.subscribe({ topics: [topic] });
    return c.run({
      signal: stop.signal,
      eachBatch: ({ batch }) => {
        if (start === 0) start = performance.now();
        seen += batch.messages.length;
        last = performance.now();
      },
    });
  });
  await until("the group read everything", () => seen >= RECORDS);
  const seconds = (last - start) / 1000;
  stop.abort();
  await Promise.all(runs);
  await Promise.all(clients.map((s) => s.close()));
  return seen / seconds;
}

/** An in-process member that notes when it got partitions and records. */
function member(brokers: string[], group: string, topic: string) {
  const strand = new Strand({ brokers });
  const consumer: Consumer = strand.consumer({
    groupId: group,
    autoOffsetReset: "latest",
    maxWaitMs: 100,
    sessionTimeoutMs: SESSION_MS,
  });
  const firstAssignedAt: number[] = [];
  const lastRecordAt = new Map<number, number>();
  let firstRecordAt = 0;
  const stop = new AbortController();
  const subscribedAt = performance.now();
  consumer.subscribe({
    topics: [topic],
    onAssigned: (ps) => {
      if (ps.length > 0) firstAssignedAt.push(performance.now());
    },
  });
  const running = consumer.run({
    signal: stop.signal,
    eachBatch: ({ batch }) => {
      const now = performance.now();
      if (firstRecordAt === 0) firstRecordAt = now;
      lastRecordAt.set(batch.partition, now);
    },
  });
  return {
    consumer,
    subscribedAt,
    firstAssignedAt,
    lastRecordAt,
    firstRecord: () => firstRecordAt,
    close: async () => {
      stop.abort();
      await running;
      await consumer.close();
      await strand.close();
    },
  };
}

/** Sends a record to every partition every 10 ms until stopped. */
function flow(brokers: string[], topic: string) {
  const strand = new Strand({ brokers });
  const producer = strand.producer({ lingerMs: 1 });
  let running = true;
  const done = (async () => {
    while (running) {
      await producer.send({
        topic,
        messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ value: "x", partition })),
      });
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return async () => {
    running = false;
    await done;
    await strand.close();
  };
}

/** Milliseconds until every partition in `moved` has a record at one of `others` after `t0`. */
async function handover(
  moved: readonly number[],
  others: readonly ReturnType<typeof member>[],
  t0: number,
): Promise<number> {
  const seenAt = new Map<number, number>();
  await until("the partitions to be consumed again", () => {
    for (const p of moved)
      if (!seenAt.has(p) && others.some((o) => (o.lastRecordAt.get(p) ?? 0) > t0))
        seenAt.set(
          p,
          Math.min(...others.map((o) => o.lastRecordAt.get(p) ?? 0).filter((t) => t > t0)),
        );
    return seenAt.size === moved.length;
  });
  return Math.max(...seenAt.values()) - t0;
}

async function joinAndLeave(brokers: string[], topic: string) {
  const stopFlow = flow(brokers, topic);
  const group = "bench-join";
  const a = member(brokers, group, topic);
  const b = member(brokers, group, topic);
  await until("a and b consuming", () => a.firstRecord() > 0 && b.firstRecord() > 0);
  const c = member(brokers, group, topic);
  await until("c consuming", () => c.firstRecord() > 0);
  const joined = {
    toAssignedMs: (c.firstAssignedAt[0] ?? Number.NaN) - c.subscribedAt,
    toFirstRecordMs: c.firstRecord() - c.subscribedAt,
  };
  const owned = c.consumer.groupAssignment().map((p) => p.partition);
  const t0 = performance.now();
  await c.close();
  const cleanLeaveMs = await handover(owned, [a, b], t0);

  // kill -9 of a member process that owns partitions.
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--conditions=strand-source",
      join(import.meta.dirname, "bench/group-member.ts"),
      brokers.join(","),
      group,
      topic,
      String(SESSION_MS),
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  let childOwned: number[] = [];
  let childRecords = 0;
  child.stdout?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (line.includes('"assigned"')) childOwned = JSON.parse(line).partitions;
      if (line.includes('"record"')) childRecords++;
    }
  });
  await until("the child consuming", () => childOwned.length > 0 && childRecords > 0);
  const t1 = performance.now();
  child.kill("SIGKILL");
  const killMs = await handover(childOwned, [a, b], t1);
  await Promise.all([a.close(), b.close()]);
  await stopFlow();
  return { join: joined, cleanLeaveMs, killMs };
}

async function main(): Promise<void> {
  const cluster = new BenchCluster();
  stopOnSignals(() => {
    void cluster.stop().finally(() => process.exit(130));
  });
  process.once("exit", () => cluster.killNow());
  log("starting a 3-node combined cluster");
  try {
    await cluster.start({ nodes: 3, extraArgs: GROUP_FLAGS });
    const brokers = cluster.nodes.map((n) => n.clientAddress);
    const admin = new Strand({ brokers });
    await admin.admin().createTopics([
      { topic: "bench-groups", numPartitions: PARTITIONS, replicationFactor: 3 },
      { topic: "bench-groups-live", numPartitions: PARTITIONS, replicationFactor: 3 },
    ]);
    log(`preloading ${RECORDS} records of ${RECORD_SIZE} B`);
    await preload(admin, "bench-groups");
    await admin.close();
    log("throughput: manual assign, then a 3-member group");
    const manual = await manualThroughput(brokers, "bench-groups");
    const grouped = await groupThroughput(brokers, "bench-groups");
    log("join and leave latency");
    const latency = await joinAndLeave(brokers, "bench-groups-live");
    const report = {
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30 },
      options: {
        records: RECORDS,
        recordSize: RECORD_SIZE,
        sessionMs: SESSION_MS,
        heartbeatMs: HEARTBEAT_MS,
      },
      throughput: {
        manualRecordsPerSec: Math.round(manual),
        groupRecordsPerSec: Math.round(grouped),
        ratio: Math.round((grouped / manual) * 1000) / 1000,
        target: ">= 0.9",
      },
      latencyMs: {
        joinToAssigned: Math.round(latency.join.toAssignedMs),
        joinToFirstRecord: Math.round(latency.join.toFirstRecordMs),
        cleanLeaveToConsumedAgain: Math.round(latency.cleanLeaveMs),
        killToConsumedAgain: Math.round(latency.killMs),
        target: "join and clean leave <= 1000",
      },
    };
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  } finally {
    await cluster.stop();
  }
}

function formatReport(r: {
  throughput: Record<string, unknown>;
  latencyMs: Record<string, unknown>;
  machine: Record<string, unknown>;
}): string {
  return [
    `machine: ${JSON.stringify(r.machine)}`,
    ...Object.entries(r.throughput).map(([k, v]) => `throughput.${k}: ${v}`),
    ...Object.entries(r.latencyMs).map(([k, v]) => `latencyMs.${k}: ${v}`),
  ].join("\n");
}

await main();
