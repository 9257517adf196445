/**
 * Who may call the ControllerService (docs/security.md): with TLS on the internal listener,
 * only nodes, each as itself. A request that names a broker (`broker_id`) must come over a
 * connection whose certificate names that node; a request another controller forwarded
 * (FORWARDED_BY_HEADER) must come from the node the header names, which checked the original
 * caller itself. With TLS off nothing is checked (development).
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "@strand/base";
import {
  type AuthContextSource,
  FORWARDED_BY_HEADER,
  identityMismatch,
  NODE_URI_PREFIX,
  peerIdentity,
} from "@strand/protocol";
import { LogLimiter } from "@strand/raft";

/** One limiter per logger (per node): refusals cost a line per caller per interval. */
const limiters = new WeakMap<Logger, LogLimiter>();

/**
 * Logs a refusal as a warning, at most one line per RPC and peer host per 10 s with the count
 * of the ones suppressed, so a caller that keeps trying cannot fill the disk.
 */
export function logRefusal(logger: Logger, rpc: string, peer: string, why: string): void {
  let limiter = limiters.get(logger);
  if (limiter === undefined) {
    limiter = new LogLimiter();
    limiters.set(logger, limiter);
  }
  const host = peer.replace(/:\d+$/, "");
  const suppressed = limiter.hit(`${rpc} ${host}`);
  if (suppressed !== null) logger.warn({ rpc, peer, why, suppressed }, "internal RPC refused");
}

/** A refusal: PERMISSION_DENIED with the reason. */
export interface PeerRefusal {
  readonly code: grpc.status;
  readonly details: string;
}

/**
 * Why `call` must be refused, or null. `claimed` is the broker id the request names (null for
 * requests that name none: any node may send them).
 */
export function checkPeer(
  call: AuthContextSource & { readonly metadata: grpc.Metadata },
  rpc: string,
  claimed: number | null,
): PeerRefusal | null {
  const peer = peerIdentity(call);
  if (!peer.tls) return null;
  const deny = (details: string): PeerRefusal => ({
    code: grpc.status.PERMISSION_DENIED,
    details: `${rpc}: ${details}`,
  });
  if (peer.nodeId === null)
    return deny(
      `only nodes may call the internal listener; the client certificate names no node (SAN URI ${NODE_URI_PREFIX}<id>)`,
    );
  const forwardedBy = call.metadata.get(FORWARDED_BY_HEADER)[0];
  if (forwardedBy !== undefined) {
    const by = Number(String(forwardedBy));
    const why = identityMismatch(peer, by, `forwarded by node`);
    return why === null ? null : deny(why);
  }
  if (claimed === null) return null;
  const why = identityMismatch(peer, claimed, "broker_id");
  return why === null ? null : deny(why);
}
