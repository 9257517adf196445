/**
 * The logging seam of the storage package. Library code never prints: it calls an injected
 * logger whose shape matches pino's `(obj, msg)` methods, so the broker can pass a pino child
 * logger (with topic/partition fields) and tests can pass a recorder.
 */

/** One logging method: structured fields first, then a human message (pino's order). */
export type LogMethod = (obj: object, msg: string) => void;

/** Structured logger interface, compatible with pino. */
export interface Logger {
  /** Detail useful only while debugging. */
  readonly debug: LogMethod;
  /** Normal lifecycle events (segment rolled, log opened). */
  readonly info: LogMethod;
  /** Something was wrong on disk and was repaired (recovery truncated, index rebuilt). */
  readonly warn: LogMethod;
  /** Something failed and needs an operator (a log went offline). */
  readonly error: LogMethod;
}

const noop: LogMethod = () => {};

/** A logger that drops everything: the default when the caller injects none. */
export const noopLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
});

/** A clock returning wall-clock milliseconds; injected so tests control time. */
export type Clock = () => number;

/** The default clock: `Date.now`, used only when the caller injects none. */
export const systemClock: Clock = () => Date.now();
