/**
 * The `strand` command: `strand server start` runs one node (docs/design.md §2); the client
 * commands (cluster, topic, produce, consume, group, acl, perf) talk to a cluster through @strand/client.
 * docs/cli.md describes every command. main.ts (the bin) loads this module.
 *
 * Exit codes: 0 success (or a clean stop on SIGTERM/SIGINT), 1 runtime failure, 2 bad
 * configuration or usage, 3 `cluster health` found the cluster unhealthy. Failures print one
 * line, `strand: <reason>`, on stderr.
 */
import { UsageError } from "./args.ts";
import { type Command, commandHelp, prepare } from "./command.ts";
import { aclCommands } from "./commands/acl.ts";
import { clusterCommands } from "./commands/cluster.ts";
import { consumeCommand } from "./commands/consume.ts";
import { groupCommands } from "./commands/group.ts";
import { perfCommands } from "./commands/perf.ts";
import { produceCommand } from "./commands/produce.ts";
import { topicCommands } from "./commands/topic.ts";
import { userCommands } from "./commands/user.ts";
import { describeFailure, EXIT, printFailure } from "./output.ts";

const COMMANDS: readonly Command[] = [
  ...clusterCommands,
  ...topicCommands,
  produceCommand,
  consumeCommand,
  ...groupCommands,
  ...aclCommands,
  ...perfCommands,
  ...userCommands,
];

const USAGE = [
  "usage: strand <command> [options]",
  "",
  "commands:",
  `  ${"server start".padEnd(22)} run one Strand node (broker, controller or both)`,
  `  ${"cert".padEnd(22)} generate a CA and node/client certificates for a TLS cluster`,
  ...COMMANDS.map((c) => `  ${c.path.join(" ").padEnd(22)} ${c.brief}`),
  "",
  "Every command takes --help. Client commands connect with --brokers HOST:PORT,... or",
  "STRAND_BROKERS (default 127.0.0.1:9092) and print tables, or JSON with --format json.",
  "Exit codes: 0 ok, 1 failed, 2 bad usage, 3 cluster unhealthy.",
].join("\n");

/** The command `argv` names (longest path first), and the arguments after it. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | null {
  for (const c of COMMANDS)
    if (c.path.every((word, i) => argv[i] === word))
      return { command: c, rest: argv.slice(c.path.length) };
  return null;
}

/** Lists the subcommands of a group (e.g. ["topic"] or ["cluster", "voters"]), or null. */
function groupHelp(words: readonly string[]): string | null {
  const members = COMMANDS.filter(
    (c) => c.path.length > words.length && words.every((w, i) => c.path[i] === w),
  );
  if (words.length === 0 || members.length === 0) return null;
  const group = words.join(" ");
  return [
    `usage: strand ${group} <command> [options]`,
    "",
    ...members.map((c) => `  ${c.path.join(" ").padEnd(22)} ${c.brief}`),
    "",
    `see strand ${group} <command> --help`,
  ].join("\n");
}

/** Runs a client command: exit code on success, one line on stderr on failure. */
async function runClientCommand(command: Command, argv: readonly string[]): Promise<number> {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    // The first Ctrl-C stops the command cleanly; a second one exits at once.
    if (++signals > 1) process.exit(130);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok); // e.g. `strand consume t | head`
  });
  let close = async (): Promise<void> => undefined;
  // The SDK's linger and backoff timers are unref()ed, so a process that only awaits a send
  // could exit before the batch goes out: hold the event loop open while the command runs.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    const prepared = prepare(command, argv, stop.signal, process.env);
    close = prepared.close;
    if (prepared.invocation === null) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return EXIT.ok;
    }
    return await command.run(prepared.invocation);
  } catch (error) {
    const topic = command.path[0] === "topic" ? argv[0] : undefined;
    const failure = describeFailure(error, topic);
    printFailure(failure.message);
    return failure.code;
  } finally {
    await close().catch(() => undefined);
    clearInterval(keepAlive);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === "cert") {
    (await import("./cert.ts")).certCommand(argv.slice(1));
    return;
  }
  if (command === "server" && sub === "start")
    return (await import("./server.ts")).serverStart(rest);
  if (command === "server" && (sub === undefined || sub === "--help")) {
    process.stdout.write(`usage: strand server start [options]; see strand server start --help\n`);
    return;
  }
  const found = findCommand(argv);
  if (found !== null) {
    const code = await runClientCommand(found.command, found.rest);
    process.exit(code);
  }
  // `strand topic`, `strand cluster voters --help`: the group's words, then nothing or help.
  const words = argv.filter((a) => !a.startsWith("-"));
  const helpOnly = argv.every((a) => !a.startsWith("-") || a === "--help" || a === "-h");
  const group = helpOnly ? groupHelp(words) : null;
  if (group !== null) {
    process.stdout.write(`${group}\n`);
    return;
  }
  const error = new UsageError(`unknown command "${argv.slice(0, 2).join(" ")}"`);
  printFailure(`${error.message}; see strand --help`);
  process.exit(EXIT.usage);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`strand: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
