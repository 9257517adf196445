/**
 * The generated `strand.v1.ReplicationService` loaded for @grpc/grpc-js from the generated
 * descriptor (no .proto files at run time), and int64 conversions at the wire boundary.
 */
import * as grpc from "@grpc/grpc-js";
import { strandPackageDefinition } from "@strand/protocol";
import type { ProtoGrpcType } from "@strand/protocol/gen/replication.ts";
import type { ReplicationServiceClient } from "@strand/protocol/gen/strand/v1/ReplicationService.ts";

let cached: ProtoGrpcType | null = null;

/** The loaded strand.v1 package with ReplicationService (cached). */
export function replicationProto(): ProtoGrpcType {
  if (cached === null) {
    const def = strandPackageDefinition();
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** The ReplicationService definition to register on the internal `grpc.Server`. */
export function replicationServiceDefinition(): grpc.ServiceDefinition {
  return replicationProto().strand.v1.ReplicationService.service;
}

/** A ReplicationService client for `address` (host:port). */
export function replicationClient(
  address: string,
  receiveBytesMax: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): ReplicationServiceClient {
  return new (replicationProto().strand.v1.ReplicationService)(address, credentials, {
    "grpc.max_receive_message_length": receiveBytesMax,
  });
}

/** An int64 from the wire (proto-loader gives a decimal string), or null when malformed. */
export function int64FromWire(value: string | number | undefined): bigint | null {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : null;
  if (typeof value !== "string" || !/^-?\d{1,19}$/.test(value)) return null;
  return BigInt(value);
}
