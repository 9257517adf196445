// Goal: a controller quorum of three controller-node processes on 127.0.0.1 survives the
// loss of its active controller. Brokers register and topics are created through the
// ControllerService; the active controller is SIGKILLed; a new active controller is
// reported by DescribeCluster within two election timeouts (measured); every record
// committed before the kill is still there, and the FetchMetadata streams of every live
// node are identical byte for byte; the killed node restarts from its data dir, catches up,
// and its stream equals the others'. Every process is killed after the test; every wait is
// a bounded poll.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControllerClient, decodeMetadataBatch, type MetadataRecord } from "@strand/controller";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ControllerProcess, readLog, type StreamedBatch } from "./support/controller-processes.ts";
import { freePorts, waitFor } from "./support/free-ports.ts";

const TICK_MS = 50;
const ELECTION_TICKS = 10;
/** The longest election timeout a node draws: [electionTicks, 2·electionTicks) ticks. */
const ELECTION_TIMEOUT_MS_MAX = 2 * ELECTION_TICKS * TICK_MS;
const FAILOVER_MS_MAX = 2 * ELECTION_TIMEOUT_MS_MAX;
const TOPICS = ["orders", "payments", "users", "clicks", "audit"];

const processes: ControllerProcess[] = [];
const clients: ControllerClient[] = [];
let root = "";

afterEach(async () => {
  if (process.env.STRAND_TEST_DUMP_LOGS)
    for (const p of processes) for (const l of p.lines) console.log(p.id, JSON.stringify(l));
  for (const c of clients.splice(0)) c.close();
  await Promise.all(processes.splice(0).map((p) => p.kill("SIGKILL")));
});
afterAll(() => {
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

function client(address: string): ControllerClient {
  const c = new ControllerClient(address, 1_000);
  clients.push(c);
  return c;
}

interface Quorum {
  readonly spawn: (id: number) => ControllerProcess;
  readonly nodes: Map<number, ControllerProcess>;
}

async function startQuorum(): Promise<Quorum> {
  root = mkdtempSync(join(tmpdir(), "strand-cluster-"));
  const ports = await freePorts(3);
  const voters = ports.map((p, k) => `${k + 1}@127.0.0.1:${p}`).join(",");
  const nodes = new Map<number, ControllerProcess>();
  const spawn = (id: number): ControllerProcess => {
    const p = new ControllerProcess({
      id,
      port: ports[id - 1]!,
      dataDir: join(root, `node-${id}`),
      voters,
      args: ["--tick-ms", String(TICK_MS), "--election-ticks", String(ELECTION_TICKS)],
    });
    processes.push(p);
    nodes.set(id, p);
    return p;
  };
  for (const id of [1, 2, 3]) spawn(id);
  return { spawn, nodes };
}

/** The node that reports itself active among `candidates` (asking each one). */
async function activeAmong(
  candidates: ControllerProcess[],
): Promise<ControllerProcess | undefined> {
  for (const p of candidates) {
    const d = await client(p.address)
      .describeCluster()
      .catch(() => null);
    if (d !== null && d.activeControllerId === p.id && d.quorum?.role === "leader") return p;
  }
  return undefined;
}

async function appliedIndex(p: ControllerProcess): Promise<number> {
  const d = await client(p.address).describeCluster();
  return Number(d.quorum?.appliedIndex ?? 0);
}

function records(log: readonly StreamedBatch[]): MetadataRecord[] {
  return log.flatMap((b) => (b.hex === "" ? [] : decodeMetadataBatch(Buffer.from(b.hex, "hex"))));
}

async function populate(active: ControllerProcess): Promise<void> {
  const c = client(active.address);
  for (const id of [1, 2, 3]) {
    const reg = await c.registerBroker({
      brokerId: id,
      incarnationId: `incarnation-${id}`,
      listeners: [{ name: "client", host: "127.0.0.1", port: 9100 + id }],
    });
    expect(reg.error?.code).toBe(0);
    const beat = await c.brokerHeartbeat({
      brokerId: id,
      brokerEpoch: reg.brokerEpoch,
      metadataOffset: reg.brokerEpoch,
    });
    expect(beat.error?.code).toBe(0);
  }
  const created = await c.createTopics({
    topics: TOPICS.map((name) => ({ name, partitionCount: 3, replicationFactor: 3 })),
  });
  expect(created.error?.code).toBe(0);
  for (const t of created.topics) expect(t.error?.code, t.error?.message).toBe(0);
}

describe("controller quorum, multi-process", () => {
  it("fails over on SIGKILL, keeps every committed record, and a restarted node catches up", async () => {
    const q = await startQuorum();
    const all = [...q.nodes.values()];
    const first = await waitFor("an active controller", () => activeAmong(all), 20_000);
    await populate(first);
    const committedBefore = await appliedIndex(first);
    const before = await readLog(first.address, committedBefore);

    const killedAt = Date.now();
    await first.kill("SIGKILL");
    const survivors = all.filter((p) => p !== first);
    const next = await waitFor("a new active controller", () => activeAmong(survivors), 5_000, 10);
    const failoverMs = Date.now() - killedAt;
    console.log(`failover: ${failoverMs} ms (bound ${FAILOVER_MS_MAX} ms)`);
    expect(failoverMs).toBeLessThanOrEqual(FAILOVER_MS_MAX);

    // The new controller takes writes.
    const more = await client(next.address).createTopics({
      topics: [{ name: "after-failover", partitionCount: 1, replicationFactor: 2 }],
    });
    expect(more.topics[0]?.error?.code).toBe(0);

    const target = await appliedIndex(next);
    await waitFor("survivors applied the target", async () => {
      const applied = await Promise.all(survivors.map(appliedIndex));
      return applied.every((a) => a >= target);
    });
    const logs = await Promise.all(survivors.map((p) => readLog(p.address, target)));
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[0]!.slice(0, before.length)).toEqual(before);
    const names = records(logs[0]!).flatMap((r) => (r.type === "topic" ? [r.name] : []));
    expect(names).toEqual([...TOPICS, "after-failover"]);

    // The killed node restarts from its data dir and catches up to the same log.
    const restarted = q.spawn(first.id);
    await waitFor(
      "the restarted node caught up",
      async () => (await appliedIndex(restarted)) >= target,
      20_000,
    );
    expect(await readLog(restarted.address, target)).toEqual(logs[0]);

    // SIGTERM closes a node cleanly: exit code 0.
    expect(await restarted.kill("SIGTERM")).toBe(0);
  });
});
