/**
 * Per-log configuration: Kafka's topic-level log settings, renamed to camelCase with the unit
 * last (segment.bytes -> segmentBytes, retention.ms -> retentionMs). Defaults are Kafka's.
 */
import { BATCH_HEADER_BYTES } from "@strand/protocol";
import { InvalidLogConfigError } from "./errors.ts";

/** Largest value of a signed 32-bit integer: file positions in the offset index are int32. */
export const INT32_MAX = 2 ** 31 - 1;

/** Kafka's `Long.MAX_VALUE` defaults ("never") expressed as the largest safe JS integer. */
export const NEVER = Number.MAX_SAFE_INTEGER;

/** Resolved configuration of one partition log. */
export interface LogConfig {
  /** segment.bytes: roll the active segment before it would exceed this size. */
  readonly segmentBytes: number;
  /** segment.ms: roll the active segment once it is this old (see docs/storage.md). */
  readonly segmentMs: number;
  /** index.interval.bytes: log bytes between two sparse offset-index entries. */
  readonly indexIntervalBytes: number;
  /** retention.ms: delete closed segments whose newest timestamp is older; -1 keeps forever. */
  readonly retentionMs: number;
  /** retention.bytes: delete oldest closed segments while the log is larger; -1 = no limit. */
  readonly retentionBytes: number;
  /** flush.messages: fsync after this many appended messages (offsets) since the last flush. */
  readonly flushMessages: number;
  /** flush.ms: fsync when the last flush is older than this on the next append or tick. */
  readonly flushMs: number;
  /** fsync every append before acknowledging it (Strand extension; Kafka: flush.messages=1). */
  readonly fsyncOnAppend: boolean;
  /** max.message.bytes: largest accepted batch, log overhead included. */
  readonly maxMessageBytes: number;
  /**
   * cleanup.policy: `delete` applies retention.ms/retention.bytes; `compact` keeps the last
   * record per key (the log cleaner) and applies no time or size retention; both do both.
   */
  readonly cleanupPolicy: CleanupPolicy;
  /** min.cleanable.dirty.ratio: clean a compacted log once dirty bytes / all bytes reach it. */
  readonly minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: a record stays uncompacted at least this long after it was written. */
  readonly minCompactionLagMs: number;
  /** delete.retention.ms: how long a tombstone (null value) is kept in a compacted log. */
  readonly deleteRetentionMs: number;
}

/** Values of cleanup.policy, in Kafka's spelling. */
export const CLEANUP_POLICIES = ["delete", "compact", "compact,delete"] as const;

/** A cleanup.policy value. */
export type CleanupPolicy = (typeof CLEANUP_POLICIES)[number];

/** Parses Kafka's cleanup.policy list (any order, "delete,compact" too); undefined if invalid. */
export function parseCleanupPolicy(value: string): CleanupPolicy | undefined {
  const parts = new Set(value.split(",").map((part) => part.trim()));
  if (parts.size === 0 || [...parts].some((part) => part !== "delete" && part !== "compact"))
    return undefined;
  if (parts.size === 2) return "compact,delete";
  return parts.has("compact") ? "compact" : "delete";
}

/** True when the log cleaner compacts logs with this policy. */
export function isCompacted(config: LogConfig): boolean {
  return config.cleanupPolicy !== "delete";
}

/** True when retention.ms / retention.bytes delete segments of logs with this policy. */
export function hasDeleteRetention(config: LogConfig): boolean {
  return config.cleanupPolicy !== "compact";
}

/** Kafka's defaults for every setting. */
export const DEFAULT_LOG_CONFIG: LogConfig = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  flushMessages: NEVER,
  flushMs: NEVER,
  fsyncOnAppend: false,
  maxMessageBytes: 1024 * 1024 + 12,
  cleanupPolicy: "delete",
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  deleteRetentionMs: 24 * 60 * 60 * 1000,
});

interface Range {
  readonly min: number;
  readonly max: number;
}

// A segment must hold at least one batch header; positions are int32 in the offset index.
type IntegerField = Exclude<
  keyof LogConfig,
  "fsyncOnAppend" | "cleanupPolicy" | "minCleanableDirtyRatio"
>;

const RANGES: Readonly<Record<IntegerField, Range>> = {
  segmentBytes: { min: BATCH_HEADER_BYTES, max: INT32_MAX },
  segmentMs: { min: 1, max: NEVER },
  indexIntervalBytes: { min: 0, max: INT32_MAX },
  retentionMs: { min: -1, max: NEVER },
  retentionBytes: { min: -1, max: NEVER },
  flushMessages: { min: 1, max: NEVER },
  flushMs: { min: 0, max: NEVER },
  maxMessageBytes: { min: BATCH_HEADER_BYTES, max: INT32_MAX },
  minCompactionLagMs: { min: 0, max: NEVER },
  deleteRetentionMs: { min: 0, max: NEVER },
};

/**
 * Merges `overrides` over {@link DEFAULT_LOG_CONFIG} and checks every value's range.
 * Throws {@link InvalidLogConfigError} naming the first bad setting.
 */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  for (const [name, range] of Object.entries(RANGES)) {
    const value: unknown = config[name as keyof typeof RANGES];
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      throw new InvalidLogConfigError(`${name} must be an integer, got ${String(value)}`);
    }
    if (value < range.min || value > range.max) {
      throw new InvalidLogConfigError(
        `${name} must be between ${range.min} and ${range.max}, got ${value}`,
      );
    }
  }
  if (typeof config.fsyncOnAppend !== "boolean") {
    throw new InvalidLogConfigError("fsyncOnAppend must be a boolean");
  }
  if (!(CLEANUP_POLICIES as readonly unknown[]).includes(config.cleanupPolicy)) {
    throw new InvalidLogConfigError(
      `cleanupPolicy must be one of ${CLEANUP_POLICIES.join(", ")}, got ${String(config.cleanupPolicy)}`,
    );
  }
  const ratio: unknown = config.minCleanableDirtyRatio;
  if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1)) {
    throw new InvalidLogConfigError(
      `minCleanableDirtyRatio must be a number between 0 and 1, got ${String(ratio)}`,
    );
  }
  return Object.freeze(config);
}
