// Goal (issue 12 §4): consumer groups on a real 3-node cluster, with members as child
// processes (scripts/bench/group-member.ts) that log assign/revoke/lost, every processed record and
// every acknowledged commit with timestamps:
// - exclusive ownership: 6 partitions, members joining and leaving while records flow; from
//   the members' own logs no partition is owned by two members at the same instant; each
//   join/leave moves the minimum number of partitions; a handed-over partition is consumed
//   again within one heartbeat interval plus processing (plus an allowance for a loaded CI box);
// - kill -9 of a member: its partitions move after the session timeout; with commits after
//   processing nothing is skipped, and records are read twice only at or after the killed
//   member's last acknowledged commit (the uncommitted tail);
// - a static member restarted within the session timeout gets its partitions back and nobody
//   else sees a reassignment;
// - lag from `strand group describe -f json` equals log end offset minus committed offset.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Producer, Strand } from "@strand/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formCluster, type Started } from "./support/cluster.ts";
import { runStrand } from "./support/strand-cli.ts";

/** The group timings the brokers run with (short, so the test is quick). */
const SESSION_TIMEOUT_MS = 3_000;
const HEARTBEAT_MS = 200;
const GROUP_SETTINGS = [
  "--group.consumer.session.timeout.ms",
  String(SESSION_TIMEOUT_MS),
  "--group.consumer.heartbeat.interval.ms",
  String(HEARTBEAT_MS),
];
/** Processing time plus scheduling slack of a loaded 2-core machine, on top of a heartbeat. */
const HANDOVER_ALLOWANCE_MS = 2_500;
const PARTITIONS = 6;
const memberScript = join(import.meta.dirname, "../scripts/bench/group-member.ts");

interface MemberEvent {
  readonly ev: string;
  readonly t: number;
  readonly partitions?: number[];
  readonly p?: number;
  readonly o?: string;
  readonly v?: string;
}

/** A member process and everything it logged. */
class Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly events: MemberEvent[] = [];
  killedAt: number | null = null;
  readonly exited: Promise<void>;

  constructor(
    brokers: string,
    group: string,
    topic: string,
    name: string,
    instanceId = "",
    hold = false,
  ) {
    this.name = name;
    this.child = spawn(
      process.execPath,
      [
        "--conditions=strand-source",
        memberScript,
        brokers,
        group,
        topic,
        String(SESSION_TIMEOUT_MS),
        instanceId,
      ],
      {
        stdio: [hold ? "pipe" : "ignore", "pipe", "inherit"],
        env: hold ? { ...process.env, STRAND_MEMBER_HOLD: "1" } : process.env,
      },
    );
    let buffered = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.startsWith("{")) this.events.push(JSON.parse(line));
    });
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  /** The partitions it owns according to its own log. */
  owned(): Set<number> {
    const owned = new Set<number>();
    for (const e of this.events) {
      if (e.ev === "assigned") for (const p of e.partitions ?? []) owned.add(p);
      if (e.ev === "revoked" || e.ev === "lost")
        for (const p of e.partitions ?? []) owned.delete(p);
    }
    return this.killedAt === null ? owned : new Set();
  }

  /** Ownership intervals [from, to) per partition (to = Infinity while owned). */
  intervals(): { p: number; from: number; to: number; member: string }[] {
    const open = new Map<number, number>();
    const out: { p: number; from: number; to: number; member: string }[] = [];
    for (const e of this.events) {
      if (e.ev === "assigned") for (const p of e.partitions ?? []) open.set(p, e.t);
      if (e.ev === "revoked" || e.ev === "lost")
        for (const p of e.partitions ?? []) {
          out.push({ p, from: open.get(p)!, to: e.t, member: this.name });
          open.delete(p);
        }
    }
    for (const [p, from] of open)
      out.push({ p, from, to: this.killedAt ?? Number.POSITIVE_INFINITY, member: this.name });
    return out;
  }

  records(): { p: number; o: bigint; v: string; t: number }[] {
    return this.events
      .filter((e) => e.ev === "record")
      .map((e) => ({ p: e.p!, o: BigInt(e.o!), v: e.v!, t: e.t }));
  }

  lastCommitted(): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const e of this.events) if (e.ev === "committed") out.set(e.p!, BigInt(e.o!));
    return out;
  }

  /** Lets a member started with `hold` join its group. */
  release(): void {
    this.child.stdin?.write("go\n");
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }

  async kill9(): Promise<void> {
    this.killedAt = Date.now();
    this.child.kill("SIGKILL");
    await this.exited;
  }
}

const started: Started = { nodes: [], roots: [] };
const members: Member[] = [];
let brokers = "";
let strand: Strand;

async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Produces "seq-N" to partition N % 6 every few milliseconds until stopped. */
function flow(producer: Producer, topic: string) {
  let seq = 0;
  let running = true;
  const sent: string[] = [];
  const done = (async () => {
    while (running) {
      const batch = Array.from({ length: 6 }, () => {
        const i = seq++;
        return { value: `seq-${i}`, partition: i % PARTITIONS };
      });
      await producer.send({ topic, messages: batch });
      sent.push(...batch.map((m) => m.value));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    sent,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

function spawnMember(
  group: string,
  topic: string,
  name: string,
  instanceId = "",
  hold = false,
): Member {
  const m = new Member(brokers, group, topic, name, instanceId, hold);
  members.push(m);
  return m;
}

/** Asserts from the logs that no partition was owned by two members at the same instant. */
function assertExclusive(all: readonly Member[]): void {
  const intervals = all.flatMap((m) => m.intervals());
  for (const a of intervals)
    for (const b of intervals)
      if (a !== b && a.p === b.p && a.member !== b.member)
        expect(
          a.to <= b.from || b.to <= a.from,
          `partition ${a.p}: ${a.member} [${a.from}, ${a.to}) overlaps ${b.member} [${b.from}, ${b.to})`,
        ).toBe(true);
}

/** Waits until the live members own all 6 partitions between them, each `sizes` many. */
async function balanced(live: readonly Member[], sizes: number[]): Promise<void> {
  await until(`a balanced assignment ${sizes.join("/")}`, () => {
    const owned = live.map((m) => m.owned());
    const union = new Set(owned.flatMap((s) => [...s]));
    const got = owned.map((s) => s.size).sort();
    return union.size === PARTITIONS && got.join() === [...sizes].sort().join();
  });
}

const revocations = (m: Member) =>
  m.events.filter((e) => e.ev === "revoked").reduce((n, e) => n + (e.partitions?.length ?? 0), 0);

beforeAll(async () => {
  const cluster = await formCluster(3, "groups", started, GROUP_SETTINGS);
  brokers = cluster.nodes.map((n) => n.clientAddress).join(",");
  strand = new Strand({ brokers: brokers.split(","), requestTimeoutMs: 5_000 });
}, 60_000);

afterAll(async () => {
  await Promise.all(members.map((m) => m.kill9().catch(() => undefined)));
  await strand?.close();
  await Promise.all(started.nodes.map((n) => n.kill("SIGKILL")));
  for (const root of started.roots) rmSync(root, { recursive: true, force: true });
});

describe("consumer groups on a 3-node cluster", () => {
  it("keeps ownership exclusive and moves the minimum while members join and leave", async () => {
    const topic = "groups-exclusive";
    await strand.admin().createTopics([{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }]);
    const producer = strand.producer({ lingerMs: 2 });
    const records = flow(producer, topic);
    const a = spawnMember("g-exclusive", topic, "a");
    await balanced([a], [6]);
    const b = spawnMember("g-exclusive", topic, "b");
    await balanced([a, b], [3, 3]);
    expect(revocations(a)).toBe(3); // exactly the partitions b needed
    const c = spawnMember("g-exclusive", topic, "c");
    await balanced([a, b, c], [2, 2, 2]);
    expect(revocations(a) + revocations(b)).toBe(3 + 2);
    const kept = [...a.owned(), ...c.owned()];
    const revokedBefore = revocations(a) + revocations(c);
    await b.terminate(); // clean leave: only b's two partitions move
    await balanced([a, c], [3, 3]);
    expect(revocations(a) + revocations(c)).toBe(revokedBefore); // nobody else gave any up
    for (const p of kept) expect([...a.owned(), ...c.owned()]).toContain(p);
    await records.stop();
    await until("every record consumed", () => {
      const seen = new Set(members.flatMap((m) => m.records().map((r) => r.v)));
      return records.sent.every((v) => seen.has(v));
    });
    assertExclusive([a, b, c]);
    // After each handover the new owner read the partition within a heartbeat + processing.
    for (const m of [a, b, c])
      for (const e of m.events.filter((x) => x.ev === "revoked"))
        for (const p of e.partitions ?? []) {
          const next = [a, b, c]
            .filter((o) => o !== m)
            .flatMap((o) => o.records().filter((r) => r.p === p && r.t >= e.t))
            .sort((x, y) => x.t - y.t)[0];
          if (next !== undefined)
            expect(next.t - e.t, `partition ${p} handed over by ${m.name}`).toBeLessThanOrEqual(
              HEARTBEAT_MS + HANDOVER_ALLOWANCE_MS,
            );
        }
    await Promise.all([a.terminate(), c.terminate()]);
    await producer.close();
  }, 120_000);

  it("moves a killed member's partitions after the session timeout, skipping nothing", async () => {
    const topic = "groups-kill";
    await strand.admin().createTopics([{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }]);
    const producer = strand.producer({ lingerMs: 2 });
    const records = flow(producer, topic);
    const a = spawnMember("g-kill", topic, "a");
    const b = spawnMember("g-kill", topic, "b");
    await balanced([a, b], [3, 3]);
    await until("b consumed something", () => b.records().length > 20);
    const lost = [...b.owned()];
    await b.kill9();
    await until("a owns everything", () => a.owned().size === PARTITIONS, SESSION_TIMEOUT_MS * 5);
    const takeover = a.events.filter((e) => e.ev === "assigned").at(-1)!.t;
    expect(takeover - b.killedAt!).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - HEARTBEAT_MS * 2);
    await records.stop();
    await until("every record consumed", () => {
      const seen = new Set([...a.records(), ...b.records()].map((r) => r.v));
      return records.sent.every((v) => seen.has(v));
    });
    // Duplicates only from b's uncommitted tail.
    const committed = b.lastCommitted();
    const fromB = new Set(b.records().map((r) => `${r.p}/${r.o}`));
    for (const r of a.records())
      if (fromB.has(`${r.p}/${r.o}`)) {
        expect(lost).toContain(r.p);
        expect(r.o).toBeGreaterThanOrEqual(committed.get(r.p) ?? 0n);
      }
    assertExclusive([a, b]);
    await a.terminate();
    await producer.close();
  }, 120_000);

  it("gives a static member restarted within the session timeout its partitions back", async () => {
    const topic = "groups-static";
    await strand.admin().createTopics([{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }]);
    const a = spawnMember("g-static", topic, "a", "pod-a");
    const b = spawnMember("g-static", topic, "b", "pod-b");
    await balanced([a, b], [3, 3]);
    const before = [...b.owned()].sort();
    const aEvents = a.events.length;
    // b2's process starts first: on a loaded machine starting Node takes longer than the 3 s
    // session timeout, which would (rightly) hand b's partitions to a before b2 joins.
    const b2 = spawnMember("g-static", topic, "b2", "pod-b", true);
    await until("b2 started", () => b2.events.some((e) => e.ev === "held"));
    await b.terminate(); // a static leave (epoch -2): the coordinator keeps b's partitions
    b2.release();
    await until("b2 owns b's partitions", () => b2.owned().size === 3);
    expect([...b2.owned()].sort()).toEqual(before);
    expect(
      a.events.slice(aEvents).filter((e) => ["assigned", "revoked", "lost"].includes(e.ev)),
    ).toEqual([]);
    await Promise.all([a.terminate(), b2.terminate()]);
  }, 120_000);

  it("reports lag in group describe as log end offset minus committed offset", async () => {
    const topic = "groups-lag";
    await strand.admin().createTopics([{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }]);
    const producer = strand.producer({ lingerMs: 2 });
    const send = (n: number, from: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          value: `v-${from + i}`,
          partition: (from + i) % PARTITIONS,
        })),
      });
    await send(60, 0);
    const a = spawnMember("g-lag", topic, "a");
    // Committed, not only consumed: the member emits a record before its batch's commit is
    // acknowledged, and a SIGTERM in between leaves that commit unacknowledged.
    const committedTotal = () =>
      [...a.lastCommitted().values()].reduce((sum, next) => sum + Number(next), 0);
    await until("60 records committed", () => committedTotal() >= 60);
    await a.terminate();
    await send(30, 60); // 5 more per partition, not consumed
    const run = await runStrand(brokers, ["group", "describe", "g-lag", "-f", "json"]);
    expect(run.code, run.stderr).toBe(0);
    const described = JSON.parse(run.stdout) as {
      offsets: { partition: number; committedOffset: number; logEndOffset: number; lag: number }[];
      totalLag: number;
    };
    const ends = await strand.admin().fetchTopicOffsets(topic);
    const committed = a.lastCommitted();
    expect(described.offsets).toHaveLength(PARTITIONS);
    for (const o of described.offsets) {
      expect(o.logEndOffset).toBe(Number(ends.find((e) => e.partition === o.partition)!.high));
      expect(o.committedOffset).toBe(Number(committed.get(o.partition)));
      expect(o.lag).toBe(o.logEndOffset - o.committedOffset);
      expect(o.lag).toBe(5);
    }
    expect(described.totalLag).toBe(30);
    const text = await runStrand(brokers, ["group", "describe", "g-lag"]);
    expect(text.stdout).toMatch(/TOTAL\s+6\s+60\s+90\s+30/);
    await producer.close();
  }, 120_000);
});
