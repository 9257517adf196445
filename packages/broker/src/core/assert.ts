/**
 * Assertions that stay on in production (as in packages/raft/src/core/assert.ts): a broken
 * invariant in the broker core means a partition's replication or producer state is wrong, and
 * acting on it could acknowledge a write the cluster cannot keep or expose data above the high
 * watermark, so the operation stops rather than continues (TigerBeetle's rule).
 *
 * Failures are @strand/protocol's `AssertionFailure`, so the shell's `instanceof` checks
 * (replica/errors.ts, replica/transitions.ts) keep rethrowing them instead of treating them as
 * error paths.
 */
import { AssertionFailure } from "@strand/protocol";

/**
 * Throws an `AssertionFailure` when `condition` is false.
 * @param condition - the invariant that must hold
 * @param message - what broke, for the crash report
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}
