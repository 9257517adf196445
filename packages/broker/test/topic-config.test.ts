// Goal: a topic's settings resolve as describeConfigs shows them (topic, then cluster default;
// unset ones left to the node defaults), Kafka's Long.MAX_VALUE "never" maps to storage's
// NEVER, a delta's config changes name the topics to reconfigure, and every value the
// controller accepts for a log setting is one storage accepts, and the reverse, at each bound.
import {
  applyBatch,
  configError,
  EMPTY_IMAGE,
  type MetadataImage,
  type MetadataRecord,
  metadataOffset,
} from "@strand/controller";
import { NEVER, resolveLogConfig } from "@strand/storage";
import { describe, expect, it } from "vitest";
import {
  topicIntConfig,
  topicLogOverrides,
  topicsWithChangedConfigs,
} from "../src/replica/topic-config.ts";

function configRecord(type: "topic" | "cluster", name: string, key: string, value: string | null) {
  return { type: "config", resource: { type, name }, key, value } as const satisfies MetadataRecord;
}

function imageWith(records: MetadataRecord[], base: MetadataImage = EMPTY_IMAGE) {
  return applyBatch(base, records, { offset: metadataOffset(1), epoch: 1 });
}

const LOG_KEYS = [
  "min.compaction.lag.ms",
  "delete.retention.ms",
  "segment.bytes",
  "segment.ms",
  "retention.ms",
  "retention.bytes",
  "flush.messages",
  "flush.ms",
  "max.message.bytes",
];

describe("topic settings from the image", () => {
  it("maps the compaction settings: the policy list in any order, the ratio as a number", () => {
    const { image } = imageWith([
      configRecord("cluster", "", "cleanup.policy", "compact"),
      configRecord("topic", "t", "cleanup.policy", "delete,compact"),
      configRecord("topic", "t", "min.cleanable.dirty.ratio", "0.25"),
      configRecord("topic", "t", "delete.retention.ms", "5000"),
    ]);
    expect(topicLogOverrides(image, "t")).toEqual({
      cleanupPolicy: "compact,delete",
      minCleanableDirtyRatio: 0.25,
      deleteRetentionMs: 5000,
    });
    expect(topicLogOverrides(image, "other")).toEqual({ cleanupPolicy: "compact" });
    expect(resolveLogConfig(topicLogOverrides(image, "t")).cleanupPolicy).toBe("compact,delete");
  });

  it("topic value, else cluster default, else unset; Long.MAX_VALUE is NEVER", () => {
    const { image } = imageWith([
      configRecord("cluster", "", "segment.bytes", "4096"),
      configRecord("cluster", "", "retention.ms", "1000"),
      configRecord("topic", "t", "retention.ms", "2000"),
      configRecord("topic", "t", "flush.ms", "9223372036854775807"),
      configRecord("topic", "t", "min.insync.replicas", "2"),
    ]);
    expect(topicLogOverrides(image, "t")).toEqual({
      segmentBytes: 4096,
      retentionMs: 2000,
      flushMs: NEVER,
    });
    expect(topicLogOverrides(image, "other")).toEqual({ segmentBytes: 4096, retentionMs: 1000 });
    expect(topicIntConfig(image, "t", "min.insync.replicas")).toBe(2);
    expect(topicIntConfig(image, "other", "min.insync.replicas")).toBeUndefined();
  });

  it("names the topics whose configs a delta changed, or all for a cluster default", () => {
    const first = imageWith([configRecord("topic", "a", "segment.bytes", "4096")]);
    expect(topicsWithChangedConfigs(first.delta)).toEqual(new Set(["a"]));
    const second = imageWith([configRecord("cluster", "", "flush.ms", "10")], first.image);
    expect(topicsWithChangedConfigs(second.delta)).toBe("all");
    const removed = imageWith([configRecord("topic", "a", "segment.bytes", null)], first.image);
    expect(topicsWithChangedConfigs(removed.delta)).toEqual(new Set(["a"]));
  });
});

describe("controller and storage agree on every log setting's range", () => {
  /** Whether the storage log takes `key=value` as the broker maps it. */
  function storageAccepts(key: string, value: string): boolean {
    const { image } = imageWith([configRecord("topic", "t", key, value)]);
    try {
      resolveLogConfig(topicLogOverrides(image, "t"));
      return true;
    } catch {
      return false;
    }
  }

  const candidates = ["-2", "-1", "0", "1", "60", "61", "2147483647", "2147483648"];
  candidates.push("9223372036854775807", "9223372036854775808");
  for (const key of LOG_KEYS) {
    it(key, () => {
      for (const value of candidates) {
        const controller = configError("topic", key, value) === null;
        // A value past int64 never reaches a broker; the controller's refusal is what counts.
        if (value === "9223372036854775808") expect(controller, value).toBe(false);
        else expect(controller, `${key}=${value}`).toBe(storageAccepts(key, value));
      }
    });
  }
});
