/**
 * The cluster id a metadata directory was formatted with (Kafka's `meta.properties`
 * `cluster.id`): stored in `<dataDir>/__cluster_metadata/cluster.id` before the directory is
 * formatted, read at every start. It is mixed into the voters' bootstrap directory ids, so
 * voters of two clusters never recognise each other (see docs/controller.md). A formatted
 * directory without the file was formatted before cluster ids existed ("legacy") and keeps
 * the directory ids derived from node ids alone.
 */

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { readFileBounded, writeFileAtomic } from "@strand/base";

/** Name of the cluster id file in the metadata log directory. */
export const CLUSTER_ID_FILE = "cluster.id";
/** A cluster id is 16 bytes, base64url without padding: 22 characters (as Kafka's). */
const CLUSTER_ID_RE = /^[A-Za-z0-9_-]{22}$/;
/** Bound of the file read: an id and a newline, with room to spare. */
const CLUSTER_ID_FILE_BYTES_MAX = 256;

/** A new cluster id: 16 random bytes, base64url without padding (22 characters), as Kafka's. */
export function newClusterId(): string {
  return randomBytes(16).toString("base64url");
}

/** True when `text` has the shape of a cluster id (22 base64url characters). */
export function isClusterId(text: string): boolean {
  return CLUSTER_ID_RE.test(text);
}

/**
 * Thrown by ControllerNode.start when the configured cluster id (`cluster.id`) is not the one
 * the metadata directory was formatted with: the data dir belongs to another cluster.
 */
export class ClusterIdMismatchError extends Error {
  /** The id stored in the metadata directory. */
  readonly stored: string;
  /** The configured id. */
  readonly configured: string;
  constructor(dir: string, stored: string, configured: string) {
    super(
      `metadata directory ${dir} was formatted for cluster ${stored} but cluster.id is ${configured}: ` +
        "this data dir belongs to another cluster; use another data dir (--data.dir) or drop --cluster-id",
    );
    this.name = "ClusterIdMismatchError";
    this.stored = stored;
    this.configured = configured;
  }
}

/** The cluster id stored in metadata log directory `metaDir`, or null when it has none. */
export async function readClusterId(metaDir: string): Promise<string | null> {
  const file = join(metaDir, CLUSTER_ID_FILE);
  const buf = await readFileBounded(file, CLUSTER_ID_FILE_BYTES_MAX);
  if (buf === null) return null;
  const id = buf.toString("utf8").trim();
  if (!isClusterId(id))
    throw new Error(`${file} does not hold a cluster id: ${JSON.stringify(id)}`);
  return id;
}

/** Stores `clusterId` in `metaDir` (which must exist), atomically and durably. */
export async function writeClusterId(metaDir: string, clusterId: string): Promise<void> {
  await writeFileAtomic(join(metaDir, CLUSTER_ID_FILE), `${clusterId}\n`);
}
