// Goal: a controller refusal reaches the client as what it is. The controller answers a
// request it finds invalid with gRPC INVALID_ARGUMENT; Admin CreateTopics/DeleteTopics used to
// turn that into INTERNAL "internal error ...; report it". Now: INVALID_ARGUMENT with the
// controller's reason; an unreachable controller is UNAVAILABLE; the unexpected stays INTERNAL.
import * as grpc from "@grpc/grpc-js";
import type { MetadataImage } from "@strand/controller";
import { describe, expect, it } from "vitest";
import { createBrokerMetrics } from "../src/admin/metrics.ts";
import { adminServiceHandlers } from "../src/services/admin.ts";
import type { ServiceContext } from "../src/services/context.ts";

function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}

function contextWhoseControllerFails(error: Error): ServiceContext {
  const quiet = () => undefined;
  const fail = async () => Promise.reject(error);
  return {
    nodeId: 1,
    image: () =>
      ({ brokers: new Map([[1, {}]]), topicsByName: new Map() }) as unknown as MetadataImage,
    controller: { createTopics: fail, deleteTopics: fail, alterConfigs: fail },
    metrics: createBrokerMetrics(1),
    logger: { warn: quiet, info: quiet, debug: quiet, error: quiet },
    defaults: {
      numPartitions: 1,
      defaultReplicationFactor: 1,
      minInsyncReplicas: 1,
      requestTimeoutMs: 1_000,
    },
  } as unknown as ServiceContext;
}

function callStatus(
  handler: grpc.handleUnaryCall<unknown, unknown>,
  request: unknown,
): Promise<Partial<grpc.StatusObject>> {
  return new Promise((resolve) => {
    const call = { request, metadata: new grpc.Metadata() } as grpc.ServerUnaryCall<
      unknown,
      unknown
    >;
    handler(call, (error) => resolve((error ?? { code: grpc.status.OK }) as grpc.StatusObject));
  });
}

describe("controller refusals in AdminService", () => {
  const refusal = serviceError(
    grpc.status.INVALID_ARGUMENT,
    "CreateTopics: topics[0].configs: bad",
  );

  it("CreateTopics answers INVALID_ARGUMENT with the controller's reason", async () => {
    const h = adminServiceHandlers(contextWhoseControllerFails(refusal));
    const s = await callStatus(h.CreateTopics as grpc.handleUnaryCall<unknown, unknown>, {
      topics: [
        { name: "t", partitionCount: 1, replicationFactor: 1, configs: [], assignments: [] },
      ],
      timeoutMs: 0,
    });
    expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(s.details).toContain("topics[0].configs: bad");
    expect(s.details).not.toContain("report it");
  });

  it("DeleteTopics answers INVALID_ARGUMENT; an unreachable controller is UNAVAILABLE", async () => {
    const refused = adminServiceHandlers(contextWhoseControllerFails(refusal));
    const s = await callStatus(refused.DeleteTopics as grpc.handleUnaryCall<unknown, unknown>, {
      names: ["t"],
      timeoutMs: 0,
    });
    expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
    const down = adminServiceHandlers(
      contextWhoseControllerFails(serviceError(grpc.status.UNAVAILABLE, "no connection")),
    );
    const u = await callStatus(down.DeleteTopics as grpc.handleUnaryCall<unknown, unknown>, {
      names: ["t"],
      timeoutMs: 0,
    });
    expect(u.code).toBe(grpc.status.UNAVAILABLE);
  });
});
