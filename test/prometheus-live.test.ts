// Goal: the under-replicated alert works end to end with a real Prometheus (Debian package
// `prometheus`): it scrapes a local 3-node cluster every second and evaluates the shipped
// deploy/prometheus/alerts.yaml (each `for:` shortened to 5 s so the test is quick); SIGKILL
// of one node makes StrandUnderReplicatedPartitions fire, as seen through /api/v1/alerts, and
// restarting the node resolves it; StrandTargetDown fires for the dead node meanwhile.
// Every process started here is stopped in afterAll.
import { readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopNodes } from "../scripts/lib/cluster.ts";
import {
  type ClusterLayout,
  formCluster,
  type NodeProcess,
  type Started,
  startNode,
  waitReady,
} from "./support/cluster.ts";
import {
  ALERTS_FILE,
  hasTool,
  MISSING_PROMETHEUS,
  type PrometheusServer,
  startPrometheus,
  until,
} from "./support/prometheus.ts";
import { runStrand } from "./support/strand-cli.ts";

const present = hasTool("prometheus");
const started: Started = { nodes: [], roots: [] };
let prometheus: PrometheusServer | null = null;
let cluster: { layout: ClusterLayout; root: string; nodes: NodeProcess[] } | null = null;

interface Alert {
  readonly labels: Record<string, string>;
  readonly state: "pending" | "firing";
}

async function alertStates(name: string): Promise<Alert[]> {
  const data = await (prometheus as PrometheusServer).api<{ alerts: Alert[] }>("alerts");
  return data.alerts.filter((a) => a.labels.alertname === name);
}

beforeAll(async () => {
  if (!present) return;
  cluster = await formCluster(3, "prometheus-live", started);
  const brokers = cluster.nodes.map((n) => n.clientAddress).join(",");
  const created = await runStrand(brokers, ["topic", "create", "live", "-p", "3", "-r", "3"]);
  expect(created.code, created.stderr).toBe(0);
  prometheus = await startPrometheus({
    targets: cluster.nodes.map((n) => `127.0.0.1:${n.ports.admin}`),
    rules: readFileSync(ALERTS_FILE, "utf8").replace(/^(\s+for:) \S+$/gm, "$1 5s"),
    scrapeIntervalS: 1,
  });
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  await stopNodes(started.nodes, 10_000);
  for (const r of started.roots) rmSync(r, { recursive: true, force: true });
});

describe("a real Prometheus with the shipped alert rules", () => {
  it.skipIf(!present)(
    `fires StrandUnderReplicatedPartitions when a node dies and resolves it after a restart ${present ? "" : MISSING_PROMETHEUS}`,
    async () => {
      const p = prometheus as PrometheusServer;
      const c = cluster as NonNullable<typeof cluster>;
      const failure = () => `prometheus output:\n${p.output()}`;
      // Every target scraped and healthy, and the alert quiet, before the fault.
      await until(
        `3 targets up\n${failure()}`,
        async () => {
          const t = await p.api<{ activeTargets: { health: string }[] }>("targets");
          return t.activeTargets.filter((x) => x.health === "up").length === 3 ? true : undefined;
        },
        30_000,
      );
      expect(await alertStates("StrandUnderReplicatedPartitions")).toEqual([]);

      const victim = c.nodes[2] as NodeProcess;
      await victim.kill("SIGKILL");
      const firing = await until(
        `StrandUnderReplicatedPartitions firing\n${failure()}`,
        async () => {
          const a = await alertStates("StrandUnderReplicatedPartitions");
          return a.some((x) => x.state === "firing") ? a : undefined;
        },
        60_000,
      );
      expect(firing.every((a) => a.labels.node_id !== String(victim.id))).toBe(true);
      expect(firing[0]?.labels.severity).toBe("warning");
      const down = await until(
        `StrandTargetDown firing\n${failure()}`,
        async () => {
          const a = await alertStates("StrandTargetDown");
          return a.some((x) => x.state === "firing") ? a : undefined;
        },
        30_000,
      );
      expect(down.map((a) => a.labels.instance)).toEqual([`127.0.0.1:${victim.ports.admin}`]);

      const restarted = startNode(c.layout, victim.id, c.root);
      started.nodes.push(restarted);
      await waitReady([restarted], 30_000);
      await until(
        `StrandUnderReplicatedPartitions resolved\n${failure()}`,
        async () =>
          (await alertStates("StrandUnderReplicatedPartitions")).length === 0 ? true : undefined,
        60_000,
      );
    },
    180_000,
  );
});
