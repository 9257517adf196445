/**
 * The logging seam of every library package. Library code never prints: it calls an injected
 * logger whose shape matches pino's `(fields, message)` methods, so the broker and the CLI can
 * pass a pino (child) logger as is and tests can pass a recorder. Only broker and CLI depend
 * on pino; this package must not.
 */

/** Structured fields of one log line (pino's merging object). */
export type LogFields = Readonly<Record<string, unknown>>;

/** One logging method: structured fields first, then a human message (pino's order). */
export type LogMethod = (fields: LogFields, message: string) => void;

/** A structured, pino-compatible logger. */
export interface Logger {
  /** Detail useful only while debugging. */
  readonly debug: LogMethod;
  /** Normal lifecycle events. */
  readonly info: LogMethod;
  /** Something was wrong and was repaired or retried. */
  readonly warn: LogMethod;
  /** Something failed and needs an operator or the caller. */
  readonly error: LogMethod;
}

/** A logger that can derive loggers adding `bindings` to every line (pino's `child`). */
export interface ChildLogger extends Logger {
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): ChildLogger;
}

const noop: LogMethod = () => {};

/** A logger that drops everything: the default when the caller injects none. */
export const noopLogger: ChildLogger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: (): ChildLogger => noopLogger,
});
