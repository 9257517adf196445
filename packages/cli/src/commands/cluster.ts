/**
 * `strand cluster info` (brokers, controller, topic count), `strand cluster health` (exit 0
 * when healthy; 3 with the reason when there is no controller, a partition has no leader
 * (offline) or fewer in-sync replicas than replicas (under-replicated)) and `strand cluster
 * voters list | add | remove` (the metadata quorum, KIP-853; through any broker, which
 * forwards to the active controller) and `strand cluster new-id` (a fresh cluster id for
 * `--cluster-id`, offline).
 */
import { randomBytes } from "node:crypto";
import type { ClusterDescription, TopicDescription } from "@strand/client";
import { int, type OptionSpec, str, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { CliError, EXIT, println, table, toJson } from "../output.ts";

async function info(inv: Invocation): Promise<number> {
  const admin = (await inv.client()).admin();
  const call = { signal: inv.signal, timeoutMs: inv.timeoutMs };
  const cluster = await admin.describeCluster(call);
  const topics = await admin.listTopics(call);
  if (inv.format === "json") {
    println(toJson({ ...cluster, topicCount: topics.length }));
    return EXIT.ok;
  }
  println(
    table(
      ["CLUSTER", "CONTROLLER", "TOPICS"],
      // "-" until the cluster reports an id (an empty id means the broker has none to give).
      [[cluster.clusterId || "-", controllerText(cluster), String(topics.length)]],
    ),
  );
  println("");
  println(
    table(
      ["ID", "ADDRESS", "RACK", "STATUS"],
      cluster.brokers.map((b) => [
        `${b.brokerId}${b.brokerId === cluster.controllerId ? "*" : ""}`,
        `${b.host}:${b.port}`,
        b.rack ?? "-",
        b.fenced ? "fenced" : b.inControlledShutdown ? "shutting-down" : "active",
      ]),
    ),
  );
  return EXIT.ok;
}

/**
 * Prints a new cluster id: 16 random bytes, base64url without padding (22 characters), the
 * shape `server start --cluster-id` accepts (and Kafka's `kafka-storage random-uuid` prints).
 * Needs no cluster: the id is chosen before the cluster exists.
 */
async function newId(inv: Invocation): Promise<number> {
  const id = randomBytes(16).toString("base64url");
  println(inv.format === "json" ? toJson({ clusterId: id }) : id);
  return EXIT.ok;
}

function controllerText(cluster: ClusterDescription): string {
  return cluster.controllerId < 0 ? "none" : String(cluster.controllerId);
}

/** What `cluster health` checks, as data. */
export interface HealthReport {
  readonly healthy: boolean;
  readonly controllerId: number;
  readonly brokers: number;
  readonly fencedBrokers: readonly number[];
  readonly offlinePartitions: readonly string[];
  readonly underReplicatedPartitions: readonly string[];
  readonly reasons: readonly string[];
}

/** Builds the health report from a cluster and its topics. */
export function healthOf(
  cluster: ClusterDescription,
  topics: readonly TopicDescription[],
): HealthReport {
  const offline: string[] = [];
  const under: string[] = [];
  for (const t of topics)
    for (const p of t.partitions) {
      if (p.leader < 0) offline.push(`${t.topic}-${p.partition}`);
      else if (p.isr.length < p.replicas.length) under.push(`${t.topic}-${p.partition}`);
    }
  const reasons: string[] = [];
  if (cluster.controllerId < 0) reasons.push("no active controller");
  const fenced = cluster.brokers.filter((b) => b.fenced).map((b) => b.brokerId);
  if (fenced.length > 0)
    reasons.push(`fenced broker(s) (down or not heartbeating): ${fenced.join(", ")}`);
  const sample = (xs: readonly string[]) =>
    `${xs.slice(0, 5).join(", ")}${xs.length > 5 ? `, +${xs.length - 5} more` : ""}`;
  if (offline.length > 0)
    reasons.push(`${offline.length} offline partition(s) (no leader): ${sample(offline)}`);
  if (under.length > 0)
    reasons.push(
      `${under.length} under-replicated partition(s) (ISR < replicas): ${sample(under)}`,
    );
  return {
    healthy: reasons.length === 0,
    controllerId: cluster.controllerId,
    brokers: cluster.brokers.length,
    fencedBrokers: fenced,
    offlinePartitions: offline,
    underReplicatedPartitions: under,
    reasons,
  };
}

async function health(inv: Invocation): Promise<number> {
  const admin = (await inv.client()).admin();
  const call = { signal: inv.signal, timeoutMs: inv.timeoutMs };
  const cluster = await admin.describeCluster(call);
  const topics = await admin.describeTopics([], call);
  const report = healthOf(cluster, topics);
  if (inv.format === "json") println(toJson(report));
  else
    println(
      table(
        ["HEALTHY", "CONTROLLER", "BROKERS", "FENCED", "OFFLINE", "UNDER-REPLICATED"],
        [
          [
            report.healthy ? "yes" : "no",
            controllerText(cluster),
            String(report.brokers),
            report.fencedBrokers.join(",") || "-",
            String(report.offlinePartitions.length),
            String(report.underReplicatedPartitions.length),
          ],
        ],
      ),
    );
  if (!report.healthy)
    throw new CliError(`cluster unhealthy: ${report.reasons.join("; ")}`, EXIT.unhealthy);
  return EXIT.ok;
}

async function votersList(inv: Invocation): Promise<number> {
  const q = await (await inv.client())
    .admin()
    .describeQuorum({ signal: inv.signal, timeoutMs: inv.timeoutMs });
  if (inv.format === "json") {
    println(toJson(q));
    return EXIT.ok;
  }
  println(
    table(
      ["NODE", "DIRECTORY-ID", "ADDRESS", "MATCH-INDEX"],
      q.voters.map((v) => [
        `${v.nodeId}${v.nodeId === q.leaderId ? "*" : ""}`,
        v.directoryId,
        v.address,
        v.matchIndex < 0n ? "?" : String(v.matchIndex),
      ]),
    ),
  );
  return EXIT.ok;
}

function voterOf(inv: Invocation): { nodeId: number; directoryId: string } {
  const nodeId = int(inv.options, "node-id", { min: 1 });
  const directoryId = str(inv.options, "directory-id");
  if (nodeId === undefined || directoryId === undefined)
    throw new UsageError("--node-id and --directory-id are required");
  return { nodeId, directoryId };
}

async function votersAdd(inv: Invocation): Promise<number> {
  const voter = voterOf(inv);
  const address = str(inv.options, "address");
  if (address === undefined) throw new UsageError("--address HOST:PORT is required");
  await (await inv.client())
    .admin()
    .addRaftVoter({ ...voter, address }, { signal: inv.signal, timeoutMs: inv.timeoutMs });
  if (inv.format === "json") println(toJson({ ...voter, address, added: true }));
  else
    println(
      table(
        ["NODE", "DIRECTORY-ID", "ADDRESS", "STATUS"],
        [[String(voter.nodeId), voter.directoryId, address, "added"]],
      ),
    );
  return EXIT.ok;
}

async function votersRemove(inv: Invocation): Promise<number> {
  const voter = voterOf(inv);
  await (await inv.client())
    .admin()
    .removeRaftVoter(voter, { signal: inv.signal, timeoutMs: inv.timeoutMs });
  if (inv.format === "json") println(toJson({ ...voter, removed: true }));
  else
    println(
      table(
        ["NODE", "DIRECTORY-ID", "STATUS"],
        [[String(voter.nodeId), voter.directoryId, "removed"]],
      ),
    );
  return EXIT.ok;
}

const VOTER_OPTIONS: readonly OptionSpec[] = [
  { name: "node-id", type: "string", valueName: "N", description: "the voter's node id" },
  {
    name: "directory-id",
    type: "string",
    valueName: "UUID",
    description: "the voter's directory id (cluster voters list; a new node's meta.json)",
  },
];

/** The cluster commands. */
export const clusterCommands: readonly Command[] = [
  {
    path: ["cluster", "info"],
    brief: "brokers, controller, topic count",
    summary:
      "Shows the brokers with their addresses, the active controller (*) and the topic count.",
    args: "",
    arity: [0, 0],
    options: [],
    examples: ["strand cluster info", "strand cluster info --format json"],
    run: info,
  },
  {
    path: ["cluster", "new-id"],
    brief: "print a new cluster id",
    summary:
      "Prints a new random cluster id (22 base64url characters) to pass as --cluster-id to every voter of a new cluster with --bootstrap. Contacts no cluster.",
    args: "",
    arity: [0, 0],
    options: [],
    examples: [
      "ID=$(strand cluster new-id); strand server start --bootstrap --cluster-id $ID --node.id 1 ...",
    ],
    run: newId,
  },
  {
    path: ["cluster", "health"],
    brief: "exit 0 when the cluster is healthy",
    summary:
      "Exits 0 when healthy; 3 with the reason when there is no active controller, a broker is fenced, a partition has no leader (offline) or its ISR is smaller than its replicas (under-replicated).",
    args: "",
    arity: [0, 0],
    options: [],
    examples: ["strand cluster health && echo ok"],
    run: health,
  },
  {
    path: ["cluster", "voters", "list"],
    brief: "the metadata quorum's voters",
    summary:
      "Lists the controller quorum's voters: node id (* = leader, the active controller), directory id, internal address and, from the leader, the highest log index replicated on each.",
    args: "",
    arity: [0, 0],
    options: [],
    examples: ["strand cluster voters list", "strand cluster voters list --format json"],
    run: votersList,
  },
  {
    path: ["cluster", "voters", "add"],
    brief: "add a controller voter",
    summary:
      "Adds a voter (node id, directory id) reachable at its internal listener; answers once the new voter set is committed. One voter change at a time (REQUEST_TIMED_OUT while another runs: retry). See docs/operations.md, replacing a controller.",
    args: "",
    arity: [0, 0],
    options: [
      ...VOTER_OPTIONS,
      {
        name: "address",
        type: "string",
        valueName: "HOST:PORT",
        description: "the new voter's internal listener, as the other voters reach it",
      },
    ],
    examples: [
      "strand cluster voters add --node-id 3 --directory-id 6f1c...-... --address 10.0.0.7:9093",
    ],
    run: votersAdd,
  },
  {
    path: ["cluster", "voters", "remove"],
    brief: "remove a controller voter",
    summary:
      "Removes a voter (node id, directory id); answers once the new voter set is committed. The removed directory id can never vote again; the last voter cannot be removed.",
    args: "",
    arity: [0, 0],
    options: VOTER_OPTIONS,
    examples: ["strand cluster voters remove --node-id 3 --directory-id 2b7e...-..."],
    run: votersRemove,
  },
];
