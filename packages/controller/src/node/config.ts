/**
 * Static quorum configuration: the voters' ids and internal addresses (Kafka's
 * `controller.quorum.voters`), and the directory ids the voters are bootstrapped with.
 */
import { createHash } from "node:crypto";
import { type DirectoryId, directoryId, type NodeId, nodeId } from "@strand/raft";

/** One voter of the metadata quorum. */
export interface VoterConfig {
  readonly id: NodeId;
  /** Host of its internal listener. */
  readonly host: string;
  /** Port of its internal listener. */
  readonly port: number;
  /**
   * Its storage directory id (KIP-853). When omitted, {@link bootstrapDirectoryId} is used:
   * every node derives the same id for a voter without exchanging anything.
   */
  readonly dir?: DirectoryId;
}

/** Most voters in a quorum. */
export const QUORUM_VOTERS_MAX = 9;
const INT32_MAX = 2 ** 31 - 1;
const VOTER_RE = /^(\d+)@(\[[^\]]+\]|[^:@,\s]+):(\d+)(?::([0-9a-f-]{36}))?$/;

/**
 * The directory id a voter is formatted with when none is configured: a uuid derived from
 * the cluster id and the node id, `sha256("strand/controller/<clusterId>/<nodeId>")`. Every
 * voter formatted with the same cluster id derives the same ids without exchanging anything;
 * voters of two clusters derive different ones, so they refuse each other's messages (a
 * voter acts only on messages of its configuration's (id, directory id) pairs). A null
 * `clusterId` is a metadata dir formatted before cluster ids existed: the legacy
 * `sha256("strand/controller/<nodeId>")`, the same in every cluster.
 *
 * A node that loses its disk re-formats with the same id, so (unlike KIP-853's random ids) a
 * wiped voter is not told apart from its former self: replace lost disks by giving the node
 * an explicit new directory id. See docs/controller.md.
 */
export function bootstrapDirectoryId(id: NodeId, clusterId: string | null = null): DirectoryId {
  const seed =
    clusterId === null ? `strand/controller/${id}` : `strand/controller/${clusterId}/${id}`;
  const h = createHash("sha256").update(seed).digest("hex");
  const v = `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? "0", 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return directoryId(v);
}

/**
 * Parses `1@host:port,2@host:port[:directory-uuid],...`; throws an Error that names the bad
 * item. Ids must be distinct positive int32s, ports 1..65535.
 */
export function parseVoters(text: string): VoterConfig[] {
  const items = text.split(",").filter((s) => s.trim().length > 0);
  if (items.length === 0 || items.length > QUORUM_VOTERS_MAX)
    throw new Error(`--voters needs 1..${QUORUM_VOTERS_MAX} entries like 1@127.0.0.1:9093`);
  const voters = items.map((item) => {
    const m = VOTER_RE.exec(item.trim());
    const id = Number(m?.[1]);
    const port = Number(m?.[3]);
    if (m === null || !(id >= 1 && id <= INT32_MAX) || !(port >= 1 && port <= 65_535))
      throw new Error(`bad voter ${JSON.stringify(item)}: expected id@host:port[:directory-uuid]`);
    const host = (m[2] ?? "").replace(/^\[|\]$/g, "");
    return {
      id: nodeId(id),
      host,
      port,
      ...(m[4] === undefined ? {} : { dir: directoryId(m[4]) }),
    };
  });
  if (new Set(voters.map((v) => v.id)).size !== voters.length)
    throw new Error("--voters lists a node id twice");
  return voters;
}

/** `host:port` of a voter (IPv6 hosts bracketed). */
export function voterAddress(v: VoterConfig): string {
  return v.host.includes(":") ? `[${v.host}]:${v.port}` : `${v.host}:${v.port}`;
}
