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
  DriverClosedError,
  NotLeaderError,
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
export { type LogFields, type Logger, noopLogger } from "./driver/logger.ts";
