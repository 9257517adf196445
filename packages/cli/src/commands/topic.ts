/**
 * `strand topic create | list | describe | delete | alter-config | add-partitions`. Describe shows, per
 * partition, the leader, leader epoch, replicas, ISR, and the log start and high watermark
 * (ListOffsets earliest/latest at the leader), then the topic's non-default configs.
 */
import { StrandClientError, type TopicDescription } from "@strand/client";
import { flag, int, keyValue, list, type OptionSpec, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { EXIT, println, table, toJson } from "../output.ts";

const CONFIG: OptionSpec = {
  name: "config",
  short: "c",
  type: "string",
  multiple: true,
  valueName: "key=value",
  description: "a topic config, e.g. retention.ms=86400000",
};

function configsOf(inv: Invocation): Record<string, string> {
  return Object.fromEntries(list(inv.options, "config").map((c) => keyValue(c, "--config")));
}

const call = (inv: Invocation) => ({ signal: inv.signal, timeoutMs: inv.timeoutMs });

async function create(inv: Invocation): Promise<number> {
  const name = inv.args[0]!;
  const numPartitions = int(inv.options, "partitions", { min: 1, max: 100_000 });
  const replicationFactor = int(inv.options, "replicas", { min: 1, max: 32 });
  const topic = {
    topic: name,
    ...(numPartitions === undefined ? {} : { numPartitions }),
    ...(replicationFactor === undefined ? {} : { replicationFactor }),
    configs: configsOf(inv),
  };
  const admin = (await inv.client()).admin();
  const created = await admin.createTopics([topic], call(inv)).then(
    ([result]) => result,
    (error: unknown) => {
      // Scripts (the chart's provisioning Job, `helm test`) re-run: an existing topic is
      // their goal reached, not a failure. Its settings are left as they are.
      if (flag(inv.options, "if-not-exists") && isTopicExists(error)) return "exists" as const;
      throw error;
    },
  );
  if (created === "exists") {
    if (inv.format === "json") println(toJson({ topic: name, status: "exists" }));
    else println(table(["TOPIC", "ID", "STATUS"], [[name, "", "exists"]]));
    return EXIT.ok;
  }
  if (inv.format === "json") println(toJson(created));
  else println(table(["TOPIC", "ID", "STATUS"], [[name, created?.topicId ?? "", "created"]]));
  return EXIT.ok;
}

function isTopicExists(error: unknown): boolean {
  return error instanceof StrandClientError && error.code.name === "TOPIC_ALREADY_EXISTS";
}

async function listTopics(inv: Invocation): Promise<number> {
  const topics = await (await inv.client()).admin().describeTopics([], call(inv));
  topics.sort((a, b) => a.topic.localeCompare(b.topic));
  if (inv.format === "json") {
    println(
      toJson(
        topics.map((t) => ({
          topic: t.topic,
          topicId: t.topicId,
          partitions: t.partitions.length,
          replicas: t.partitions[0]?.replicas.length ?? 0,
        })),
      ),
    );
    return EXIT.ok;
  }
  println(
    table(
      ["NAME", "PARTITIONS", "REPLICAS"],
      topics.map((t) => [
        t.topic,
        String(t.partitions.length),
        String(t.partitions[0]?.replicas.length ?? 0),
      ]),
    ),
  );
  return EXIT.ok;
}

function partitionRows(t: TopicDescription): string[][] {
  return t.partitions.map((p) => [
    String(p.partition),
    p.leader < 0 ? "none" : String(p.leader),
    String(p.leaderEpoch),
    p.replicas.join(","),
    p.isr.join(","),
    p.logStartOffset < 0n ? "?" : String(p.logStartOffset),
    p.highWatermark < 0n ? "?" : String(p.highWatermark),
  ]);
}

async function describe(inv: Invocation): Promise<number> {
  const name = inv.args[0]!;
  const admin = (await inv.client()).admin();
  const [t] = await admin.describeTopics([name], call(inv));
  const [configs] = await admin.describeConfigs([{ type: "topic", name }], call(inv));
  if (t === undefined) throw new Error(`no description came back for ${name}`);
  const values = configs?.values ?? [];
  if (inv.format === "json") {
    println(toJson({ ...t, configs: values }));
    return EXIT.ok;
  }
  println(
    table(
      ["NAME", "ID", "PARTITIONS", "REPLICAS"],
      [
        [
          t.topic,
          t.topicId,
          String(t.partitions.length),
          String(t.partitions[0]?.replicas.length ?? 0),
        ],
      ],
    ),
  );
  println("");
  println(
    table(
      ["PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "LOG-START", "HIGH-WATERMARK"],
      partitionRows(t),
    ),
  );
  const set = values.filter((v) => v.source === "resource");
  if (set.length > 0) {
    println("");
    println(
      table(
        ["CONFIG", "VALUE"],
        set.map((v) => [v.key, v.value]),
      ),
    );
  }
  return EXIT.ok;
}

async function remove(inv: Invocation): Promise<number> {
  const name = inv.args[0]!;
  await (await inv.client()).admin().deleteTopics([name], call(inv));
  if (inv.format === "json") println(toJson({ topic: name, deleted: true }));
  else println(table(["TOPIC", "STATUS"], [[name, "deleted"]]));
  return EXIT.ok;
}

async function alterConfig(inv: Invocation): Promise<number> {
  const name = inv.args[0]!;
  const changes: Record<string, string | null> = configsOf(inv);
  for (const key of list(inv.options, "delete")) changes[key] = null;
  if (Object.keys(changes).length === 0)
    throw new RangeError("give at least one -c key=value or -d key");
  await (await inv.client())
    .admin()
    .alterConfigs([{ resource: { type: "topic", name }, changes }], call(inv));
  if (inv.format === "json") println(toJson({ topic: name, changes }));
  else
    println(
      table(
        ["TOPIC", "CONFIG", "NEW-VALUE"],
        Object.entries(changes).map(([k, v]) => [name, k, v ?? "(default)"]),
      ),
    );
  return EXIT.ok;
}

async function addPartitions(inv: Invocation): Promise<number> {
  const name = inv.args[0]!;
  const count = int(inv.options, "partitions", { min: 1, max: 100_000 });
  if (count === undefined) throw new UsageError("--partitions N (the new total count) is required");
  const added = await (await inv.client())
    .admin()
    .createPartitions({ topic: name, count }, call(inv));
  const first = count - added.length;
  if (inv.format === "json")
    println(
      toJson({
        topic: name,
        partitions: count,
        added: added.map((replicas, k) => ({ partition: first + k, replicas })),
      }),
    );
  else
    println(
      table(
        ["TOPIC", "PARTITION", "REPLICAS", "STATUS"],
        added.map((replicas, k) => [name, String(first + k), replicas.join(","), "added"]),
      ),
    );
  return EXIT.ok;
}

/** The topic commands. */
export const topicCommands: readonly Command[] = [
  {
    path: ["topic", "create"],
    brief: "create a topic",
    summary: "Creates a topic (partitions and replicas default to the cluster's settings).",
    args: "NAME",
    arity: [1, 1],
    options: [
      { name: "partitions", short: "p", type: "string", valueName: "N", description: "partitions" },
      {
        name: "replicas",
        short: "r",
        type: "string",
        valueName: "N",
        description: "replication factor",
      },
      CONFIG,
      {
        name: "if-not-exists",
        type: "boolean",
        description: "exit 0 when the topic already exists (its settings are not changed)",
      },
    ],
    examples: [
      "strand topic create orders -p 6 -r 3 -c retention.ms=86400000",
      "strand topic create orders -p 6 --if-not-exists",
      "strand topic create users -c cleanup.policy=compact -c delete.retention.ms=3600000",
    ],
    run: create,
  },
  {
    path: ["topic", "list"],
    brief: "list topics",
    summary: "Lists topics with their partition count and replication factor.",
    args: "",
    arity: [0, 0],
    options: [],
    examples: ["strand topic list", "strand topic list --format json"],
    run: listTopics,
  },
  {
    path: ["topic", "describe"],
    brief: "partitions, leaders, ISR, offsets",
    summary:
      "Per partition: leader, leader epoch, replicas, ISR, log start and high watermark; then the topic's own configs.",
    args: "NAME",
    arity: [1, 1],
    options: [],
    examples: ["strand topic describe orders"],
    run: describe,
  },
  {
    path: ["topic", "delete"],
    brief: "delete a topic",
    summary: "Deletes a topic and its data.",
    args: "NAME",
    arity: [1, 1],
    options: [],
    examples: ["strand topic delete orders"],
    run: remove,
  },
  {
    path: ["topic", "alter-config"],
    brief: "set or remove topic configs",
    summary: "Sets (-c key=value) or removes (-d key) topic configs.",
    args: "NAME",
    arity: [1, 1],
    options: [
      CONFIG,
      {
        name: "delete",
        short: "d",
        type: "string",
        multiple: true,
        valueName: "key",
        description: "remove a topic config (back to the cluster default)",
      },
    ],
    examples: ["strand topic alter-config orders -c retention.ms=3600000 -d cleanup.policy"],
    run: alterConfig,
  },
  {
    path: ["topic", "add-partitions"],
    brief: "raise a topic's partition count",
    summary:
      "Raises the topic's partition count to N (partitions are never removed; N must be above the current count). The new partitions are placed like at creation, rack-aware. Keyed records may map to other partitions afterwards.",
    args: "NAME",
    arity: [1, 1],
    options: [
      {
        name: "partitions",
        short: "p",
        type: "string",
        valueName: "N",
        description: "the new total partition count (required)",
      },
    ],
    examples: ["strand topic add-partitions orders --partitions 12"],
    run: addPartitions,
  },
];
