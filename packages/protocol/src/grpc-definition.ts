/**
 * The strand.v1 protobuf package as @grpc/proto-loader describes it, built once from the
 * generated descriptor (no .proto files at run time). Every gRPC user in the workspace loads
 * services from this one definition, so they agree on how int64, enums and defaults map to
 * JavaScript: int64 as decimal strings (converted to bigint at each edge), enums as names.
 */
import * as protoLoader from "@grpc/proto-loader";
import { protoDescriptor } from "./gen/descriptor.ts";

/** The proto-loader options every Strand gRPC service and client uses. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

let cached: protoLoader.PackageDefinition | null = null;

/** The package definition of every Strand proto (cached; pass to grpc.loadPackageDefinition). */
export function strandPackageDefinition(): protoLoader.PackageDefinition {
  if (cached === null) cached = protoLoader.fromJSON(protoDescriptor, PROTO_LOADER_OPTIONS);
  return cached;
}
