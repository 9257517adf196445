/**
 * A local Strand cluster for benchmarks, on the shared launcher (scripts/lib/cluster.ts): N
 * combined nodes on 127.0.0.1 with free ports and a temp data root, a bounded wait for
 * /readyz, and a stop that SIGTERMs every node (SIGKILL after a bound) and deletes the data.
 * Nodes may run with `--cpu-prof` so the leader can be profiled.
 */
import { execSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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

let ticks: number | null = null;

/** Clock ticks per second of /proc times (`getconf CLK_TCK`, 100 on Linux). */
function clockTicks(): number {
  if (ticks === null) {
    try {
      ticks = Number(execSync("getconf CLK_TCK", { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export interface ClusterOptions {
  readonly nodes: number;
  /** When set, every node runs with `--cpu-prof --cpu-prof-dir <dir>/node-<id>`. */
  readonly cpuProfileDir?: string;
  /** Extra Node flags for every node (e.g. V8 GC flags), before the script. */
  readonly nodeFlags?: readonly string[];
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
            nodeFlags: [...(options.nodeFlags ?? []), ...prof],
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

  /**
   * CPU seconds (user + system, every thread: JS, GC helpers, the libuv pool) each node has
   * used so far, from /proc/<pid>/stat; unlike a profile's busy time it does not count time
   * the node was runnable but another process had the core. Empty off Linux.
   */
  cpuSeconds(): Map<number, number> {
    const out = new Map<number, number>();
    for (const n of this.nodes) {
      try {
        const stat = readFileSync(`/proc/${n.child.pid}/stat`, "utf8");
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        out.set(n.id, (Number(fields[11]) + Number(fields[12])) / clockTicks());
      } catch {
        // not Linux, or the node is gone
      }
    }
    return out;
  }

  /** Synchronous last resort (process exit): SIGKILL what is left. */
  killNow(): void {
    killNodesNow(this.nodes);
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}
