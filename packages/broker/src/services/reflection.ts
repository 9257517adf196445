/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) on a listener, so grpcurl and other
 * generic tools can list Strand's services and describe their messages without .proto files.
 * Every listener also serves `grpc.health.v1.Health`, so it is listed too.
 *
 * The descriptors carry no source comments: the generator (protobufjs) writes none into its
 * JSON and its descriptor extension does not support `source_code_info`; the commented
 * contract is proto/strand/v1/*.proto (see docs/operations.md).
 */
import type * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { healthPackageDefinition, strandPackageDefinition } from "@strand/protocol";

/** The health service's full name, listed on every listener. */
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

/**
 * Registers the reflection service on `server`. When `services` is given, reflection lists
 * only those fully qualified services (those the listener actually serves) and the health
 * service.
 */
export function addReflection(server: grpc.Server, services?: readonly string[]): void {
  const definition = { ...strandPackageDefinition(), ...healthPackageDefinition() };
  const options =
    services === undefined ? undefined : { services: [...services, HEALTH_SERVICE_NAME] };
  new ReflectionService(definition, options).addToServer(server);
}
