// Goal: Raft runs over the gRPC transport on 127.0.0.1: every message type survives the proto
// round trip, three drivers on random ports elect a leader and commit, invalid or garbage
// input is dropped without crashing anyone, and an unreachable peer costs a bounded queue.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { type StepRequest, strandGrpc } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Entry, Index, Message, NodeId, ReplicaKey, SnapshotMeta } from "../src/core/index.ts";
import { directoryId, index, nodeId, term } from "../src/core/index.ts";
import type { StateMachine } from "../src/driver/driver.ts";
import { RaftDriver } from "../src/driver/driver.ts";
import { FileStorage } from "../src/driver/file-storage.ts";
import { addRaftService, GrpcTransport } from "../src/transport/grpc.ts";
import { messageFromWire, messageToWire } from "../src/transport/wire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

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

const stepMethod = strandGrpc().strand.v1.RaftService.service.Step!;

/** Serializes as a client would and deserializes as the server does. */
function roundTrip(m: Message): unknown {
  const bytes = stepMethod.requestSerialize({ messages: [messageToWire(m)] });
  return (stepMethod.requestDeserialize(bytes) as { messages: unknown[] }).messages[0];
}

class ListMachine implements StateMachine {
  items: string[] = [];
  apply(entry: Entry, _i: Index): void {
    if (entry.type === "normal") this.items.push(dec.decode(entry.data));
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array, _meta: SnapshotMeta): void {
    this.items = JSON.parse(dec.decode(data)) as string[];
  }
}

function bind(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error),
    ),
  );
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => server.tryShutdown(() => resolve()));
}

let root = "";
const servers: grpc.Server[] = [];
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "strand-raft-grpc-"));
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const s of servers.splice(0)) await shutdown(s);
  await rm(root, { recursive: true, force: true });
});

interface GrpcNode {
  id: NodeId;
  driver: RaftDriver;
  transport: GrpcTransport;
  sm: ListMachine;
}

/** Starts n drivers, each with its own gRPC server on a random loopback port. */
async function startCluster(n: number): Promise<{ nodes: GrpcNode[]; peers: Map<NodeId, string> }> {
  const ids = Array.from({ length: n }, (_, k) => nodeId(k + 1));
  const voters: ReplicaKey[] = ids.map((id) => ({ id, dir: directoryId(randomUUID()) }));
  const peers = new Map<NodeId, string>();
  for (const id of ids) {
    const server = new grpc.Server();
    servers.push(server);
    peers.set(id, `127.0.0.1:${await bind(server)}`);
  }
  const nodes: GrpcNode[] = [];
  for (const [k, id] of ids.entries()) {
    const transport = new GrpcTransport({ nodeId: id, peers });
    addRaftService(servers[k]!, transport);
    const storage = await FileStorage.open({
      dir: path.join(root, `n${id}`),
      nodeId: id,
      directoryId: voters[k]!.dir,
      bootstrapVoters: voters,
    });
    const sm = new ListMachine();
    const driver = await RaftDriver.start({ id, storage, transport, stateMachine: sm, tickMs: 20 });
    closers.push(() => driver.close());
    nodes.push({ id, driver, transport, sm });
  }
  return { nodes, peers };
}

async function leaderOf(nodes: GrpcNode[]): Promise<GrpcNode> {
  let leader: GrpcNode | undefined;
  await waitFor(
    () => {
      leader = nodes.find((x) => x.driver.status().role === "leader");
      return leader !== undefined && nodes.every((x) => x.driver.status().leader === leader!.id);
    },
    10_000,
    "a leader",
  );
  return leader!;
}

const head = {
  from: nodeId(1),
  fromDir: directoryId("d1"),
  to: nodeId(2),
  toDir: directoryId("d2"),
  term: term(7),
};
const voters: ReplicaKey[] = [
  { id: nodeId(1), dir: directoryId("d1") },
  { id: nodeId(2), dir: directoryId("d2") },
];
const everyType: Message[] = [
  { ...head, type: "preVote", lastIndex: index(10), lastTerm: term(6) },
  { ...head, type: "vote", lastIndex: index(10), lastTerm: term(6), transfer: true },
  { ...head, type: "preVoteResponse", granted: true },
  { ...head, type: "voteResponse", granted: false },
  {
    ...head,
    toDir: null,
    type: "append",
    prevIndex: index(9),
    prevTerm: term(6),
    commit: index(8),
    entries: [
      { type: "normal", index: index(10), term: term(7), data: enc.encode("x") },
      { type: "noop", index: index(11), term: term(7) },
      { type: "config", index: index(12), term: term(7), voters },
    ],
  },
  {
    ...head,
    type: "appendResponse",
    success: false,
    matchIndex: index(0),
    rejectedIndex: index(9),
    conflictIndex: index(5),
    conflictTerm: term(3),
  },
  { ...head, type: "heartbeat", commit: index(2 ** 40) },
  { ...head, type: "heartbeatResponse" },
  {
    ...head,
    type: "snapshot",
    meta: { index: index(100), term: term(5), voters },
    offset: 4096,
    data: enc.encode("chunk"),
    done: true,
  },
  {
    ...head,
    type: "snapshotResponse",
    snapshotIndex: index(100),
    nextOffset: 8192,
    installed: true,
    matchIndex: index(100),
  },
  { ...head, type: "timeoutNow" },
];

describe("wire conversion", () => {
  it("round-trips every message type through the proto encoding", () => {
    for (const m of everyType) expect(messageFromWire(roundTrip(m))).toEqual(m);
  });

  it("rejects unknown bodies, missing fields, negative and out-of-range numbers, gaps", () => {
    const good = messageToWire(everyType[4]!) as Record<string, unknown>;
    const bad: unknown[] = [
      null,
      {},
      { ...good, body: "nonsense" },
      { ...good, body: undefined },
      { ...good, term: "-1" },
      { ...good, term: "9007199254740993" },
      { ...good, term: "1e3" },
      { ...good, from: 0 },
      { ...good, fromDirectoryId: "" },
      { ...good, append: { ...(good.append as object), prevIndex: "-3" } },
      {
        ...good,
        append: {
          ...(good.append as object),
          entries: [{ type: "RAFT_ENTRY_TYPE_NOOP", index: "11", term: "7" }],
        },
      },
      {
        ...good,
        append: {
          ...(good.append as object),
          entries: [{ type: "RAFT_ENTRY_TYPE_UNSPECIFIED", index: "10", term: "7" }],
        },
      },
      {
        ...good,
        append: {
          ...(good.append as object),
          entries: [{ type: "RAFT_ENTRY_TYPE_NOOP", index: "10", term: "8" }],
        },
      },
      { ...good, append: null },
    ];
    for (const b of bad) expect(() => messageFromWire(b)).toThrow();
  });
});

describe("GrpcTransport", () => {
  it("runs three drivers on random loopback ports: elects a leader and commits", async () => {
    const { nodes } = await startCluster(3);
    const leader = await leaderOf(nodes);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, k) => leader.driver.propose(enc.encode(`v${k}`))),
    );
    expect(results.map((r) => r.index)).toEqual(results.map((_, k) => results[0]!.index + k));
    await waitFor(
      () => nodes.every((x) => x.sm.items.length === 50),
      10_000,
      "all nodes to apply 50",
    );
    for (const x of nodes)
      expect(x.sm.items).toEqual(Array.from({ length: 50 }, (_, k) => `v${k}`));
    expect(leader.transport.stats.sentBatches).toBeGreaterThan(0);
  });

  it("drops invalid and garbage requests without crashing, and keeps working", async () => {
    const { nodes, peers } = await startCluster(3);
    const leader = await leaderOf(nodes);
    const target = nodes.find((x) => x.id !== leader.id)!;
    const peerAddress = peers.get(target.id)!;
    const client = new grpc.Client(peerAddress, grpc.credentials.createInsecure());
    closers.push(async () => client.close());
    const invalidBefore = target.transport.stats.invalidMessages;
    const good = messageToWire({ ...everyType[7]!, from: leader.id, to: target.id }) as Record<
      string,
      unknown
    >;
    const { heartbeatResponse: _, body: __, ...noBody } = good;
    // No body (what an unknown future body decodes to), a negative term, another node, a bad id.
    const junk = [noBody, { ...good, term: "-5" }, { ...good, to: 99 }, { ...good, from: -1 }, {}];
    const accepted = await new Promise<unknown>((resolve, reject) =>
      client.makeUnaryRequest(
        "/strand.v1.RaftService/Step",
        (req: unknown) => stepMethod.requestSerialize(req as StepRequest),
        (b: Buffer) => stepMethod.responseDeserialize(b),
        { messages: junk },
        (error, value) => (error ? reject(error) : resolve(value)),
      ),
    );
    expect(accepted).toEqual({ accepted: 0 });
    expect(target.transport.stats.invalidMessages - invalidBefore).toBe(junk.length);
    // Raw bytes that are not a StepRequest at all: the call fails, the server lives on.
    const raw = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        "/strand.v1.RaftService/Step",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]),
        (error) => resolve(error),
      ),
    );
    expect(raw?.code).toBe(grpc.status.INTERNAL);
    const r = await leader.driver.propose(enc.encode("still alive"));
    await waitFor(
      () => nodes.every((x) => x.driver.status().applied >= r.index),
      10_000,
      "apply after garbage",
    );
  });

  it("bounds the queue of an unreachable peer and drops instead of buffering", async () => {
    const dead = new grpc.Server();
    const port = await bind(dead);
    await shutdown(dead); // the port is now closed: nothing listens there
    const peers = new Map<NodeId, string>([[nodeId(2), `127.0.0.1:${port}`]]);
    const transport = new GrpcTransport({
      nodeId: nodeId(1),
      peers,
      peerQueueMessagesMax: 100,
      rpcTimeoutMs: 500,
    });
    closers.push(() => transport.close());
    const hb: Message = { ...head, to: nodeId(2), type: "heartbeat", commit: index(0) };
    transport.send(Array.from({ length: 10_000 }, () => hb));
    // 100 queued (one batch in flight), 9 900 dropped at once; the batch fails and is dropped too.
    expect(transport.stats.droppedMessages).toBe(9_900);
    await waitFor(
      () => transport.stats.droppedMessages === 10_000,
      5_000,
      "the failed batch to drop",
    );
    expect(transport.stats.sentMessages).toBe(0);
  });
});
