/**
 * Counting node-identity refusals on the internal listener (docs/security.md, docs/metrics.md
 * `strand_node_identity_refusals_total`). Two places see them: a server interceptor sees every
 * call the Raft, Controller and Replication handlers answer PERMISSION_DENIED (on the internal
 * listener that is only ever an identity refusal), and the TLS server behind grpc-js sees
 * handshakes that fail before any handler runs (no certificate, another CA).
 */
import type { TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { peerIdentity } from "@strand/protocol";

/** Why the internal listener refused a caller (a bounded label set). */
export type IdentityRefusalReason =
  /** The certificate is valid but carries no `strand:node:<id>` URI (a client certificate). */
  | "names_no_node"
  /** The certificate names a node, but not the one the message claims to come from. */
  | "other_node"
  /** TLS handshake: the caller presented no certificate (or spoke plaintext). */
  | "no_certificate"
  /** TLS handshake: OpenSSL reported that the certificate does not verify (TLS 1.2 peers). */
  | "untrusted_certificate"
  /**
   * TLS handshake failed otherwise: protocol, garbage, or a connection reset mid-handshake.
   * A TLS 1.3 certificate from another CA lands here: Node destroys such a socket without an
   * error, and what the server then sees is the client's reset.
   */
  | "handshake_failed";

/** Counts one refusal of `rpc` (a method name, or `tls_handshake`). */
export type CountRefusal = (rpc: string, reason: IdentityRefusalReason) => void;

/** The `rpc` label of a refused handshake: no method was reached. */
export const HANDSHAKE_RPC = "tls_handshake";

/**
 * A server interceptor counting every PERMISSION_DENIED answer, by method name and by what
 * the caller's certificate names. Install on the internal listener only: there,
 * PERMISSION_DENIED means a node-identity refusal and nothing else.
 */
export function identityRefusalInterceptor(count: CountRefusal): grpc.ServerInterceptor {
  return (method, next) => {
    const call: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(next, {
      sendStatus: (status, pass) => {
        if (status.code === grpc.status.PERMISSION_DENIED) {
          const peer = peerIdentity(call);
          const reason = peer.tls && peer.nodeId === null ? "names_no_node" : "other_node";
          count(method.path.slice(method.path.lastIndexOf("/") + 1), reason);
        }
        pass(status);
      },
    });
    return call;
  };
}

/** What a failed TLS handshake says about the caller's certificate. */
export function handshakeReason(error: unknown): IdentityRefusalReason {
  const code = (error as { code?: unknown } | null)?.code;
  const text = `${typeof code === "string" ? code : ""} ${error instanceof Error ? error.message : ""}`;
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|WRONG_VERSION_NUMBER|HTTP_REQUEST/i.test(text))
    return "no_certificate";
  if (
    /CERTIFICATE[_ ]VERIFY[_ ]FAILED|UNKNOWN[_ ]CA|EXPIRED|SELF[_ ]SIGNED|UNABLE[_ ]TO[_ ]GET[_ ]ISSUER/i.test(
      text,
    )
  )
    return "untrusted_certificate";
  return "handshake_failed";
}

/** The part of a TLS server this module listens on. */
interface TlsClientErrorSource {
  on(event: "tlsClientError", listener: (error: Error, socket: TLSSocket) => void): unknown;
}

/**
 * Counts failed TLS handshakes on `server`'s bound secure ports. grpc-js has no public hook:
 * its http2 servers are in the private `http2Servers` map, read here defensively. Returns
 * false (nothing counted) when that field is gone (a grpc-js upgrade), so the caller can say
 * so once; test/tls-attacks.test.ts notices it too. Call after every bind.
 */
export function countHandshakeFailures(
  server: grpc.Server,
  onFailure: (reason: IdentityRefusalReason, error: Error) => void,
): boolean {
  const servers: unknown = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return false;
  for (const http2Server of servers.keys() as IterableIterator<unknown>) {
    if (typeof (http2Server as { setSecureContext?: unknown }).setSecureContext !== "function")
      continue;
    (http2Server as TlsClientErrorSource).on("tlsClientError", (error) =>
      onFailure(handshakeReason(error), error),
    );
  }
  return true;
}
