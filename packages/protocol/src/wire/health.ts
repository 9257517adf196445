/**
 * The standard gRPC health service (`grpc.health.v1.Health`: Check and Watch), defined inline
 * from the standard health.proto as a protobufjs JSON namespace, so load balancers and
 * `grpc_health_probe` work unchanged. Brokers serve it on both gRPC listeners.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

const HEALTH_JSON = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: "string", id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: "ServingStatus", id: 1 } },
                  nested: {
                    ServingStatus: {
                      values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 },
                    },
                  },
                },
                Health: {
                  methods: {
                    Check: {
                      requestType: "HealthCheckRequest",
                      responseType: "HealthCheckResponse",
                    },
                    Watch: {
                      requestType: "HealthCheckRequest",
                      responseType: "HealthCheckResponse",
                      responseStream: true,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

let definition: grpc.ServiceDefinition | null = null;
let packageDefinition: protoLoader.PackageDefinition | null = null;

/** The grpc.health.v1 package definition (loaded once), e.g. for server reflection. */
export function healthPackageDefinition(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.fromJSON(
    HEALTH_JSON as unknown as Parameters<typeof protoLoader.fromJSON>[0],
    { enums: String, defaults: true },
  );
  return packageDefinition;
}

/** The grpc.health.v1.Health service definition (loaded once). */
export function healthServiceDefinition(): grpc.ServiceDefinition {
  if (definition === null) {
    const def = healthPackageDefinition();
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: { service: grpc.ServiceDefinition } } } };
    };
    definition = pkg.grpc.health.v1.Health.service;
  }
  return definition;
}
