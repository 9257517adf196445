// Goal: a controller whose disk was lost is replaced through the KIP-853 RPCs, in process,
// with three ControllerNodes over the real gRPC transport on 127.0.0.1. The lost voter is
// removed with RemoveRaftVoter; a replacement with the same node id, a NEW port and a new
// random directory id (`newDirectory`) starts as a non-voter that does not campaign; the
// active controller adds it with AddRaftVoter (its address reaches every node through the
// metadata log); it catches up, and its acknowledgement is needed and enough to commit once
// another voter is stopped. The old (id, dir), started again from its preserved disk at the
// replacement's address, is not a voter: with it and only one real voter up, nothing commits
// and it never leads; once a real voter is back, commits resume and the replacement, restarted
// from its own (formatted) dir, catches up. Errors: NOT_CONTROLLER with a hint, unknown voter, last voter,
// duplicate id, one change at a time, INVALID_ARGUMENT. Every node and client is closed.
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as grpcStatus } from "@grpc/grpc-js";
import { ErrorCode } from "@strand/protocol";
import { directoryId, nodeId } from "@strand/raft";
import { afterEach, describe, expect, it } from "vitest";
import { freePorts, waitFor } from "../../../test/support/free-ports.ts";
import { encodeMetadataBatch } from "../src/codec.ts";
import {
  ControllerClient,
  ControllerNode,
  type ControllerNodeOptions,
  checkVoterSet,
  type VoterConfig,
  VoterSetMismatchError,
} from "../src/node/index.ts";
import { imageToRecords } from "../src/snapshot.ts";

const TICK_MS = 20;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function client(address: string): ControllerClient {
  const cl = new ControllerClient(address, 3_000);
  cleanup.push(() => cl.close());
  return cl;
}

async function start(o: ControllerNodeOptions): Promise<ControllerNode> {
  const n = await ControllerNode.start({
    tickMs: TICK_MS,
    controllerTickMs: 25,
    noOpIntervalMs: 300,
    snapshotEveryEntries: 20,
    compactionLagEntries: 5,
    ...o,
  });
  cleanup.push(() => n.close());
  return n;
}

function activeOf(nodes: readonly ControllerNode[]): Promise<ControllerNode> {
  return waitFor("an active controller", () => nodes.find((n) => n.controller.isActive));
}

let brokerSeq = 0;
/** Commits one metadata batch (a broker registration) through the active controller. */
async function commitOne(active: ControllerNode): Promise<number> {
  const id = ++brokerSeq;
  const res = await client(active.address).registerBroker({
    brokerId: id,
    incarnationId: `i-${id}`,
    listeners: [{ name: "client", host: "127.0.0.1", port: 9000 + id }],
  });
  expect(res.error?.code).toBe(0);
  return id;
}

function imageHex(n: ControllerNode): string {
  return Buffer.from(encodeMetadataBatch(imageToRecords(n.image))).toString("hex");
}

describe("replacing a controller voter (AddRaftVoter / RemoveRaftVoter)", () => {
  it("removes a lost voter, adds a replacement with a new directory id, and the old one never votes", async () => {
    const root = mkdtempSync(join(tmpdir(), "strand-voters-"));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    const ports = await freePorts(4);
    const voters: VoterConfig[] = ports
      .slice(0, 3)
      .map((port, k) => ({ id: nodeId(k + 1), host: "127.0.0.1", port }));
    const dataDir = (id: number) => join(root, `n${id}`);
    const base = (v: VoterConfig) => ({
      nodeId: v.id,
      dataDir: dataDir(v.id),
      listen: `127.0.0.1:${v.port}`,
      voters,
    });
    const nodes = await Promise.all(voters.map((v) => start(base(v))));
    let active = await activeOf(nodes);
    await commitOne(active);

    // A standby's disk is lost: stop it and keep its old dir aside (to bring it back later).
    const victim = nodes.find((n) => n !== active)!;
    const other = nodes.find((n) => n !== active && n !== victim)!;
    const oldDir = victim.driver.dir;
    await victim.close();
    renameSync(dataDir(victim.id), join(root, "lost-disk"));
    await expect(
      ControllerNode.start({ ...base(voters[victim.id - 1]!), formatPolicy: "refuse" }),
    ).rejects.toThrow(/not formatted/);

    // RemoveRaftVoter: a standby points at the active controller; bad calls are refused.
    const viaOther = await client(other.address).removeRaftVoter({
      nodeId: victim.id,
      directoryId: oldDir,
    });
    expect(viaOther.error?.code).toBe(ErrorCode.NOT_CONTROLLER.code);
    expect(viaOther.error?.controllerId).toBe(active.id);
    expect(viaOther.error?.controllerAddress).toBe(active.address);
    const ac = client(active.address);
    const unknown = await ac.removeRaftVoter({ nodeId: victim.id, directoryId: other.driver.dir });
    expect(unknown.error?.code).toBe(ErrorCode.INVALID_REQUEST.code);
    expect(unknown.error?.message).toMatch(/is not a voter/);
    await expect(
      ac.removeRaftVoter({ nodeId: victim.id, directoryId: "nope" }),
    ).rejects.toMatchObject({ code: grpcStatus.INVALID_ARGUMENT });
    const removed = await ac.removeRaftVoter({ nodeId: victim.id, directoryId: oldDir });
    expect(removed.error?.code).toBe(0);
    for (const n of [active, other])
      await waitFor("2 voters everywhere", () => n.driver.status().voters.length === 2);
    await commitOne(active);

    // The replacement: same node id, a new port, a fresh random directory id; not a voter yet.
    const replacement = await start({
      ...base(voters[victim.id - 1]!),
      listen: `127.0.0.1:${ports[3]}`,
      newDirectory: true,
    });
    const newDir = replacement.driver.dir;
    expect(newDir).not.toBe(oldDir);
    const before = replacement.describe().quorum;
    expect(before?.isVoter).toBe(false);
    expect(before?.directoryId).toBe(newDir);
    await new Promise((r) => setTimeout(r, 30 * TICK_MS));
    expect(replacement.driver.status().role).toBe("follower");
    expect(replacement.driver.status().term).toBe(0);

    // AddRaftVoter: one change at a time; a duplicate id is refused.
    const address = `127.0.0.1:${ports[3]}`;
    const dup = await ac.addRaftVoter({ nodeId: other.id, directoryId: newDir, address });
    expect(dup.error?.code).toBe(ErrorCode.INVALID_REQUEST.code);
    const v = { id: victim.id, dir: directoryId(newDir), address };
    const adding = active.addVoter(v);
    const second = await active.removeVoter({ id: other.id, dir: other.driver.dir, address: "" });
    expect(second.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect((await adding).errorCode).toBe(ErrorCode.NONE);
    active = await activeOf([active, other]);
    const id3 = await commitOne(active);
    const live = [active, other, replacement];
    await waitFor("the replacement caught up and is a voter", () =>
      live.every((n) => n.image.brokers.has(id3 as never) && n.driver.status().voters.length === 3)
        ? true
        : undefined,
    );
    expect(replacement.driver.status().isVoter).toBe(true);
    for (const n of live) {
      const q = n.describe().quorum;
      const entry = q?.voters?.find((x) => x.nodeId === victim.id);
      expect(entry?.directoryId).toBe(newDir);
      expect(entry?.address).toBe(address);
    }
    await waitFor("same images", () => {
      const offsets = live.map((n) => n.image.offset);
      return offsets.every((o) => o === offsets[0]) ? true : undefined;
    });
    expect(imageHex(replacement)).toBe(imageHex(active));

    // The replacement votes: with the other old voter stopped, commits need it.
    await other.close();
    await commitOne(await activeOf([active, replacement]));

    // The old identity comes back at the replacement's address: it is not in the config.
    const leaderBefore = active.driver.status().term;
    await replacement.close();
    renameSync(join(root, "lost-disk"), join(root, "old-n3"));
    const ghost = await start({
      ...base(voters[victim.id - 1]!),
      dataDir: join(root, "old-n3"),
      listen: address,
    });
    expect(ghost.driver.dir).toBe(oldDir);
    const stuck = await client(active.address)
      .registerBroker({
        brokerId: 99,
        incarnationId: "i-99",
        listeners: [{ name: "client", host: "127.0.0.1", port: 9099 }],
      })
      .then((r) => r.error?.code ?? -1)
      .catch(() => "timeout");
    expect(stuck === "timeout" || stuck === ErrorCode.NOT_CONTROLLER.code).toBe(true);
    expect(active.image.brokers.has(99 as never)).toBe(false);
    expect(ghost.driver.status().role).not.toBe("leader");
    expect(active.driver.status().voters.find((k) => k.id === victim.id)?.dir).toBe(newDir);
    expect(active.driver.status().term).toBeGreaterThanOrEqual(leaderBefore);

    // A real voter returns: commits resume; the ghost never led. Then the replacement comes
    // back in its place and catches up with everything.
    const back = await start(base(voters[other.id - 1]!));
    const leader = await activeOf([active, back]);
    await commitOne(leader);
    expect(ghost.driver.status().role).not.toBe("leader");
    await ghost.close();
    const again = await start({ ...base(voters[victim.id - 1]!), listen: address });
    expect(again.driver.dir).toBe(newDir);
    const last = await commitOne(leader);
    const final = [active, back, again];
    await waitFor("every node applied the last batch at one offset", () => {
      const offsets = final.map((n) => n.image.offset);
      return final.every((n) => n.image.brokers.has(last as never)) &&
        offsets.every((o) => o === offsets[0])
        ? true
        : undefined;
    });
    for (const n of final) expect(imageHex(n)).toBe(imageHex(leader));
  }, 60_000);

  it("removes the active controller itself (leadership moves) and refuses to remove the last voter", async () => {
    const root = mkdtempSync(join(tmpdir(), "strand-voters-"));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    const ports = await freePorts(4);
    const voters: VoterConfig[] = ports
      .slice(0, 3)
      .map((port, k) => ({ id: nodeId(k + 1), host: "127.0.0.1", port }));
    const nodes = await Promise.all(
      voters.map((v) =>
        start({
          nodeId: v.id,
          dataDir: join(root, `n${v.id}`),
          listen: `127.0.0.1:${v.port}`,
          voters,
        }),
      ),
    );
    const first = await activeOf(nodes);
    const res = await client(first.address).removeRaftVoter({
      nodeId: first.id,
      directoryId: first.driver.dir,
    });
    expect(res.error?.code).toBe(0);
    const rest = nodes.filter((n) => n !== first);
    const next = await activeOf(rest);
    await commitOne(next);
    expect(first.driver.status().isVoter).toBe(false);
    expect(first.controller.isActive).toBe(false);
    expect(
      next.driver
        .status()
        .voters.map((k) => k.id)
        .sort(),
    ).toEqual(rest.map((n) => n.id).sort());

    // A standalone quorum: its only voter cannot be removed.
    const solo = await start({
      nodeId: nodeId(9),
      dataDir: join(root, "solo"),
      listen: `127.0.0.1:${ports[3]}`,
      voters: [{ id: nodeId(9), host: "127.0.0.1", port: ports[3]! }],
    });
    await activeOf([solo]);
    const last = await client(solo.address).removeRaftVoter({
      nodeId: 9,
      directoryId: solo.driver.dir,
    });
    expect(last.error?.code).toBe(ErrorCode.INVALID_REQUEST.code);
    expect(last.error?.message).toMatch(/last voter/);
  }, 30_000);
});

describe("checkVoterSet: the metadata log's voters against controller.quorum.voters", () => {
  const dir = "/data/__cluster_metadata";
  it("refuses a log whose quorum the configured voters cannot reach", () => {
    // `strand server start` (voters {1}) on node 1's dir of a 3-voter `npm start` cluster.
    expect(() => checkVoterSet(dir, 1, [1, 2, 3], [1])).toThrow(VoterSetMismatchError);
    expect(() => checkVoterSet(dir, 1, [1, 2, 3], [1])).toThrow(
      "belongs to a quorum of voters {1,2,3} but controller.quorum.voters names {1}",
    );
    expect(() => checkVoterSet(dir, 1, [1, 2, 3, 4], [1, 2, 5])).toThrow(VoterSetMismatchError);
  });

  it("refuses a standalone log of this node when other voters are configured", () => {
    expect(() => checkVoterSet(dir, 1, [1], [1, 2, 3])).toThrow(VoterSetMismatchError);
  });

  it("accepts the configured voters and a log one voter change ahead of them", () => {
    expect(() => checkVoterSet(dir, 1, [1, 2, 3], [1, 2, 3])).not.toThrow();
    expect(() => checkVoterSet(dir, 1, [1], [1])).not.toThrow();
    // RemoveRaftVoter 3 committed; controller.quorum.voters still lists it.
    expect(() => checkVoterSet(dir, 1, [1, 2], [1, 2, 3])).not.toThrow();
    // AddRaftVoter 4 committed; not yet in controller.quorum.voters.
    expect(() => checkVoterSet(dir, 1, [1, 2, 3, 4], [1, 2, 3])).not.toThrow();
    // A replacement (non-voter until added) under the unchanged configuration.
    expect(() => checkVoterSet(dir, 3, [1, 2], [1, 2, 3])).not.toThrow();
  });
});
