/**
 * The directory-id rule (in the spirit of Kafka's KIP-853): a controller voter whose metadata
 * directory is empty may format it only when that cannot resurrect a voter that lost its
 * disk: when it is the only voter (a standalone quorum) or when the operator says this is
 * the first formation of a new cluster (`--bootstrap`). Otherwise the node refuses to start:
 * an empty disk on a multi-voter quorum looks exactly like a wiped voter, and letting it vote
 * with an empty log could elect a leader that lacks committed metadata.
 *
 * A multi-voter `--bootstrap` also needs the cluster id (`--cluster-id`), the same on every
 * voter: it is mixed into the voters' directory ids, so two clusters' voters never vote for
 * each other (docs/controller.md).
 */

import { access } from "node:fs/promises";
import { join } from "node:path";
import { METADATA_LOG_DIR } from "@strand/controller";
import type { NodeConfig } from "../config/index.ts";

/** The node may not start: the message is the one line an operator sees. */
export class NodeStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeStartError";
  }
}

/** True when `<dataDir>/__cluster_metadata/meta.json` exists. */
export async function metadataFormatted(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, METADATA_LOG_DIR, "meta.json"));
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws {@link NodeStartError} when the rule forbids formatting an empty metadata dir.
 * `newDirectory` (a replacement controller) always may: it formats with a fresh random
 * directory id and starts as a non-voter until AddRaftVoter adds it, so it cannot
 * resurrect the voter whose disk was lost.
 */
export async function checkFormatPolicy(
  config: NodeConfig,
  bootstrap: boolean,
  newDirectory = false,
): Promise<void> {
  if (await metadataFormatted(config.dataDir)) return;
  const dir = join(config.dataDir, METADATA_LOG_DIR);
  const voters = config.controllerVoters.length;
  if (bootstrap && voters > 1 && config.clusterId === "")
    throw new NodeStartError(
      `--bootstrap of node ${config.nodeId}, one of ${voters} controller voters, needs --cluster-id: ` +
        "pass the same --cluster-id to every voter of the new cluster (generate one with `strand cluster new-id`, " +
        "or any 22 base64url characters); it names the cluster and keeps its voters from ever voting with another cluster's",
    );
  if (voters === 1 || bootstrap || newDirectory) return;
  throw new NodeStartError(
    `metadata directory ${dir} is empty and node ${config.nodeId} is one of ${config.controllerVoters.length} controller voters: ` +
      "pass --bootstrap if this is the first start of a brand-new cluster; if this voter lost its disk, do not reuse its identity " +
      "(start it with a new directory id and add it back: docs/operations.md, 'Replacing a controller whose disk was lost')",
  );
}
