/**
 * The client API's gRPC definitions (`strand.v1` ProduceService, FetchService, MetadataService,
 * AdminService) loaded from the generated descriptor (no .proto files at run time), and typed
 * client stubs for tests, tools and forwarding.
 */
import * as grpc from "@grpc/grpc-js";
import { strandPackageDefinition } from "@strand/protocol";
import type { ProtoGrpcType } from "@strand/protocol/gen/client.ts";
import type { AdminServiceClient } from "@strand/protocol/gen/strand/v1/AdminService.ts";
import type { FetchServiceClient } from "@strand/protocol/gen/strand/v1/FetchService.ts";
import type { MetadataServiceClient } from "@strand/protocol/gen/strand/v1/MetadataService.ts";
import type { ProduceServiceClient } from "@strand/protocol/gen/strand/v1/ProduceService.ts";

/**
 * Largest gRPC message on the client listener and on forwarding stubs (Kafka's
 * socket.request.max.bytes): a produce may carry up to max.message.bytes per partition, well
 * past grpc-js's 4 MiB default.
 */
export const CLIENT_MESSAGE_BYTES_MAX = 100 * 1024 * 1024;

/** Channel and server options that lift grpc-js's message size limits to the one above. */
export const CLIENT_CHANNEL_OPTIONS = {
  "grpc.max_receive_message_length": CLIENT_MESSAGE_BYTES_MAX,
  "grpc.max_send_message_length": CLIENT_MESSAGE_BYTES_MAX,
} as const;

/** Metadata header marking a request one broker forwarded to a partition leader. */
export const FORWARDED_HEADER = "strand-forwarded";
/** Trailer on UNAVAILABLE answers: how long to wait before retrying, in milliseconds. */
export const RETRY_AFTER_HEADER = "strand-retry-after-ms";

let cached: ProtoGrpcType | null = null;

/** The loaded strand.v1 package with the client services (cached). */
export function clientProto(): ProtoGrpcType {
  if (cached === null) {
    const def = strandPackageDefinition();
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** Client stubs for the four client services of one broker. */
export interface ClientStubs {
  readonly address: string;
  readonly produce: ProduceServiceClient;
  readonly fetch: FetchServiceClient;
  readonly metadata: MetadataServiceClient;
  readonly admin: AdminServiceClient;
  /** Closes every channel. */
  close(): void;
}

/** Opens client stubs to the client listener at `address` (host:port), insecure. */
export function clientStubs(address: string): ClientStubs {
  const v1 = clientProto().strand.v1;
  const creds = grpc.credentials.createInsecure();
  const produce = new v1.ProduceService(address, creds, CLIENT_CHANNEL_OPTIONS);
  // The other stubs share the first stub's channel.
  const options = { channelOverride: produce.getChannel() };
  const fetch = new v1.FetchService(address, creds, options);
  const metadata = new v1.MetadataService(address, creds, options);
  const admin = new v1.AdminService(address, creds, options);
  return {
    address,
    produce,
    fetch,
    metadata,
    admin,
    close: () => produce.close(),
  };
}
