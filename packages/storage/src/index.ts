/**
 * @strand/storage: the partition log. Files only, no network.
 *
 * Exports only what other packages use; storage's own tests import modules by path.
 * @packageDocumentation
 */

export type { CleanOptions, CleanResult } from "./cleaner/compact-log.ts";
export { OffsetMap } from "./cleaner/offset-map.ts";
export type { CleanableRange } from "./cleaner/plan.ts";
export {
  CLEANUP_POLICIES,
  type CleanupPolicy,
  DEFAULT_LOG_CONFIG,
  type LogConfig,
  NEVER,
  parseCleanupPolicy,
  resolveLogConfig,
} from "./config.ts";
export { InvalidLogConfigError, LogOffsetOutOfRangeError } from "./errors.ts";
export {
  type EpochEndOffset,
  type EpochEntry,
  LeaderEpochCache,
} from "./leader-epoch-cache.ts";
export { Log } from "./log.ts";
export { type CleanerPassReport, DEFAULT_DEDUPE_BUFFER_BYTES, LogCleaner } from "./log-cleaner.ts";
export {
  type CleanerSettings,
  DEFAULT_CLEANER_INTERVAL_MS,
  DEFAULT_TAIL_CACHE_BYTES,
  LogManager,
} from "./log-manager.ts";
export { TailCacheBudget, type TailCacheStats } from "./tail-cache.ts";
