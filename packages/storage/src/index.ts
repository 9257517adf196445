/**
 * @strand/storage: the partition log. Files only, no network.
 * @packageDocumentation
 */

export { type Clock, systemClock } from "./clock.ts";
export {
  DEFAULT_LOG_CONFIG,
  INT32_MAX,
  type LogConfig,
  NEVER,
  resolveLogConfig,
} from "./config.ts";
export {
  InvalidAppendError,
  InvalidLogConfigError,
  LogOffsetOutOfRangeError,
  LogStorageError,
  RecordTooLargeError,
} from "./errors.ts";
export { offsetFileStem } from "./files.ts";
export {
  OFFSET_INDEX_ENTRY_BYTES,
  OffsetIndex,
  type OffsetIndexEntry,
  TIME_INDEX_ENTRY_BYTES,
  TimeIndex,
  type TimeIndexEntry,
} from "./indexes.ts";
export {
  type EpochEndOffset,
  type EpochEntry,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LeaderEpochCache,
  UNDEFINED_EPOCH,
  UNDEFINED_EPOCH_OFFSET,
} from "./leader-epoch-cache.ts";
export {
  type AppendOptions,
  type AppendResult,
  CLEAN_SHUTDOWN_FILE,
  type DeletionResult,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  Log,
  type LogOptions,
  RECOVERY_POINT_CHECKPOINT_FILE,
  type ReadOptions,
  type ReadResult,
  type RecoveryReport,
  type TimestampOffset,
  type TruncationResult,
} from "./log.ts";
export {
  intervalScheduler,
  LOCK_FILE,
  LogManager,
  type LogManagerOptions,
  parseTopicPartitionDir,
  type Scheduler,
  type TopicPartition,
  topicPartitionDir,
} from "./log-manager.ts";
