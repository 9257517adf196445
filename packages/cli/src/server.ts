/**
 * `strand server start`: runs one node (docs/design.md §2). Loaded only for this command, so the
 * client commands start without loading the broker.
 */
import { hostname } from "node:os";
import { setFlagsFromString } from "node:v8";
import {
  BrokerNode,
  ConfigError,
  envName,
  loadNodeConfig,
  NodeStartError,
  parseFlags,
  SETTINGS,
} from "@strand/broker";

function serverHelp(): string {
  const rows = SETTINGS.map((s) => {
    // An empty default is "not set" (a TLS file: TLS off there).
    const def = s.defaultText === "" ? "none" : (s.defaultText ?? s.derived ?? "");
    return `  --${s.key.padEnd(34)} ${s.description}\n      env ${envName(s.key)}; default ${def}`;
  });
  return [
    "usage: strand server start [--config FILE] [--bootstrap | --new-directory] [--<setting> VALUE ...]",
    "",
    "Runs one node. Settings come from flags > STRAND_* environment > the YAML file > defaults.",
    "  --config FILE                        YAML file of settings (flat dotted keys or nested maps)",
    "  --bootstrap                          first start of a brand-new multi-voter cluster: format an empty metadata dir",
    "                                       for --cluster-id (the same on every voter: strand cluster new-id)",
    "  --new-directory                      a replacement controller (lost disk): format an empty metadata dir with a",
    "                                       fresh directory id and wait to be added with AddRaftVoter (docs/operations.md)",
    "  --exit-with-parent                   stop cleanly when stdin closes (for launchers that hold its other end:",
    "                                       the node then dies with them, even on SIGKILL); never set it in production",
    "  --help                               print this help",
    "",
    "settings (a *.file setting may contain {node.id}, replaced by the node's id: node-{node.id}.crt):",
    ...rows,
  ].join("\n");
}

/** Runs `strand server start ARGS` until SIGTERM/SIGINT. */
export async function serverStart(argv: readonly string[]): Promise<void> {
  countExternalMemoryInHeapLimit();
  const bootstrap = argv.includes("--bootstrap");
  const newDirectory = argv.includes("--new-directory");
  const exitWithParent = argv.includes("--exit-with-parent");
  let config: ReturnType<typeof loadNodeConfig>;
  try {
    if (bootstrap && newDirectory) {
      throw new ConfigError("--bootstrap and --new-directory exclude each other; see --help");
    }
    const parsed = parseFlags(argv.filter((a) => !PROCESS_FLAGS.has(a)));
    if (parsed.help) {
      process.stdout.write(`${serverHelp()}\n`);
      return;
    }
    config = loadNodeConfig({
      flags: parsed.flags,
      env: process.env,
      hostname: process.env.HOSTNAME || hostname(),
      ...(parsed.configFile === undefined ? {} : { configFile: parsed.configFile }),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`strand: ${error.message}\n`);
    process.exit(2);
  }
  let node: BrokerNode;
  try {
    node = await BrokerNode.start(config, { bootstrap, newDirectory });
  } catch (error) {
    process.stderr.write(`strand: ${(error as Error).message}\n`);
    process.exit(error instanceof NodeStartError ? 2 : 1);
  }
  // Attached first: it fires at once if a fatal error already happened during start-up.
  node.onFatal((error) => {
    process.stderr.write(
      `strand: fatal: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
  node.watchHealth();
  const stop = (signal: string): void => {
    node.logger.info({ signal }, "stopping");
    // shutdown.timeout.ms is the whole budget (docs/configuration.md): past it, exit at once so
    // the orchestrator's grace period never ends in SIGKILL mid-write.
    const timer = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
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
  if (exitWithParent) stopWhenStdinCloses(() => stop("stdin closed: launcher exited"));
}

const EXTERNAL_MEMORY_FLAG = "external-memory-accounted-in-global-limit";

/**
 * A broker's garbage is mostly Buffers: record bytes in, framed copies out. By default V8
 * starts a full mark-compact whenever 64 MB of such external memory has been allocated since
 * the last one, although nearly all of it dies young and is freed by scavenges: at 40-50 MB/s
 * of produce every node ran about four mark-compacts a second. This V8 flag counts external
 * memory in the heap's own growing limit instead (docs/performance.md, "External memory and
 * mark-compacts"). Returns the flag to set, or null when the operator already chose either way
 * (`--[no-]external-memory-accounted-in-global-limit` on the command line or in NODE_OPTIONS)
 * or on a Node older than 24 (measured on 24's V8; an older V8 may not know the flag, and V8
 * answers an unknown one with an error line on stderr).
 */
export function externalMemoryFlag(
  execArgv: readonly string[],
  nodeOptions = "",
  nodeVersion = process.versions.node,
): string | null {
  if (Number(nodeVersion.split(".")[0]) < 24) return null;
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  const chosen = given.some((a) => a.replaceAll("_", "-").endsWith(EXTERNAL_MEMORY_FLAG));
  return chosen ? null : `--${EXTERNAL_MEMORY_FLAG}`;
}

/** Sets {@link externalMemoryFlag} before the node allocates anything. */
function countExternalMemoryInHeapLimit(): void {
  const flag = externalMemoryFlag(process.execArgv, process.env.NODE_OPTIONS);
  if (flag !== null) setFlagsFromString(flag);
}

/** Flags of the process, not settings: handled here, hidden from the settings parser. */
const PROCESS_FLAGS = new Set(["--bootstrap", "--new-directory", "--exit-with-parent"]);

/**
 * `--exit-with-parent`: the launcher (scripts/lib/cluster.ts) holds the write end of our
 * stdin and never writes; when it dies, even by SIGKILL, the kernel closes that end and we
 * read EOF. A pipe rather than a parent-pid poll: it fires at once, cannot be fooled by pid
 * reuse or a subreaper, and costs nothing. Opt-in, so a production node never stops because
 * of what its stdin is.
 */
function stopWhenStdinCloses(stop: () => void): void {
  let fired = false;
  const once = (): void => {
    if (fired) return;
    fired = true;
    // The launcher also held our stdout/stderr pipes: writing to them now fails with EPIPE,
    // which must not turn a clean stop into a crash.
    process.stdout.on("error", () => undefined);
    process.stderr.on("error", () => undefined);
    stop();
  };
  process.stdin.on("data", () => undefined);
  process.stdin.once("end", once);
  process.stdin.once("close", once);
  process.stdin.once("error", once);
}
