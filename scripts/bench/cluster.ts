/**
 * A local Strand cluster for benchmarks, on the shared launcher (scripts/lib/cluster.ts): N
 * combined nodes on 127.0.0.1 with free ports and a temp data root, a bounded wait for
 * /readyz, and a stop that SIGTERMs every node (SIGKILL after a bound) and deletes the data.
 * Nodes may run with `--cpu-prof` so the leader can be profiled.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freeLayout,
  killNodesNow,
  type NodeOptions,
  type NodeProcess,
  startNode,
  stopNodes,
  waitReady,
} from "../lib/cluster.ts";

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export interface ClusterOptions {
  readonly nodes: number;
  /** When set, every node runs with `--cpu-prof --cpu-prof-dir <dir>/node-<id>`. */
  readonly cpuProfileDir?: string;
  /** Extra `server start` flags for every node. */
  readonly extraArgs?: readonly string[];
  /** The admin listeners serve HTTPS: what the readiness wait presents and trusts. */
  readonly adminTls?: NodeOptions["adminTls"];
}

export class BenchCluster {
  readonly nodes: NodeProcess[] = [];
  readonly dataRoot = mkdtempSync(join(tmpdir(), "strand-bench-cluster-"));
  private stopped = false;

  /**
   * Spawns the nodes and waits until they are ready; on failure stops what it started. Call it
   * on an instance the caller already holds, so a Ctrl-C during start-up can stop the nodes.
   */
  async start(options: ClusterOptions): Promise<void> {
    try {
      const layout = await freeLayout(options.nodes);
      for (let id = 1; id <= options.nodes; id++) {
        if (this.stopped) throw new Error("the cluster was stopped while starting");
        const prof =
          options.cpuProfileDir === undefined
            ? []
            : ["--cpu-prof", "--cpu-prof-dir", join(options.cpuProfileDir, `node-${id}`)];
        this.nodes.push(
          startNode({
            id,
            layout,
            dataDir: join(this.dataRoot, `node-${id}`),
            bootstrap: true,
            nodeFlags: prof,
            args: ["--log.level", "warn", ...(options.extraArgs ?? [])],
            ...(options.adminTls === undefined ? {} : { adminTls: options.adminTls }),
          }),
        );
      }
      await waitReady(this.nodes, READY_TIMEOUT_MS, 100);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** SIGTERM every node (clean exit writes CPU profiles), SIGKILL after a bound, rm the data. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopNodes(this.nodes, STOP_TIMEOUT_MS);
    rmSync(this.dataRoot, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): SIGKILL what is left. */
  killNow(): void {
    killNodesNow(this.nodes);
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}
