// Goal: voters of two clusters never vote for each other. Two 3-voter controller quorums are
// formatted with different cluster ids (their bootstrap directory ids are derived from them).
// Then voter 3 of cluster B is restarted from B's data dir but pointed at cluster A's voters
// 1 and 2, as a misconfigured node would be. It campaigns over and over (its term climbs) yet
// A's voters refuse every message it sends (its directory id is not the one of A's voter 3),
// so A keeps its leader and term and commits on; B's node never learns a leader; the
// intruder refuses A's messages in turn. Every process is killed; every wait is bounded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControllerClient } from "@strand/controller";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ControllerProcess } from "./support/controller-processes.ts";
import { freePorts, waitFor } from "./support/free-ports.ts";

const TICK_MS = 50;
const WAIT_MS = 30_000;
const ARGS = ["--tick-ms", String(TICK_MS), "--election-ticks", "10"];
const ID_A = "AAAAAAAAAAAAAAAAAAAAAA";
const ID_B = "BBBBBBBBBBBBBBBBBBBBBB";

const processes: ControllerProcess[] = [];
const clients: ControllerClient[] = [];
let root = "";

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(processes.splice(0).map((p) => p.kill("SIGKILL")));
});
afterAll(() => {
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

/** A fresh client per call: a channel that failed once backs off reconnecting. */
async function describeAt(address: string) {
  const c = new ControllerClient(address, 2_000);
  clients.push(c);
  return c.describeCluster().catch(() => undefined);
}

function startQuorum(name: string, ports: readonly number[], clusterId: string) {
  const voters = ports.map((p, k) => `${k + 1}@127.0.0.1:${p}`).join(",");
  return ports.map((port, k) => {
    const p = new ControllerProcess({
      id: k + 1,
      port,
      dataDir: join(root, name, `node-${k + 1}`),
      voters,
      args: [...ARGS, "--cluster-id", clusterId],
    });
    processes.push(p);
    return p;
  });
}

/** The quorum's leader as its nodes agree on it, once the cluster id is committed. */
function leaderOf(nodes: readonly ControllerProcess[], clusterId: string) {
  return waitFor(
    `a leader of ${clusterId}`,
    async () => {
      const ds = await Promise.all(nodes.map((n) => describeAt(n.address)));
      const leaders = new Set(ds.map((d) => d?.quorum?.leaderId ?? -1));
      const q = ds[0]?.quorum;
      if (leaders.size !== 1 || q === null || q === undefined || q.leaderId <= 0) return undefined;
      if (ds[0]?.clusterId !== clusterId) return undefined;
      return { leaderId: q.leaderId, term: Number(q.term) };
    },
    WAIT_MS,
  );
}

describe("two clusters' voters", () => {
  it("never vote for each other: B's voter 3 pointed at A's voters changes nothing in A", async () => {
    root = mkdtempSync(join(tmpdir(), "strand-isolation-"));
    const ports = await freePorts(7);
    const a = startQuorum("a", ports.slice(0, 3), ID_A);
    const b = startQuorum("b", ports.slice(3, 6), ID_B);
    const before = await leaderOf(a, ID_A);
    await leaderOf(b, ID_B);
    // Each quorum's voters carry their own cluster's directory ids.
    const dirsA = (await describeAt(a[0]!.address))?.quorum?.voters.map((v) => v.directoryId);
    const dirsB = (await describeAt(b[0]!.address))?.quorum?.voters.map((v) => v.directoryId);
    expect(dirsA).toHaveLength(3);
    for (const d of dirsB ?? []) expect(dirsA).not.toContain(d);

    // B's voter 3, from its own data dir, now told that A's voters 1 and 2 are its peers.
    const b3 = b[2]!;
    expect(await b3.kill("SIGTERM")).toBe(0);
    const intruder = new ControllerProcess({
      id: 3,
      port: ports[6]!,
      dataDir: b3.dataDir,
      voters: `1@127.0.0.1:${ports[0]},2@127.0.0.1:${ports[1]},3@127.0.0.1:${ports[6]}`,
      args: ARGS,
    });
    processes.push(intruder);
    // A's voters drop its messages (pre-votes: a pre-candidate does not persist a new term):
    // the sender (3, B's directory id) is not a voter of their configuration.
    const drops = () =>
      a.flatMap((n) => n.lines.filter((l) => String(l.msg).startsWith("raft message dropped")));
    await waitFor("A drops the intruder's messages", () => drops().length > 0, WAIT_MS);
    // Let it campaign through several election timeouts (0.5-1 s each) while A commits on
    // (its leader writes a NoOp every 500 ms).
    const commitOf = async () => Number((await describeAt(a[0]!.address))?.quorum?.commitIndex);
    const commitAtDrop = await commitOf();
    await waitFor("A commits on", async () => (await commitOf()) >= commitAtDrop + 6, WAIT_MS);
    for (const l of drops()) {
      expect(l).toMatchObject({ from: 3, why: expect.stringContaining("not a voter") });
      expect(dirsA).not.toContain(l.fromDir);
    }
    const late = await describeAt(intruder.address);
    expect(late?.clusterId).toBe(ID_B);
    expect(late?.quorum?.role).not.toBe("leader");
    // A is untouched: same leader, same term, same voters, and it is still A.
    const after = await leaderOf(a, ID_A);
    expect(after).toEqual(before);
    const dA = await describeAt(a[0]!.address);
    expect(dA?.quorum?.voters.map((v) => v.directoryId)).toEqual(dirsA);
    // And the intruder never joined anything.
    const last = await describeAt(intruder.address);
    expect(last?.quorum?.leaderId ?? 0).toBeLessThanOrEqual(0);
    expect(last?.quorum?.voters.map((v) => v.directoryId)).toEqual(dirsB);
  }, 90_000);
});
