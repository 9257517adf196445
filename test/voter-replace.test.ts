// Goal: a controller quorum of three controller-node processes on 127.0.0.1 replaces a voter
// whose disk was lost, with the operator procedure of docs/operations.md. The active
// controller is SIGKILLed and its data dir wiped; the survivors elect a new one; the dead
// voter (id, old directory id) is removed with RemoveRaftVoter; a replacement process with
// the same node id, a new port and `newDirectory` (a fresh random directory id) starts as a
// non-voter; AddRaftVoter adds it; the cluster keeps committing throughout; the
// replacement's metadata log (FetchMetadata from offset 0) equals the others' byte for byte;
// with one original survivor then killed, the replacement's vote keeps the quorum
// committing. Every process is killed after the test; every wait is a bounded poll.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControllerClient } from "@strand/controller";
import { ErrorCode } from "@strand/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ControllerProcess, readLog } from "./support/controller-processes.ts";
import { freePorts, waitFor } from "./support/free-ports.ts";

const TICK_MS = 50;
const ELECTION_TICKS = 10;
/** Bound of every wait: generous, as a loaded CI machine starts node processes slowly. */
const WAIT_MS = 30_000;
const ARGS = ["--tick-ms", String(TICK_MS), "--election-ticks", String(ELECTION_TICKS)];

// The replacement runs ControllerNode with `newDirectory` (the controller-node bin has no
// flag for it; `strand server start --new-directory` is the CLI's to add).
const REPLACEMENT_SCRIPT = `
import { ControllerNode, parseVoters } from "@strand/controller";
const o = JSON.parse(process.argv[1]);
const node = await ControllerNode.start({
  nodeId: o.id, dataDir: o.dataDir, listen: o.listen, voters: parseVoters(o.voters),
  tickMs: o.tickMs, core: { electionTicks: o.electionTicks }, newDirectory: true,
});
process.stdout.write("started\\n");
process.on("SIGTERM", () => node.close().then(() => process.exit(0)));
`;

const processes: ControllerProcess[] = [];
const children: ChildProcess[] = [];
const clients: ControllerClient[] = [];
let root = "";

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(processes.splice(0).map((p) => p.kill("SIGKILL")));
});
afterAll(() => {
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

/**
 * A fresh client per call, closed at the end of the test: a channel that once failed to
 * connect (a node not up yet, or killed) backs off reconnecting, so polls do not reuse it.
 */
function client(address: string): ControllerClient {
  const c = new ControllerClient(address, 2_000);
  clients.push(c);
  return c;
}

/** The active controller's address as the live nodes report it. */
function activeAddress(addresses: readonly string[]): Promise<string> {
  return waitFor(
    "an active controller",
    async () => {
      for (const a of addresses) {
        const d = await client(a)
          .describeCluster()
          .catch(() => null);
        if (d !== null && d.activeControllerId === d.nodeId) return a;
      }
      return undefined;
    },
    WAIT_MS,
  );
}

/** Retries a voter change until it succeeds, following NOT_CONTROLLER hints (bounded). */
async function voterChange(
  addresses: readonly string[],
  call: (c: ControllerClient) => Promise<{ error: { code: number; message: string } | null }>,
): Promise<void> {
  await waitFor(
    "the voter change",
    async () => {
      const res = await call(client(await activeAddress(addresses))).catch(() => null);
      const code = res?.error?.code ?? -1;
      if (code !== 0 && code !== ErrorCode.NOT_CONTROLLER.code && code !== -1)
        expect(code).toBe(ErrorCode.REQUEST_TIMED_OUT.code);
      return code === 0 ? true : undefined;
    },
    WAIT_MS,
    100,
  );
}

let brokerSeq = 0;
/** Commits one broker registration through whichever node is active. */
async function commitOne(addresses: readonly string[]): Promise<void> {
  const id = ++brokerSeq;
  await waitFor(
    "a committed registration",
    async () => {
      const res = await client(await activeAddress(addresses))
        .registerBroker({
          brokerId: id,
          incarnationId: `i-${id}`,
          listeners: [{ name: "client", host: "127.0.0.1", port: 9000 + id }],
        })
        .catch(() => null);
      return res?.error?.code === 0 ? true : undefined;
    },
    WAIT_MS,
  );
}

function startReplacement(o: Record<string, unknown>): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      "--conditions=strand-source",
      "--input-type=module",
      "-e",
      REPLACEMENT_SCRIPT,
      JSON.stringify(o),
    ],
    { cwd: join(import.meta.dirname, ".."), stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      if (c.toString("utf8").includes("started")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`replacement exited ${code}: ${err}`)));
  });
}

describe("replacing a controller whose disk was lost (3 processes)", () => {
  it("removes the dead voter, adds a replacement with a new directory id, and keeps committing", async () => {
    root = mkdtempSync(join(tmpdir(), "strand-replace-"));
    const ports = await freePorts(4);
    const voters = ports
      .slice(0, 3)
      .map((p, k) => `${k + 1}@127.0.0.1:${p}`)
      .join(",");
    for (let id = 1; id <= 3; id++) {
      processes.push(
        new ControllerProcess({
          id,
          port: ports[id - 1]!,
          dataDir: join(root, `node-${id}`),
          voters,
          args: ARGS,
        }),
      );
    }
    const all = processes.map((p) => p.address);
    for (let k = 0; k < 3; k++) await commitOne(all);

    // SIGKILL the active controller and wipe its disk.
    const victimAddress = await activeAddress(all);
    const victim = processes.find((p) => p.address === victimAddress)!;
    const described = await client(victimAddress).describeCluster();
    const oldDir = described.quorum?.voters.find((v) => v.nodeId === victim.id)?.directoryId;
    expect(oldDir).toMatch(/^[0-9a-f-]{36}$/);
    await victim.kill("SIGKILL");
    rmSync(victim.dataDir, { recursive: true, force: true });
    const survivors = all.filter((a) => a !== victimAddress);
    await commitOne(survivors);

    // RemoveRaftVoter(dead id, old dir); the survivors keep committing.
    await voterChange(survivors, (c) =>
      c.removeRaftVoter({ nodeId: victim.id, directoryId: oldDir! }),
    );
    await commitOne(survivors);

    // The replacement: same id, new port, new random directory id, a non-voter until added.
    const address = `127.0.0.1:${ports[3]}`;
    await startReplacement({
      id: victim.id,
      dataDir: victim.dataDir,
      listen: address,
      voters,
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
    });
    const fresh = await waitFor("the replacement answers", () => client(address).describeCluster());
    const newDir = fresh.quorum?.directoryId ?? "";
    expect(newDir).toMatch(/^[0-9a-f-]{36}$/);
    expect(newDir).not.toBe(oldDir);
    expect(fresh.quorum?.isVoter).toBe(false);

    await voterChange(survivors, (c) =>
      c.addRaftVoter({ nodeId: victim.id, directoryId: newDir, address }),
    );
    const quorum = [...survivors, address];
    for (let k = 0; k < 3; k++) await commitOne(quorum);
    const caughtUp = await waitFor(
      "the replacement is a caught-up voter",
      async () => {
        const ds = await Promise.all(quorum.map((a) => client(a).describeCluster()));
        const offsets = ds.map((d) => Number(d.metadataOffset));
        const replacement = ds[2]!;
        return replacement.quorum?.isVoter && replacement.quorum.voters.length === 3
          ? Math.min(...offsets)
          : undefined;
      },
      WAIT_MS,
    );
    const logs = await Promise.all(quorum.map((a) => readLog(a, caughtUp, WAIT_MS)));
    expect(logs[2]).toEqual(logs[0]);
    expect(logs[1]).toEqual(logs[0]);

    // Kill one original survivor: the replacement's vote keeps the quorum committing.
    const activeNow = await activeAddress(quorum);
    const standby = processes.find((p) => p.alive && p.address !== activeNow);
    await standby?.kill("SIGKILL");
    const remaining = quorum.filter((a) => a !== standby?.address);
    await commitOne(remaining);
    const d = await client(address).describeCluster();
    expect(d.quorum?.voters.find((v) => v.nodeId === victim.id)?.directoryId).toBe(newDir);
  }, 180_000);
});
