/**
 * `strand cluster info` (brokers, controller, topic count) and `strand cluster health` (exit 0
 * when healthy; 3 with the reason when there is no controller, a partition has no leader
 * (offline) or fewer in-sync replicas than replicas (under-replicated)).
 */
import type { ClusterDescription, TopicDescription } from "@strand/client";
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
      [[cluster.clusterId, controllerText(cluster), String(topics.length)]],
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
];
