// Goal: a node whose start-up hits a fatal error exits non-zero with the reason in its output,
// instead of staying up with /readyz 503 forever. The fatal error here is the one the issue
// saw: a committed metadata log entry that does not decode, replayed at start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage, index, nodeId } from "@strand/raft";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { layout, type NodeProcess, startNode, waitReady } from "./support/cluster.ts";

const nodes: NodeProcess[] = [];
const roots: string[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
});
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** Appends a committed normal entry whose payload is not a metadata record batch. */
async function plantUndecodableEntry(dataDir: string): Promise<number> {
  const storage = await FileStorage.open({
    dir: join(dataDir, "__cluster_metadata"),
    nodeId: nodeId(1),
  });
  try {
    const last = storage.lastIndex();
    const t = storage.term(last) ?? storage.hardState().term;
    const at = index(last + 1);
    await storage.append([
      { type: "normal", index: at, term: t, data: new Uint8Array([0xff, 0xff, 0xff]) },
    ]);
    await storage.setHardState({ ...storage.hardState(), commit: at });
    return at;
  } finally {
    await storage.close();
  }
}

describe("start-up fatal errors", () => {
  it("a committed entry that does not decode makes the restarted node exit 1 with the reason", async () => {
    const root = mkdtempSync(join(tmpdir(), "strand-fatal-"));
    roots.push(root);
    const l = await layout(1);
    const first = startNode(l, 1, root);
    nodes.push(first);
    await waitReady([first]);
    expect(await first.kill("SIGTERM")).toBe(0);
    await plantUndecodableEntry(first.dataDir);

    const again = startNode(l, 1, root);
    nodes.push(again);
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000).unref());
    const code = await Promise.race([again.exited, timeout]);
    expect(code, again.tail()).toBe(1);
    expect(again.stderr).toMatch(/strand: fatal.*undecodable metadata batch/);
  }, 60_000);
});
