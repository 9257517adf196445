// Test helpers for multi-process Strand clusters: the shared launcher (scripts/lib/cluster.ts)
// with random free ports, temp data dirs and fast timings; calls to the client API, /readyz and
// /metrics. Every wait is a bounded poll.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { type ClientStubs, clientStubs } from "@strand/protocol";
import {
  type ClusterLayout,
  freeLayout,
  waitReady as launcherWaitReady,
  startNode as launchNode,
  type NodeProcess,
} from "../../scripts/lib/cluster.ts";

export type { ClusterLayout, NodePorts, NodeProcess } from "../../scripts/lib/cluster.ts";

/** Allocates free ports for `count` combined nodes. */
export function layout(count: number): Promise<ClusterLayout> {
  return freeLayout(count);
}

/** Fast timings for tests. */
export const FAST_SETTINGS = [
  ...["--controller.tick.ms", "50", "--broker.heartbeat.interval.ms", "200"],
  ...[
    "--broker.session.timeout.ms",
    "3000",
    "--shutdown.timeout.ms",
    "5000",
    "--log.level",
    "info",
  ],
];

/** Spawns node `id` (1-based) of `l` with its data under `dataRoot`, output captured. */
export function startNode(
  l: ClusterLayout,
  id: number,
  dataRoot: string,
  extra: readonly string[] = [],
): NodeProcess {
  return launchNode({
    id,
    layout: l,
    dataDir: join(dataRoot, `node-${id}`),
    args: [...FAST_SETTINGS, ...extra],
  });
}

/** What a test stops and removes in its afterAll. */
export interface Started {
  readonly nodes: NodeProcess[];
  readonly roots: string[];
}

/**
 * Forms a new `count`-node cluster (every node with --bootstrap) with its data under a fresh
 * temp dir named after `prefix`, and waits until every node is ready. The nodes and the dir are
 * added to `started` before the wait, so the caller's afterAll cleans up even if it fails.
 */
export async function formCluster(
  count: number,
  prefix: string,
  started: Started,
  extra: readonly string[] = [],
): Promise<{ layout: ClusterLayout; root: string; nodes: NodeProcess[] }> {
  const l = await layout(count);
  const root = mkdtempSync(join(tmpdir(), `strand-${prefix}-`));
  started.roots.push(root);
  const nodes = Array.from({ length: count }, (_, i) =>
    startNode(l, i + 1, root, ["--bootstrap", ...extra]),
  );
  started.nodes.push(...nodes);
  // 45 s as FaultCluster allows about 40: three nodes starting on a loaded 2-core machine.
  await waitReady(nodes, 45_000);
  return { layout: l, root, nodes };
}

/** Waits until every node answers /readyz 200. */
export function waitReady(nodes: readonly NodeProcess[], timeoutMs = 20_000): Promise<void> {
  return launcherWaitReady(nodes, timeoutMs, 50);
}

/** Promise wrapper for a unary stub call. */
export function unary<T>(
  start: (cb: (error: grpc.ServiceError | null, response?: T) => void) => unknown,
): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, response) => (error !== null ? reject(error) : resolve(response as T)));
  });
}

/** Client stubs that are closed by {@link closeAllStubs}. */
const opened: ClientStubs[] = [];
export function stubs(address: string): ClientStubs {
  const s = clientStubs(address);
  opened.push(s);
  return s;
}
export function closeAllStubs(): void {
  for (const s of opened.splice(0)) s.close();
}

/** The value of a counter line in Prometheus text, summed over label sets matching `filter`. */
export function metricSum(text: string, name: string, filter = ""): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(name) && l.includes(filter))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}
