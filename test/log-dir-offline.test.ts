// Goal: a node whose log dir fails gives up its partitions at once and says why. Three nodes,
// a topic (RF 3) led by node X; X's segment file is made immutable (chattr +i), so X's next
// append fails and its log goes offline with KAFKA_STORAGE_ERROR. Then, within a bound:
// leadership moves to another ISR member (X asked the controller to fence it), acks=all
// produce succeeds at the new leader, and X's /readyz answers 503 "log dir offline: ...".
// Before, the partition never moved, nothing could read it, /readyz stayed 200.
// Needs root and chattr on the temp dir's file system; skipped otherwise.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProduceResponse__Output } from "@strand/protocol";
import { ErrorCode, encodeRecordBatch } from "@strand/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  closeAllStubs,
  layout,
  type NodeProcess,
  startNode,
  stubs,
  unary,
  waitReady,
} from "./support/cluster.ts";
import { waitFor } from "./support/free-ports.ts";

const nodes: NodeProcess[] = [];
const roots: string[] = [];
const immutable: string[] = [];

function chattr(flag: "+i" | "-i", file: string): boolean {
  try {
    execFileSync("chattr", [flag, file], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  if (process.env.STRAND_TEST_DUMP_LOGS)
    for (const n of nodes) for (const l of n.lines) console.log(n.id, l);
  closeAllStubs();
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
  for (const f of immutable.splice(0)) chattr("-i", f);
});
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "strand-offline-"));
  roots.push(r);
  return r;
}

function chattrWorks(root: string): boolean {
  const probe = join(root, "probe");
  writeFileSync(probe, "x");
  const ok = chattr("+i", probe) && chattr("-i", probe);
  rmSync(probe, { force: true });
  return ok;
}

function produceTo(address: string, value: string): Promise<ProduceResponse__Output> {
  const records = encodeRecordBatch({
    baseTimestamp: 1_700_000_000_000n,
    records: [{ key: null, value: Buffer.from(value) }],
  });
  return unary((cb) =>
    stubs(address).produce.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 5_000,
        topics: [{ topic: "orders", partitions: [{ partition: 0, records }] }],
      },
      cb,
    ),
  );
}

interface PartitionView {
  leaderId: number;
  isr: number[];
}

async function partitionOf(address: string): Promise<PartitionView | undefined> {
  const r = await unary<{ topics: { partitions: PartitionView[] }[] }>((cb) =>
    stubs(address).metadata.Metadata({ topics: ["orders"] }, cb),
  );
  return r.topics[0]?.partitions[0];
}

describe("offline log dir", () => {
  it("moves leadership off a node whose log dir failed and reports it in /readyz", async (t) => {
    const root = tempRoot();
    if (!chattrWorks(root)) t.skip();
    const l = await layout(3);
    const started = [1, 2, 3].map((id) => startNode(l, id, root, ["--bootstrap"]));
    nodes.push(...started);
    await waitReady(started, 30_000);
    const first = started[0]!;
    const created = await unary<{ topics: { errorCode: number }[] }>((cb) =>
      stubs(first.clientAddress).admin.CreateTopics(
        { topics: [{ name: "orders", partitionCount: 1, replicationFactor: 3 }] },
        cb,
      ),
    );
    expect(created.topics[0]?.errorCode).toBe(0);
    const before = await waitFor(
      "a leader with a full ISR",
      async () => {
        const p = await partitionOf(first.clientAddress);
        return p !== undefined && p.leaderId > 0 && p.isr.length === 3 ? p : undefined;
      },
      20_000,
    );
    const x = started.find((n) => n.id === before.leaderId)!;
    const ok = await produceTo(x.clientAddress, "before");
    expect(ok.topics[0]?.partitions[0]?.errorCode).toBe(0);

    const dir = join(x.dataDir, "orders-0");
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".log"))) {
      const file = join(dir, name);
      expect(chattr("+i", file)).toBe(true);
      immutable.push(file);
    }
    const failed = await produceTo(x.clientAddress, "refused");
    expect(failed.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR.code);

    const other = started.find((n) => n.id !== x.id)!;
    const after = await waitFor(
      "leadership moved off the failed node",
      async () => {
        const p = await partitionOf(other.clientAddress);
        return p !== undefined && p.leaderId > 0 && p.leaderId !== x.id ? p : undefined;
      },
      20_000,
    );
    expect(after.isr).not.toContain(x.id);
    const leader = started.find((n) => n.id === after.leaderId)!;
    const produced = await waitFor(
      "acks=all produce at the new leader",
      async () => {
        const r = await produceTo(leader.clientAddress, "after");
        return r.topics[0]?.partitions[0]?.errorCode === 0 ? r : undefined;
      },
      20_000,
      200,
    );
    expect(produced.topics[0]?.partitions[0]?.errorCode).toBe(0);
    const ready = await x.http("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/log dir offline: partition orders-0/);
  }, 120_000);
});
