/**
 * Runs one controller voter as a process (temporary, until `strand server start` exists):
 *
 *   node --conditions=strand-source packages/controller/src/bin/controller-node.ts \
 *     --node-id 1 --data-dir DIR --listen 127.0.0.1:PORT \
 *     --voters 1@127.0.0.1:P1,2@127.0.0.1:P2,3@127.0.0.1:P3 [--tick-ms 50]
 *
 * Logs JSON lines (pino) to stdout; the line "controller node started" carries the bound
 * port. SIGTERM / SIGINT close the node cleanly and exit 0; a fatal Raft error exits 1.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { isClusterId } from "../node/cluster-id.ts";
import { parseVoters } from "../node/config.ts";
import { ControllerNode } from "../node/node.ts";

const USAGE = `usage: controller-node --node-id N --data-dir DIR --listen HOST:PORT --voters ID@HOST:PORT,...
options:
  --node-id N                this voter's id (one of --voters)
  --data-dir DIR             data directory (the metadata log goes in DIR/__cluster_metadata)
  --listen HOST:PORT         internal listener (RaftService + ControllerService)
  --voters LIST              every voter: 1@127.0.0.1:9093,2@127.0.0.1:9094[:dir-uuid],...
  --tick-ms MS               Raft tick (default 100; election timeout 10-20 ticks)
  --election-ticks N         minimum election timeout in ticks (default 10)
  --session-timeout-ms MS    broker session timeout (default 9000)
  --cluster-id ID            format an empty metadata dir for this cluster (22 base64url chars)
  --forward                  standbys forward ControllerService writes to the active controller
  --help                     print this and exit`;

interface Args {
  readonly nodeId: number;
  readonly dataDir: string;
  readonly listen: string;
  readonly voters: string;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly sessionTimeoutMs?: number;
  readonly clusterId?: string;
  readonly forward: boolean;
}

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

function parse(argv: readonly string[]): Args | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      "node-id": { type: "string" },
      "data-dir": { type: "string" },
      listen: { type: "string" },
      voters: { type: "string" },
      "tick-ms": { type: "string" },
      "election-ticks": { type: "string" },
      "session-timeout-ms": { type: "string" },
      "cluster-id": { type: "string" },
      forward: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help === true) return null;
  const nodeId = positiveInt(values["node-id"], "--node-id");
  const { "data-dir": dataDir, listen, voters } = values;
  if (nodeId === undefined || dataDir === undefined || listen === undefined || voters === undefined)
    throw new Error("--node-id, --data-dir, --listen and --voters are required");
  const optional = {
    tickMs: positiveInt(values["tick-ms"], "--tick-ms"),
    electionTicks: positiveInt(values["election-ticks"], "--election-ticks"),
    sessionTimeoutMs: positiveInt(values["session-timeout-ms"], "--session-timeout-ms"),
  };
  const set = Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined));
  const clusterId = values["cluster-id"];
  if (clusterId !== undefined && !isClusterId(clusterId))
    throw new Error("--cluster-id must be 22 base64url characters");
  return {
    nodeId,
    dataDir,
    listen,
    voters,
    forward: values.forward === true,
    ...set,
    ...(clusterId === undefined ? {} : { clusterId }),
  };
}

async function main(): Promise<void> {
  let args: Args | null;
  try {
    args = parse(process.argv.slice(2));
    if (args !== null) parseVoters(args.voters);
  } catch (error) {
    process.stderr.write(`controller-node: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const logger = pino(
    { base: { pid: process.pid, nodeId: args.nodeId } },
    pino.destination({ sync: true }),
  );
  const node = await ControllerNode.start({
    nodeId: args.nodeId,
    dataDir: args.dataDir,
    listen: args.listen,
    voters: parseVoters(args.voters),
    logger,
    forward: args.forward,
    ...(args.clusterId === undefined ? {} : { clusterId: args.clusterId }),
    ...(args.tickMs === undefined ? {} : { tickMs: args.tickMs }),
    ...(args.electionTicks === undefined ? {} : { core: { electionTicks: args.electionTicks } }),
    ...(args.sessionTimeoutMs === undefined
      ? {}
      : { controller: { sessionTimeoutMs: args.sessionTimeoutMs } }),
  });
  node.onFatal(() => process.exit(1));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "close failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`controller-node: failed to start: ${String(error)}\n`);
  process.exit(1);
});
