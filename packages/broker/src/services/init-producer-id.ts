/**
 * ProduceService.InitProducerId: a new idempotent producer id with epoch 0, served by any
 * broker from its block of ids (packages/broker/src/producer/producer-id-manager.ts). When no
 * block can be had the answer is gRPC UNAVAILABLE with a retry-after header; a refusal by the
 * controller is an error code in the response. With ACLs, the caller needs IDEMPOTENT_WRITE on
 * the cluster or WRITE on some topic (Kafka's rule since 3.0): the id alone writes nothing,
 * each produce is still checked per topic.
 */
import type * as grpc from "@grpc/grpc-js";
import { CLUSTER_RESOURCE_NAME } from "@strand/controller";
import type { InitProducerIdRequest__Output, InitProducerIdResponse } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import { ProducerIdsUnavailableError } from "../producer/producer-id-manager.ts";
import { callAccess, deniedMessage } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { unaryHandler } from "./instrument.ts";
import { codeName, UnavailableError } from "./wire.ts";

/** The InitProducerId handler. */
export function initProducerIdHandler(
  ctx: ServiceContext,
): grpc.handleUnaryCall<InitProducerIdRequest__Output, InitProducerIdResponse> {
  return unaryHandler(
    ctx,
    "InitProducerId",
    async (call) => {
      const access = await callAccess(ctx, call);
      if (
        !access.visible("idempotent_write", "cluster", CLUSTER_RESOURCE_NAME) &&
        !access.allowedAny("write", "topic")
      ) {
        const code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
        const text = deniedMessage(access.principal, "idempotent_write", "cluster", "");
        return { producerId: "-1", producerEpoch: -1, errorCode: code.code, errorMessage: text };
      }
      return initProducerId(ctx);
    },
    (response) => codeName(response.errorCode ?? 0),
  );
}

async function initProducerId(ctx: ServiceContext): Promise<InitProducerIdResponse> {
  const replicas = ctx.replicas;
  if (replicas.initProducerId === undefined)
    throw new UnavailableError(
      "this broker does not serve producer ids; send InitProducerId to another broker",
    );
  try {
    const result = await replicas.initProducerId();
    return {
      producerId: String(result.producerId),
      producerEpoch: result.producerEpoch,
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
    };
  } catch (error) {
    if (error instanceof ProducerIdsUnavailableError) throw new UnavailableError(error.message);
    throw error;
  }
}
