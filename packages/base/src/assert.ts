/**
 * Assertions that stay on in production: a broken invariant means the process must stop
 * rather than risk acknowledging a write it cannot keep (TigerBeetle's rule).
 *
 * This module is imported by the pure Raft core, so it must stay free of clocks, timers,
 * randomness and I/O; it is exported on its own (`@strand/base/assert`) for that reason.
 */

/** Thrown by {@link assert}: a broken internal invariant, i.e. a bug. Never retriable. */
export class AssertionFailure extends Error {
  /** Stable error name for logs. */
  override readonly name = "AssertionFailure";
  /** A broken invariant is a bug, not a transient condition. */
  readonly retriable = false;

  constructor(message: string) {
    super(`assertion failed: ${message}`);
  }
}

/**
 * Throws an {@link AssertionFailure} when `condition` is falsy. A failure is a bug in Strand,
 * not bad input: callers must not catch it as an error path.
 * @param condition - the invariant that must hold
 * @param message - what broke, for the crash report
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}
