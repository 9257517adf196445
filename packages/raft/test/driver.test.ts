// Goal: RaftDriver runs the core on real disks (FileStorage in temp dirs) over the in-memory
// transport: three drivers elect a leader and commit proposals that every node applies in
// the same order; a stopped leader is replaced and a restarted one catches up (through a
// snapshot when it fell behind compaction); proposals off the leader fail with NotRaftLeaderError.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Logger } from "@strand/base";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  DirectoryId,
  Entry,
  Index,
  NodeId,
  ReplicaKey,
  SnapshotMeta,
} from "../src/core/index.ts";
import { directoryId, MemoryStorage, nodeId } from "../src/core/index.ts";
import type { Scheduler, StateMachine } from "../src/driver/driver.ts";
import { RaftDriver } from "../src/driver/driver.ts";
import { NotRaftLeaderError } from "../src/driver/errors.ts";
import { FileStorage } from "../src/driver/file-storage.ts";
import { InMemoryNetwork } from "../src/transport/memory.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Polls `predicate` every few ms until it holds; fails after `timeoutMs`. */
async function waitFor(
  predicate: () => boolean,
  timeoutMs: number,
  what = "condition",
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records applied normal entries; its snapshot is the whole list. */
class ListMachine implements StateMachine {
  items: string[] = [];
  lastIndex = 0;
  apply(entry: Entry, i: Index): void {
    expect(i).toBe(this.lastIndex + 1);
    this.lastIndex = i;
    if (entry.type === "normal") this.items.push(dec.decode(entry.data));
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array, meta: SnapshotMeta): void {
    this.items = JSON.parse(dec.decode(data)) as string[];
    this.lastIndex = meta.index;
  }
}

interface Member {
  id: NodeId;
  dir: DirectoryId;
  path: string;
  sm: ListMachine;
  driver: RaftDriver | null;
}

const driverOptions = { tickMs: 20, snapshotEveryEntries: 40, compactionLagEntries: 5 };

class Cluster {
  readonly network = new InMemoryNetwork();
  readonly members = new Map<NodeId, Member>();
  readonly voters: ReplicaKey[];
  /** Log messages of every driver, as "nodeId: msg". */
  readonly logLines: string[] = [];

  constructor(root: string, n: number) {
    for (let k = 1; k <= n; k++) {
      const id = nodeId(k);
      this.members.set(id, {
        id,
        dir: directoryId(randomUUID()),
        path: path.join(root, `n${k}`),
        sm: new ListMachine(),
        driver: null,
      });
    }
    this.voters = [...this.members.values()].map((m) => ({ id: m.id, dir: m.dir }));
  }

  async start(id: NodeId): Promise<RaftDriver> {
    const m = this.members.get(id)!;
    const storage = await FileStorage.open({
      dir: m.path,
      nodeId: id,
      directoryId: m.dir,
      bootstrapVoters: this.voters,
    });
    m.sm = new ListMachine();
    m.driver = await RaftDriver.start({
      ...driverOptions,
      id,
      storage,
      transport: this.network.transport(id),
      stateMachine: m.sm,
      logger: this.logger(id),
    });
    return m.driver;
  }

  private logger(id: NodeId): Logger {
    const line = (_obj: object, msg: string) => void this.logLines.push(`${id}: ${msg}`);
    return { debug: line, info: line, warn: line, error: line };
  }

  async stop(id: NodeId): Promise<void> {
    const m = this.members.get(id)!;
    await m.driver?.close();
    m.driver = null;
  }

  running(): Member[] {
    return [...this.members.values()].filter((m) => m.driver !== null);
  }

  /** The single leader among running nodes, once all of them agree on it. */
  async leader(timeoutMs = 10_000): Promise<Member> {
    let found: Member | undefined;
    await waitFor(
      () => {
        const running = this.running();
        const leaders = running.filter((m) => m.driver!.status().role === "leader");
        const l = leaders[0];
        found = l;
        return leaders.length === 1 && running.every((m) => m.driver!.status().leader === l!.id);
      },
      timeoutMs,
      "a leader all nodes know",
    );
    return found!;
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) await this.stop(m.id);
  }
}

let root = "";
let cluster: Cluster | null = null;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "strand-raft-driver-"));
});
afterEach(async () => {
  await cluster?.close();
  cluster = null;
  await rm(root, { recursive: true, force: true });
});

async function proposeAll(driver: RaftDriver, from: number, count: number): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: count }, (_, k) => driver.propose(enc.encode(`v${from + k}`))),
  );
  for (let k = 1; k < results.length; k++)
    expect(results[k]!.index).toBe(results[k - 1]!.index + 1);
}

function expectSameItems(members: Member[], count: number): void {
  const want = Array.from({ length: count }, (_, k) => `v${k}`);
  for (const m of members) expect(m.sm.items).toEqual(want);
}

describe("RaftDriver over FileStorage and InMemoryTransport", () => {
  it("elects a leader, commits 100 proposals, every node applies them in order", async () => {
    cluster = new Cluster(root, 3);
    for (const id of cluster.members.keys()) await cluster.start(id);
    const leader = await cluster.leader();
    await proposeAll(leader.driver!, 0, 100);
    const all = cluster.running();
    await waitFor(
      () => all.every((m) => m.sm.items.length === 100),
      10_000,
      "all nodes to apply 100",
    );
    expectSameItems(all, 100);
    // Snapshots every 40 entries compacted the leader's log.
    await waitFor(() => leader.driver!.status().firstIndex > 1, 5_000, "the leader to compact");
  });

  it("replaces a stopped leader; the old one restarts from its directory and catches up", async () => {
    cluster = new Cluster(root, 3);
    for (const id of cluster.members.keys()) await cluster.start(id);
    const first = await cluster.leader();
    await proposeAll(first.driver!, 0, 30);
    await cluster.stop(first.id);
    const second = await cluster.leader();
    expect(second.id).not.toBe(first.id);
    // 80 more while it is down: the new leader snapshots and compacts past the old one's log.
    await proposeAll(second.driver!, 30, 80);
    await cluster.start(first.id);
    const all = [...cluster.members.values()];
    await waitFor(
      () => all.every((m) => m.sm.items.length === 110),
      10_000,
      "the restarted node to catch up",
    );
    expectSameItems(all, 110);
    expect(cluster.logLines).toContain(`${first.id}: installed a snapshot from the leader`);
    const restarted = cluster.members.get(first.id)!.driver!;
    expect(restarted.status().role).toBe("follower");
    expect(restarted.status().commit).toBe(second.driver!.status().commit);
  });

  it("rejects a proposal on a follower with NotRaftLeaderError naming the leader", async () => {
    cluster = new Cluster(root, 3);
    for (const id of cluster.members.keys()) await cluster.start(id);
    const leader = await cluster.leader();
    const follower = cluster.running().find((m) => m.id !== leader.id)!;
    const error = await follower.driver!.propose(enc.encode("x")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotRaftLeaderError);
    expect((error as NotRaftLeaderError).leaderId).toBe(leader.id);
    expect((error as NotRaftLeaderError).maybeCommitted).toBe(false);
  });

  it("fails a pending proposal with NotRaftLeaderError when the leader is cut off before commit", async () => {
    cluster = new Cluster(root, 3);
    for (const id of cluster.members.keys()) await cluster.start(id);
    const leader = await cluster.leader();
    await proposeAll(leader.driver!, 0, 1);
    cluster.network.isolate(leader.id);
    const pending = leader.driver!.propose(enc.encode("lost")).catch((e: unknown) => e);
    // Check-quorum makes the isolated leader step down after an election timeout.
    const error = await pending;
    expect(error).toBeInstanceOf(NotRaftLeaderError);
    expect((error as NotRaftLeaderError).maybeCommitted).toBe(true);
    cluster.network.heal();
    const next = await cluster.leader();
    await proposeAll(next.driver!, 1, 1);
    const all = cluster.running();
    await waitFor(() => all.every((m) => m.sm.items.length === 2), 10_000, "all to apply 2");
    expectSameItems(all, 2);
  });

  it("runs on an injected clock: a single node with MemoryStorage elects itself on manual ticks", async () => {
    const ticks: (() => void)[] = [];
    const scheduler: Scheduler = {
      setInterval(fn) {
        ticks.push(fn);
        return { cancel: () => ticks.splice(0) };
      },
    };
    const id = nodeId(1);
    const dir = directoryId("d1");
    const storage = new MemoryStorage({ bootstrapVoters: [{ id, dir }] });
    const network = new InMemoryNetwork();
    const sm = new ListMachine();
    const driver = await RaftDriver.start({
      id,
      dir,
      storage,
      transport: network.transport(id),
      stateMachine: sm,
      scheduler,
    });
    try {
      expect(ticks).toHaveLength(1);
      for (let k = 0; k < 25 && driver.status().role !== "leader"; k++) {
        ticks[0]!();
        await new Promise((r) => setImmediate(r));
      }
      expect(driver.status().role).toBe("leader");
      const r = await driver.propose(enc.encode("v0"));
      expect(r.index).toBe(2); // after the leader's no-op
      expect(sm.items).toEqual(["v0"]);
    } finally {
      await driver.close();
    }
    expect(ticks).toHaveLength(0);
    await expect(driver.propose(enc.encode("late"))).rejects.toThrow(/closed/);
  });
});
