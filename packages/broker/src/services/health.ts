/**
 * The standard gRPC health service (`grpc.health.v1.Health`, Check and Watch) on both gRPC
 * listeners (its definition is the wire module's, `@strand/protocol`), so load balancers and
 * `grpc_health_probe` work unchanged.
 * Service "" is the whole node; the client services answer by their full names.
 */
import * as grpc from "@grpc/grpc-js";
import { healthServiceDefinition, type ServingStatus } from "@strand/protocol";

export type { ServingStatus } from "@strand/protocol";

/** Most Watch streams open at once on one listener. */
export const HEALTH_WATCHERS_MAX = 1_000;

interface HealthRequest {
  readonly service: string;
}
interface HealthResponse {
  readonly status: ServingStatus;
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
