// Goal: the CLI's admin and data items of the bug-fix issue work end to end against a real
// 3-node cluster (test/support/cluster.ts): `topic add-partitions` raises the count (a new
// partition takes records that read back; an equal count fails with INVALID_PARTITIONS named
// once); `consume -e` exits 0 at the end offsets as of its start, at once when there is
// nothing to read; `produce --compression` sends with every codec; `cluster info` prints a
// CLUSTER cell; `cluster voters list` shows the three voters, `add`/`remove` refuse bad pairs
// with one line, and `remove` of a lost (killed) follower voter shrinks the quorum, which keeps
// committing.
// Everything started here is stopped in afterAll.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout, type NodeProcess, startNode, waitReady } from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";
import { type Run, runStrand } from "./support/strand-cli.ts";

const nodes: NodeProcess[] = [];
let dataRoot = "";
let brokers = "";

/** Runs `strand ARGS` against this file's cluster. */
function strand(args: readonly string[], input = "", timeoutMs = 20_000): Promise<Run> {
  return runStrand(brokers, args, input, timeoutMs);
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A failure: the exit code, and one `strand:` line matching `pattern`. */
function expectOneLine(r: Run, code: number, pattern: RegExp): string {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^strand: /);
  expect(lines[0]).toMatch(pattern);
  return lines[0]!;
}

beforeAll(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "strand-cli-admin-"));
  const l = await layout(3);
  nodes.push(...[1, 2, 3].map((id) => startNode(l, id, dataRoot, ["--bootstrap"])));
  await waitReady(nodes, 30_000);
  brokers = nodes.map((n) => n.clientAddress).join(",");
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (dataRoot !== "") rmSync(dataRoot, { recursive: true, force: true });
});

describe("strand CLI admin items against a 3-node cluster", () => {
  it("adds partitions; a new partition takes records that read back; an equal count fails", async () => {
    expect((await strand(["topic", "create", "grow", "-p", "2", "-r", "3"])).code).toBe(0);
    const added = await strand([
      "topic",
      "add-partitions",
      "grow",
      "--partitions",
      "4",
      "-f",
      "json",
    ]);
    expect(added.code, added.stderr).toBe(0);
    const a = JSON.parse(added.stdout);
    expect(a.partitions).toBe(4);
    expect(a.added.map((p: { partition: number }) => p.partition)).toEqual([2, 3]);
    for (const p of a.added) expect(new Set(p.replicas).size).toBe(3);

    const d = JSON.parse((await strand(["topic", "describe", "grow", "-f", "json"])).stdout);
    expect(d.partitions).toHaveLength(4);

    const produced = await strand(["produce", "grow", "-p", "3", "-k", ":"], "a:1\nb:2\nc:3\n");
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await strand(["consume", "grow", "-p", "3", "-e", "-f", "json"]);
    expect(consumed.code, consumed.stderr).toBe(0);
    const records = jsonLines(consumed.stdout);
    expect(records.map((r) => [r.partition, r.offset, r.key, r.value])).toEqual([
      [3, 0, "a", "1"],
      [3, 1, "b", "2"],
      [3, 2, "c", "3"],
    ]);

    const same = await strand(["topic", "add-partitions", "grow", "--partitions", "4"]);
    const line = expectOneLine(same, 1, /INVALID_PARTITIONS/);
    expect(line.match(/INVALID_PARTITIONS/g)).toHaveLength(1); // the code is named once
    expect(line).toMatch(/has 4 partition\(s\)/);
    const missing = await strand(["topic", "add-partitions", "grow"]);
    expectOneLine(missing, 2, /--partitions/);
  }, 90_000);

  it("consume -e stops at the end offsets as of its start; at once when there is nothing", async () => {
    expect((await strand(["topic", "create", "ends", "-p", "3", "-r", "2"])).code).toBe(0);
    const empty = await strand(["consume", "ends", "-e"]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe("");
    expect(empty.ms).toBeLessThan(10_000);

    const lines = Array.from({ length: 20 }, (_, i) => `k${i}:v${i}`);
    expect((await strand(["produce", "ends", "-k", ":"], `${lines.join("\n")}\n`)).code).toBe(0);
    const all = await strand(["consume", "ends", "-e", "-f", "json"]);
    expect(all.code, all.stderr).toBe(0);
    const values = jsonLines(all.stdout).map((r) => r.value);
    expect(values.sort()).toEqual(lines.map((l) => l.split(":")[1]).sort());
    const fromEnd = await strand(["consume", "ends", "-e", "-o", "end"]);
    expect(fromEnd.code, fromEnd.stderr).toBe(0);
    expect(fromEnd.stdout).toBe("");
  }, 90_000);

  it("produce --compression sends with every codec; a bad codec is a usage error", async () => {
    expect((await strand(["topic", "create", "zipped", "-p", "1", "-r", "3"])).code).toBe(0);
    const codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for (const codec of codecs) {
      const r = await strand(["produce", "zipped", "--compression", codec], `${codec} value\n`);
      expect(r.code, `${codec}: ${r.stderr}`).toBe(0);
    }
    const out = await strand(["consume", "zipped", "-e"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(codecs.map((c) => `${c} value\n`).join(""));
    expectOneLine(
      await strand(["produce", "zipped", "--compression", "brotli"], "x\n"),
      2,
      /--compression must be/,
    );
  }, 90_000);

  it("cluster info fills the CLUSTER column", async () => {
    const info = await strand(["cluster", "info"]);
    expect(info.code, info.stderr).toBe(0);
    const [header, row] = info.stdout.split("\n");
    expect(header).toMatch(/^CLUSTER\s+CONTROLLER\s+TOPICS$/);
    expect(row).toMatch(/^\S+\s+\d+\s+\d+$/);
  }, 30_000);

  it("lists the voters; add/remove refuse bad pairs; removing a lost follower voter works", async () => {
    const listed = await strand(["cluster", "voters", "list", "-f", "json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const q = JSON.parse(listed.stdout);
    expect(q.voters.map((v: { nodeId: number }) => v.nodeId)).toEqual([1, 2, 3]);
    expect([1, 2, 3]).toContain(q.leaderId);
    for (const v of q.voters) {
      expect(v.directoryId).toMatch(/^[0-9a-f-]{36}$/);
      expect(v.address).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    const text = await strand(["cluster", "voters", "list"]);
    expect(text.stdout).toMatch(/^NODE\s+DIRECTORY-ID\s+ADDRESS\s+MATCH-INDEX$/m);
    expect(text.stdout).toMatch(new RegExp(`^${q.leaderId}\\*\\s`, "m"));

    const follower = q.voters.find((v: { nodeId: number }) => v.nodeId !== q.leaderId);
    const again = await strand([
      "cluster",
      "voters",
      "add",
      "--node-id",
      String(follower.nodeId),
      "--directory-id",
      follower.directoryId,
      "--address",
      follower.address,
    ]);
    expectOneLine(again, 1, /INVALID_REQUEST/);
    const wrongDir = await strand([
      "cluster",
      "voters",
      "remove",
      "--node-id",
      String(follower.nodeId),
      "--directory-id",
      "00000000-0000-4000-8000-000000000000",
    ]);
    expectOneLine(wrongDir, 1, /INVALID_REQUEST/);

    // The replacement flow of docs/operations.md: the voter's node is lost, then removed. (A
    // removed voter that keeps running stops receiving the metadata log, so its broker's image
    // goes stale: the calls below go to the two remaining brokers.)
    const lost = nodes[follower.nodeId - 1]!;
    await lost.kill("SIGKILL");
    brokers = nodes
      .filter((n) => n !== lost)
      .map((n) => n.clientAddress)
      .join(",");
    const removed = await strand([
      "cluster",
      "voters",
      "remove",
      "--node-id",
      String(follower.nodeId),
      "--directory-id",
      follower.directoryId,
    ]);
    expect(removed.code, removed.stderr).toBe(0);
    await waitFor(
      "two voters",
      async () => {
        const r = await strand(["cluster", "voters", "list", "-f", "json"]);
        return r.code === 0 && JSON.parse(r.stdout).voters.length === 2 ? true : undefined;
      },
      20_000,
    );
    // The two-voter quorum still commits: a topic can be created.
    const after = await strand(["topic", "create", "after-remove", "-p", "1", "-r", "1"]);
    expect(after.code, after.stderr).toBe(0);
  }, 90_000);
});
