// Goal: a forward to the leader that runs past its deadline is reported as what it is,
// REQUEST_TIMED_OUT "forwarding to broker N timed out", not LEADER_NOT_AVAILABLE (the leader
// exists; a client that re-routes on LEADER_NOT_AVAILABLE would chase a leader that did not
// move); other forwarding failures still answer LEADER_NOT_AVAILABLE.

import * as grpc from "@grpc/grpc-js";
import type { MetadataImage } from "@strand/controller";
import { type ClientStubs, ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import type { PartitionError } from "../src/replica/types.ts";
import { ANONYMOUS } from "../src/security/principal.ts";
import type { ServiceContext } from "../src/services/context.ts";
import { routeRequest } from "../src/services/routing.ts";

function contextLedBy(leader: number): ServiceContext {
  const image = {
    topicsByName: new Map([["t", { partitions: new Map([[0, { leader, leaderEpoch: 3 }]]) }]]),
    brokers: new Map([
      [leader, { id: leader, listeners: [{ name: "client", host: "127.0.0.1", port: 1 }] }],
    ]),
  } as unknown as MetadataImage;
  const quiet = () => undefined;
  return {
    nodeId: 1,
    image: () => image,
    peer: () => ({ address: "127.0.0.1:1" }) as unknown as ClientStubs,
    metrics: { forwardedRequestsTotal: { inc: quiet } },
    logger: { warn: quiet, info: quiet, debug: quiet, error: quiet },
  } as unknown as ServiceContext;
}

async function forwardFailingWith(error: Error): Promise<PartitionError> {
  const [result] = await routeRequest(
    contextLedBy(2),
    "Produce",
    [{ topic: "t", partition: 0 }],
    { forwarded: false, principal: ANONYMOUS },
    {
      local: async () => [],
      remote: async () => Promise.reject(error),
      failed: (_item, e: PartitionError) => e,
    },
  );
  return result as PartitionError;
}

describe("forwarding failures", () => {
  it("answers REQUEST_TIMED_OUT when the forward to the leader times out", async () => {
    const deadline = Object.assign(new Error("4 DEADLINE_EXCEEDED: Deadline exceeded"), {
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    const e = await forwardFailingWith(deadline);
    expect(e.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT.code);
    expect(e.errorMessage).toContain("forwarding to broker 2 timed out");
  });

  it("still answers LEADER_NOT_AVAILABLE when the leader cannot be reached", async () => {
    const down = Object.assign(new Error("14 UNAVAILABLE: No connection established"), {
      code: grpc.status.UNAVAILABLE,
    });
    const e = await forwardFailingWith(down);
    expect(e.errorCode).toBe(ErrorCode.LEADER_NOT_AVAILABLE.code);
  });
});
