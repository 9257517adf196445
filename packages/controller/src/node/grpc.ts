/**
 * The generated `strand.v1.ControllerService` definition loaded for @grpc/grpc-js (from the
 * generated descriptor: no .proto files at run time), a typed client factory and promise
 * wrappers for unary calls.
 */
import * as grpc from "@grpc/grpc-js";
import { strandPackageDefinition } from "@strand/protocol";
import type { ProtoGrpcType } from "@strand/protocol/gen/controller.ts";
import type { ControllerServiceClient } from "@strand/protocol/gen/strand/v1/ControllerService.ts";

let cached: ProtoGrpcType | null = null;

/** The loaded strand.v1 package with ControllerService (cached). */
export function controllerProto(): ProtoGrpcType {
  if (cached === null) {
    const def = strandPackageDefinition();
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** The service definition to register on a `grpc.Server`. */
export function controllerServiceDefinition(): grpc.ServiceDefinition {
  return controllerProto().strand.v1.ControllerService.service;
}

/** A ControllerService client for `address` (host:port), insecure by default. */
export function controllerClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): ControllerServiceClient {
  return new (controllerProto().strand.v1.ControllerService)(address, credentials);
}
