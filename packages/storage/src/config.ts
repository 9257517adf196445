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
});

interface Range {
  readonly min: number;
  readonly max: number;
}

// A segment must hold at least one batch header; positions are int32 in the offset index.
const RANGES: Readonly<Record<Exclude<keyof LogConfig, "fsyncOnAppend">, Range>> = {
  segmentBytes: { min: BATCH_HEADER_BYTES, max: INT32_MAX },
  segmentMs: { min: 1, max: NEVER },
  indexIntervalBytes: { min: 0, max: INT32_MAX },
  retentionMs: { min: -1, max: NEVER },
  retentionBytes: { min: -1, max: NEVER },
  flushMessages: { min: 1, max: NEVER },
  flushMs: { min: 0, max: NEVER },
  maxMessageBytes: { min: BATCH_HEADER_BYTES, max: INT32_MAX },
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
  return Object.freeze(config);
}
