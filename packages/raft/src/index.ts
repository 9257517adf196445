/**
 * @strand/raft: Raft consensus as a pure, deterministic core plus a driver that binds it to
 * disk (FileStorage), clock and a transport (in-memory or gRPC). See docs/raft.md.
 *
 * Exports only what other packages (the controller, cross-package tests, scripts) use; the
 * simulator has its own entry point (`@strand/raft/sim`) and raft's own tests import its
 * modules by relative path.
 * @packageDocumentation
 */
export {
  type DirectoryId,
  directoryId,
  type Entry,
  type Index,
  index,
  type NodeId,
  nodeId,
  type ReplicaKey,
  type SnapshotMeta,
  term,
  type VoterChange,
} from "./core/index.ts";
export {
  type CoreOptions,
  type EntryValidator,
  type LeaderInfo,
  RaftDriver,
  realScheduler,
  type Scheduler,
  type StateMachine,
  type TimerHandle,
} from "./driver/driver.ts";
export {
  InvalidEntryError,
  NotRaftLeaderError,
  ProposalRefusedError,
} from "./driver/errors.ts";
export { FileStorage } from "./driver/file-storage.ts";
export { LogLimiter } from "./driver/log-limiter.ts";
export { addRaftService, GrpcTransport } from "./transport/grpc.ts";
