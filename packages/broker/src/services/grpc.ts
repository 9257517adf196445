/**
 * Stubs of another broker's client services, for one-hop forwarding (services/routing.ts). The
 * package definition, the channel options and the message limit are the wire module's
 * (`@strand/protocol`), so forwarding channels and the client listener agree on sizes.
 */
import * as grpc from "@grpc/grpc-js";
import type {
  AdminServiceClient,
  FetchServiceClient,
  MetadataServiceClient,
  ProduceServiceClient,
} from "@strand/protocol";
import { clientChannelOptions, strandGrpc } from "@strand/protocol";

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
  const v1 = strandGrpc().strand.v1;
  const creds = grpc.credentials.createInsecure();
  const produce = new v1.ProduceService(address, creds, clientChannelOptions());
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
