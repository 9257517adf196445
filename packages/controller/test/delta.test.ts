// Goal: a MetadataDelta tells a broker what moved for it: partitions it now leads or follows,
// and replicas to delete when their topic is removed; images share unchanged parts.
import { describe, expect, it } from "vitest";
import { applyBatch } from "../src/image.ts";
import { localChanges } from "../src/queries.ts";
import { brokerId, metadataOffset } from "../src/types.ts";
import { ids, TestCluster } from "./helpers.ts";

describe("metadata delta", () => {
  it("reports leader, follower and deleted partitions per broker", () => {
    const c = new TestCluster();
    for (const id of [1, 2, 3]) c.addBroker(id, 0);
    const created = c.run(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 2,
        replicationFactor: 2,
        assignments: [ids(1, 2), ids(2, 3)],
      },
      0,
    );
    const before = c.image;
    // Apply the creation batch to the image without the topic, to get its delta.
    const { delta, image } = applyBatch(
      { ...before, topicsById: new Map(), topicsByName: new Map() },
      created.records,
      { offset: metadataOffset(before.offset + 1), epoch: 1 },
    );
    const one = localChanges(delta, image, brokerId(1));
    expect(one.leaders.map((p) => p.partition)).toEqual([0]);
    expect(one.followers).toEqual([]);
    const two = localChanges(delta, image, brokerId(2));
    expect(two.leaders.map((p) => p.partition)).toEqual([1]);
    expect(two.followers.map((p) => p.partition)).toEqual([0]);

    const removed = applyBatch(
      before,
      [{ type: "removeTopic", topicId: created.response.topicId! }],
      {
        offset: metadataOffset(before.offset + 1),
        epoch: 1,
      },
    );
    expect(
      localChanges(removed.delta, removed.image, brokerId(3)).deleted.map((p) => p.partition),
    ).toEqual([1]);
    expect(removed.image.brokers).toBe(before.brokers); // structural sharing
  });

  it("reports a leader move to the new leader and the old one", () => {
    const c = new TestCluster();
    for (const id of [1, 2]) c.addBroker(id, 0);
    c.run(
      {
        type: "createTopic",
        name: "t",
        partitionCount: 1,
        replicationFactor: 2,
        assignments: [ids(1, 2)],
      },
      0,
    );
    const before = c.image;
    const batch = c.heartbeat(1, 1, { wantFence: true }).records;
    const { delta, image } = applyBatch(before, batch, {
      offset: metadataOffset(before.offset + 1),
      epoch: 1,
    });
    expect(delta.changedBrokers).toEqual(new Set([1]));
    expect(localChanges(delta, image, brokerId(2)).leaders).toHaveLength(1);
    expect(localChanges(delta, image, brokerId(1)).followers).toHaveLength(1);
  });
});
