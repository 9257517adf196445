/**
 * Who made a request (docs/security.md): the contract between authentication (which turns a
 * call's transport and credentials into a {@link Principal}) and authorization (which decides
 * what that principal may do). Both sides import it from here.
 */
import type * as grpc from "@grpc/grpc-js";
import { type AuthContextSource, peerIdentity } from "@strand/protocol";

/** The authenticated identity of a request. */
export type Principal =
  /** A user: from a client certificate's CN, a SCRAM login or a bearer token's subject. */
  | {
      readonly kind: "user";
      readonly name: string;
      readonly mechanism: "mtls" | "scram" | "jwt";
    }
  /** A cluster node, by the node id its certificate names (SAN URI `strand:node:<id>`). */
  | { readonly kind: "node"; readonly nodeId: number }
  /** Nobody: a plaintext or certificate-less call that presented no credentials. */
  | { readonly kind: "anonymous" };

/** The anonymous principal (one shared object). */
export const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

/** The principal as ACLs and logs name it: `User:alice`, `Node:3`, `User:ANONYMOUS`. */
export function principalName(principal: Principal): string {
  switch (principal.kind) {
    case "user":
      return `User:${principal.name}`;
    case "node":
      return `Node:${principal.nodeId}`;
    case "anonymous":
      return "User:ANONYMOUS";
  }
}

/** What an authenticator reads from a server call. */
export interface AuthenticatedCall extends AuthContextSource {
  readonly metadata: grpc.Metadata;
}

/**
 * Turns a call into its principal. Rejects with {@link UnauthenticatedError} when the call
 * carries credentials that do not verify, or carries none where the listener requires them.
 */
export interface Authenticator {
  /**
   * @param options.fresh - check the credentials again although this call was authenticated
   *   before (a long-lived stream: its session may have ended or its token expired since)
   */
  authenticate(call: AuthenticatedCall, options?: AuthenticateOptions): Promise<Principal>;
}

/** Options of {@link Authenticator.authenticate}. */
export interface AuthenticateOptions {
  readonly fresh?: boolean;
}

/** Credentials were wrong or missing: gRPC UNAUTHENTICATED, with the reason. */
export class UnauthenticatedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnauthenticatedError";
  }
}

/** The principal was authenticated but may not do this: gRPC PERMISSION_DENIED. */
export class PermissionDeniedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermissionDeniedError";
  }
}

/**
 * The transport's principal alone: a verified certificate naming a node is that node, any
 * other verified certificate is the user named by its CN, anything else is anonymous. The
 * default authenticator (no passwords, no tokens).
 */
export function transportPrincipal(call: AuthContextSource): Principal {
  const peer = peerIdentity(call);
  if (!peer.tls) return ANONYMOUS;
  if (peer.nodeId !== null) return { kind: "node", nodeId: peer.nodeId };
  if (peer.subject === "") return ANONYMOUS;
  return { kind: "user", name: peer.subject, mechanism: "mtls" };
}

/** An {@link Authenticator} that uses {@link transportPrincipal} only. */
export const transportAuthenticator: Authenticator = {
  authenticate: (call) => Promise.resolve(transportPrincipal(call)),
};
