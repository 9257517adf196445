/**
 * The logger the SDK writes to: the shape of pino's (`logger.warn({ topic }, "message")`,
 * `logger.child({ component })`), so a pino logger can be passed as is. The default discards
 * everything: a library never prints on its own.
 */

/** Structured fields of one log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger (pino-compatible). */
export interface Logger {
  /** Detail for debugging. */
  debug(fields: LogFields, message: string): void;
  /** Normal events (connections, metadata changes). */
  info(fields: LogFields, message: string): void;
  /** Recoverable problems (retries, leader changes). */
  warn(fields: LogFields, message: string): void;
  /** Failures reported to the caller. */
  error(fields: LogFields, message: string): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

const noop = (): void => undefined;

/** A logger that discards everything (the default). */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
});
