/**
 * Authentication audit (docs/security.md, docs/metrics.md): every refused credential is
 * counted in `strand_authentication_failures_total{listener,mechanism,reason}` and logged as a
 * warning at most once per reason per 10 s, with the count of the lines left out. A log line
 * names the user and the peer, never a password, proof or token.
 */
import type { Logger } from "@strand/base";
import { Counter, type Registry } from "prom-client";

/** How often one reason is logged at most. */
const LOG_INTERVAL_MS = 10_000;

/** One refused authentication. */
export interface AuthFailure {
  readonly mechanism: "mtls" | "scram" | "jwt" | "forwarded" | "none";
  readonly reason: string;
  readonly message: string;
  readonly peer: string;
}

/** See the module comment. */
export class AuthAudit {
  readonly #failures: Counter<"listener" | "mechanism" | "reason">;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #lastLog = new Map<string, { atMs: number; suppressed: number }>();

  constructor(registry: Registry, logger: Logger, now: () => number) {
    this.#failures = new Counter({
      name: "strand_authentication_failures_total",
      help: "Refused authentications on a listener, by mechanism and reason.",
      labelNames: ["listener", "mechanism", "reason"],
      registers: [registry],
    });
    this.#logger = logger;
    this.#now = now;
  }

  /** Counts and (rate-limited) logs one failure on `listener`. */
  failed(listener: string, f: AuthFailure): void {
    this.#failures.inc({ listener, mechanism: f.mechanism, reason: f.reason });
    const key = `${listener}/${f.mechanism}/${f.reason}`;
    const now = this.#now();
    const last = this.#lastLog.get(key);
    if (last !== undefined && now - last.atMs < LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    this.#lastLog.set(key, { atMs: now, suppressed: 0 });
    this.#logger.warn(
      {
        listener,
        mechanism: f.mechanism,
        reason: f.reason,
        peer: f.peer,
        suppressed: last?.suppressed ?? 0,
      },
      `authentication refused: ${f.message}`,
    );
  }
}
