/**
 * `npm start`: a 3-node combined Strand cluster on 127.0.0.1 for a newcomer. Node N (1..3)
 * listens on client 9092+10(N-1), internal 9093+10(N-1), admin 9644+10(N-1)
 * (so 9092/9093/9644, 9102/9103/9654, 9112/9113/9664), with data in ./.strand/node-N kept
 * between runs. `--bootstrap` is passed only when a node's data dir does not exist yet (the
 * first formation; see docs/operations.md), with the cluster id every node gets: the one
 * stored in an existing node's metadata dir, or a new random one. One line says when every node is ready. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops every
 * node cleanly (SIGTERM each, wait) and exits 0. Nodes are started by the shared launcher
 * (scripts/lib/cluster.ts), which also stops them when this process's parent (npm) dies, and
 * whose nodes stop by themselves if this process dies any other way, even SIGKILL.
 *
 * Usage: npm start [-- --help]
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  fixedLayout,
  type NodeProcess,
  startNode,
  stopNodes,
  stopOnSignals,
  waitReady,
} from "./lib/cluster.ts";

const NODES = 3;
const root = join(import.meta.dirname, "..");

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(
    "usage: npm start\n  Runs a 3-node combined cluster on 127.0.0.1 with data in ./.strand/node-N.\n" +
      "  node N: client 9092+10(N-1), internal 9093+10(N-1), admin 9644+10(N-1). Ctrl-C stops it.",
  );
  process.exit(0);
}

/**
 * The cluster id stored in the first node dir formatted with one (the controller's
 * `__cluster_metadata/cluster.id`), or undefined for a new cluster or one formatted before
 * cluster ids (those ignore --cluster-id).
 */
function storedClusterId(): string | undefined {
  for (let id = 1; id <= NODES; id++) {
    const file = join(root, ".strand", `node-${id}`, "__cluster_metadata", "cluster.id");
    if (existsSync(file)) return readFileSync(file, "utf8").trim();
  }
  return undefined;
}

const layout = fixedLayout(NODES, storedClusterId());
const nodes: NodeProcess[] = [];
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stopNodes(nodes);
  process.exit(0);
}

stopOnSignals(() => stop());
for (let id = 1; id <= NODES; id++) {
  const dataDir = join(root, ".strand", `node-${id}`);
  const node = startNode({
    id,
    layout,
    dataDir,
    bootstrap: !existsSync(dataDir),
    args: ["--log.level", "warn"],
    output: "inherit",
  });
  void node.exited.then((code) => {
    if (!stopping)
      console.error(
        `node ${id} exited (code ${code}, signal ${node.child.signalCode}); stopping the cluster`,
      );
    void stop();
  });
  nodes.push(node);
  const p = node.ports;
  console.log(
    `node ${id}: client 127.0.0.1:${p.client}  internal 127.0.0.1:${p.internal}  admin http://127.0.0.1:${p.admin}  data ${dataDir}`,
  );
}
console.log(
  "try: curl -s http://127.0.0.1:9644/readyz   (gRPC clients: 127.0.0.1:9092; Ctrl-C stops the cluster)",
);

const READY_TIMEOUT_MS = 120_000;
waitReady(nodes, READY_TIMEOUT_MS).then(
  () => console.log(`cluster ready: ${NODES} nodes, bootstrap ${nodes[0]?.clientAddress}`),
  (error: unknown) => {
    // A node that exited was already reported (and stops the cluster); anything else is a
    // cluster that did not form in time: say so, with the reason, and keep it running.
    if (!stopping) console.error(`cluster not ready: ${(error as Error).message.split("\n")[0]}`);
  },
);
