/**
 * The node's client authentication (docs/security.md), built from the `authentication.*`
 * settings: the SCRAM session store and login server, the JWKS file (re-read like the TLS
 * files), the audit metric and the {@link ClientAuthenticator} that the client listener's
 * interceptor and the services share.
 */
import type * as grpc from "@grpc/grpc-js";
import type { ChildLogger } from "@strand/base";
import type { MetadataImage } from "@strand/controller";
import { strandGrpc } from "@strand/protocol";
import type { Registry } from "prom-client";
import type { NodeConfig } from "../config/index.ts";
import { ClientAuthenticator } from "../security/authenticator.ts";
import { authenticationInterceptor } from "../security/interceptor.ts";
import { JwksFile } from "../security/jwks-file.ts";
import { AuthAudit } from "../security/metrics.ts";
import { ScramServer } from "../security/scram-server.ts";
import { SessionStore } from "../security/sessions.ts";
import { authServiceHandlers } from "../services/auth.ts";
import type { ServiceContext } from "../services/context.ts";

/** See the module comment. */
export class NodeAuthentication {
  readonly authenticator: ClientAuthenticator;
  readonly #sessions: SessionStore;
  readonly #scram: ScramServer;
  readonly #audit: AuthAudit;
  readonly #jwks: JwksFile | null;
  readonly #tls: boolean;
  readonly #scramEnabled: boolean;

  /** Reads the JWKS file now (a bad one stops the start). */
  constructor(
    c: NodeConfig,
    tls: boolean,
    image: () => MetadataImage,
    registry: Registry,
    logger: ChildLogger,
  ) {
    const now = () => Date.now();
    this.#tls = tls;
    this.#scramEnabled = c.authenticationMechanisms.includes("scram");
    this.#sessions = new SessionStore(
      c.authenticationSessionLifetimeMs,
      c.authenticationSessionsMax,
      now,
    );
    this.#scram = new ScramServer(now);
    this.#audit = new AuthAudit(registry, logger, now);
    this.#jwks =
      c.authenticationJwtJwksFile === ""
        ? null
        : new JwksFile(c.authenticationJwtJwksFile, logger.child({ file: "jwks" }));
    this.#jwks?.watch(c.tlsReloadIntervalMs);
    this.authenticator = new ClientAuthenticator({
      tls,
      mechanisms: c.authenticationMechanisms,
      anonymous: c.authenticationAnonymousEnable,
      certificateUsers: c.listenersClientTlsClientAuth !== "none",
      sessions: this.#sessions,
      jwks: this.#jwks,
      jwtRules: {
        issuer: c.authenticationJwtIssuer,
        audience: c.authenticationJwtAudience,
        principalClaim: c.authenticationJwtPrincipalClaim,
        clockSkewMs: c.authenticationJwtClockSkewMs,
      },
      image,
      audit: this.#audit,
      now,
    });
  }

  /** The client listener's authentication interceptor. */
  interceptor(): grpc.ServerInterceptor {
    return authenticationInterceptor(this.authenticator);
  }

  /** Registers AuthService on the client server. */
  addAuthService(server: grpc.Server, ctx: ServiceContext): void {
    server.addService(
      strandGrpc().strand.v1.AuthService.service,
      authServiceHandlers(ctx, {
        enabled: this.#scramEnabled,
        tls: this.#tls,
        scram: this.#scram,
        sessions: this.#sessions,
        audit: this.#audit,
      }),
    );
  }

  /** Stops re-reading the JWKS file. */
  close(): void {
    this.#jwks?.close();
  }
}
