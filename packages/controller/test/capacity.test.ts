// Goal: the controller refuses a topic that would put more partition replicas on a broker than
// max.partitions.per.broker (INVALID_PARTITIONS, nothing written), counting what the brokers
// already hold, and still creates topics that fit; adding partitions to a topic obeys the same
// limit. The default is 4,000.
import { describe, expect, it } from "vitest";
import { DEFAULT_CONTROLLER_CONFIG } from "../src/requests.ts";
import { TestCluster } from "./helpers.ts";

describe("max.partitions.per.broker", () => {
  it("refuses a creation that overfills a broker and writes nothing", () => {
    const c = new TestCluster({ maxReplicasPerBroker: 10 });
    for (const id of [1, 2, 3]) c.addBroker(id, 0);
    // 6 partitions x RF 3 = 6 replicas per broker.
    expect(c.createTopic("a", 6, 3).response.errorCode.name).toBe("NONE");
    const offset = c.image.offset;
    const refused = c.createTopic("b", 5, 3);
    expect(refused.response.errorCode.name).toBe("INVALID_PARTITIONS");
    expect(refused.response.errorMessage).toMatch(/would hold 11 .*max.partitions.per.broker=10/);
    expect(refused.records).toEqual([]);
    expect(c.image.offset).toBe(offset);
    expect(c.createTopic("b", 4, 3).response.errorCode.name).toBe("NONE");
    // Deleting a topic frees its replicas.
    c.run({ type: "deleteTopic", name: "a" }, 0);
    expect(c.createTopic("c", 6, 3).response.errorCode.name).toBe("NONE");
  });

  it("defaults to 4,000 replicas per broker: 10,000 partitions x RF 3 on 3 brokers is refused", () => {
    expect(DEFAULT_CONTROLLER_CONFIG.maxReplicasPerBroker).toBe(4_000);
    const c = new TestCluster();
    for (const id of [1, 2, 3]) c.addBroker(id, 0);
    expect(c.createTopic("big", 10_000, 3).response.errorCode.name).toBe("INVALID_PARTITIONS");
    expect(c.createTopic("fits", 4_000, 3).response.errorCode.name).toBe("NONE");
  });

  it("refuses adding partitions that would overfill a broker", () => {
    const c = new TestCluster({ maxReplicasPerBroker: 10 });
    for (const id of [1, 2, 3]) c.addBroker(id, 0);
    expect(c.createTopic("a", 8, 3).response.errorCode.name).toBe("NONE");
    const offset = c.image.offset;
    const refused = c.run({ type: "createPartitions", name: "a", count: 11 }, 0);
    expect(refused.response.errorCode.name).toBe("INVALID_PARTITIONS");
    expect(refused.response.errorMessage).toMatch(/max.partitions.per.broker=10/);
    expect(refused.records).toEqual([]);
    expect(c.image.offset).toBe(offset);
    const grown = c.run({ type: "createPartitions", name: "a", count: 10 }, 0);
    expect(grown.response.errorCode.name).toBe("NONE");
  });
});
