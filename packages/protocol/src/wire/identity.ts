/**
 * Node identity on the internal listener (docs/security.md): with TLS on, every node's
 * certificate carries the SAN URI `strand:node:<id>`, and a message that claims to come from
 * node N (Raft `from`, a replica fetch's `replica_id`, a controller RPC's `broker_id`) is
 * accepted only over a connection whose verified certificate names node N. With TLS off
 * (development) there is no identity and nothing is checked.
 */
import type { PeerCertificate } from "node:tls";

/** The SAN URI prefix that names a node: `strand:node:3` is node 3. */
export const NODE_URI_PREFIX = "strand:node:";

/** Largest node id (an int32, as in node.id). */
const NODE_ID_MAX = 2_147_483_647;

/** Who is at the other end of a call, as far as its transport can tell. */
export type PeerIdentity =
  /** Plaintext: no identity (TLS off). */
  | { readonly tls: false }
  /** TLS: the verified certificate's node id (null: it names none) and its subject CN. */
  | { readonly tls: true; readonly nodeId: number | null; readonly subject: string };

/** A transport's auth context, as grpc-js reports it (its type is not exported). */
export interface TransportAuthContext {
  readonly transportSecurityType?: string;
  readonly sslPeerCertificate?: PeerCertificate;
}

/** Anything that can report its transport's auth context: every grpc-js server call. */
export interface AuthContextSource {
  getAuthContext(): TransportAuthContext | null;
}

/**
 * The node id a certificate names through a `URI:strand:node:<id>` subject alternative name,
 * or null when it names none. Two different node URIs in one certificate name none: a
 * certificate is one node.
 */
export function nodeIdOfCertificate(
  cert: Pick<PeerCertificate, "subjectaltname"> | undefined,
): number | null {
  const sans = cert?.subjectaltname ?? "";
  const ids = new Set<number>();
  for (const entry of sans.split(",")) {
    const san = entry.trim();
    if (!san.startsWith(`URI:${NODE_URI_PREFIX}`)) continue;
    const text = san.slice(`URI:${NODE_URI_PREFIX}`.length);
    if (!/^[0-9]{1,10}$/.test(text)) return null;
    const id = Number(text);
    if (id > NODE_ID_MAX) return null;
    ids.add(id);
  }
  return ids.size === 1 ? ([...ids][0] ?? null) : null;
}

/** The identity of the peer of a server call (see {@link PeerIdentity}). */
export function peerIdentity(call: AuthContextSource): PeerIdentity {
  const context = call.getAuthContext();
  if (context === null || context.transportSecurityType !== "ssl") return { tls: false };
  const cert = context.sslPeerCertificate;
  const cn = cert?.subject?.CN;
  return {
    tls: true,
    nodeId: nodeIdOfCertificate(cert),
    subject: Array.isArray(cn) ? cn.join(",") : (cn ?? ""),
  };
}

/**
 * Why a message claiming to come from node `claimed` must be refused from `peer`, or null
 * when it may pass: any claim passes without TLS; with TLS the verified certificate must
 * name exactly that node. `what` names the claim in the message ("RegisterBroker broker_id").
 */
export function identityMismatch(peer: PeerIdentity, claimed: number, what: string): string | null {
  if (!peer.tls) return null;
  if (peer.nodeId === null)
    return `${what} ${claimed} refused: the client certificate${peer.subject === "" ? "" : ` (CN ${peer.subject})`} names no node (SAN URI ${NODE_URI_PREFIX}<id>)`;
  if (peer.nodeId !== claimed)
    return `${what} ${claimed} refused: the client certificate belongs to node ${peer.nodeId}`;
  return null;
}
