/**
 * Validation of user input to the controller: topic names (Kafka's rules, from protocol's wire
 * module) and dynamic configs (a table of known keys with their value checks). Returns error
 * messages; never throws.
 */
import { BATCH_HEADER_BYTES } from "@strand/protocol";
import type { ConfigResourceType } from "./records.ts";

// The topic-name rule is the wire contract's (one rule for broker, controller and storage).
export { TOPIC_NAME_LENGTH_MAX, topicNameError } from "@strand/protocol";

/**
 * The name under which two topics collide: Kafka metric names replace '.' with '_', so
 * "a.b" and "a_b" cannot both exist.
 */
export function collisionName(name: string): string {
  return name.replaceAll(".", "_");
}

/** One known configuration key. */
export interface ConfigDef {
  /** Why the key exists, one line. */
  readonly doc: string;
  /** The default when nothing is set. */
  readonly defaultValue: string;
  /** Returns an error message for a bad value, or null. */
  readonly check: (value: string) => string | null;
}

/** Largest value of a signed 64-bit integer: Kafka's "never" for time and size settings. */
const LONG_MAX = 2n ** 63n - 1n;
/** Largest signed 32-bit integer: byte sizes stored as file positions or int32 fields. */
const INT_MAX = 2n ** 31n - 1n;

/**
 * An integer in [min, max]. The ranges match storage's `resolveLogConfig`, so a value refused
 * by a broker's log is refused here, at request time, instead (the broker maps values above
 * 2^53 to "never"; a broker test checks the two agree).
 */
function integerBetween(min: bigint, max: bigint): (v: string) => string | null {
  return (v) =>
    /^-?\d+$/.test(v) && BigInt(v) >= min && BigInt(v) <= max
      ? null
      : `must be an integer between ${min} and ${max}`;
}

function onlyValue(value: string, why: string): (v: string) => string | null {
  return (v) => (v === value ? null : `only ${value} is supported: ${why}`);
}

function oneOf(...values: string[]): (v: string) => string | null {
  return (v) => (values.includes(v) ? null : `must be one of ${values.join(", ")}`);
}

/** Kafka's cleanup.policy list: delete, compact, or both (either order). */
function cleanupPolicy(v: string): string | null {
  const parts = v.split(",").map((part) => part.trim());
  const known = parts.every((part) => part === "delete" || part === "compact");
  return known && parts.length <= 2 && new Set(parts).size === parts.length
    ? null
    : "must be delete, compact, or compact,delete";
}

/** A decimal number in [0, 1] (min.cleanable.dirty.ratio). */
function ratioBetweenZeroAndOne(v: string): string | null {
  return /^\d+(\.\d+)?$/.test(v) && Number(v) <= 1 ? null : "must be a number between 0 and 1";
}

const SMALLEST_BATCH = BigInt(BATCH_HEADER_BYTES);

/**
 * The topic-level configuration keys (also settable as cluster-wide defaults). Only keys that
 * take effect are here (docs/configuration.md, "Topic settings"): the log settings reach every
 * replica's log at creation and when altered; min.insync.replicas the leader; unclean leader
 * election the controller. Anything else is refused as unknown.
 */
export const TOPIC_CONFIGS: ReadonlyMap<string, ConfigDef> = new Map<string, ConfigDef>([
  [
    "cleanup.policy",
    {
      doc: "delete old segments, compact (keep the last record per key), or both",
      defaultValue: "delete",
      check: cleanupPolicy,
    },
  ],
  [
    "min.cleanable.dirty.ratio",
    {
      doc: "share of a compacted log not yet cleaned that triggers the cleaner",
      defaultValue: "0.5",
      check: ratioBetweenZeroAndOne,
    },
  ],
  [
    "min.compaction.lag.ms",
    {
      doc: "least time a record stays uncompacted",
      defaultValue: "0",
      check: integerBetween(0n, LONG_MAX),
    },
  ],
  [
    "delete.retention.ms",
    {
      doc: "time a tombstone stays in a compacted log",
      defaultValue: "86400000",
      check: integerBetween(0n, LONG_MAX),
    },
  ],
  [
    "compression.type",
    {
      doc: "compression the broker keeps (producer: as sent)",
      defaultValue: "producer",
      check: onlyValue("producer", "the broker stores batches as the producer compressed them"),
    },
  ],
  [
    "retention.ms",
    {
      doc: "time to keep data, -1 forever",
      defaultValue: "604800000",
      check: integerBetween(-1n, LONG_MAX),
    },
  ],
  [
    "retention.bytes",
    {
      doc: "bytes to keep per partition, -1 unbounded",
      defaultValue: "-1",
      check: integerBetween(-1n, LONG_MAX),
    },
  ],
  [
    "segment.bytes",
    {
      doc: "segment size before a roll",
      defaultValue: "1073741824",
      check: integerBetween(SMALLEST_BATCH, INT_MAX),
    },
  ],
  [
    "segment.ms",
    {
      doc: "segment age before a roll",
      defaultValue: "604800000",
      check: integerBetween(1n, LONG_MAX),
    },
  ],
  [
    "max.message.bytes",
    {
      doc: "largest batch accepted",
      defaultValue: "1048588",
      check: integerBetween(SMALLEST_BATCH, INT_MAX),
    },
  ],
  [
    "min.insync.replicas",
    { doc: "ISR size acks=all needs", defaultValue: "1", check: integerBetween(1n, INT_MAX) },
  ],
  [
    "flush.messages",
    {
      doc: "fsync every N messages",
      defaultValue: "9223372036854775807",
      check: integerBetween(1n, LONG_MAX),
    },
  ],
  [
    "flush.ms",
    {
      doc: "fsync every N ms",
      defaultValue: "9223372036854775807",
      check: integerBetween(0n, LONG_MAX),
    },
  ],
  [
    "unclean.leader.election.enable",
    {
      doc: "allow a leader outside the ISR (may lose acknowledged data)",
      defaultValue: "false",
      check: oneOf("true", "false"),
    },
  ],
]);

/** Config key of unclean leader election (topic, then cluster default, then false). */
export const UNCLEAN_LEADER_ELECTION = "unclean.leader.election.enable";

/** Returns why `key=value` is not valid for a resource type, or null when it is. */
export function configError(
  type: ConfigResourceType,
  key: string,
  value: string | null,
): string | null {
  // The cluster takes the topic keys as defaults; brokers apply no per-broker config yet.
  if (type === "broker")
    return `"${key}" cannot be set per broker; set it on the topic or the cluster`;
  const def = TOPIC_CONFIGS.get(key);
  if (def === undefined) return `unknown config key "${key}"`;
  if (value === null) return null;
  const problem = def.check(value);
  return problem === null ? null : `${key}=${JSON.stringify(value)}: ${problem}`;
}
