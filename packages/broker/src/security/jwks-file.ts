/**
 * The JWKS file of `authentication.jwt.jwks.file`, re-read every `tls.reload.interval.ms` like
 * the TLS files: a changed file is applied once it parses and holds a usable key, otherwise
 * the previous set stays in use and one warning is logged per bad version. Rotation: add the
 * new key beside the old one, let issuers switch, then drop the old key.
 */
import { readFileSync, statSync } from "node:fs";
import type { ChildLogger } from "@strand/base";
import { type Jwk, parseJwks } from "./jwt.ts";

/** See the module comment. */
export class JwksFile {
  readonly #path: string;
  readonly #logger: ChildLogger;
  #keys: readonly Jwk[];
  #version = "";
  #timer: NodeJS.Timeout | null = null;

  /** Reads the file now; a missing or bad file throws (the node refuses to start). */
  constructor(path: string, logger: ChildLogger) {
    this.#path = path;
    this.#logger = logger;
    this.#version = this.#stamp();
    try {
      this.#keys = parseJwks(readFileSync(path, "utf8"));
    } catch (error) {
      throw new Error(`authentication.jwt.jwks.file ${path}: ${(error as Error).message}`);
    }
  }

  /** The keys in use. */
  get keys(): readonly Jwk[] {
    return this.#keys;
  }

  /** Re-reads the file every `intervalMs` until {@link close}. */
  watch(intervalMs: number): void {
    this.#timer = setInterval(() => this.reload(), intervalMs);
    this.#timer.unref();
  }

  /** Re-reads the file when it changed; keeps the previous keys on a bad version. */
  reload(): void {
    const stamp = this.#stamp();
    if (stamp === this.#version) return;
    this.#version = stamp;
    try {
      this.#keys = parseJwks(readFileSync(this.#path, "utf8"));
      this.#logger.info({ file: this.#path, keys: this.#keys.length }, "JWKS reloaded");
    } catch (error) {
      this.#logger.warn(
        { file: this.#path, err: (error as Error).message },
        "JWKS file changed but is not usable; keeping the previous keys",
      );
    }
  }

  /** Stops re-reading. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  #stamp(): string {
    const s = statSync(this.#path, { throwIfNoEntry: false });
    return s === undefined ? "missing" : `${s.mtimeMs}:${s.size}:${s.ino}`;
  }
}
