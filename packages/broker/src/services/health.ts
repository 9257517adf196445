/**
 * The standard gRPC health service (`grpc.health.v1.Health`, Check and Watch) on both gRPC
 * listeners, defined inline from the standard health.proto (as a protobufjs JSON namespace
 * loaded with @grpc/proto-loader), so load balancers and `grpc_health_probe` work unchanged.
 * Service "" is the whole node; the client services answer by their full names.
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

/** Most Watch streams open at once on one listener. */
export const HEALTH_WATCHERS_MAX = 1_000;

interface HealthRequest {
  readonly service: string;
}
interface HealthResponse {
  readonly status: ServingStatus;
}

let definition: grpc.ServiceDefinition | null = null;

/** The grpc.health.v1.Health service definition. */
export function healthServiceDefinition(): grpc.ServiceDefinition {
  if (definition === null) {
    const def = protoLoader.fromJSON(
      HEALTH_JSON as unknown as Parameters<typeof protoLoader.fromJSON>[0],
      { enums: String, defaults: true },
    );
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: { service: grpc.ServiceDefinition } } } };
    };
    definition = pkg.grpc.health.v1.Health.service;
  }
  return definition;
}

/** A health client constructor (tests, probes). */
export function healthClient(address: string): grpc.Client & {
  Check(
    r: HealthRequest,
    o: grpc.CallOptions,
    cb: (e: grpc.ServiceError | null, r?: HealthResponse) => void,
  ): void;
} {
  const Ctor = grpc.makeGenericClientConstructor(healthServiceDefinition(), "Health");
  return new Ctor(address, grpc.credentials.createInsecure()) as never;
}

/** Serving statuses by service name, with Watch listeners. */
export class HealthStatus {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Set<(service: string) => void>();

  /** Registers `services` (and "") as NOT_SERVING. */
  constructor(services: readonly string[]) {
    for (const s of ["", ...services]) this.#statuses.set(s, "NOT_SERVING");
  }

  /** Sets every known service's status. */
  setAll(status: ServingStatus): void {
    for (const s of this.#statuses.keys()) this.#set(s, status);
  }

  #set(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const w of this.#watchers) w(service);
  }

  /** The status of `service` (SERVICE_UNKNOWN when not registered). */
  get(service: string): ServingStatus {
    return this.#statuses.get(service) ?? "SERVICE_UNKNOWN";
  }

  /** The Health service handlers. */
  handlers(): grpc.UntypedServiceImplementation {
    const check: grpc.handleUnaryCall<HealthRequest, HealthResponse> = (call, cb) => {
      const status = this.get(call.request.service);
      if (status === "SERVICE_UNKNOWN")
        cb(
          { code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` },
          null,
        );
      else cb(null, { status });
    };
    const watch: grpc.handleServerStreamingCall<HealthRequest, HealthResponse> = (call) => {
      if (this.#watchers.size >= HEALTH_WATCHERS_MAX) {
        call.emit("error", {
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: "too many health watchers; use Check",
        });
        return;
      }
      const service = call.request.service;
      const push = (changed: string) => {
        if (changed === service) call.write({ status: this.get(service) });
      };
      this.#watchers.add(push);
      call.write({ status: this.get(service) });
      call.on("cancelled", () => this.#watchers.delete(push));
      call.on("close", () => this.#watchers.delete(push));
    };
    return { Check: check, Watch: watch };
  }

  /** Ends every Watch stream (shutdown). */
  endWatches(): void {
    this.#watchers.clear();
  }
}
