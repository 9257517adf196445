/** The client API services and their edge helpers. */
import type * as grpc from "@grpc/grpc-js";
import { strandGrpc } from "@strand/protocol";
import { adminServiceHandlers } from "./admin.ts";
import type { ServiceContext } from "./context.ts";
import { lenientDefinition, rejectUndecodable } from "./decode.ts";
import { fetchServiceHandlers } from "./fetch.ts";
import { groupServiceHandlers } from "./groups.ts";
import { metadataServiceHandlers } from "./metadata.ts";
import { produceServiceHandlers } from "./produce.ts";

export type { ControllerWrites, ServiceContext, ServiceLogger, TopicDefaults } from "./context.ts";
export { HealthStatus, healthClient, type ServingStatus } from "./health.ts";

/** Full names of the client services (for the health service). */
export const CLIENT_SERVICE_NAMES: readonly string[] = [
  "strand.v1.ProduceService",
  "strand.v1.FetchService",
  "strand.v1.MetadataService",
  "strand.v1.AdminService",
  "strand.v1.GroupService",
];

/**
 * Registers ProduceService, FetchService, MetadataService, AdminService and GroupService on `server`. The
 * server must be built with {@link clientServiceInterceptors} so undecodable requests answer
 * INVALID_ARGUMENT.
 */
export function addClientServices(server: grpc.Server, ctx: ServiceContext): void {
  const v1 = strandGrpc().strand.v1;
  // Lenient deserializers: undecodable bytes reach rejectUndecodable (INVALID_ARGUMENT).
  const lenient = lenientDefinition;
  server.addService(lenient(v1.ProduceService.service), produceServiceHandlers(ctx));
  server.addService(lenient(v1.FetchService.service), fetchServiceHandlers(ctx));
  server.addService(lenient(v1.MetadataService.service), metadataServiceHandlers(ctx));
  server.addService(lenient(v1.AdminService.service), adminServiceHandlers(ctx));
  server.addService(lenient(v1.GroupService.service), groupServiceHandlers(ctx));
}

/** Server interceptors the client listener needs (see decode.ts). */
export function clientServiceInterceptors(): grpc.ServerInterceptor[] {
  return [rejectUndecodable];
}
