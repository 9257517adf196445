// Goal: a refused admin call is counted under the error code its answer carries. AdminService
// answers refusals in error_code fields (TOPIC_ALREADY_EXISTS, NOT_CONTROLLER) rather than as a
// gRPC status; they used to be counted as code="NONE", so an alert on failed admin calls never
// saw them.
import * as grpc from "@grpc/grpc-js";
import type { MetadataImage } from "@strand/controller";
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { createBrokerMetrics } from "../src/admin/metrics.ts";
import { adminServiceHandlers } from "../src/services/admin.ts";
import type { ServiceContext } from "../src/services/context.ts";
import { errorCodeOutcome } from "../src/services/instrument.ts";

const EXISTS = ErrorCode.TOPIC_ALREADY_EXISTS;

function contextWhoseControllerRefuses(): ServiceContext {
  const quiet = () => undefined;
  const refused = { code: EXISTS.code, name: EXISTS.name, message: "topic t exists" };
  return {
    nodeId: 1,
    image: () =>
      ({ brokers: new Map([[1, {}]]), topicsByName: new Map() }) as unknown as MetadataImage,
    controller: {
      createTopics: async () => ({ error: null, topics: [{ name: "t", error: refused }] }),
      alterConfigs: async () => ({ error: refused }),
    },
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

function call(handler: unknown, request: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = { request, metadata: new grpc.Metadata() };
    (handler as grpc.handleUnaryCall<unknown, unknown>)(
      c as grpc.ServerUnaryCall<unknown, unknown>,
      (error, response) => (error ? reject(error) : resolve(response)),
    );
  });
}

describe("admin call outcomes in strand_broker_requests_total", () => {
  it("counts a refused CreateTopics under the topic's error code, not NONE", async () => {
    const ctx = contextWhoseControllerRefuses();
    const h = adminServiceHandlers(ctx);
    await call(h.CreateTopics, {
      topics: [
        { name: "t", partitionCount: 1, replicationFactor: 1, configs: [], assignments: [] },
      ],
      timeoutMs: 0,
    });
    const text = await ctx.metrics.registry.metrics();
    expect(text).toContain(
      'strand_broker_requests_total{method="CreateTopics",code="TOPIC_ALREADY_EXISTS",node_id="1"} 1',
    );
    expect(text).not.toContain('method="CreateTopics",code="NONE"');
  });

  it("reads the top-level code, then topics[], then results[]", () => {
    expect(errorCodeOutcome({ errorCode: 0 })).toBe("NONE");
    expect(errorCodeOutcome({ errorCode: EXISTS.code })).toBe("TOPIC_ALREADY_EXISTS");
    expect(errorCodeOutcome({ topics: [{ errorCode: 0 }, { errorCode: EXISTS.code }] })).toBe(
      "TOPIC_ALREADY_EXISTS",
    );
    expect(errorCodeOutcome({ results: [{ errorCode: EXISTS.code }] })).toBe(
      "TOPIC_ALREADY_EXISTS",
    );
    expect(errorCodeOutcome({ topics: [], results: [] })).toBe("NONE");
  });
});
