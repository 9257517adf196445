/**
 * Validation of user input to the controller: topic names (Kafka's rules, from protocol's wire
 * module) and dynamic configs (a table of known keys with their value checks). Returns error
 * messages; never throws.
 */
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

function longAtLeast(min: number): (v: string) => string | null {
  return (v) =>
    /^-?\d+$/.test(v) && BigInt(v) >= BigInt(min) && BigInt(v) < 2n ** 63n
      ? null
      : `must be an integer >= ${min}`;
}

function oneOf(...values: string[]): (v: string) => string | null {
  return (v) => (values.includes(v) ? null : `must be one of ${values.join(", ")}`);
}

/** The topic-level configuration keys (also settable as cluster-wide defaults). */
export const TOPIC_CONFIGS: ReadonlyMap<string, ConfigDef> = new Map<string, ConfigDef>([
  [
    "cleanup.policy",
    { doc: "delete or compact old segments", defaultValue: "delete", check: cleanupPolicy },
  ],
  [
    "compression.type",
    {
      doc: "compression the broker keeps (producer: as sent)",
      defaultValue: "producer",
      check: oneOf("producer", "none", "gzip", "snappy", "lz4", "zstd"),
    },
  ],
  [
    "retention.ms",
    { doc: "time to keep data, -1 forever", defaultValue: "604800000", check: longAtLeast(-1) },
  ],
  [
    "retention.bytes",
    {
      doc: "bytes to keep per partition, -1 unbounded",
      defaultValue: "-1",
      check: longAtLeast(-1),
    },
  ],
  [
    "segment.bytes",
    { doc: "segment size before a roll", defaultValue: "1073741824", check: longAtLeast(1024) },
  ],
  [
    "segment.ms",
    { doc: "segment age before a roll", defaultValue: "604800000", check: longAtLeast(1) },
  ],
  [
    "max.message.bytes",
    { doc: "largest batch accepted", defaultValue: "1048588", check: longAtLeast(0) },
  ],
  [
    "min.insync.replicas",
    { doc: "ISR size acks=all needs", defaultValue: "1", check: longAtLeast(1) },
  ],
  [
    "flush.messages",
    { doc: "fsync every N messages", defaultValue: "9223372036854775807", check: longAtLeast(1) },
  ],
  [
    "flush.ms",
    { doc: "fsync every N ms", defaultValue: "9223372036854775807", check: longAtLeast(0) },
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

function cleanupPolicy(v: string): string | null {
  const parts = v.split(",").map((s) => s.trim());
  const ok = parts.length > 0 && parts.every((p) => p === "delete" || p === "compact");
  return ok ? null : "must be delete, compact or delete,compact";
}

/** Config key of unclean leader election (topic, then cluster default, then false). */
export const UNCLEAN_LEADER_ELECTION = "unclean.leader.election.enable";

/** Returns why `key=value` is not valid for a resource type, or null when it is. */
export function configError(
  type: ConfigResourceType,
  key: string,
  value: string | null,
): string | null {
  // Brokers and the cluster take the topic keys as defaults; broker-only keys come later.
  void type;
  const def = TOPIC_CONFIGS.get(key);
  if (def === undefined) return `unknown config key "${key}"`;
  if (value === null) return null;
  const problem = def.check(value);
  return problem === null ? null : `${key}=${JSON.stringify(value)}: ${problem}`;
}
