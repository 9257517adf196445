// Goal: the metadata log never takes an entry that would stop a node at apply (the raft
// driver validates every proposal and every received append with the metadata decoder), and
// a voter that has lost its quorum says so (readiness feeds on it) while a healthy one does not.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidEntryError, nodeId } from "@strand/raft";
import { afterEach, describe, expect, it } from "vitest";
import { freePorts, waitFor } from "../../../test/support/free-ports.ts";
import { encodeMetadataBatch } from "../src/codec.ts";
import { ControllerNode, metadataBatchProblem } from "../src/node/node.ts";
import type { MetadataRecord } from "../src/records.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A record the encoder takes but the decoder refuses (an unknown config resource type). */
const undecodable = {
  type: "config",
  resource: { type: "bogus", name: "x" },
  key: "k",
  value: "v",
} as unknown as MetadataRecord;

async function startNodes(count: number): Promise<ControllerNode[]> {
  const dir = mkdtempSync(join(tmpdir(), "strand-hardening-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const ports = await freePorts(count);
  const voters = ports.map((port, k) => ({ id: nodeId(k + 1), host: "127.0.0.1", port }));
  const nodes = await Promise.all(
    voters.map((v) =>
      ControllerNode.start({
        nodeId: v.id,
        dataDir: join(dir, `n${v.id}`),
        listen: `127.0.0.1:${v.port}`,
        voters,
        tickMs: 20,
        controllerTickMs: 25,
      }),
    ),
  );
  for (const n of nodes) cleanup.push(() => n.close());
  return nodes;
}

describe("metadata entry validation", () => {
  it("metadataBatchProblem accepts what decodes and names what does not", () => {
    expect(metadataBatchProblem(encodeMetadataBatch([{ type: "noOp" }]))).toBeNull();
    expect(metadataBatchProblem(new Uint8Array())).toBeNull();
    expect(metadataBatchProblem(new Uint8Array([0xff, 0xff, 0xff]))).toMatch(/undecodable/);
    expect(metadataBatchProblem(encodeMetadataBatch([undecodable]))).toMatch(
      /unknown config resource type/,
    );
  });

  it("an undecodable payload proposed to the metadata log is refused; the node keeps serving", async () => {
    const [node] = await startNodes(1);
    await waitFor("active controller", () => node!.controller.isActive || undefined);
    await expect(node!.driver.propose(encodeMetadataBatch([undecodable]))).rejects.toBeInstanceOf(
      InvalidEntryError,
    );
    const at = await node!.driver.propose(encodeMetadataBatch([{ type: "noOp" }]));
    await waitFor("applied", () => node!.image.offset >= at.index || undefined);
    expect(node!.controller.isActive).toBe(true);
  });
});

describe("quorum contact", () => {
  it("a voter left alone reports lost quorum contact; with its quorum it does not", async () => {
    const nodes = await startNodes(3);
    await waitFor("active controller", () => nodes.find((n) => n.controller.isActive));
    for (const n of nodes) expect(n.quorumContactLost()).toBeNull();
    const [alone, ...others] = nodes;
    for (const n of others) await n.close();
    const why = await waitFor("lost quorum contact", () => alone!.quorumContactLost() ?? undefined);
    expect(why).toMatch(/no raft quorum contact for \d+ ms/);
  });
});
