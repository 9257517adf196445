#!/usr/bin/env -S node --conditions=strand-source
/**
 * The `strand` command. Today: `strand server start` runs one node (DESIGN.md §2); the client
 * commands (topic, produce, consume, group, cluster, perf) come with the client SDK.
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 runtime failure, 2 bad configuration or usage.
 */
import {
  BrokerNode,
  ConfigError,
  envName,
  loadNodeConfig,
  NodeStartError,
  parseFlags,
  SETTINGS,
} from "@strand/broker";

const USAGE = `usage: strand <command> [options]

commands:
  server start    run one Strand node (broker, controller or both); see strand server start --help

options:
  --help, -h      print this help`;

function serverHelp(): string {
  const rows = SETTINGS.map((s) => {
    const def = s.defaultText ?? s.derived ?? "";
    return `  --${s.key.padEnd(34)} ${s.description}\n      env ${envName(s.key)}; default ${def}`;
  });
  return [
    "usage: strand server start [--config FILE] [--bootstrap] [--<setting> VALUE ...]",
    "",
    "Runs one node. Settings come from flags > STRAND_* environment > the YAML file > defaults.",
    "  --config FILE                        YAML file of settings (flat dotted keys or nested maps)",
    "  --bootstrap                          first start of a brand-new multi-voter cluster: format an empty metadata dir",
    "  --help                               print this help",
    "",
    "settings:",
    ...rows,
  ].join("\n");
}

async function serverStart(argv: readonly string[]): Promise<void> {
  const bootstrap = argv.includes("--bootstrap");
  let config: ReturnType<typeof loadNodeConfig>;
  try {
    const parsed = parseFlags(argv.filter((a) => a !== "--bootstrap"));
    if (parsed.help) {
      process.stdout.write(`${serverHelp()}\n`);
      return;
    }
    config = loadNodeConfig({
      flags: parsed.flags,
      env: process.env,
      ...(parsed.configFile === undefined ? {} : { configFile: parsed.configFile }),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`strand: ${error.message}\n`);
    process.exit(2);
  }
  let node: BrokerNode;
  try {
    node = await BrokerNode.start(config, { bootstrap });
  } catch (error) {
    process.stderr.write(`strand: ${(error as Error).message}\n`);
    process.exit(error instanceof NodeStartError ? 2 : 1);
  }
  node.watchHealth();
  node.onFatal(() => process.exit(1));
  const stop = (signal: string): void => {
    node.logger.info({ signal }, "stopping");
    const timer = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 2_000);
    timer.unref();
    node.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        node.logger.error({ err: String(error) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === "server" && sub === "start") return serverStart(rest);
  if (command === "server" && (sub === undefined || sub === "--help")) {
    process.stdout.write(`usage: strand server start [options]; see strand server start --help\n`);
    return;
  }
  process.stderr.write(`strand: unknown command "${argv.join(" ")}"; see strand --help\n`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`strand: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
