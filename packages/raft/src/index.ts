/**
 * @strand/raft: Raft consensus as a pure, deterministic core plus a driver that binds it to
 * disk (FileStorage), clock and a transport (in-memory or gRPC). See docs/raft.md.
 * @packageDocumentation
 */
export * from "./core/index.ts";
export {
  DecodeError,
  DIRECTORY_ID_BYTES_MAX,
  VOTERS_MAX,
} from "./driver/codec.ts";
export {
  type CoreOptions,
  DEFAULT_COMPACTION_LAG_ENTRIES,
  DEFAULT_INBOX_INPUTS_MAX,
  DEFAULT_SNAPSHOT_EVERY_ENTRIES,
  DEFAULT_TICK_MS,
  type DriverStorage,
  type LeaderInfo,
  type Proposed,
  RaftDriver,
  type RaftDriverOptions,
  realScheduler,
  type Scheduler,
  type StateMachine,
  type TimerHandle,
} from "./driver/driver.ts";
export {
  DriverClosedError,
  NotRaftLeaderError,
  ProposalRefusedError,
  RaftDriverError,
  RaftStorageError,
} from "./driver/errors.ts";
export {
  DEFAULT_ENTRY_BYTES_MAX,
  DEFAULT_LOG_BYTES_MAX,
  DEFAULT_SNAPSHOT_BYTES_MAX,
  FileStorage,
  type FileStorageOptions,
  type StorageMeta,
} from "./driver/file-storage.ts";
export {
  addRaftService,
  DEFAULT_BATCH_BYTES_MAX,
  DEFAULT_BATCH_MESSAGES_MAX,
  DEFAULT_PEER_QUEUE_MESSAGES_MAX,
  DEFAULT_RPC_TIMEOUT_MS,
  GrpcTransport,
  type GrpcTransportOptions,
  type GrpcTransportStats,
  INCOMING_BATCH_MESSAGES_MAX,
} from "./transport/grpc.ts";
export { InMemoryNetwork, InMemoryTransport } from "./transport/memory.ts";
export type { ReceiveHandler, Transport } from "./transport/transport.ts";
export {
  InvalidMessageError,
  int64FromWire,
  messageFromWire,
  messageToWire,
  WIRE_ENTRIES_MAX,
} from "./transport/wire.ts";
