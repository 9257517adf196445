/**
 * The controller's invariant checks: assertions that stay on in production, as in the Raft
 * core. A broken invariant in a metadata handler would be committed to the log and replayed
 * by every node, so the controller stops instead of writing it.
 *
 * It is the protocol's assert, not the Raft core's: the broker replays controller code
 * (MetadataDelta) and rethrows protocol `AssertionFailure`s instead of treating them as
 * per-partition errors. One seam so the controller can switch to a shared assert at once.
 */
export { AssertionFailure, assert } from "@strand/protocol";
