/**
 * The client listener's {@link Authenticator} (docs/security.md): turns a call into its
 * principal from, in order,
 *  1. a forwarded principal (`strand-principal`), honoured only from a caller whose verified
 *     certificate names a cluster node, refused from anyone else, ignored without TLS;
 *  2. a cluster node's certificate (a node calling as itself);
 *  3. a SCRAM session token (`strand-session`) or a JWT (`authorization: Bearer`), refused
 *     on a plaintext listener, since anyone on the path could replay them;
 *  4. a client certificate the CA verified (grpc-js reports no certificate for one it did not
 *     verify, so `client.auth=requested` cannot turn an unverified certificate into a user);
 *  5. otherwise anonymous, when `authentication.anonymous.enable` allows it.
 * Every refusal is an {@link UnauthenticatedError} (or PermissionDenied for a forged forward)
 * with the reason, counted and logged by {@link AuthAudit}. Results are remembered per call
 * (by its metadata object), so a handler that asks again costs nothing.
 */
import type * as grpc from "@grpc/grpc-js";
import type { MetadataImage } from "@strand/controller";
import {
  AUTHORIZATION_HEADER,
  FORWARDED_HEADER,
  PRINCIPAL_HEADER,
  SESSION_HEADER,
} from "@strand/protocol";
import type { AuthMechanism } from "../config/index.ts";
import type { JwksFile } from "./jwks-file.ts";
import { JwtError, type JwtRules, verifyJwt } from "./jwt.ts";
import type { AuthAudit, AuthFailure } from "./metrics.ts";
import {
  ANONYMOUS,
  type AuthenticatedCall,
  type AuthenticateOptions,
  type Authenticator,
  PermissionDeniedError,
  type Principal,
  principalName,
  transportPrincipal,
  UnauthenticatedError,
} from "./principal.ts";
import { SCRAM_MECHANISM } from "./scram-server.ts";
import type { SessionStore } from "./sessions.ts";

/** What the authenticator needs from the node. */
export interface ClientAuthenticatorOptions {
  /** Whether the client listener runs TLS (credentials are refused without it). */
  readonly tls: boolean;
  readonly mechanisms: readonly AuthMechanism[];
  readonly anonymous: boolean;
  /** Whether a verified client certificate names a user (false with `client.auth=none`). */
  readonly certificateUsers: boolean;
  readonly sessions: SessionStore;
  /** The JWKS, or null when bearer tokens are not configured. */
  readonly jwks: Pick<JwksFile, "keys"> | null;
  readonly jwtRules: JwtRules;
  /** The metadata image (users that exist now). */
  image(): MetadataImage;
  readonly audit: AuthAudit;
  now(): number;
}

/** Encodes a principal for {@link PRINCIPAL_HEADER}. */
export function encodePrincipal(principal: Principal): string {
  return JSON.stringify(principal);
}

/** Decodes {@link PRINCIPAL_HEADER}: a user, a node or anonymous; null when malformed. */
export function decodePrincipal(text: string): Principal | null {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object") return null;
  if (v.kind === "anonymous") return ANONYMOUS;
  if (v.kind === "node")
    return Number.isInteger(v.nodeId) && (v.nodeId as number) >= 0
      ? { kind: "node", nodeId: v.nodeId as number }
      : null;
  const mechanisms = ["mtls", "scram", "jwt"];
  if (
    v.kind !== "user" ||
    typeof v.name !== "string" ||
    v.name === "" ||
    v.name.length > 256 ||
    !mechanisms.includes(String(v.mechanism))
  )
    return null;
  return { kind: "user", name: v.name, mechanism: v.mechanism as "mtls" | "scram" | "jwt" };
}

/** The authenticated principal of a call the client listener already let through. */
const remembered = new WeakMap<grpc.Metadata, Principal>();

/** The principal the interceptor authenticated for this call's metadata; anonymous if none. */
export function principalOf(metadata: grpc.Metadata): Principal {
  return remembered.get(metadata) ?? ANONYMOUS;
}

/** Refusal with its audit labels. */
class Refusal extends UnauthenticatedError {
  readonly failure: Omit<AuthFailure, "peer">;
  constructor(mechanism: AuthFailure["mechanism"], reason: string, message: string) {
    super(message);
    this.failure = { mechanism, reason, message };
  }
}

/** See the module comment. */
export class ClientAuthenticator implements Authenticator {
  readonly #o: ClientAuthenticatorOptions;

  constructor(options: ClientAuthenticatorOptions) {
    this.#o = options;
  }

  /** {@inheritDoc Authenticator.authenticate} */
  async authenticate(
    call: AuthenticatedCall & { getPeer?(): string },
    options: AuthenticateOptions = {},
  ): Promise<Principal> {
    const known = options.fresh === true ? undefined : remembered.get(call.metadata);
    if (known !== undefined) return known;
    try {
      const principal = this.#resolve(call);
      remembered.set(call.metadata, principal);
      return principal;
    } catch (error) {
      const peer = call.getPeer?.() ?? "unknown";
      if (error instanceof Refusal) this.#o.audit.failed("client", { ...error.failure, peer });
      if (error instanceof PermissionDeniedError)
        this.#o.audit.failed("client", {
          mechanism: "forwarded",
          reason: "forged_principal",
          message: error.message,
          peer,
        });
      throw error;
    }
  }

  /** True for a call that may go without credentials even when anonymous calls are refused. */
  static exempt(path: string): boolean {
    return path.startsWith("/strand.v1.AuthService/") || path.startsWith("/grpc.health.v1.");
  }

  #resolve(call: AuthenticatedCall): Principal {
    const md = call.metadata;
    const transport = transportPrincipal(call);
    const forwardedPrincipal = single(md, PRINCIPAL_HEADER);
    if (transport.kind === "node") return this.#fromNode(md, transport, forwardedPrincipal);
    if (forwardedPrincipal !== null && this.#o.tls)
      throw new PermissionDeniedError(
        `${PRINCIPAL_HEADER} refused: only a cluster node (a certificate naming strand:node:<id>) may forward a principal, and this caller is ${principalName(transport)}`,
      );
    const session = single(md, SESSION_HEADER);
    const bearer = single(md, AUTHORIZATION_HEADER);
    if (session !== null || bearer !== null) {
      if (!this.#o.tls)
        throw new Refusal(
          session !== null ? "scram" : "jwt",
          "plaintext",
          "credentials are refused on a plaintext listener (anyone on the path could replay them): connect with TLS",
        );
      if (session !== null && bearer !== null)
        throw new Refusal(
          "none",
          "malformed",
          "send either a session token or a bearer token, not both",
        );
      return session !== null ? this.#session(session) : this.#bearer(bearer ?? "");
    }
    if (
      transport.kind === "user" &&
      this.#o.certificateUsers &&
      this.#o.mechanisms.includes("mtls")
    )
      return transport;
    return this.#anonymous();
  }

  #anonymous(): Principal {
    if (!this.#o.anonymous)
      throw new Refusal(
        "none",
        "missing",
        `this listener requires authentication (${this.#o.mechanisms.join(", ")}); anonymous calls are refused`,
      );
    return ANONYMOUS;
  }

  /** A node's call: itself, or the principal it forwards (anonymous when it forwards none). */
  #fromNode(md: grpc.Metadata, node: Principal, forwarded: string | null): Principal {
    if (forwarded !== null) {
      const principal = decodePrincipal(forwarded);
      if (principal === null)
        throw new Refusal("forwarded", "malformed", `${PRINCIPAL_HEADER} is not a principal`);
      if (principal.kind === "anonymous") return this.#anonymous();
      // A node may act for a client or for itself, never for another node.
      if (principal.kind === "node" && node.kind === "node" && principal.nodeId !== node.nodeId)
        throw new PermissionDeniedError(
          `${PRINCIPAL_HEADER} refused: node ${node.nodeId} may not act as node ${principal.nodeId}`,
        );
      return principal;
    }
    // A forwarded client request without a principal runs as nobody, never as the node.
    return md.get(FORWARDED_HEADER).length > 0 ? this.#anonymous() : node;
  }

  #session(token: string): Principal {
    if (!this.#o.mechanisms.includes("scram"))
      throw new Refusal(
        "scram",
        "disabled",
        "SCRAM is not enabled on this listener (authentication.mechanisms)",
      );
    const s = this.#o.sessions.lookup(token);
    if (s === "unknown")
      throw new Refusal(
        "scram",
        "unknown_session",
        "unknown session token (the broker restarted or it was never issued here): log in again",
      );
    if (s === "expired") throw new Refusal("scram", "expired", "the session expired: log in again");
    const credential = this.#o.image().users.get(s.user)?.get(SCRAM_MECHANISM);
    if (credential === undefined) {
      this.#o.sessions.closeUser(s.user);
      throw new Refusal("scram", "unknown_user", `user ${s.user} no longer exists`);
    }
    if (!Buffer.from(credential.storedKey).equals(Buffer.from(s.storedKey))) {
      this.#o.sessions.closeUser(s.user, credential.storedKey);
      throw new Refusal(
        "scram",
        "password_changed",
        `the password of user ${s.user} changed since this session's login: log in again`,
      );
    }
    return { kind: "user", name: s.user, mechanism: "scram" };
  }

  #bearer(header: string): Principal {
    if (!this.#o.mechanisms.includes("jwt"))
      throw new Refusal(
        "jwt",
        "disabled",
        "bearer tokens are not enabled on this listener (authentication.mechanisms)",
      );
    const jwks = this.#o.jwks;
    if (jwks === null)
      throw new Refusal(
        "jwt",
        "disabled",
        "bearer tokens are not configured (authentication.jwt.jwks.file)",
      );
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
    if (match === null)
      throw new Refusal(
        "jwt",
        "malformed",
        `the ${AUTHORIZATION_HEADER} header must be "Bearer <JWT>"`,
      );
    try {
      const name = verifyJwt(match[1] ?? "", jwks.keys, this.#o.jwtRules, this.#o.now());
      return { kind: "user", name, mechanism: "jwt" };
    } catch (error) {
      if (error instanceof JwtError)
        throw new Refusal("jwt", error.reason, `bearer token refused: ${error.message}`);
      throw error;
    }
  }
}

/** The one value of a header, or null; two values are a malformed call. */
function single(md: grpc.Metadata, name: string): string | null {
  const values = md.get(name);
  if (values.length === 0) return null;
  if (values.length > 1) throw new Refusal("none", "malformed", `${name} given more than once`);
  return String(values[0]);
}
