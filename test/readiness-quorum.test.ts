// Goal: /readyz tells the truth about the controller quorum. In a 3-node cluster whose other two
// nodes die, the survivor (a controller voter) turns 503 with a "no raft quorum contact" reason
// within a few election timeouts, although its broker side is still registered and caught up.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { layout, type NodeProcess, startNode, waitReady } from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";

const nodes: NodeProcess[] = [];
const roots: string[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
});
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe("readiness and quorum contact", () => {
  it("a voter that lost its quorum answers /readyz 503 with the reason", async () => {
    const root = mkdtempSync(join(tmpdir(), "strand-readyz-"));
    roots.push(root);
    const l = await layout(3);
    const all = [1, 2, 3].map((id) => startNode(l, id, root, ["--bootstrap"]));
    nodes.push(...all);
    await waitReady(all, 40_000);
    const [survivor, ...others] = all;
    for (const n of others) await n.kill("SIGKILL");
    const answer = await waitFor(
      "/readyz 503",
      async () => {
        const r = await survivor!.http("/readyz");
        return r.status === 503 ? r : undefined;
      },
      20_000,
    );
    expect(answer.body).toMatch(/no raft quorum contact for \d+ ms/);
  }, 90_000);
});
