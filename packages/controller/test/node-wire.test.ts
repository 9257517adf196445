// Goal: the node's edges hold their contracts without a network: voter lists parse (and bad
// ones are refused with a message naming the item), bootstrap directory ids are stable
// uuids, wire input is validated before any branded constructor could assert, errors carry
// the action and the NOT_CONTROLLER hint, and the state machine turns every Raft entry into
// one metadata batch (Raft's own entries as empty ones) served from a bounded tail.
import { ErrorCode } from "@strand/protocol";
import { directoryId, index, nodeId, term } from "@strand/raft";
import { describe, expect, it } from "vitest";
import { encodeMetadataBatch } from "../src/codec.ts";
import { Controller } from "../src/controller.ts";
import {
  bootstrapDirectoryId,
  errorToWire,
  MetadataStateMachine,
  parseVoters,
} from "../src/node/index.ts";
import {
  alterConfigsFromWire,
  alterPartitionFromWire,
  createTopicFromWire,
  heartbeatFromWire,
  InvalidArgumentError,
  registerBrokerFromWire,
} from "../src/node/wire.ts";

describe("voter configuration", () => {
  it("parses id@host:port lists with optional directory ids", () => {
    const dir = "0c945d48-3396-822d-ab86-ef49c3cac085";
    const v = parseVoters(`1@127.0.0.1:9093,2@[::1]:9094:${dir}`);
    expect(v).toEqual([
      { id: 1, host: "127.0.0.1", port: 9093 },
      { id: 2, host: "::1", port: 9094, dir },
    ]);
  });

  it("refuses bad lists with a message naming the item", () => {
    expect(() => parseVoters("")).toThrow(/--voters/);
    expect(() => parseVoters("1@h:0")).toThrow(/1@h:0/);
    expect(() => parseVoters("0@h:1")).toThrow(/0@h:1/);
    expect(() => parseVoters("1@h:1,1@h:2")).toThrow(/twice/);
    expect(() => parseVoters("x")).toThrow(/"x"/);
  });

  it("derives a stable uuid per node id", () => {
    const a = bootstrapDirectoryId(nodeId(1));
    expect(a).toBe(bootstrapDirectoryId(nodeId(1)));
    expect(a).not.toBe(bootstrapDirectoryId(nodeId(2)));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("wire validation", () => {
  const bad: [string, () => unknown][] = [
    [
      "negative broker id",
      () => registerBrokerFromWire({ brokerId: -1, incarnationId: "i", listeners: [] }),
    ],
    [
      "empty incarnation",
      () => registerBrokerFromWire({ brokerId: 1, incarnationId: "", listeners: [] }),
    ],
    [
      "port 0",
      () =>
        registerBrokerFromWire({
          brokerId: 1,
          incarnationId: "i",
          listeners: [{ name: "c", host: "h", port: 0 }],
        }),
    ],
    [
      "negative epoch",
      () =>
        heartbeatFromWire({
          brokerId: 1,
          brokerEpoch: "-1",
          metadataOffset: "0",
          wantFence: false,
          wantShutdown: false,
        }),
    ],
    [
      "epoch beyond 2^53",
      () =>
        heartbeatFromWire({
          brokerId: 1,
          brokerEpoch: "99999999999999999",
          metadataOffset: "0",
          wantFence: false,
          wantShutdown: false,
        }),
    ],
    [
      "bad topic id",
      () =>
        alterPartitionFromWire({
          brokerId: 1,
          brokerEpoch: "1",
          topicId: "x",
          partition: 0,
          leaderEpoch: 0,
          partitionEpoch: 0,
          isr: [1],
        }),
    ],
    [
      "unspecified config target",
      () =>
        alterConfigsFromWire({
          target: "CONFIG_TARGET_UNSPECIFIED",
          name: "t",
          changes: [],
          validateOnly: false,
        }),
    ],
    [
      "too many partitions in an assignment list",
      () =>
        createTopicFromWire(
          {
            name: "t",
            partitionCount: 1,
            replicationFactor: 1,
            configs: {},
            assignments: Array.from({ length: 1001 }, () => ({ brokerIds: [1] })),
          },
          false,
        ),
    ],
  ];
  for (const [what, run] of bad) {
    it(`refuses ${what}`, () => expect(run).toThrow(InvalidArgumentError));
  }

  it("converts valid input", () => {
    const t = createTopicFromWire(
      {
        name: "t",
        partitionCount: 2,
        replicationFactor: 1,
        configs: { "retention.ms": "1000" },
        assignments: [],
      },
      true,
    );
    expect(t).toEqual({
      type: "createTopic",
      name: "t",
      partitionCount: 2,
      replicationFactor: 1,
      configs: { "retention.ms": "1000" },
      validateOnly: true,
    });
  });

  it("puts the action and the active controller in NOT_CONTROLLER errors", () => {
    const e = errorToWire(ErrorCode.NOT_CONTROLLER, "not me", { id: 2, address: "h:2" });
    expect(e).toMatchObject({ code: 41, name: "NOT_CONTROLLER", controllerId: 2 });
    expect(e.controllerAddress).toBe("h:2");
    expect(e.message).toContain(ErrorCode.NOT_CONTROLLER.action);
    expect(errorToWire(ErrorCode.NONE, null, null)).toEqual({ code: 0, name: "", message: "" });
  });
});

describe("MetadataStateMachine", () => {
  it("applies every Raft entry as one batch and serves a bounded tail", () => {
    const controller = new Controller({ log: { append: () => null } });
    const sm = new MetadataStateMachine({ controller, keepBehindSnapshot: 1 });
    const data = encodeMetadataBatch([{ type: "noOp" }]);
    sm.apply({ type: "noop", term: term(1), index: index(1) }, index(1));
    sm.apply({ type: "normal", term: term(1), index: index(2), data }, index(2));
    sm.apply(
      {
        type: "config",
        term: term(2),
        index: index(3),
        voters: [{ id: nodeId(1), dir: directoryId("d") }],
      },
      index(3),
    );
    expect(controller.image.offset).toBe(3);
    expect(controller.image.epoch).toBe(2);
    expect(sm.batchesAfter(0, 10)?.map((b) => [b.offset, b.bytes.length])).toEqual([
      [1, 0],
      [2, data.length],
      [3, 0],
    ]);
    expect(sm.batchesAfter(3, 10)).toEqual([]);
    const snap = sm.snapshot();
    expect(sm.batchesAfter(0, 10)).toBeNull();
    expect(sm.batchesAfter(2, 10)?.map((b) => b.offset)).toEqual([3]);
    sm.restore(snap, { index: index(9), term: term(3), voters: [] });
    expect(controller.image.offset).toBe(9);
    expect(sm.batchesAfter(8, 10)).toBeNull();
    expect(sm.batchesAfter(9, 10)).toEqual([]);
  });
});
