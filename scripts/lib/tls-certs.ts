/**
 * Certificates and node flags for a local mTLS cluster, shared by the multi-process tests
 * (test/tls-attacks.test.ts) and the cluster benchmark's `--tls` run. The certificates come
 * from `strand cert cluster` (openssl), run from the TypeScript sources as the launcher runs
 * nodes; every listener then requires a certificate from that CA.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "packages/cli/src/main.ts");

/** PEM files of one certificate holder. */
export interface CertPair {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Writes a CA, `node-1..nodes` and client `admin` certificates into `dir` (`strand cert
 * cluster`); throws with openssl's words when it fails.
 */
export function makeClusterCertificates(dir: string, nodes: number): void {
  execFileSync(process.execPath, [bin, "cert", "cluster", "--dir", dir, "--nodes", String(nodes)], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 60_000,
  });
}

/** The CA and `who`'s certificate and key from `dir` (`who`: `node-2`, `admin`). */
export function certPair(dir: string, who: string): CertPair {
  return {
    ca: readFileSync(join(dir, "ca.crt")),
    cert: readFileSync(join(dir, `${who}.crt`)),
    key: readFileSync(join(dir, `${who}.key`)),
  };
}

/** Which listeners {@link tlsNodeFlags} puts on TLS, and how the client listener asks for certificates. */
export interface TlsListeners {
  /** `listeners.client.tls.client.auth`; null: the client listener stays plaintext. */
  readonly client: "none" | "requested" | "required" | null;
  /** HTTPS on the admin listener, requiring a client certificate. */
  readonly admin: boolean;
}

/**
 * `server start` flags for node `id` with mTLS on the internal listener and TLS on the others
 * as `listeners` says, certificates from `dir` (`strand cert cluster`). `id` may be the
 * placeholder `{node.id}`, which every node resolves to its own id (the same flags for all).
 */
export function tlsNodeFlags(
  dir: string,
  id: number | "{node.id}",
  listeners: TlsListeners,
): string[] {
  const ca = join(dir, "ca.crt");
  const crt = join(dir, `node-${id}.crt`);
  const key = join(dir, `node-${id}.key`);
  const listener = (name: string) => [
    ...[`--listeners.${name}.tls.cert.file`, crt, `--listeners.${name}.tls.key.file`, key],
    ...[`--listeners.${name}.tls.ca.file`, ca],
  ];
  const client = listeners.client;
  return [
    ...listener("internal"),
    ...(client === null
      ? []
      : [...listener("client"), "--listeners.client.tls.client.auth", client]),
    ...(listeners.admin
      ? [...listener("admin"), "--listeners.admin.tls.client.auth", "required"]
      : []),
  ];
}

/**
 * `server start` flags for node `id` with TLS on every listener, each requiring a client
 * certificate from the CA in `dir` (mTLS on internal, client and admin).
 */
export function mtlsNodeFlags(dir: string, id: number | "{node.id}"): string[] {
  return tlsNodeFlags(dir, id, { client: "required", admin: true });
}
