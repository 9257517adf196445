/**
 * `strand cert`: a CA and node/client certificates for a local TLS cluster (docs/security.md).
 * node:crypto can make keys but cannot sign certificates, so this drives `openssl` (3.x, from
 * the system); keys are EC P-256, written with mode 0600. A node certificate names its node
 * with the SAN URI `strand:node:<id>` (what the internal listener checks), plus the hosts it
 * serves on (localhost, 127.0.0.1 and ::1 by default) for hostname verification.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { NODE_URI_PREFIX } from "@strand/client";
import {
  flag,
  int,
  list,
  type OptionSpec,
  optionHelp,
  parseArgs,
  str,
  UsageError,
} from "./args.ts";
import { CliError, EXIT, printFailure } from "./output.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "dir",
    type: "string",
    valueName: "DIR",
    description:
      "where the files go; the CA is read from (or written to) DIR/ca.crt, DIR/ca.key (default ./certs)",
  },
  {
    name: "host",
    type: "string",
    multiple: true,
    valueName: "NAME|IP",
    description:
      "a host name or IP the certificate is valid for, beside localhost, 127.0.0.1 and ::1 (repeatable)",
  },
  {
    name: "nodes",
    type: "string",
    valueName: "N",
    description: "cluster: how many node certificates, ids 1..N (default 3)",
  },
  {
    name: "days",
    type: "string",
    valueName: "DAYS",
    description: "validity in days (default 365; the CA 3650)",
  },
  { name: "force", type: "boolean", description: "overwrite existing files" },
  { name: "help", short: "h", type: "boolean", description: "print this help" },
];

const HELP = [
  "usage: strand cert <ca|node ID|client NAME|cluster> [options]",
  "",
  "Generates certificates for a local TLS cluster with openssl (docs/security.md):",
  "  ca            a CA: DIR/ca.crt and DIR/ca.key",
  `  node ID       DIR/node-ID.crt/.key signed by the CA, naming node ID (SAN URI ${NODE_URI_PREFIX}ID)`,
  "  client NAME   DIR/NAME.crt/.key signed by the CA (CN NAME), for SDK and CLI mTLS",
  "  cluster       a CA (unless DIR has one), node-1..N and client 'admin'",
  "",
  "options:",
  ...optionHelp(OPTIONS),
  "",
  "examples:",
  "  strand cert cluster --dir certs --nodes 3",
  "  strand cert node 4 --dir certs --host strand-3.strand.svc",
  "  strand cert client alice --dir certs",
].join("\n");

/** What to make. */
interface CertOptions {
  readonly dir: string;
  readonly hosts: readonly string[];
  readonly days: number | undefined;
  readonly force: boolean;
}

/** Runs `strand cert ...`; exits with the command's code. */
export function certCommand(argv: readonly string[]): void {
  try {
    process.exitCode = runCert(argv);
  } catch (error) {
    const usage = error instanceof UsageError;
    printFailure(error instanceof Error ? error.message : String(error));
    process.exitCode = usage ? EXIT.usage : EXIT.failed;
  }
}

function runCert(argv: readonly string[]): number {
  const parsed = parseArgs(argv, OPTIONS);
  const [what, name, ...extra] = parsed.positionals;
  if (flag(parsed.options, "help") || what === undefined) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const o: CertOptions = {
    dir: str(parsed.options, "dir") ?? "certs",
    hosts: list(parsed.options, "host"),
    days: int(parsed.options, "days", { min: 1 }),
    force: flag(parsed.options, "force"),
  };
  mkdirSync(o.dir, { recursive: true });
  const made: string[] = [];
  switch (what) {
    case "ca":
      made.push(makeCa(o));
      break;
    case "node":
      made.push(makeNode(o, nodeIdOf(name)));
      break;
    case "client":
      if (name === undefined || !/^[A-Za-z0-9._-]{1,64}$/.test(name))
        throw new UsageError("strand cert client needs a NAME of letters, digits, . _ -");
      made.push(makeClient(o, name));
      break;
    case "cluster": {
      if (name !== undefined) throw new UsageError(`unexpected argument "${name}"`);
      const nodes = int(parsed.options, "nodes", { min: 1, max: 1000, fallback: 3 }) ?? 3;
      if (!existsSync(join(o.dir, "ca.crt"))) made.push(makeCa(o));
      for (let id = 1; id <= nodes; id++) made.push(makeNode(o, id));
      made.push(makeClient(o, "admin"));
      break;
    }
    default:
      throw new UsageError(`strand cert: unknown kind "${what}" (ca, node, client or cluster)`);
  }
  process.stdout.write(`${made.join("\n")}\n`);
  return EXIT.ok;
}

function nodeIdOf(text: string | undefined): number {
  if (text === undefined || !/^[0-9]{1,10}$/.test(text) || Number(text) > 2 ** 31 - 1)
    throw new UsageError("strand cert node needs the node's id (0 .. 2147483647)");
  return Number(text);
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT")
      throw new CliError("strand cert needs openssl on the PATH (apt-get install openssl)");
    throw new CliError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

function refuseOverwrite(o: CertOptions, ...paths: string[]): void {
  const existing = paths.find((p) => existsSync(p));
  if (existing !== undefined && !o.force)
    throw new CliError(`${existing} exists; pass --force to overwrite it`);
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function makeCa(o: CertOptions): string {
  const crt = join(o.dir, "ca.crt");
  const key = join(o.dir, "ca.key");
  refuseOverwrite(o, crt, key);
  openssl([
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    key,
    "-out",
    crt,
    "-days",
    String(o.days ?? 3650),
    "-subj",
    "/CN=strand-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  chmodSync(key, 0o600);
  return crt;
}

function makeNode(o: CertOptions, id: number): string {
  const sans = [`URI:${NODE_URI_PREFIX}${id}`, ...hostSans(o.hosts)];
  return sign(o, `node-${id}`, `node-${id}`, sans, "serverAuth,clientAuth");
}

function makeClient(o: CertOptions, name: string): string {
  return sign(o, name, name, hostSans(o.hosts), "clientAuth");
}

function hostSans(extra: readonly string[]): string[] {
  const hosts = [...new Set(["localhost", "127.0.0.1", "::1", ...extra])];
  return hosts.map((h) => (isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`));
}

/** A key and a certificate for `cn`, signed by DIR/ca.*; returns the certificate's path. */
function sign(o: CertOptions, file: string, cn: string, sans: string[], eku: string): string {
  const caCrt = join(o.dir, "ca.crt");
  const caKey = join(o.dir, "ca.key");
  if (!existsSync(caCrt) || !existsSync(caKey))
    throw new CliError(`no CA in ${o.dir} (ca.crt, ca.key): run strand cert ca --dir ${o.dir}`);
  const crt = join(o.dir, `${file}.crt`);
  const key = join(o.dir, `${file}.key`);
  refuseOverwrite(o, crt, key);
  const csr = join(o.dir, `${file}.csr`);
  const ext = join(o.dir, `${file}.ext`);
  writeFileSync(
    ext,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${eku}\n${sans.length === 0 ? "" : `subjectAltName=${sans.join(",")}\n`}`,
  );
  try {
    openssl(["req", "-new", ...EC_KEY, "-keyout", key, "-out", csr, "-subj", `/CN=${cn}`]);
    chmodSync(key, 0o600);
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      caCrt,
      "-CAkey",
      caKey,
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-days",
      String(o.days ?? 365),
      "-extfile",
      ext,
      "-out",
      crt,
    ]);
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
  return crt;
}
