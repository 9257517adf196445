// Goal: a node bounds what idle clients can hold and answers bad bytes clearly, and keeps
// serving: a connection that carries no call is closed after connections.max.idle.ms; Subscribe
// streams beyond subscribe.streams.per.connection.max (one connection) or subscribe.streams.max
// (the broker) are refused with RESOURCE_EXHAUSTED naming the bound, and a freed slot is
// usable again; request bytes that do not decode answer INVALID_ARGUMENT, not INTERNAL; the
// listener closes connections beyond connections.per.peer.max (one client address) and
// connections.max as they arrive, and a connection that sends nothing within
// connections.handshake.timeout.ms.
import { mkdtempSync, rmSync } from "node:fs";
import { type ClientHttp2Session, connect as connectHttp2 } from "node:http2";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  clientChannelOptions,
  encodeRecordBatch,
  type FetchServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  closeAllStubs,
  layout,
  type NodeProcess,
  startNode,
  stubs,
  unary,
  waitReady,
} from "./support/cluster.ts";

const nodes: NodeProcess[] = [];
const roots: string[] = [];
const channels: grpc.Client[] = [];

afterEach(() => {
  for (const c of channels.splice(0)) c.close();
  closeAllStubs();
});
afterAll(async () => {
  if (process.env.STRAND_TEST_DUMP_LOGS)
    for (const n of nodes) for (const l of n.lines) console.log(n.id, l);
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "strand-conn-"));
  roots.push(r);
  return r;
}

/** A FetchService client on its own TCP connection (no shared subchannel). */
function ownConnection(address: string): FetchServiceClient {
  const v1 = strandGrpc().strand.v1;
  const client = new v1.FetchService(address, grpc.credentials.createInsecure(), {
    ...clientChannelOptions(),
    "grpc.use_local_subchannel_pool": 1,
  });
  channels.push(client);
  return client;
}

type Stream = grpc.ClientReadableStream<unknown>;

/** Opens a Subscribe from offset 0 and waits for its first push or its error. */
function subscribe(
  client: FetchServiceClient,
  topic: string,
): Promise<{ stream: Stream; error: grpc.ServiceError | null }> {
  const stream = client.Subscribe({
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: "0" }] }],
  }) as Stream;
  return new Promise((resolve) => {
    stream.once("data", () => resolve({ stream, error: null }));
    stream.once("error", (error: grpc.ServiceError) => resolve({ stream, error }));
  });
}

describe("connection and stream limits", () => {
  let node: NodeProcess;

  beforeAll(async () => {
    const l = await layout(1);
    node = startNode(l, 1, tempRoot(), [
      ...["--connections.max.idle.ms", "500"],
      ...["--subscribe.streams.max", "3", "--subscribe.streams.per.connection.max", "2"],
    ]);
    nodes.push(node);
    await waitReady([node]);
  }, 60_000);

  it("closes a connection that carries no call after connections.max.idle.ms", async () => {
    // An HTTP/2 connection that never starts a call (what an idle gRPC channel holds) is closed.
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const session = connectHttp2(`http://${node.clientAddress}`);
      session.on("error", () => undefined);
      session.on("close", () => resolve(Date.now() - started));
      setTimeout(() => {
        session.destroy();
        reject(new Error("idle connection still open after 15 s"));
      }, 15_000);
    });
    expect(closedAfter).toBeGreaterThanOrEqual(400);
  }, 30_000);

  it("refuses Subscribe streams beyond the per-connection and total bounds", async () => {
    const s = stubs(node.clientAddress);
    await unary((cb) =>
      s.admin.CreateTopics({ topics: [{ name: "feed", partitionCount: 1 }] }, cb),
    );
    const records = encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      records: [{ key: null, value: Buffer.from("x") }],
    });
    await unary((cb) =>
      s.produce.Produce(
        {
          acks: "ACKS_ALL",
          timeoutMs: 5_000,
          topics: [{ topic: "feed", partitions: [{ partition: 0, records }] }],
        },
        cb,
      ),
    );

    const a = ownConnection(node.clientAddress);
    const a1 = await subscribe(a, "feed");
    const a2 = await subscribe(a, "feed");
    expect([a1.error, a2.error]).toEqual([null, null]);
    const a3 = await subscribe(a, "feed");
    expect(a3.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(a3.error?.details).toContain("subscribe.streams.per.connection.max");

    const b = ownConnection(node.clientAddress);
    expect((await subscribe(b, "feed")).error).toBeNull();
    const b2 = await subscribe(b, "feed");
    expect(b2.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(b2.error?.details).toContain("subscribe.streams.max");

    // A cancelled stream frees its slot (bounded poll: the server learns of it asynchronously).
    a1.stream.on("error", () => undefined);
    a1.stream.cancel();
    let again = await subscribe(b, "feed");
    for (let i = 0; again.error !== null && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await subscribe(b, "feed");
    }
    expect(again.error).toBeNull();
    for (const x of [a2, again]) {
      x.stream.on("error", () => undefined);
      x.stream.cancel();
    }
  }, 60_000);

  it("answers request bytes that do not decode with INVALID_ARGUMENT and keeps serving", async () => {
    const s = stubs(node.clientAddress);
    // Bytes that are not a MetadataRequest: INVALID_ARGUMENT, and the node keeps serving.
    const raw = new grpc.Client(node.clientAddress, grpc.credentials.createInsecure());
    channels.push(raw);
    const bad = await new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeUnaryRequest(
        "/strand.v1.MetadataService/Metadata",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff]),
        (error) => resolve(error),
      );
    });
    expect(bad?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad?.details).toMatch(/do not decode/);
    const meta = await unary<{ brokers: unknown[] }>((cb) => s.metadata.Metadata({}, cb));
    expect(meta.brokers.length).toBe(1);
  }, 30_000);
});

/** An HTTP/2 session from `localAddress`: accepted once the server's SETTINGS arrive. */
function openSession(
  address: string,
  localAddress: string,
): Promise<{ session: ClientHttp2Session; accepted: boolean }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.split(":").pop()];
  const session = connectHttp2(`http://${address}`, {
    createConnection: () => connectTcp({ host, port: Number(port), localAddress }),
  });
  session.on("error", () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ session, accepted: false }), 5_000);
    session.once("remoteSettings", () => {
      clearTimeout(timer);
      resolve({ session, accepted: true });
    });
    session.once("close", () => {
      clearTimeout(timer);
      resolve({ session, accepted: false });
    });
  });
}

describe("connection caps on the client listener", () => {
  let node: NodeProcess;
  const sessions: ClientHttp2Session[] = [];

  beforeAll(async () => {
    const l = await layout(1);
    node = startNode(l, 1, tempRoot(), [
      ...["--connections.max", "6", "--connections.per.peer.max", "4"],
      ...["--connections.handshake.timeout.ms", "300"],
    ]);
    nodes.push(node);
    await waitReady([node]);
  }, 60_000);

  afterEach(() => {
    for (const s of sessions.splice(0)) s.destroy();
  });

  it("closes connections beyond connections.per.peer.max and connections.max as they arrive", async () => {
    const open = async (from: string) => {
      const { session, accepted } = await openSession(node.clientAddress, from);
      sessions.push(session);
      return accepted;
    };
    // The readiness probe and stubs above are gone: the node holds none of our connections.
    const fromOne = [];
    for (let i = 0; i < 5; i++) fromOne.push(await open("127.0.0.1"));
    expect(fromOne).toEqual([true, true, true, true, false]);
    const fromOthers = [await open("127.0.0.2"), await open("127.0.0.2"), await open("127.0.0.3")];
    expect(fromOthers).toEqual([true, true, false]);
    // Freed slots are usable again, and the node still answers.
    for (const s of sessions.splice(0)) s.destroy();
    await waitForAccepted(() => open("127.0.0.3"));
    const s = stubs(node.clientAddress);
    const metadata = await unary((cb) => s.metadata.Metadata({ topics: [] }, cb));
    expect(metadata).toBeDefined();
  }, 30_000);

  it("closes a connection that sends no byte within connections.handshake.timeout.ms", async () => {
    const [host, port] = node.clientAddress.split(":");
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connectTcp({ host, port: Number(port) });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(Date.now() - started));
      setTimeout(() => {
        socket.destroy();
        reject(new Error("silent connection still open after 10 s"));
      }, 10_000);
    });
    expect(closedAfter).toBeGreaterThanOrEqual(250);
    // A connection that does speak HTTP/2 outlives the handshake timeout.
    const { session, accepted } = await openSession(node.clientAddress, "127.0.0.1");
    sessions.push(session);
    expect(accepted).toBe(true);
    await new Promise((r) => setTimeout(r, 900));
    expect(session.closed || session.destroyed).toBe(false);
  }, 20_000);
});

/** Retries `attempt` (a connection slot frees as the server sees the close) for up to 5 s. */
async function waitForAccepted(attempt: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (await attempt()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no connection accepted within 5 s after the others closed");
}
