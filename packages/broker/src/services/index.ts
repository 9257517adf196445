/** The client API services and their edge helpers. */
import type * as grpc from "@grpc/grpc-js";
import { strandGrpc } from "@strand/protocol";
import { adminServiceHandlers } from "./admin.ts";
import type { ServiceContext } from "./context.ts";
import { fetchServiceHandlers } from "./fetch.ts";
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
];

/** Registers ProduceService, FetchService, MetadataService and AdminService on `server`. */
export function addClientServices(server: grpc.Server, ctx: ServiceContext): void {
  const v1 = strandGrpc().strand.v1;
  server.addService(v1.ProduceService.service, produceServiceHandlers(ctx));
  server.addService(v1.FetchService.service, fetchServiceHandlers(ctx));
  server.addService(v1.MetadataService.service, metadataServiceHandlers(ctx));
  server.addService(v1.AdminService.service, adminServiceHandlers(ctx));
}
