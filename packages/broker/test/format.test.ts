// Goal: the formation rule of a controller's empty metadata dir: a multi-voter node needs
// --bootstrap (or --new-directory), and a multi-voter --bootstrap needs --cluster-id, with a
// message that tells the operator what to pass; a single voter formats freely; a formatted
// dir is never re-checked.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { METADATA_LOG_DIR } from "@strand/controller";
import { afterAll, describe, expect, it } from "vitest";
import { loadNodeConfig, type NodeConfig } from "../src/config/index.ts";
import { checkFormatPolicy, NodeStartError } from "../src/node/format.ts";

const root = mkdtempSync(join(tmpdir(), "strand-format-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ID = "Xh3kZ1m9TnWc8b2qLr0pAw";
const VOTERS = "1@127.0.0.1:9093,2@127.0.0.1:9103,3@127.0.0.1:9113";

function config(flags: Record<string, string>): NodeConfig {
  const dataDir = mkdtempSync(join(root, "node-"));
  return loadNodeConfig({ flags: { "data.dir": dataDir, ...flags } });
}

describe("checkFormatPolicy", () => {
  it("refuses a multi-voter --bootstrap without --cluster-id, naming the fix", async () => {
    const c = config({ "controller.quorum.voters": VOTERS });
    const refused = checkFormatPolicy(c, true);
    await expect(refused).rejects.toBeInstanceOf(NodeStartError);
    await expect(checkFormatPolicy(c, true)).rejects.toThrow(
      /needs --cluster-id: pass the same --cluster-id to every voter.*strand cluster new-id/,
    );
  });

  it("accepts a multi-voter --bootstrap with --cluster-id, and a single voter without", async () => {
    await checkFormatPolicy(config({ "controller.quorum.voters": VOTERS, "cluster.id": ID }), true);
    await checkFormatPolicy(config({}), true);
    await checkFormatPolicy(config({}), false);
  });

  it("refuses an empty multi-voter dir without --bootstrap, and never checks a formatted one", async () => {
    const c = config({ "controller.quorum.voters": VOTERS, "cluster.id": ID });
    await expect(checkFormatPolicy(c, false)).rejects.toThrow(/is empty.*--bootstrap/);
    // --new-directory (a replacement controller) may format without a cluster id.
    await checkFormatPolicy(config({ "controller.quorum.voters": VOTERS }), false, true);
    const formatted = config({ "controller.quorum.voters": VOTERS });
    mkdirSync(join(formatted.dataDir, METADATA_LOG_DIR));
    writeFileSync(join(formatted.dataDir, METADATA_LOG_DIR, "meta.json"), "{}");
    await checkFormatPolicy(formatted, true);
  });
});

describe("cluster.id", () => {
  it("is optional and must be 22 base64url characters", () => {
    expect(config({}).clusterId).toBe("");
    expect(config({ "cluster.id": ID }).clusterId).toBe(ID);
    expect(loadNodeConfig({ env: { STRAND_CLUSTER_ID: ID } }).clusterId).toBe(ID);
    expect(() => config({ "cluster-id": "not-an-id" })).toThrow(
      /cluster.id \(from flag\) must be 22 base64url characters/,
    );
  });
});
