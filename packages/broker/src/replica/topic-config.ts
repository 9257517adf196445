/**
 * Topic settings from the metadata image, resolved as `describeConfigs` shows them: the topic's
 * own value, else the cluster-wide default; a setting set on neither is left to the node's
 * static defaults (`log.segment.bytes`, ... in the LogManager's default config). The controller
 * validated every value against storage's ranges (packages/controller/src/validation.ts).
 */
import { configResourceKey, type MetadataDelta, type MetadataImage } from "@strand/controller";
import { type LogConfig, NEVER, parseCleanupPolicy } from "@strand/storage";

/** The integer LogConfig fields a topic setting can set. */
type NumericLogField = Exclude<
  keyof LogConfig,
  "fsyncOnAppend" | "cleanupPolicy" | "minCleanableDirtyRatio"
>;

/** Topic config key -> the LogConfig field it sets. */
const LOG_SETTINGS: ReadonlyArray<readonly [string, NumericLogField]> = [
  ["segment.bytes", "segmentBytes"],
  ["segment.ms", "segmentMs"],
  ["retention.ms", "retentionMs"],
  ["retention.bytes", "retentionBytes"],
  ["flush.messages", "flushMessages"],
  ["flush.ms", "flushMs"],
  ["max.message.bytes", "maxMessageBytes"],
  ["min.compaction.lag.ms", "minCompactionLagMs"],
  ["delete.retention.ms", "deleteRetentionMs"],
];

const CLUSTER_KEY = configResourceKey({ type: "cluster", name: "" });

/** A topic's setting: its own value, else the cluster default, else undefined. */
export function topicConfigValue(
  image: MetadataImage,
  topic: string,
  key: string,
): string | undefined {
  return (
    image.configs.get(configResourceKey({ type: "topic", name: topic }))?.get(key) ??
    image.configs.get(CLUSTER_KEY)?.get(key)
  );
}

/**
 * A topic's integer setting (see {@link topicConfigValue}). Values past 2^53 (Kafka's
 * Long.MAX_VALUE "never") become storage's {@link NEVER}; a non-integer is undefined.
 */
export function topicIntConfig(
  image: MetadataImage,
  topic: string,
  key: string,
): number | undefined {
  const value = topicConfigValue(image, topic, key);
  if (value === undefined || !/^-?\d+$/.test(value)) return undefined;
  const n = BigInt(value);
  return n > BigInt(NEVER) ? NEVER : Number(n);
}

/** The LogConfig overrides a topic's settings ask for; unset ones stay at the node defaults. */
export function topicLogOverrides(image: MetadataImage, topic: string): Partial<LogConfig> {
  const overrides: { -readonly [K in keyof LogConfig]?: LogConfig[K] } = {};
  for (const [key, field] of LOG_SETTINGS) {
    const value = topicIntConfig(image, topic, key);
    if (value !== undefined) overrides[field] = value;
  }
  const policy = topicConfigValue(image, topic, "cleanup.policy");
  const parsedPolicy = policy === undefined ? undefined : parseCleanupPolicy(policy);
  if (parsedPolicy !== undefined) overrides.cleanupPolicy = parsedPolicy;
  const ratio = topicConfigValue(image, topic, "min.cleanable.dirty.ratio");
  if (ratio !== undefined && DECIMAL.test(ratio)) overrides.minCleanableDirtyRatio = Number(ratio);
  return overrides;
}

/** A plain decimal number (the controller checked the range). */
const DECIMAL = /^\d+(\.\d+)?$/;

/**
 * Which local topics a delta's config changes concern: "all" when a cluster default changed,
 * else the names of topics whose own configs changed (empty: none).
 */
export function topicsWithChangedConfigs(delta: MetadataDelta): "all" | ReadonlySet<string> {
  const topics = new Set<string>();
  for (const key of delta.changedConfigs) {
    if (key === CLUSTER_KEY) return "all";
    const prefix = configResourceKey({ type: "topic", name: "" });
    if (key.startsWith(prefix)) topics.add(key.slice(prefix.length));
  }
  return topics;
}
