/**
 * `npm start`: a 3-node combined Strand cluster on 127.0.0.1 for a newcomer. Node N (1..3)
 * listens on client 9092+10(N-1), internal 9093+10(N-1), admin 9644+10(N-1)
 * (so 9092/9093/9644, 9102/9103/9654, 9112/9113/9664), with data in ./.strand/node-N kept
 * between runs. `--bootstrap` is passed only when a node's data dir does not exist yet (the
 * first formation; see docs/operations.md). Ctrl-C (SIGINT) or SIGTERM stops every node
 * cleanly (SIGTERM each, wait) and exits 0.
 *
 * Usage: npm start [-- --help]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const NODES = 3;
const root = join(import.meta.dirname, "..");
const bin = join(root, "packages/cli/src/main.ts");
const ports = (n: number) => ({
  client: 9092 + 10 * (n - 1),
  internal: 9093 + 10 * (n - 1),
  admin: 9644 + 10 * (n - 1),
});

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(
    "usage: npm start\n  Runs a 3-node combined cluster on 127.0.0.1 with data in ./.strand/node-N.\n" +
      "  node N: client 9092+10(N-1), internal 9093+10(N-1), admin 9644+10(N-1). Ctrl-C stops it.",
  );
  process.exit(0);
}

const voters = Array.from(
  { length: NODES },
  (_, k) => `${k + 1}@127.0.0.1:${ports(k + 1).internal}`,
).join(",");
const children: ChildProcess[] = [];
for (let n = 1; n <= NODES; n++) {
  const p = ports(n);
  const dataDir = join(root, ".strand", `node-${n}`);
  const args = [
    ...[
      "--conditions=strand-source",
      bin,
      "server",
      "start",
      "--node.id",
      String(n),
      "--data.dir",
      dataDir,
    ],
    ...[
      "--listeners.client",
      `127.0.0.1:${p.client}`,
      "--listeners.internal",
      `127.0.0.1:${p.internal}`,
    ],
    ...[
      "--listeners.admin",
      `127.0.0.1:${p.admin}`,
      "--controller.quorum.voters",
      voters,
      "--log.level",
      "warn",
    ],
    ...(existsSync(dataDir) ? [] : ["--bootstrap"]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.once("exit", (code, signal) => {
    if (!stopping)
      console.error(`node ${n} exited (code ${code}, signal ${signal}); stopping the cluster`);
    void stop();
  });
  children.push(child);
  console.log(
    `node ${n}: client 127.0.0.1:${p.client}  internal 127.0.0.1:${p.internal}  admin http://127.0.0.1:${p.admin}  data ${dataDir}`,
  );
}
console.log(
  "try: curl -s http://127.0.0.1:9644/readyz   (gRPC clients: 127.0.0.1:9092; Ctrl-C stops the cluster)",
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const exits = children.map((c) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once("exit", () => r())),
  );
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  // Bounded: shutdown.timeout.ms (30 s) + slack, then SIGKILL what is left.
  const timer = setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }, 35_000);
  await Promise.all(exits);
  clearTimeout(timer);
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
