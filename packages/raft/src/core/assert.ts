/**
 * Assertions that stay on in production: a broken invariant in the consensus core means the
 * node must stop rather than risk acknowledging a write it cannot keep (TigerBeetle's rule).
 */

/** Thrown when an internal invariant of the Raft core does not hold. Never retriable. */
export class AssertionFailure extends Error {
  /** Stable error name for logs. */
  override readonly name = "AssertionFailure";
  /** A broken invariant is a bug, not a transient condition. */
  readonly retriable = false;
}

/**
 * Throws an {@link AssertionFailure} when `condition` is false.
 * @param condition - the invariant that must hold
 * @param message - what broke, for the crash report
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}
