/**
 * The one launcher of local Strand clusters, shared by `npm start` (scripts/start.ts), the
 * benchmarks (scripts/bench/cluster.ts) and the multi-process tests (test/support/cluster.ts).
 * It spawns `strand server start` processes on 127.0.0.1 from the TypeScript sources, with
 * either the fixed ports of `npm start` or free ones, captures their output, waits for
 * /readyz, pauses, kills and stops them.
 *
 * It lives under scripts/ because scripts must not import test code, while tests may import
 * dev tooling; it imports nothing from test/ or vitest, only Node.
 *
 * Nodes never outlive the process that launched them: every node is SIGKILLed from an `exit`
 * handler, {@link stopOnSignals} turns SIGINT, SIGTERM and SIGHUP — and the death of this
 * process's own parent — into a clean stop (SIGTERM each node, SIGKILL after a bound), and
 * every node is started with `--exit-with-parent` and its stdin on a pipe from here: when this
 * process dies in any way, even SIGKILL, the kernel closes the pipe and the node stops itself
 * cleanly (no handler of ours can run on SIGKILL, so the node has to notice on its own).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { get as httpsGet } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "packages/cli/src/main.ts");

/** How long a clean stop waits for a node (shutdown.timeout.ms default 25 s, plus slack). */
export const STOP_TIMEOUT_MS = 35_000;

/** Ports of one node. */
export interface NodePorts {
  readonly client: number;
  readonly internal: number;
  readonly admin: number;
}

/**
 * A cluster's layout: ports per node (index id - 1), the controller voters string and the
 * cluster id every node is started with (`--cluster-id`: formats a new metadata dir with it,
 * and must match the stored one of a formatted dir).
 */
export interface ClusterLayout {
  readonly ports: readonly NodePorts[];
  readonly voters: string;
  readonly clusterId: string;
}

/** A new random cluster id, as `strand cluster new-id` prints (22 base64url characters). */
export function newClusterId(): string {
  return randomBytes(16).toString("base64url");
}

/** The voters string `1@127.0.0.1:<internal>,...` of the given node ids (default: all). */
export function votersOf(ports: readonly NodePorts[], ids?: readonly number[]): string {
  const chosen = ids ?? ports.map((_, k) => k + 1);
  return chosen.map((id) => `${id}@127.0.0.1:${ports[id - 1]!.internal}`).join(",");
}

/**
 * The fixed layout of `npm start`: node N listens on client 9092+10(N-1), internal
 * 9093+10(N-1), admin 9644+10(N-1). Pass the stored `clusterId` of an existing cluster; a new
 * one gets a random id.
 */
export function fixedLayout(count: number, clusterId: string = newClusterId()): ClusterLayout {
  const ports = Array.from({ length: count }, (_, k) => ({
    client: 9092 + 10 * k,
    internal: 9093 + 10 * k,
    admin: 9644 + 10 * k,
  }));
  return { ports, voters: votersOf(ports), clusterId };
}

/** `count` distinct ports that were free on 127.0.0.1 a moment ago (bound, then released). */
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

/** A layout of `count` combined nodes on free ports. */
export async function freeLayout(count: number): Promise<ClusterLayout> {
  const p = await freePorts(count * 3);
  const ports = Array.from({ length: count }, (_, k) => ({
    client: p[3 * k]!,
    internal: p[3 * k + 1]!,
    admin: p[3 * k + 2]!,
  }));
  return { ports, voters: votersOf(ports), clusterId: newClusterId() };
}

/** What {@link startNode} needs. */
export interface NodeOptions {
  /** 1-based node id; its ports are `layout.ports[id - 1]`. */
  readonly id: number;
  readonly layout: ClusterLayout;
  readonly dataDir: string;
  /** Pass `--bootstrap` (format a new cluster's metadata log). */
  readonly bootstrap?: boolean;
  /** Extra `server start` flags, after the launcher's (so they win). */
  readonly args?: readonly string[];
  /** Flags for the node runtime itself, e.g. `--cpu-prof`. */
  readonly nodeFlags?: readonly string[];
  /** "capture" (default) keeps output in {@link NodeProcess.lines}; "inherit" prints it. */
  readonly output?: "capture" | "inherit";
  /** The admin listener serves HTTPS: its CA, and a client certificate when it asks for one. */
  readonly adminTls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
}

/** Nodes started by this process that may still run: SIGKILLed when this process exits. */
const live = new Set<NodeProcess>();
let exitHookInstalled = false;

function killLiveOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill() is, and SIGKILL needs no cooperation.
  process.on("exit", () => {
    for (const n of live) if (n.alive) n.child.kill("SIGKILL");
  });
}

/** One `strand server start` process. */
export class NodeProcess {
  readonly id: number;
  readonly ports: NodePorts;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Non-empty stdout lines (JSON log lines), when output is captured. */
  readonly lines: string[] = [];
  /** Everything written to stderr, when output is captured. */
  stderr = "";
  readonly exited: Promise<number | null>;
  readonly #adminTls: NodeOptions["adminTls"];
  #paused = false;

  constructor(options: NodeOptions) {
    const p = options.layout.ports[options.id - 1];
    if (p === undefined) throw new Error(`layout has no node ${options.id}`);
    this.id = options.id;
    this.ports = p;
    this.dataDir = options.dataDir;
    this.#adminTls = options.adminTls;
    const args = [
      ...(options.nodeFlags ?? []),
      ...["--conditions=strand-source", bin, "server", "start"],
      ...["--node.id", String(options.id), "--data.dir", options.dataDir],
      ...["--listeners.client", `127.0.0.1:${p.client}`],
      ...["--listeners.internal", `127.0.0.1:${p.internal}`],
      ...["--listeners.admin", `127.0.0.1:${p.admin}`],
      ...["--controller.quorum.voters", options.layout.voters],
      ...["--cluster-id", options.layout.clusterId],
      "--exit-with-parent",
      ...(options.bootstrap === true ? ["--bootstrap"] : []),
      ...(options.args ?? []),
    ];
    const inherit = options.output === "inherit";
    this.child = spawn(process.execPath, args, {
      cwd: root,
      // stdin is the lifeline of --exit-with-parent: never written, closed only by our death.
      stdio: ["pipe", inherit ? "inherit" : "pipe", inherit ? "inherit" : "pipe"],
    });
    this.#capture();
    live.add(this);
    killLiveOnExit();
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code) => {
        live.delete(this);
        resolve(code);
      }),
    );
  }

  #capture(): void {
    let buffered = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      this.lines.push(...parts.filter((part) => part.trim() !== ""));
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString("utf8");
    });
  }

  get clientAddress(): string {
    return `127.0.0.1:${this.ports.client}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The last `count` lines of output (stdout then stderr), for an error report. */
  tail(count = 40): string {
    const err = this.stderr.split("\n").filter((l) => l !== "");
    return [...this.lines.slice(-count), ...err.slice(-count)].join("\n");
  }

  /** Sends `signal` (SIGKILL by default; a paused node is resumed first) and waits for exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.alive) {
      if (this.#paused && signal !== "SIGKILL") this.resume();
      this.child.kill(signal);
    }
    return this.exited;
  }

  /** Freezes the process (SIGSTOP): it holds its sockets but never answers. */
  pause(): void {
    if (this.alive) this.child.kill("SIGSTOP");
    this.#paused = true;
  }

  /** Resumes a paused process (SIGCONT). */
  resume(): void {
    if (this.alive) this.child.kill("SIGCONT");
    this.#paused = false;
  }

  /** GET on the admin listener: status and body. */
  async http(path: string): Promise<{ status: number; body: string }> {
    if (this.#adminTls !== undefined) return this.#https(path, this.#adminTls);
    const res = await fetch(`http://127.0.0.1:${this.ports.admin}${path}`);
    return { status: res.status, body: await res.text() };
  }

  #https(
    path: string,
    tls: NonNullable<NodeOptions["adminTls"]>,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsGet(
        { host: "127.0.0.1", port: this.ports.admin, path, ...tls, timeout: 5_000 },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString("utf8")));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer in 5 s`)));
      req.on("error", reject);
    });
  }
}

/** Spawns one node. */
export function startNode(options: NodeOptions): NodeProcess {
  return new NodeProcess(options);
}

/**
 * Waits until every node answers /readyz 200; fails fast when a node exits, and after
 * `timeoutMs` with the node's output tail.
 */
export async function waitReady(
  nodes: readonly NodeProcess[],
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    nodes.map(async (n) => {
      // Bounded by the deadline; the round cap is a second guard against a stuck clock.
      for (let round = 0; round < 1_000_000; round++) {
        if (!n.alive) throw new Error(`node ${n.id} exited (${n.child.exitCode}):\n${n.tail()}`);
        const status = await n.http("/readyz").then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) return;
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, intervalMs));
      }
      throw new Error(`node ${n.id} not ready after ${timeoutMs} ms:\n${n.tail()}`);
    }),
  );
}

/** SIGTERMs every live node (resuming paused ones), SIGKILLs what is left after `timeoutMs`. */
export async function stopNodes(
  nodes: readonly NodeProcess[],
  timeoutMs = STOP_TIMEOUT_MS,
): Promise<void> {
  for (const n of nodes) {
    if (!n.alive) continue;
    if (n.paused) n.resume();
    n.child.kill("SIGTERM");
  }
  const timer = setTimeout(() => {
    for (const n of nodes) if (n.alive) n.child.kill("SIGKILL");
  }, timeoutMs);
  await Promise.all(nodes.map((n) => n.exited));
  clearTimeout(timer);
}

/** SIGKILLs every live node now (synchronous: usable from an `exit` handler). */
export function killNodesNow(nodes: readonly NodeProcess[]): void {
  for (const n of nodes) if (n.alive) n.child.kill("SIGKILL");
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** How often {@link stopOnSignals} checks that this process's parent is still alive. */
export const PARENT_WATCH_MS = 500;

/**
 * Runs `stop` once on the first SIGINT, SIGTERM or SIGHUP, or when this process's parent
 * disappears (it is re-parented: `process.ppid` changes), so a launcher run under npm, a
 * shell or a container init never outlives it; a second signal exits at once (the exit
 * handler SIGKILLs the nodes). Returns a function removing the handlers.
 *
 * The parent is polled because nothing tells a process that its parent died (Linux's
 * PR_SET_PDEATHSIG is not reachable from Node), and `npm start` gives the launcher no pipe
 * from npm to watch; 500 ms is plenty for a dev launcher.
 */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => void | Promise<void>): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    void stop(signal);
  };
  for (const s of STOP_SIGNALS) process.on(s, handler);
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent || stopping) return;
    process.stderr.write(`launcher: parent process ${parent} exited; stopping the nodes\n`);
    handler("SIGHUP");
  }, PARENT_WATCH_MS);
  watch.unref();
  return () => {
    clearInterval(watch);
    for (const s of STOP_SIGNALS) process.off(s, handler);
  };
}
