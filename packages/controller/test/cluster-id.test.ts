// Goal: the cluster id a metadata dir is formatted with is mixed into the voters' bootstrap
// directory ids (voters of two clusters derive different ids, voters of one agree), stored in
// the dir and checked at every start (a different configured id is refused), and named by the
// first active controller's ClusterIdRecord. A single-voter formation without one draws a
// random id; a dir formatted without one (legacy) keeps the node-id-only directory ids.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeId } from "@strand/raft";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../test/support/free-ports.ts";
import {
  bootstrapDirectoryId,
  CLUSTER_ID_FILE,
  ClusterIdMismatchError,
  ControllerNode,
  type ControllerNodeOptions,
  isClusterId,
  METADATA_LOG_DIR,
  newClusterId,
  readClusterId,
} from "../src/node/index.ts";

const A = "AAAAAAAAAAAAAAAAAAAAAA";
const B = "BBBBBBBBBBBBBBBBBBBBBB";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "strand-cluster-id-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function start(
  o: Partial<ControllerNodeOptions> & { dataDir: string },
): Promise<ControllerNode> {
  const n = await ControllerNode.start({
    nodeId: 1,
    listen: "127.0.0.1:0",
    voters: [{ id: nodeId(1), host: "127.0.0.1", port: 1 }],
    tickMs: 20,
    controllerTickMs: 25,
    ...o,
  });
  cleanup.push(() => n.close());
  return n;
}

/** A node of a 3-voter quorum (it never elects alone: enough to see how it formats). */
function threeVoters(): ControllerNodeOptions["voters"] {
  return [1, 2, 3].map((id) => ({ id: nodeId(id), host: "127.0.0.1", port: 1 }));
}

function metaDirId(dataDir: string): string {
  const meta = JSON.parse(readFileSync(join(dataDir, METADATA_LOG_DIR, "meta.json"), "utf8"));
  return meta.directoryId as string;
}

describe("bootstrap directory ids", () => {
  it("agree within a cluster, differ between clusters and from the legacy ids", () => {
    for (const id of [1, 2, 3].map(nodeId)) {
      expect(bootstrapDirectoryId(id, A)).toBe(bootstrapDirectoryId(id, A));
      expect(bootstrapDirectoryId(id, A)).not.toBe(bootstrapDirectoryId(id, B));
      expect(bootstrapDirectoryId(id, A)).not.toBe(bootstrapDirectoryId(id, null));
    }
    expect(bootstrapDirectoryId(nodeId(1), A)).not.toBe(bootstrapDirectoryId(nodeId(2), A));
    // The legacy derivation is unchanged: dirs formatted before cluster ids keep their ids.
    const h = createHash("sha256").update("strand/controller/1").digest("hex");
    expect(bootstrapDirectoryId(nodeId(1)).replace(/-/g, "").slice(0, 12)).toBe(h.slice(0, 12));
    expect(bootstrapDirectoryId(nodeId(1), A)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("new ids have the cluster id shape", () => {
    expect(isClusterId(newClusterId())).toBe(true);
    expect(isClusterId(A)).toBe(true);
    expect(isClusterId("short")).toBe(false);
    expect(isClusterId(`${A}=`)).toBe(false);
  });
});

describe("a metadata dir formatted with a cluster id", () => {
  it("stores it, derives its directory id from it, names the cluster with it, refuses another", async () => {
    const dataDir = tempDir();
    const n = await start({ dataDir, clusterId: A });
    expect(await readClusterId(join(dataDir, METADATA_LOG_DIR))).toBe(A);
    expect(metaDirId(dataDir)).toBe(bootstrapDirectoryId(nodeId(1), A));
    expect(n.formattedClusterId).toBe(A);
    // The first active controller writes the formatted id, not a random one.
    await waitFor("cluster id record", () => n.image.clusterId !== null);
    expect(n.image.clusterId).toBe(A);
    await n.close();
    // Another configured id: refused before anything is opened.
    await expect(start({ dataDir, clusterId: B })).rejects.toBeInstanceOf(ClusterIdMismatchError);
    await expect(start({ dataDir, clusterId: B })).rejects.toThrow(
      /formatted for cluster AAAA.* but cluster.id is BBBB/,
    );
    // The same id, or none (the stored one is used), starts.
    const again = await start({ dataDir });
    expect(again.formattedClusterId).toBe(A);
  });

  it("a single-voter formation without one draws a random id and keeps it", async () => {
    const dataDir = tempDir();
    const n = await start({ dataDir });
    const stored = await readClusterId(join(dataDir, METADATA_LOG_DIR));
    expect(stored).not.toBeNull();
    expect(isClusterId(stored ?? "")).toBe(true);
    await waitFor("cluster id record", () => n.image.clusterId !== null);
    expect(n.image.clusterId).toBe(stored);
  });

  it("voters of one cluster format with the directory ids the others expect", async () => {
    const dirs = [tempDir(), tempDir()];
    await (await start({ dataDir: dirs[0]!, voters: threeVoters(), clusterId: A })).close();
    await (
      await start({ dataDir: dirs[1]!, nodeId: 2, voters: threeVoters(), clusterId: B })
    ).close();
    expect(metaDirId(dirs[0]!)).toBe(bootstrapDirectoryId(nodeId(1), A));
    expect(metaDirId(dirs[1]!)).toBe(bootstrapDirectoryId(nodeId(2), B));
  });

  it("a legacy dir (formatted without an id) keeps its legacy directory ids", async () => {
    const dataDir = tempDir();
    // A multi-voter formation without an id (the server refuses it; the library allows it).
    await (await start({ dataDir, voters: threeVoters() })).close();
    expect(await readClusterId(join(dataDir, METADATA_LOG_DIR))).toBeNull();
    expect(metaDirId(dataDir)).toBe(bootstrapDirectoryId(nodeId(1), null));
    // A configured id cannot re-derive a formatted dir's ids: it starts, still legacy.
    const n = await start({ dataDir, voters: threeVoters(), clusterId: A });
    expect(n.formattedClusterId).toBeNull();
    expect(metaDirId(dataDir)).toBe(bootstrapDirectoryId(nodeId(1), null));
  });

  it("a cluster id file without meta.json (a crash mid-format) is replaced at formation", async () => {
    const dataDir = tempDir();
    const metaDir = join(dataDir, METADATA_LOG_DIR);
    await (await start({ dataDir, clusterId: A })).close();
    // The id is written before meta.json: a crash in between leaves only cluster.id.
    for (const name of readdirSync(metaDir))
      if (name !== CLUSTER_ID_FILE) rmSync(join(metaDir, name), { recursive: true });
    const n = await start({ dataDir, clusterId: B });
    expect(readFileSync(join(metaDir, CLUSTER_ID_FILE), "utf8")).toBe(`${B}\n`);
    expect(n.formattedClusterId).toBe(B);
    expect(metaDirId(dataDir)).toBe(bootstrapDirectoryId(nodeId(1), B));
  });
});
