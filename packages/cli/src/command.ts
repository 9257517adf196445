/**
 * The shape of a client command (everything but `server start`): its options, usage, help,
 * and the run function, plus the options every client command shares (connection, output).
 */
import { readFileSync } from "node:fs";
import { connect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type ClientAuth, Strand, type TlsOptions } from "@strand/client";
import {
  flag,
  int,
  type OptionSpec,
  type OptionValues,
  optionHelp,
  parseArgs,
  str,
  UsageError,
} from "./args.ts";
import { CliError } from "./output.ts";

/** Output format of a command. */
export type Format = "text" | "json";

/** Options shared by every client command. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: "brokers",
    type: "string",
    valueName: "HOST:PORT,...",
    description: "bootstrap brokers (env STRAND_BROKERS; default 127.0.0.1:9092)",
  },
  {
    name: "format",
    short: "f",
    type: "string",
    valueName: "text|json",
    description: "output: human tables (default) or JSON for scripts",
  },
  {
    name: "timeout-ms",
    type: "string",
    valueName: "MS",
    description: "deadline of each cluster call, retries included (default 5000)",
  },
  {
    name: "tls",
    type: "boolean",
    description: "connect over TLS (implied by the --tls-* options; env STRAND_TLS=true)",
  },
  {
    name: "tls-ca",
    type: "string",
    valueName: "FILE",
    description:
      "PEM CA the brokers' certificates chain to (env STRAND_TLS_CA; default system roots)",
  },
  {
    name: "tls-cert",
    type: "string",
    valueName: "FILE",
    description: "PEM client certificate, for listeners that require one (env STRAND_TLS_CERT)",
  },
  {
    name: "tls-key",
    type: "string",
    valueName: "FILE",
    description: "PEM private key of --tls-cert (env STRAND_TLS_KEY)",
  },
  {
    name: "user",
    type: "string",
    valueName: "NAME",
    description: "log in as this SCRAM-SHA-512 user (env STRAND_USER; needs TLS)",
  },
  {
    name: "password",
    type: "string",
    valueName: "PASSWORD",
    description: "the --user's password (prefer env STRAND_PASSWORD: it stays out of `ps`)",
  },
  {
    name: "token",
    type: "string",
    valueName: "JWT",
    description: "a JWT bearer token (env STRAND_TOKEN; needs TLS)",
  },
  {
    name: "token-file",
    type: "string",
    valueName: "FILE",
    description: "a file holding the JWT, re-read for every call (env STRAND_TOKEN_FILE)",
  },
  { name: "help", short: "h", type: "boolean", description: "print this help" },
];

/**
 * Credentials from --user/--password, --token or --token-file (or STRAND_USER,
 * STRAND_PASSWORD, STRAND_TOKEN, STRAND_TOKEN_FILE); undefined when none is given.
 */
export function authOf(options: OptionValues, env: NodeJS.ProcessEnv): ClientAuth | undefined {
  const value = (name: string, envName: string): string | undefined =>
    str(options, name) ?? (env[envName] === "" ? undefined : env[envName]);
  const user = value("user", "STRAND_USER");
  const password = value("password", "STRAND_PASSWORD");
  const token = value("token", "STRAND_TOKEN");
  const tokenFile = value("token-file", "STRAND_TOKEN_FILE");
  const given = [user !== undefined, token !== undefined, tokenFile !== undefined];
  if (given.filter(Boolean).length > 1)
    throw new UsageError("give one of --user, --token and --token-file");
  if (user !== undefined) {
    if (password === undefined) throw new UsageError("--user needs --password or STRAND_PASSWORD");
    return { scram: { username: user, password } };
  }
  if (password !== undefined) throw new UsageError("--password needs --user");
  if (token !== undefined) return { token };
  if (tokenFile !== undefined) {
    const read = () => {
      try {
        return readFileSync(tokenFile, "utf8").trim();
      } catch (error) {
        throw new UsageError(`--token-file ${tokenFile}: ${(error as Error).message}`);
      }
    };
    read();
    return { token: read };
  }
  return undefined;
}

/**
 * TLS to the brokers from --tls-ca/--tls-cert/--tls-key (or STRAND_TLS_*), or --tls alone for
 * the system's roots; undefined (plaintext) when none is given.
 */
export function tlsOf(options: OptionValues, env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const file = (name: string, envName: string): Buffer | undefined => {
    const path = str(options, name) ?? (env[envName] === "" ? undefined : env[envName]);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`--${name} ${path}: ${(error as Error).message}`);
    }
  };
  const ca = file("tls-ca", "STRAND_TLS_CA");
  const cert = file("tls-cert", "STRAND_TLS_CERT");
  const key = file("tls-key", "STRAND_TLS_KEY");
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--tls-cert and --tls-key must be given together");
  const on = flag(options, "tls") || env.STRAND_TLS === "true";
  if (!on && ca === undefined && cert === undefined) return undefined;
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined || key === undefined ? {} : { cert, key }),
  };
}

/** What a running command gets. */
export interface Invocation {
  /** Parsed options (long names). */
  readonly options: OptionValues;
  /** Positional arguments. */
  readonly args: readonly string[];
  /** The output format. */
  readonly format: Format;
  /** Fires on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /**
   * The client, created on first use (closed by the caller) after a quick TCP probe of the
   * bootstrap brokers, so an unreachable cluster fails in about a second.
   */
  client(): Promise<Strand>;
  /** Per-call deadline, in milliseconds. */
  readonly timeoutMs: number;
}

/** A client command. */
export interface Command {
  /** Words after `strand`, e.g. ["topic", "create"]. */
  readonly path: readonly string[];
  /** A few words for the command list. */
  readonly brief: string;
  /** What it does, for --help. */
  readonly summary: string;
  /** Positional arguments in the usage line, e.g. "NAME". */
  readonly args: string;
  /** How many positionals it takes (min, max). */
  readonly arity: readonly [number, number];
  /** Its own options. */
  readonly options: readonly OptionSpec[];
  /** Example lines for --help. */
  readonly examples: readonly string[];
  /** Runs; resolves with the exit code. */
  readonly run: (inv: Invocation) => Promise<number>;
}

/** The --help text of a command. */
export function commandHelp(c: Command): string {
  return [
    `usage: strand ${c.path.join(" ")}${c.args === "" ? "" : ` ${c.args}`} [options]`,
    "",
    c.summary,
    "",
    "options:",
    ...optionHelp(c.options),
    ...optionHelp(GLOBAL_OPTIONS),
    "",
    "examples:",
    ...c.examples.map((e) => `  ${e}`),
  ].join("\n");
}

/** The brokers to bootstrap from: --brokers, STRAND_BROKERS, or 127.0.0.1:9092. */
export function brokersOf(options: OptionValues, env: NodeJS.ProcessEnv): string[] {
  const raw = str(options, "brokers") ?? env.STRAND_BROKERS ?? "127.0.0.1:9092";
  const list = raw
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  if (list.length === 0) throw new UsageError("--brokers lists no broker");
  for (const b of list)
    if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(b))
      throw new UsageError(`broker address "${b}" is not host:port`);
  return list;
}

/** The HTTP/2 client preface and an empty SETTINGS frame: a gRPC server answers with SETTINGS. */
const H2_PREFACE = Buffer.concat([
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** Why `address` cannot be reached (TCP, and with `tls` the whole TLS handshake), or null. */
function probeOne(
  address: string,
  timeoutMs: number,
  tls: TlsOptions | undefined,
): Promise<string | null> {
  return new Promise((resolve) => {
    const at = address.lastIndexOf(":");
    const host = address.slice(0, at).replace(/^\[|\]$/g, "");
    const port = Number(address.slice(at + 1));
    // With TLS, a refused client certificate (TLS 1.3) shows only after the handshake, so the
    // probe waits for the server's first HTTP/2 frame: a clear TLS error beats a timeout later.
    const socket =
      tls === undefined
        ? connect({ host, port })
        : tlsConnect({
            host,
            port,
            ALPNProtocols: ["h2"],
            ...(isIP(host) === 0 ? { servername: host } : {}),
            ...tls,
          });
    const done = (reason: string | null) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`${address}: no answer in ${timeoutMs} ms`));
    if (tls === undefined) socket.once("connect", () => done(null));
    else {
      socket.once("secureConnect", () => socket.write(H2_PREFACE));
      socket.once("data", () => done(null));
      socket.once("end", () => done(`${address}: the server closed the TLS connection`));
    }
    socket.once("error", (e: NodeJS.ErrnoException) =>
      done(`${address}: ${tls === undefined ? (e.code ?? e.message) : `TLS: ${e.message}`}`),
    );
  });
}

/**
 * Resolves when one broker accepts a connection (with TLS: completes the handshake); a
 * CliError when none does in time.
 */
export async function probeBrokers(
  brokers: readonly string[],
  timeoutMs: number,
  tls?: TlsOptions,
): Promise<void> {
  const reasons = await Promise.all(brokers.map((b) => probeOne(b, timeoutMs, tls)));
  if (reasons.includes(null)) return;
  const hint = tls === undefined ? "" : ", --tls-ca/--tls-cert/--tls-key";
  throw new CliError(
    `no broker reachable (${reasons.join(", ")}); check --brokers or STRAND_BROKERS${hint} and that the cluster is up`,
  );
}

/** Parses argv for `c` and builds its invocation; help is reported as null. */
export function prepare(
  c: Command,
  argv: readonly string[],
  signal: AbortSignal,
  env: NodeJS.ProcessEnv,
): { invocation: Invocation | null; close: () => Promise<void> } {
  const parsed = parseArgs(argv, [...c.options, ...GLOBAL_OPTIONS]);
  if (flag(parsed.options, "help")) return { invocation: null, close: async () => undefined };
  const [min, max] = c.arity;
  if (parsed.positionals.length < min)
    throw new UsageError(`strand ${c.path.join(" ")} needs ${c.args}`);
  if (parsed.positionals.length > max)
    throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
  const formatRaw = str(parsed.options, "format") ?? "text";
  if (formatRaw !== "text" && formatRaw !== "json")
    throw new UsageError(`--format must be text or json, got "${formatRaw}"`);
  const format: Format = flag(parsed.options, "json") ? "json" : formatRaw;
  const timeoutMs = int(parsed.options, "timeout-ms", { min: 1, fallback: 5_000 })!;
  const brokers = brokersOf(parsed.options, env);
  const tls = tlsOf(parsed.options, env);
  const auth = authOf(parsed.options, env);
  if (auth !== undefined && tls === undefined)
    throw new UsageError(
      "credentials need TLS (--tls, --tls-ca or STRAND_TLS_CA): they are never sent in plaintext",
    );
  let strand: Strand | null = null;
  const invocation: Invocation = {
    options: parsed.options,
    args: parsed.positionals,
    format,
    signal,
    timeoutMs,
    client: async () => {
      if (strand !== null) return strand;
      await probeBrokers(brokers, Math.min(2_000, timeoutMs), tls);
      strand ??= new Strand({
        brokers,
        clientId: "strand-cli",
        requestTimeoutMs: timeoutMs,
        retry: { initialMs: 50, maxMs: 500 },
        ...(tls === undefined ? {} : { tls }),
        ...(auth === undefined ? {} : { auth }),
      });
      return strand;
    },
  };
  return { invocation, close: async () => strand?.close() };
}
