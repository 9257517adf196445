/**
 * The generated `strand.v1.ControllerService` definition loaded for @grpc/grpc-js (from the
 * generated descriptor: no .proto files at run time), a typed client factory and promise
 * wrappers for unary calls.
 */
import * as grpc from "@grpc/grpc-js";
import type { ControllerServiceClient } from "@strand/protocol";
import { internalChannelOptions, strandGrpc } from "@strand/protocol";

/** The service definition to register on a `grpc.Server`. */
export function controllerServiceDefinition(): grpc.ServiceDefinition {
  return strandGrpc().strand.v1.ControllerService.service;
}

/** A ControllerService client for `address` (host:port), insecure by default (TLS off). */
export function controllerClient(
  address: string,
  credentials: grpc.ChannelCredentials | undefined = grpc.credentials.createInsecure(),
): ControllerServiceClient {
  return new (strandGrpc().strand.v1.ControllerService)(
    address,
    credentials,
    internalChannelOptions(),
  );
}
