// Test helpers for multi-process Strand clusters: spawn `strand server start` processes on
// 127.0.0.1 (random free ports, temp data dirs), call their client API, read /readyz and
// /metrics, stop them. Every wait is a bounded poll.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { freePorts, waitFor } from "./free-ports.ts";
import { type ClientStubs, clientStubs } from "./stubs.ts";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "packages/cli/src/main.ts");

/** Ports of one node. */
export interface NodePorts {
  readonly client: number;
  readonly internal: number;
  readonly admin: number;
}

/** One `strand server start` process. */
export class NodeProcess {
  readonly id: number;
  readonly ports: NodePorts;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  stderr = "";

  constructor(id: number, ports: NodePorts, args: readonly string[]) {
    this.id = id;
    this.ports = ports;
    this.child = spawn(
      process.execPath,
      ["--conditions=strand-source", bin, "server", "start", ...args],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let buffered = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      this.lines.push(...parts.filter((p) => p.trim() !== ""));
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString("utf8");
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  get clientAddress(): string {
    return `127.0.0.1:${this.ports.client}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }

  /** GET on the admin listener: status and body. */
  async http(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.ports.admin}${path}`);
    return { status: res.status, body: await res.text() };
  }
}

/** A cluster's layout: ports per node and the voters string. */
export interface ClusterLayout {
  readonly ports: readonly NodePorts[];
  readonly voters: string;
}

/** Allocates ports for `count` combined nodes. */
export async function layout(count: number): Promise<ClusterLayout> {
  const p = await freePorts(count * 3);
  const ports = Array.from({ length: count }, (_, k) => ({
    client: p[3 * k]!,
    internal: p[3 * k + 1]!,
    admin: p[3 * k + 2]!,
  }));
  return { ports, voters: ports.map((x, k) => `${k + 1}@127.0.0.1:${x.internal}`).join(",") };
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

/** Spawns node `id` (1-based) of `l` with its data under `dataRoot`. */
export function startNode(
  l: ClusterLayout,
  id: number,
  dataRoot: string,
  extra: readonly string[] = [],
): NodeProcess {
  const p = l.ports[id - 1]!;
  return new NodeProcess(id, p, [
    ...["--node.id", String(id), "--data.dir", join(dataRoot, `node-${id}`)],
    ...[
      "--listeners.client",
      `127.0.0.1:${p.client}`,
      "--listeners.internal",
      `127.0.0.1:${p.internal}`,
    ],
    ...["--listeners.admin", `127.0.0.1:${p.admin}`, "--controller.quorum.voters", l.voters],
    ...FAST_SETTINGS,
    ...extra,
  ]);
}

/** Waits until every node answers /readyz 200. */
export async function waitReady(nodes: readonly NodeProcess[], timeoutMs = 20_000): Promise<void> {
  await Promise.all(
    nodes.map((n) =>
      waitFor(
        `node ${n.id} ready (stderr: ${n.stderr})`,
        async () => (await n.http("/readyz")).status === 200,
        timeoutMs,
        50,
      ),
    ),
  );
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
