/**
 * A local Strand cluster for benchmarks: N combined nodes (`strand server start`, as
 * test/support/cluster.ts starts them) on 127.0.0.1 with free ports and a temp data root, a
 * bounded wait for /readyz, and a stop that SIGTERMs every node (SIGKILL after a bound) and
 * deletes the data. Nodes may run with `--cpu-prof` so the leader can be profiled.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "packages/cli/src/main.ts");
/** Lines of a node's output kept for an error report. */
const TAIL_LINES_MAX = 40;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export interface BenchNode {
  readonly id: number;
  readonly clientAddress: string;
  readonly adminPort: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly tail: string[];
}

export interface ClusterOptions {
  readonly nodes: number;
  /** When set, every node runs with `--cpu-prof --cpu-prof-dir <dir>/node-<id>`. */
  readonly cpuProfileDir?: string;
  /** Extra `server start` flags for every node. */
  readonly extraArgs?: readonly string[];
}

/** `count` ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export class BenchCluster {
  readonly nodes: BenchNode[] = [];
  readonly dataRoot = mkdtempSync(join(tmpdir(), "strand-bench-cluster-"));
  private stopped = false;

  /**
   * Spawns the nodes and waits until they are ready; on failure stops what it started. Call it
   * on an instance the caller already holds, so a Ctrl-C during start-up can stop the nodes.
   */
  async start(options: ClusterOptions): Promise<void> {
    try {
      const ports = await freePorts(options.nodes * 3);
      const voters = Array.from(
        { length: options.nodes },
        (_, k) => `${k + 1}@127.0.0.1:${ports[3 * k + 1]}`,
      ).join(",");
      for (let id = 1; id <= options.nodes; id++) {
        const [client, internal, admin] = ports.slice(3 * (id - 1), 3 * id) as [
          number,
          number,
          number,
        ];
        this.spawnNode(id, { client, internal, admin }, voters, options);
      }
      await this.waitReady();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private spawnNode(
    id: number,
    p: { client: number; internal: number; admin: number },
    voters: string,
    options: ClusterOptions,
  ): void {
    if (this.stopped) throw new Error("the cluster was stopped while starting");
    const prof =
      options.cpuProfileDir === undefined
        ? []
        : ["--cpu-prof", "--cpu-prof-dir", join(options.cpuProfileDir, `node-${id}`)];
    const args = [
      ...prof,
      "--conditions=strand-source",
      bin,
      ...["server", "start", "--node.id", String(id), "--bootstrap"],
      ...["--data.dir", join(this.dataRoot, `node-${id}`)],
      ...["--listeners.client", `127.0.0.1:${p.client}`],
      ...["--listeners.internal", `127.0.0.1:${p.internal}`],
      ...["--listeners.admin", `127.0.0.1:${p.admin}`],
      ...["--controller.quorum.voters", voters, "--log.level", "warn"],
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const keep = (chunk: Buffer) => {
      tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      if (tail.length > TAIL_LINES_MAX) tail.splice(0, tail.length - TAIL_LINES_MAX);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    this.nodes.push({
      id,
      clientAddress: `127.0.0.1:${p.client}`,
      adminPort: p.admin,
      child,
      exited,
      tail,
    });
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const node of this.nodes) {
      for (let round = 0; ; round++) {
        if (this.stopped) throw new Error("the cluster was stopped while starting");
        if (node.child.exitCode !== null)
          throw new Error(`node ${node.id} exited ${node.child.exitCode}: ${node.tail.join("\n")}`);
        try {
          const res = await fetch(`http://127.0.0.1:${node.adminPort}/readyz`);
          await res.text();
          if (res.status === 200) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline || round > 10_000)
          throw new Error(`node ${node.id} not ready in time: ${node.tail.join("\n")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** SIGTERM every node (clean exit writes CPU profiles), SIGKILL after a bound, rm the data. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const alive = (n: BenchNode) => n.child.exitCode === null && n.child.signalCode === null;
    for (const n of this.nodes) if (alive(n)) n.child.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const n of this.nodes) if (alive(n)) n.child.kill("SIGKILL");
    }, STOP_TIMEOUT_MS);
    await Promise.all(this.nodes.map((n) => n.exited));
    clearTimeout(timer);
    rmSync(this.dataRoot, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): SIGKILL what is left. */
  killNow(): void {
    for (const n of this.nodes)
      if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill("SIGKILL");
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}
