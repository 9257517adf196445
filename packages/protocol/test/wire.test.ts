// Goal: the one wire module holds its contract: every service loads from the embedded
// descriptor, both listeners' options carry their documented limit, the validators refuse
// bad fields with InvalidArgumentError naming the field, and the topic-name rule is Kafka's.
import { describe, expect, it } from "vitest";
import {
  CLIENT_MESSAGE_BYTES_MAX,
  CLIENT_REQUEST_ITEMS_MAX,
  clientChannelOptions,
  clientServerOptions,
  INTERNAL_MESSAGE_BYTES_MAX,
  INTERNAL_REQUEST_ITEMS_MAX,
  InvalidArgumentError,
  int32Field,
  int64Field,
  internalChannelOptions,
  internalServerOptions,
  isTopicName,
  listField,
  noDuplicates,
  RETRY_AFTER_HEADER,
  strandGrpc,
  stringField,
  topicField,
  topicNameError,
  totalItemsField,
  uint53Field,
} from "../src/index.ts";

describe("package definition", () => {
  it("loads every strand.v1 service once", () => {
    const v1 = strandGrpc().strand.v1;
    for (const service of [
      v1.ProduceService,
      v1.FetchService,
      v1.MetadataService,
      v1.AdminService,
      v1.ControllerService,
      v1.RaftService,
      v1.ReplicationService,
    ])
      expect(Object.keys(service.service).length).toBeGreaterThan(0);
    expect(strandGrpc()).toBe(strandGrpc());
  });

  it("carries int64 as decimal strings without rounding past 2^53", () => {
    const stream = strandGrpc().strand.v1.ProduceService.service.ProduceStream!;
    const back = stream.responseDeserialize(
      stream.responseSerialize({ correlationId: "9007199254740993" }),
    ) as { correlationId: string };
    expect(back.correlationId).toBe("9007199254740993");
  });
});

describe("listener options", () => {
  it("give each listener one message limit", () => {
    expect(clientServerOptions()["grpc.max_receive_message_length"]).toBe(CLIENT_MESSAGE_BYTES_MAX);
    expect(clientChannelOptions()["grpc.max_send_message_length"]).toBe(CLIENT_MESSAGE_BYTES_MAX);
    expect(internalServerOptions()["grpc.max_receive_message_length"]).toBe(
      INTERNAL_MESSAGE_BYTES_MAX,
    );
    expect(internalChannelOptions()["grpc.max_send_message_length"]).toBe(
      INTERNAL_MESSAGE_BYTES_MAX,
    );
    expect(internalChannelOptions(11 << 20)["grpc.max_receive_message_length"]).toBe(11 << 20);
    // The node sizes its client listener from socket.request.max.bytes, capped at the ceiling.
    expect(clientServerOptions(17 << 20)["grpc.max_receive_message_length"]).toBe(17 << 20);
    expect(clientServerOptions(1 << 30)["grpc.max_receive_message_length"]).toBe(
      CLIENT_MESSAGE_BYTES_MAX,
    );
    expect(RETRY_AFTER_HEADER).toBe("strand-retry-after-ms");
  });
});

describe("totalItemsField", () => {
  it("caps a request's nested lists in total, not only per list", () => {
    const topics = [{ partitions: new Array(6_000) }, { partitions: new Array(4_000) }];
    expect(() => totalItemsField(topics, (t) => t.partitions, "topics[].partitions")).not.toThrow();
    topics.push({ partitions: [1] });
    expect(() => totalItemsField(topics, (t) => t.partitions, "topics[].partitions")).toThrow(
      new InvalidArgumentError(
        "topics[].partitions name 10001 items in total; at most 10000 per request (split the request)",
      ),
    );
    // Counts may be numbers (CreateTopics' partition counts); non-lists count 0 (listField
    // reports them).
    expect(() => totalItemsField([9_000, 2_000], (n) => n, "partition_count")).toThrow(/11000/);
    expect(() => totalItemsField([{ p: "x" }], (t) => t.p, "p")).not.toThrow();
  });
});

describe("validators", () => {
  const bad: [string, () => unknown, RegExp][] = [
    ["a fractional int32", () => int32Field(1.5, "partition"), /partition/],
    ["an int32 below min", () => int32Field(0, "port", 1), /port/],
    ["a non-number int32", () => int32Field("1", "partition"), /partition/],
    ["an int64 that is not decimal", () => int64Field("1e3", "offset"), /offset/],
    ["an int64 out of range", () => int64Field("-1", "offset", 0n), /offset/],
    ["a negative uint53", () => uint53Field("-1", "epoch"), /epoch/],
    ["a uint53 past 2^53", () => uint53Field("9007199254740993", "epoch"), /epoch/],
    ["a list that is not a list", () => listField("x" as never, "topics"), /topics/],
    ["a short list", () => listField([], "topics", 1), /at least 1/],
    [
      "a list past the client limit",
      () => listField(new Array(CLIENT_REQUEST_ITEMS_MAX + 1).fill(0), "topics"),
      /at most 10000/,
    ],
    [
      "a list past the internal limit",
      () =>
        listField(
          new Array(INTERNAL_REQUEST_ITEMS_MAX + 1).fill(0),
          "isr",
          0,
          INTERNAL_REQUEST_ITEMS_MAX,
        ),
      /at most 1000/,
    ],
    ["an empty required string", () => stringField("", "host", 1), /host/],
    ["a long string", () => stringField("x".repeat(4097), "value"), /value/],
    ["a bad topic", () => topicField("a/b", "topics[0].name"), /topics\[0\]\.name/],
    ["a duplicate", () => noDuplicates(["t-0", "t-0"], "partition"), /t-0 appears twice/],
  ];
  for (const [what, run, message] of bad) {
    it(`refuse ${what}`, () => {
      expect(run).toThrow(InvalidArgumentError);
      expect(run).toThrow(message);
    });
  }

  it("accept good fields", () => {
    expect(int32Field(7, "p")).toBe(7);
    expect(int64Field("-9223372036854775808", "o")).toBe(-(2n ** 63n));
    expect(uint53Field("42", "e")).toBe(42);
    expect(uint53Field(42, "e")).toBe(42);
    expect(stringField("", "v")).toBe("");
    expect(topicField("a.b_c-1", "t")).toBe("a.b_c-1");
  });
});

describe("topic name rule", () => {
  it("is Kafka's", () => {
    expect(topicNameError("")).toMatch(/empty/);
    expect(topicNameError(".")).toMatch(/reserved/);
    expect(topicNameError("..")).toMatch(/reserved/);
    expect(topicNameError("x".repeat(250))).toMatch(/more than 249/);
    expect(topicNameError("a b")).toMatch(/characters outside/);
    expect(topicNameError("x".repeat(249))).toBeNull();
    expect(isTopicName("orders.v1")).toBe(true);
    expect(isTopicName(3)).toBe(false);
  });
});
