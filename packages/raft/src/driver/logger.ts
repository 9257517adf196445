/**
 * The logger the driver, storage and transports log through: pino-compatible (`(obj, msg)`),
 * injected by the node process, a no-op by default. Library code never prints.
 */

/** Structured fields of one log line (pino's merging object). */
export type LogFields = Readonly<Record<string, unknown>>;

/** A pino-compatible logger: pass a pino instance or child logger as is. */
export interface Logger {
  debug(obj: LogFields, msg: string): void;
  info(obj: LogFields, msg: string): void;
  warn(obj: LogFields, msg: string): void;
  error(obj: LogFields, msg: string): void;
}

const ignore = (): void => {};

/** A logger that drops everything (the default). */
export const noopLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
