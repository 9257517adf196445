/**
 * Partition-count benchmark: a local 3-node combined Strand cluster (started and stopped here),
 *
 * 1. CreateTopics of one topic with --partitions partitions (default 10,000, RF 3): time until
 *    the admin call answers, until metadata shows every partition with a leader and until
 *    every ISR is full again; the active controller's RSS before and after, every node's RSS
 *    after, and the controller id after (a different one: the quorum lost its leader);
 * 2. an election storm: SIGKILL a broker that is not the active controller (it leads about a
 *    third of the partitions) and time until metadata from a survivor shows every partition
 *    with a live leader (the session timeout, then one fence batch, then propagation).
 *
 * A script, never a test. RSS is VmRSS from /proc (Linux only; NaN elsewhere).
 *
 *   npm run bench -- partitions [--partitions 10000] [--replication-factor 3] [--json]
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { sleep } from "@strand/base";
import type { MetadataResponse__Output } from "@strand/protocol";
import { clientChannelOptions, strandGrpc } from "@strand/protocol";
import { BenchCluster } from "./bench/cluster.ts";
import { stopOnSignals } from "./lib/cluster.ts";

const CREATE_TIMEOUT_MS = 15 * 60_000;
const ELECTION_TIMEOUT_MS = 10 * 60_000;
const SESSION_TIMEOUT_MS = 9_000;

type Stub = grpc.Client & Record<string, (req: object, cb: grpc.requestCallback<unknown>) => void>;

function stub(service: "MetadataService" | "AdminService", address: string): Stub {
  const ctor = strandGrpc().strand.v1[service] as unknown as new (
    a: string,
    c: grpc.ChannelCredentials,
    o: grpc.ChannelOptions,
  ) => Stub;
  return new ctor(address, grpc.credentials.createInsecure(), clientChannelOptions());
}

function call<T>(client: Stub, method: string, req: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = client[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    fn.call(client, req, (err: grpc.ServiceError | null, res: unknown) =>
      err ? reject(err) : resolve(res as T),
    );
  });
}

function rssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Math.round(kb / 102.4) / 10;
  } catch {
    return Number.NaN;
  }
}

/** Polls metadata until `done` holds; returns the elapsed ms and the last answer. */
async function waitMetadata(
  md: Stub,
  done: (m: MetadataResponse__Output) => boolean,
  timeoutMs: number,
): Promise<{ ms: number; md: MetadataResponse__Output }> {
  const start = performance.now();
  for (;;) {
    try {
      const m = await call<MetadataResponse__Output>(md, "Metadata", { allTopics: true });
      if (done(m)) return { ms: performance.now() - start, md: m };
    } catch {
      // A node may refuse while it catches up; poll again.
    }
    if (performance.now() - start > timeoutMs) throw new Error("metadata wait timed out");
    await sleep(100);
  }
}

function leaders(m: MetadataResponse__Output): number[] {
  return m.topics.flatMap((t) => t.partitions.map((p) => p.leaderId));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      partitions: { type: "string", default: "10000" },
      "replication-factor": { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  const partitions = Number(values.partitions);
  const rf = Number(values["replication-factor"]);
  const cluster = new BenchCluster();
  const unhook = stopOnSignals(() => cluster.stop().then(() => process.exit(130)));
  try {
    await cluster.start({
      nodes: 3,
      extraArgs: [
        "--max.partitions.per.broker",
        String(Math.max(partitions, 4_000)),
        "--broker.session.timeout.ms",
        String(SESSION_TIMEOUT_MS),
      ],
    });
    const first = cluster.nodes[0]!;
    const md = stub("MetadataService", first.clientAddress);
    const admin = stub("AdminService", first.clientAddress);
    const before = await call<MetadataResponse__Output>(md, "Metadata", { allTopics: true });
    const controller = cluster.nodes.find((n) => n.id === before.controllerId);
    const rssBefore = rssMiB(controller?.child.pid);
    const start = performance.now();
    const created = await call<{ topics: { errorCode: number; errorMessage: string }[] }>(
      admin,
      "CreateTopics",
      {
        topics: [{ name: "many", partitionCount: partitions, replicationFactor: rf }],
        timeoutMs: 300_000, // WAIT_MS_MAX: the most a request may ask for
      },
    );
    const createdMs = performance.now() - start;
    const createAnswer = created.topics[0]?.errorMessage ?? "";
    // The controller may lose its quorum leadership after committing the topic (its event loop
    // busy applying the batch): the answer is then NOT_CONTROLLER, and the topic exists.
    const lostLeadership = createAnswer.startsWith("NOT_CONTROLLER");
    if (created.topics[0]?.errorCode !== 0 && !lostLeadership)
      throw new Error(`CreateTopics failed: ${createAnswer}`);
    const led = await waitMetadata(
      md,
      (m) => leaders(m).length === partitions && leaders(m).every((l) => l >= 0),
      CREATE_TIMEOUT_MS,
    );
    const rssAfter = rssMiB(controller?.child.pid);
    // Every node holds a replica of every partition (RF 3 on 3 nodes): the broker side's cost.
    const nodesRssMiBAfter = cluster.nodes.map((n) => rssMiB(n.child.pid));
    const loadBefore = loadavg()[0]!.toFixed(1);

    // The storm is measured on a healthy cluster: every ISR full again (followers that were
    // slow to create their replicas leave the ISR while the topic is created, and a partition
    // whose ISR is only the killed broker would stay offline, since elections are clean).
    const insync = await waitMetadata(
      md,
      (m) => m.topics.every((t) => t.partitions.every((p) => p.isr.length === rf)),
      CREATE_TIMEOUT_MS,
    );
    const allInSyncMs = Math.round(createdMs + led.ms + insync.ms);

    // Kill a broker that is not the controller, read metadata from another survivor.
    const victim = cluster.nodes.find((n) => n.id !== before.controllerId && n !== first)!;
    const victimLeads = leaders(insync.md).filter((l) => l === victim.id).length;
    const killedAt = performance.now();
    victim.child.kill("SIGKILL");
    const reElected = await waitMetadata(
      md,
      (m) => leaders(m).length === partitions && leaders(m).every((l) => l >= 0 && l !== victim.id),
      ELECTION_TIMEOUT_MS,
    );
    const result = {
      machine: `${cpus().length} cores (${cpus()[0]?.model ?? "?"})`,
      partitions,
      replicationFactor: rf,
      controllerId: before.controllerId,
      createTopicsMs: Math.round(createdMs),
      createTopicsAnswer: lostLeadership ? "NOT_CONTROLLER (topic created)" : "NONE",
      allLeadersMs: Math.round(createdMs + led.ms),
      allInSyncMs,
      controllerRssMiBBefore: rssBefore,
      controllerRssMiBAfter: rssAfter,
      nodesRssMiBAfter,
      // A different id means the metadata quorum changed leader while creating.
      controllerIdAfterCreate: led.md.controllerId,
      loadAverage1m: `${loadBefore} after create, ${loadavg()[0]!.toFixed(1)} at the end`,
      killedBroker: victim.id,
      killedBrokerLed: victimLeads,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      electionStormMs: Math.round(performance.now() - killedAt),
      electionStormPollMs: Math.round(reElected.ms),
    };
    md.close();
    admin.close();
    console.log(values.json ? JSON.stringify(result) : result);
  } catch (error) {
    // Say why a node died (e.g. out of file descriptors or heap) before stopping the rest.
    for (const n of cluster.nodes) {
      if (n.child.exitCode !== null || n.child.signalCode !== null)
        console.error(`node ${n.id} exited:`, n.lines.slice(-20).join("\n"));
      // And what the quorum did: a lost leadership answers NOT_CONTROLLER.
      const quorum = n.lines.filter((l) => /raft|quorum|elect|controller/i.test(l)).slice(-15);
      console.error(`node ${n.id} quorum log:`, quorum.join("\n"));
    }
    throw error;
  } finally {
    unhook();
    await cluster.stop();
  }
}

await main();
