/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) on a listener, so grpcurl and other
 * generic tools can list Strand's services and describe their messages without .proto files.
 */
import type * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { strandPackageDefinition } from "@strand/protocol";

/**
 * Registers the reflection service on `server`. When `services` is given, reflection lists
 * only those fully qualified services (those the listener actually serves).
 */
export function addReflection(server: grpc.Server, services?: readonly string[]): void {
  const definition = strandPackageDefinition();
  const options = services === undefined ? undefined : { services: [...services] };
  new ReflectionService(definition, options).addToServer(server);
}
