/**
 * The strand.v1 protobuf package as @grpc/proto-loader and @grpc/grpc-js see it, built once
 * from the generated descriptor (no .proto files at run time). Every gRPC user in the
 * workspace loads services from here, so they agree on how int64, enums and defaults map to
 * JavaScript: int64 as decimal strings (converted to bigint at each edge), enums as names.
 * Loading is pure: it builds service constructors, it opens no channel.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import Long from "long";
import protobuf from "protobufjs";
import { protoDescriptor } from "../gen/descriptor.ts";
import type {
  ClientProtoGrpcType,
  ControllerProtoGrpcType,
  GroupProtoGrpcType,
  MetadataProtoGrpcType,
  RaftProtoGrpcType,
  ReplicationProtoGrpcType,
} from "../gen/index.ts";
import { installBulkCodec } from "./bulk-methods.ts";

export { protoDescriptor };

// protobufjs finds `long` through a CommonJS require that fails under ESM; without it, int64
// values above 2^53 are silently rounded, on the gRPC path as in the metadata codec. Every
// user of the wire contract imports this module first, so it is installed once, here.
if (!protobuf.util.Long) {
  protobuf.util.Long = Long;
  protobuf.configure();
}

/** The proto-loader options every Strand gRPC service and client uses. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** The loaded strand.v1 package: every service constructor and message type. */
export type StrandGrpc = ClientProtoGrpcType &
  ControllerProtoGrpcType &
  GroupProtoGrpcType &
  MetadataProtoGrpcType &
  RaftProtoGrpcType &
  ReplicationProtoGrpcType;

let cachedDefinition: protoLoader.PackageDefinition | null = null;
let cachedGrpc: StrandGrpc | null = null;

/**
 * The package definition of every Strand proto (cached; e.g. for server reflection). The
 * methods that carry records bytes use the bulk codec (bulk-methods.ts): the same bytes and
 * the same objects as protobufjs, without its intermediate messages.
 */
export function strandPackageDefinition(): protoLoader.PackageDefinition {
  if (cachedDefinition === null) {
    const definition = protoLoader.fromJSON(protoDescriptor, PROTO_LOADER_OPTIONS);
    installBulkCodec(definition, protoDescriptor);
    cachedDefinition = definition;
  }
  return cachedDefinition;
}

/**
 * The package definition as proto-loader builds it, protobufjs for every method, without the
 * bulk codec: the reference the bulk codec is tested and benchmarked against. Not cached; not
 * for serving.
 */
export function protobufjsPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.fromJSON(protoDescriptor, PROTO_LOADER_OPTIONS);
}

/**
 * The strand.v1 package loaded for @grpc/grpc-js (cached): `strandGrpc().strand.v1.X` is
 * service X's client constructor, `.service` its definition for `grpc.Server.addService`.
 */
export function strandGrpc(): StrandGrpc {
  if (cachedGrpc === null)
    cachedGrpc = grpc.loadPackageDefinition(strandPackageDefinition()) as unknown as StrandGrpc;
  return cachedGrpc;
}
