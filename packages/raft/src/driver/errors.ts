/**
 * Typed in-process errors of the Raft driver and its storage. Each carries a stable `code` and
 * a `retriable` flag; the service edge maps them to gRPC statuses (docs/design.md §6).
 */
import type { NodeId, ProposeRefusal } from "../core/types.ts";

/** Base class of the driver's errors. */
export abstract class RaftDriverError extends Error {
  /** Stable machine-readable code. */
  abstract readonly code: string;
  /** Whether trying again (possibly elsewhere) can succeed. */
  abstract readonly retriable: boolean;
}

/**
 * This node is not the leader, or lost leadership before the proposal committed. Retry on
 * `leaderId` (when known). With `maybeCommitted` the entry was appended and may still commit
 * under the new leader: the outcome is unknown, so proposals should be idempotent.
 */
export class NotRaftLeaderError extends RaftDriverError {
  override readonly name = "NotRaftLeaderError";
  readonly code = "NOT_LEADER";
  readonly retriable = true;
  /** The leader this node knows of, or null during an election. */
  readonly leaderId: NodeId | null;
  /** True when the entry had been appended before leadership was lost. */
  readonly maybeCommitted: boolean;

  constructor(leaderId: NodeId | null, maybeCommitted: boolean) {
    const where = leaderId === null ? "no leader is known yet" : `the leader is node ${leaderId}`;
    super(`not the leader: ${where}; retry there${maybeCommitted ? " (outcome unknown)" : ""}`);
    this.leaderId = leaderId;
    this.maybeCommitted = maybeCommitted;
  }
}

/** The leader refused a proposal for a reason other than leadership (back-pressure etc.). */
export class ProposalRefusedError extends RaftDriverError {
  override readonly name = "ProposalRefusedError";
  readonly code = "PROPOSAL_REFUSED";
  /** Every refusal but an invalid voter change clears by itself. */
  readonly retriable: boolean;
  /** The core's reason. */
  readonly reason: ProposeRefusal;

  constructor(reason: ProposeRefusal) {
    super(`proposal refused: ${reason}; retry after a short backoff`);
    this.reason = reason;
    this.retriable = reason !== "invalidChange";
  }
}

/** The driver is closed or stopped after a fatal error; its outcome for the request is unknown. */
export class DriverClosedError extends RaftDriverError {
  override readonly name = "DriverClosedError";
  readonly code = "DRIVER_CLOSED";
  readonly retriable = true;

  constructor(why: string) {
    super(`raft driver closed: ${why}; retry on another node`);
  }
}

/** The storage directory is unusable (wrong node, corrupt metadata, failed I/O). Not retriable. */
export class RaftStorageError extends RaftDriverError {
  override readonly name = "RaftStorageError";
  readonly code = "RAFT_STORAGE";
  readonly retriable = false;
}

/** A proposal whose payload the application's entry validator refused; never retriable. */
export class InvalidEntryError extends RaftDriverError {
  override readonly name = "InvalidEntryError";
  readonly code = "INVALID_ENTRY";
  readonly retriable = false;

  constructor(why: string) {
    super(`proposal refused: invalid entry: ${why}`);
  }
}
