// Raw gRPC stubs for the client services, for tests that need calls the SDK does not offer
// (a produce with chosen sequence numbers, a fetch of one exact offset, an unanswered call to
// a stopped node). Built from protocol's wire module, not borrowed from the broker, so tests
// exercise the published contract.
import * as grpc from "@grpc/grpc-js";
import {
  type AdminServiceClient,
  clientChannelOptions,
  type FetchServiceClient,
  type MetadataServiceClient,
  type ProduceServiceClient,
  strandGrpc,
} from "@strand/protocol";

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

/** Opens client stubs to the client listener at `address` (host:port), insecure. */
export function clientStubs(address: string): ClientStubs {
  const v1 = strandGrpc().strand.v1;
  const creds = grpc.credentials.createInsecure();
  const produce = new v1.ProduceService(address, creds, clientChannelOptions());
  const options = { channelOverride: produce.getChannel() };
  return {
    address,
    produce,
    fetch: new v1.FetchService(address, creds, options),
    metadata: new v1.MetadataService(address, creds, options),
    admin: new v1.AdminService(address, creds, options),
    close: () => produce.close(),
  };
}
