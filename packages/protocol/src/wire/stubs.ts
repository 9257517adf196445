/**
 * Raw stubs of one broker's four client services over one channel, built from the wire
 * module's package definition and client channel options. The broker forwards with them
 * (one hop to a partition leader); tests use them for calls the SDK does not offer (a produce
 * with chosen sequence numbers, a fetch of one exact offset). Applications use @strand/client.
 */
import * as grpc from "@grpc/grpc-js";
import type {
  AdminServiceClient,
  FetchServiceClient,
  MetadataServiceClient,
  ProduceServiceClient,
} from "../gen/index.ts";
import { strandGrpc } from "./definition.ts";
import { clientChannelOptions } from "./options.ts";

/** Client stubs for the four client services of one broker, sharing one channel. */
export interface ClientStubs {
  readonly address: string;
  readonly produce: ProduceServiceClient;
  readonly fetch: FetchServiceClient;
  readonly metadata: MetadataServiceClient;
  readonly admin: AdminServiceClient;
  /** Closes the channel. */
  close(): void;
}

/**
 * Opens client stubs to the client listener at `address` (host:port).
 * @param credentials - insecure unless given
 */
export function clientStubs(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): ClientStubs {
  const v1 = strandGrpc().strand.v1;
  const produce = new v1.ProduceService(address, credentials, clientChannelOptions());
  const options = { channelOverride: produce.getChannel() };
  return {
    address,
    produce,
    fetch: new v1.FetchService(address, credentials, options),
    metadata: new v1.MetadataService(address, credentials, options),
    admin: new v1.AdminService(address, credentials, options),
    close: () => produce.close(),
  };
}
