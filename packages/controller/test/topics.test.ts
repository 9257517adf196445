// Goal: createTopic follows Kafka's topic name rules (1..249 of [a-zA-Z0-9._-], not "." or
// "..", no '.'/'_' collision), refuses duplicates, bad partition counts and bad configs, and
// writes nothing in validateOnly mode; deleteTopic removes the topic with its partitions and
// configs and a re-created topic gets a new id; alterConfigs validates keys and values.
import { describe, expect, it } from "vitest";
import { EMPTY_IMAGE } from "../src/image.ts";
import { describeConfigs, describeTopic, listTopics } from "../src/queries.ts";
import { deriveTopicId } from "../src/topics.ts";
import { metadataOffset } from "../src/types.ts";
import { topicNameError } from "../src/validation.ts";
import { TestCluster } from "./helpers.ts";

function cluster(): TestCluster {
  const c = new TestCluster();
  for (const id of [1, 2, 3]) c.addBroker(id, 0);
  return c;
}

describe("topic names", () => {
  it.each([
    ["orders", null],
    ["a", null],
    ["A-b_c.9", null],
    ["x".repeat(249), null],
    ["", "empty"],
    [".", "reserved"],
    ["..", "reserved"],
    ["x".repeat(250), "more than 249"],
    ["has space", "outside"],
    ["slash/name", "outside"],
    ["ünïcode", "outside"],
  ])("%j -> %s", (name, problem) => {
    const error = topicNameError(name);
    if (problem === null) expect(error).toBeNull();
    else expect(error).toContain(problem);
  });

  it("createTopic refuses illegal and colliding names", () => {
    const c = cluster();
    expect(c.createTopic("..", 1, 1).response.errorCode.name).toBe("INVALID_TOPIC_EXCEPTION");
    expect(c.createTopic("a.b", 1, 1).response.errorCode.name).toBe("NONE");
    const clash = c.createTopic("a_b", 1, 1);
    expect(clash.response.errorCode.name).toBe("INVALID_TOPIC_EXCEPTION");
    expect(clash.response.errorMessage).toContain("collides");
    expect(c.createTopic("a.b", 1, 1).response.errorCode.name).toBe("TOPIC_ALREADY_EXISTS");
  });
});

describe("createTopic", () => {
  it("refuses bad partition counts and bad configs, writing nothing", () => {
    const c = cluster();
    const before = c.image;
    expect(c.createTopic("t", 0, 1).response.errorCode.name).toBe("INVALID_PARTITIONS");
    expect(c.createTopic("t", 1.5, 1).response.errorCode.name).toBe("INVALID_PARTITIONS");
    expect(c.createTopic("t", 10_001, 1).response.errorCode.name).toBe("INVALID_PARTITIONS");
    expect(c.createTopic("t", 1, 1, { "no.such.key": "1" }).response.errorCode.name).toBe(
      "INVALID_CONFIG",
    );
    expect(c.createTopic("t", 1, 1, { "retention.ms": "soon" }).response.errorCode.name).toBe(
      "INVALID_CONFIG",
    );
    expect(c.createTopic("t", 1, 1, { "cleanup.policy": "shred" }).response.errorCode.name).toBe(
      "INVALID_CONFIG",
    );
    expect(c.image).toBe(before);
  });

  it("checks explicit assignments", () => {
    const c = cluster();
    const run = (assignments: number[][]) =>
      c.run(
        {
          type: "createTopic",
          name: "t",
          partitionCount: 0,
          replicationFactor: 0,
          assignments: assignments as never,
        },
        0,
      ).response.errorCode.name;
    expect(run([])).toBe("INVALID_REPLICA_ASSIGNMENT");
    expect(run([[1, 2], [3]])).toBe("INVALID_REPLICA_ASSIGNMENT");
    expect(run([[1, 1]])).toBe("INVALID_REPLICA_ASSIGNMENT");
    expect(run([[1, 9]])).toBe("INVALID_REPLICA_ASSIGNMENT");
    expect(
      run([
        [3, 1],
        [1, 2],
      ]),
    ).toBe("NONE");
    expect(describeTopic(c.image, "t")!.partitions.map((p) => p.replicas)).toEqual([
      [3, 1],
      [1, 2],
    ]);
  });

  it("validateOnly answers without writing", () => {
    const c = cluster();
    const r = c.run(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 3,
        replicationFactor: 2,
        validateOnly: true,
      },
      0,
    );
    expect(r.response.errorCode.name).toBe("NONE");
    expect(r.response.assignments).toHaveLength(3);
    expect(r.records).toEqual([]);
  });

  it("writes the topic, its partitions and configs in one batch", () => {
    const c = cluster();
    const r = c.createTopic("t", 2, 3, { "retention.ms": "1000" });
    expect(r.records.map((x) => x.type)).toEqual(["topic", "partition", "partition", "config"]);
    expect(c.log.at(-1)!.records).toBe(r.records);
    const configs = describeConfigs(c.image, { type: "topic", name: "t" });
    expect(configs).toContainEqual({ key: "retention.ms", value: "1000", source: "topic" });
    expect(configs).toContainEqual({ key: "cleanup.policy", value: "delete", source: "default" });
  });
});

describe("deleteTopic", () => {
  it("removes the topic, its partitions and configs; a re-created topic gets a new id", () => {
    const c = cluster();
    const created = c.createTopic("t", 2, 2, { "retention.ms": "1000" });
    const id = created.response.topicId!;
    const r = c.run({ type: "deleteTopic", name: "t" }, 0);
    expect(r.response).toMatchObject({ topicId: id });
    expect(r.records).toEqual([{ type: "removeTopic", topicId: id }]);
    expect(c.image.topicsById.has(id)).toBe(false);
    expect(listTopics(c.image)).toEqual([]);
    expect(c.image.configs.size).toBe(0);
    const again = c.createTopic("t", 1, 1);
    expect(again.response.topicId).not.toBe(id);
    expect(c.run({ type: "deleteTopic", name: "nope" }, 0).response.errorCode.name).toBe(
      "UNKNOWN_TOPIC_OR_PARTITION",
    );
  });
});

describe("alterConfigs", () => {
  it("validates resources, keys and values; null deletes", () => {
    const c = cluster();
    c.createTopic("t", 1, 1);
    const alter = (
      resource: { type: "topic" | "broker" | "cluster"; name: string },
      key: string,
      value: string | null,
    ) =>
      c.run({ type: "alterConfigs", resource, changes: [{ key, value }] }, 0).response.errorCode
        .name;
    expect(alter({ type: "topic", name: "t" }, "min.insync.replicas", "2")).toBe("NONE");
    expect(alter({ type: "topic", name: "t" }, "min.insync.replicas", "0")).toBe("INVALID_CONFIG");
    expect(alter({ type: "topic", name: "missing" }, "retention.ms", "1")).toBe(
      "UNKNOWN_TOPIC_OR_PARTITION",
    );
    expect(alter({ type: "broker", name: "x" }, "retention.ms", "1")).toBe("INVALID_REQUEST");
    expect(alter({ type: "cluster", name: "c" }, "retention.ms", "1")).toBe("INVALID_REQUEST");
    expect(alter({ type: "cluster", name: "" }, "retention.ms", "5")).toBe("NONE");
    const configs = () => describeConfigs(c.image, { type: "topic", name: "t" });
    expect(configs()).toContainEqual({ key: "retention.ms", value: "5", source: "cluster" });
    expect(configs()).toContainEqual({ key: "min.insync.replicas", value: "2", source: "topic" });
    expect(alter({ type: "topic", name: "t" }, "min.insync.replicas", null)).toBe("NONE");
    expect(configs()).toContainEqual({ key: "min.insync.replicas", value: "1", source: "default" });
  });
});

describe("topic settings Strand does not apply, or bad values, are refused, naming the key", () => {
  const create = (configs: Record<string, string>) => cluster().createTopic("t", 1, 1, configs);
  it.each([
    [{ "cleanup.policy": "compact,compact" }, "cleanup.policy", "compact,delete"],
    [{ "cleanup.policy": "shred" }, "cleanup.policy", "must be delete, compact"],
    [{ "min.cleanable.dirty.ratio": "1.5" }, "min.cleanable.dirty.ratio", "between 0 and 1"],
    [{ "min.cleanable.dirty.ratio": "-0.1" }, "min.cleanable.dirty.ratio", "between 0 and 1"],
    [{ "min.compaction.lag.ms": "-1" }, "min.compaction.lag.ms", "between 0"],
    [{ "delete.retention.ms": "-1" }, "delete.retention.ms", "between 0"],
    [{ "compression.type": "gzip" }, "compression.type", "as the producer compressed"],
    [{ "message.timestamp.type": "LogAppendTime" }, "message.timestamp.type", "unknown"],
    [{ "segment.bytes": "60" }, "segment.bytes", "between 61 and 2147483647"],
    [{ "segment.bytes": "2147483648" }, "segment.bytes", "between 61"],
    [{ "max.message.bytes": "10" }, "max.message.bytes", "between 61"],
    [{ "segment.ms": "0" }, "segment.ms", "between 1"],
    [{ "retention.ms": "-2" }, "retention.ms", "between -1"],
    [{ "retention.bytes": "9223372036854775808" }, "retention.bytes", "between -1"],
    [{ "flush.messages": "0" }, "flush.messages", "between 1"],
    [{ "flush.ms": "-1" }, "flush.ms", "between 0"],
  ])("%j", (configs, key, why) => {
    const { response } = create(configs);
    expect(response.errorCode.name).toBe("INVALID_CONFIG");
    expect(response.errorMessage).toContain(key);
    expect(response.errorMessage).toContain(why);
  });

  it.each(["compact", "delete", "compact,delete", "delete,compact"])(
    "accepts cleanup.policy=%s",
    (policy) => {
      expect(create({ "cleanup.policy": policy }).response.errorCode.name).toBe("NONE");
    },
  );

  it("accepts the compaction settings at their bounds", () => {
    const { response } = create({
      "min.cleanable.dirty.ratio": "0",
      "min.compaction.lag.ms": "9223372036854775807",
      "delete.retention.ms": "0",
    });
    expect(response.errorCode.name).toBe("NONE");
    expect(create({ "min.cleanable.dirty.ratio": "1" }).response.errorCode.name).toBe("NONE");
  });

  it("accepts every applied setting at its bounds", () => {
    const { response } = create({
      "cleanup.policy": "delete",
      "compression.type": "producer",
      "segment.bytes": "61",
      "segment.ms": "9223372036854775807",
      "retention.ms": "-1",
      "retention.bytes": "-1",
      "flush.messages": "1",
      "flush.ms": "0",
      "max.message.bytes": "2147483647",
      "min.insync.replicas": "1",
      "unclean.leader.election.enable": "true",
    });
    expect(response.errorCode.name).toBe("NONE");
  });

  it("refuses every key on a broker resource: nothing is applied per broker", () => {
    const c = cluster();
    const { response } = c.run(
      {
        type: "alterConfigs",
        resource: { type: "broker", name: "1" },
        changes: [{ key: "segment.bytes", value: "1024" }],
      },
      0,
    );
    expect(response.errorCode.name).toBe("INVALID_CONFIG");
    expect(response.errorMessage).toContain("segment.bytes");
  });
});

describe("topic ids", () => {
  // Goal: ids are unique across clusters — the same name created at the same metadata offset
  // of two clusters gets different ids — and the same in every replay of one cluster's log.
  it("mix the cluster id in", () => {
    const image = (cluster: string | null) => ({
      ...EMPTY_IMAGE,
      clusterId: cluster,
      offset: metadataOffset(7),
    });
    const a = deriveTopicId("orders", image("AAAAAAAAAAAAAAAAAAAAAA"));
    const b = deriveTopicId("orders", image("BBBBBBBBBBBBBBBBBBBBBB"));
    expect(a).not.toBe(b);
    expect(deriveTopicId("orders", image("AAAAAAAAAAAAAAAAAAAAAA"))).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
