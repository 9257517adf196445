/**
 * AuthService (docs/security.md): the SCRAM-SHA-512 login, two round trips ending in a session
 * token for the `strand-session` header. Only over TLS and only when `scram` is among
 * `authentication.mechanisms`; every failure is UNAUTHENTICATED with the reason and is
 * counted in strand_authentication_failures_total.
 */
import type * as grpc from "@grpc/grpc-js";
import type { AuthServiceHandlers } from "@strand/protocol";
import { stringField } from "@strand/protocol";
import type { AuthAudit } from "../security/metrics.ts";
import { LoginError, type ScramServer } from "../security/scram-server.ts";
import type { SessionStore } from "../security/sessions.ts";
import type { ServiceContext } from "./context.ts";
import { unaryHandler } from "./instrument.ts";

/** What AuthService needs besides the service context. */
export interface AuthServiceDeps {
  readonly enabled: boolean;
  readonly tls: boolean;
  readonly scram: ScramServer;
  readonly sessions: SessionStore;
  readonly audit: AuthAudit;
}

/** Registers AuthService on `server`. */
export function authServiceHandlers(
  ctx: ServiceContext,
  deps: AuthServiceDeps,
): AuthServiceHandlers {
  const guarded = <T>(call: grpc.ServerUnaryCall<unknown, unknown>, run: () => T): T => {
    try {
      if (!deps.tls)
        throw new LoginError(
          "malformed",
          "SCRAM login is refused on a plaintext listener: connect with TLS",
        );
      if (!deps.enabled)
        throw new LoginError(
          "malformed",
          "SCRAM is not enabled on this listener (authentication.mechanisms)",
        );
      return run();
    } catch (error) {
      if (error instanceof LoginError)
        deps.audit.failed("client", {
          mechanism: "scram",
          reason: error.reason,
          message: error.message,
          peer: call.getPeer(),
        });
      throw error;
    }
  };
  return {
    ScramStart: unaryHandler(ctx, "ScramStart", async (call) =>
      guarded(call, () =>
        deps.scram.start(
          ctx.image(),
          stringField(call.request.mechanism, "mechanism", 1),
          stringField(call.request.clientFirst, "client_first", 1),
        ),
      ),
    ),
    ScramFinish: unaryHandler(ctx, "ScramFinish", async (call) =>
      guarded(call, () => {
        const { user, storedKey, serverFinal } = deps.scram.finish(
          ctx.image(),
          stringField(call.request.exchangeId, "exchange_id", 1),
          stringField(call.request.clientFinal, "client_final", 1),
        );
        const session = deps.sessions.open(user, storedKey);
        ctx.logger.info({ user, peer: call.getPeer() }, "SCRAM login");
        return {
          serverFinal,
          sessionToken: session.token,
          lifetimeMs: String(session.lifetimeMs),
        };
      }),
    ),
  };
}
