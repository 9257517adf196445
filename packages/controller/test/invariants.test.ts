// Goal: the controller's invariants are assertions that stay on: replaying a record that would
// lower a broker epoch, a partition epoch or reuse producer ids stops the node, and a handler
// refuses to emit a producer id block that replay would refuse (a poison record in the log).

import { AssertionFailure } from "@strand/base";
import { describe, expect, it } from "vitest";
import { allocateProducerIds } from "../src/brokers.ts";
import { applyBatch } from "../src/image.ts";
import type { MetadataRecord } from "../src/records.ts";
import { brokerId, metadataOffset } from "../src/types.ts";
import { TestCluster } from "./helpers.ts";

function replayOn(c: TestCluster, record: MetadataRecord): () => void {
  const provenance = { offset: metadataOffset(c.image.offset + 1), epoch: 1 };
  return () => applyBatch(c.image, [record], provenance);
}

describe("controller invariants", () => {
  it("a re-registration must raise the broker epoch", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    const again: MetadataRecord = {
      type: "registerBroker",
      brokerId: brokerId(1),
      incarnationId: "inc-other",
      listeners: [],
      rack: null,
      fenced: true,
      brokerEpoch: c.epochOf(1),
      inControlledShutdown: false,
    };
    expect(replayOn(c, again)).toThrow(AssertionFailure);
    expect(replayOn(c, { ...again, brokerEpoch: null })).not.toThrow(); // epoch = its offset
  });

  it("a partition's epochs never go backwards", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    c.createTopic("t", 1, 1);
    const p = c.partition("t", 0);
    expect(replayOn(c, { type: "partition", ...p })).toThrow(AssertionFailure); // same epochs
    const change: MetadataRecord = { type: "partitionChange", topicId: p.topicId, partition: 0 };
    expect(replayOn(c, change)).not.toThrow(); // a change bumps the partition epoch
  });

  it("producer id blocks never overlap, and the handler will not emit one replay refuses", () => {
    const c = new TestCluster();
    c.addBroker(1, 0);
    const req = {
      type: "allocateProducerIds" as const,
      brokerId: brokerId(1),
      brokerEpoch: c.epochOf(1),
    };
    c.run(req, 0);
    const block = c.image.lastProducerIdsBlock!;
    expect(replayOn(c, { type: "producerIdsBlock", ...block })).toThrow(AssertionFailure);
    const empty = new TestCluster({ producerIdBlockSize: 0 });
    empty.addBroker(1, 0);
    const emit = () =>
      allocateProducerIds(empty.state(), { ...req, brokerEpoch: empty.epochOf(1) });
    expect(emit).toThrow(AssertionFailure); // before any record exists
  });
});
