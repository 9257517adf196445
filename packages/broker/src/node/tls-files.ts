/**
 * One listener's TLS material (certificate chain, private key, CA) read from files and re-read
 * periodically, so a renewed certificate applies to new connections without a restart. A new
 * set of files is taken only when it is usable (the key matches the certificate, every PEM
 * parses); otherwise the last good set stays and one warning names the problem, because a
 * half-written renewal must not take a listener down.
 *
 * It is a grpc-js `CertificateProvider` (grpc-js swaps the gRPC server's secure context and
 * the node-to-node channels' on each update, no re-bind) and tells other listeners (the admin
 * HTTPS server) through {@link TlsFiles.onChange}.
 */
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { experimental } from "@grpc/grpc-js";
import type { Logger } from "@strand/base";

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Where a listener's TLS files are. */
export interface TlsFilePaths {
  readonly certFile: string;
  readonly keyFile: string;
  /** Empty: no CA (the listener does not verify client certificates). */
  readonly caFile: string;
}

/** One consistent set of TLS material. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
}

/** A TLS file problem at start-up: the node refuses to start with it. */
export class TlsFilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsFilesError";
  }
}

/** See the module comment. */
export class TlsFiles implements CertificateProvider {
  readonly paths: TlsFilePaths;
  #material: TlsMaterial;
  #digest: string;
  #timer: NodeJS.Timeout | null = null;
  #lastError = "";
  readonly #logger: Logger;
  readonly #ca = new Set<CaListener>();
  readonly #identity = new Set<IdentityListener>();
  readonly #changes = new Set<(m: TlsMaterial) => void>();

  /** Reads the files now; throws {@link TlsFilesError} when they are unusable. */
  constructor(paths: TlsFilePaths, logger: Logger) {
    this.paths = paths;
    this.#logger = logger;
    const read = readMaterial(paths);
    this.#material = read.material;
    this.#digest = read.digest;
  }

  /** The material in use now. */
  get material(): TlsMaterial {
    return this.#material;
  }

  /** Re-reads the files every `intervalMs` (unref'd: it never keeps the process alive). */
  watch(intervalMs: number): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.reload(), intervalMs);
    this.#timer.unref();
  }

  /** Stops re-reading. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Re-reads the files; applies them when they changed and are usable. */
  reload(): void {
    let read: { material: TlsMaterial; digest: string };
    try {
      read = readMaterial(this.paths);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      if (why !== this.#lastError)
        this.#logger.warn({ err: why }, "TLS files unusable; keeping the previous certificate");
      this.#lastError = why;
      return;
    }
    this.#lastError = "";
    if (read.digest === this.#digest) return;
    this.#material = read.material;
    this.#digest = read.digest;
    this.#logger.info({ cert: this.paths.certFile }, "TLS certificate reloaded");
    this.#publish();
  }

  /** Calls `listener` with every new material set (not the current one). */
  onChange(listener: (m: TlsMaterial) => void): () => void {
    this.#changes.add(listener);
    return () => this.#changes.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#ca.add(listener);
    process.nextTick(() => listener(this.#caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#ca.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.add(listener);
    process.nextTick(() => listener(this.#identityUpdate()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.delete(listener);
  }

  #caUpdate() {
    const ca = this.#material.ca;
    return ca === null ? null : { caCertificate: ca };
  }

  #identityUpdate() {
    return { certificate: this.#material.cert, privateKey: this.#material.key };
  }

  #publish(): void {
    for (const l of this.#identity) l(this.#identityUpdate());
    for (const l of this.#ca) l(this.#caUpdate());
    for (const l of this.#changes) l(this.#material);
  }
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TlsFilesError(`cannot read TLS ${what} ${path}: ${(error as Error).message}`);
  }
}

/** Reads and checks one set; the digest tells a change from a re-read of the same files. */
function readMaterial(paths: TlsFilePaths): { material: TlsMaterial; digest: string } {
  const cert = readFile(paths.certFile, "certificate");
  const key = readFile(paths.keyFile, "key");
  const ca = paths.caFile === "" ? null : readFile(paths.caFile, "CA file");
  try {
    const leaf = new X509Certificate(cert);
    if (Date.parse(leaf.validTo) < Date.now())
      throw new Error(`certificate expired on ${leaf.validTo}`);
    if (ca !== null) new X509Certificate(ca);
    // Throws when the key does not match the certificate (a renewal caught half-written).
    createSecureContext({ cert, key, ...(ca === null ? {} : { ca }) });
  } catch (error) {
    throw new TlsFilesError(`TLS files ${paths.certFile}: ${(error as Error).message}`);
  }
  const digest = createHash("sha256")
    .update(cert)
    .update(key)
    .update(ca ?? "")
    .digest("hex");
  return { material: { cert, key, ca }, digest };
}
