// Goal: the proof of the hardening issue on ONE running 3-node cluster (combined mode). After a
// baseline of records written with acks=all, each kind of hostile input is sent and answered as
// documented: raw Raft messages on the internal listener (a term of 2^53-1 refused by the wire
// bound, a term 2^40 from a voter refused as a term jump, TimeoutNow and a higher-term append
// from non-voters dropped by the voter-only rule; docs/raft.md), then on the client listener a
// Fetch of 10,002 partitions in total and undecodable request bytes (INVALID_ARGUMENT), a
// CreateTopics beyond max.partitions.per.broker (INVALID_PARTITIONS), a gzip request that
// inflates beyond socket.request.max.bytes (RESOURCE_EXHAUSTED), every hostile record batch of
// support/hostile-batches.ts (its documented code), a Subscribe beyond the per-connection cap
// (RESOURCE_EXHAUSTED), a FetchStream with more parked requests than its bound or a request
// without a body (INVALID_ARGUMENT) and 500 idle TCP connections per node (docs/errors.md "Request limits",
// docs/operations.md "Limits on what clients hold"). Afterwards every node is alive and ready,
// the baseline reads back intact at its offsets, a new produce/consume works, and each node's
// resident memory and open descriptors stay within the bounds below. Per-area details live in
// the per-area tests; this file only proves that one cluster survives them all in a row.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect as connectTcp, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { type ConsumerBatch, type RecordMetadata, Strand, silentLogger } from "@strand/client";
import { ControllerClient } from "@strand/controller";
import {
  clientChannelOptions,
  ErrorCode,
  encodeRecordBatch,
  type FetchServiceClient,
  internalChannelOptions,
  type MetadataResponse__Output,
  type ProduceResponse__Output,
  type RaftMessage,
  type RaftServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
import { hostileBatches } from "./support/hostile-batches.ts";

const MiB = 1024 * 1024;
/**
 * Most a node's resident memory may grow over the whole hostile sequence. The gzip bomb, the
 * 24 MiB inflated request and 500 connections each cost memory while they are handled, and V8
 * keeps a grown heap for a while, so the bound is generous; what it catches is an unbounded
 * input (a 2^30-entry allocation, a fully inflated 65 MiB bomb per retry, buffers kept per
 * connection), which costs far more.
 */
const RSS_GROWTH_MAX_BYTES = 200 * MiB;
/**
 * Most open descriptors a node may hold above its baseline once the idle connections are
 * closed: the topics created during the test add a few segment files per replica and the SDK
 * and test channels a few sockets; 500 leaked connections per node would be far above.
 */
const FD_GROWTH_MAX = 50;
/** Idle TCP connections opened to each node's client listener at once. */
const IDLE_CONNECTIONS = 500;
/** A small per-connection Subscribe cap, so exceeding it is cheap. */
const STREAMS_PER_CONNECTION = 2;
/** A small replica cap, so CreateTopics can exceed it with a small request. */
const PARTITIONS_PER_BROKER = 100;
/** Baseline: records per partition, over three partitions. */
const BASELINE_PER_PARTITION = 20;
/** 2^53-1: above the wire bound RAFT_NUMBER_MAX = 2^48. */
const HUGE_TERM = String(2 ** 53 - 1);
/** Within the wire bound but far above TERM_JUMP_MAX (2^20) past any real term. */
const JUMP_TERM = String(2 ** 40);

const nodes: NodeProcess[] = [];
const channels: grpc.Client[] = [];
const controllers: ControllerClient[] = [];
let root = "";
let strand: Strand;

/** Per node (index id - 1): resident bytes and open descriptors after the baseline. */
const before: { rss: number; fds: number }[] = [];
/** The baseline records: where send() said each one landed, and its value. */
let baseline: { meta: RecordMetadata; value: string }[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-hostile-input-"));
  const l = await layout(3);
  const settings = [
    "--bootstrap",
    ...["--subscribe.streams.per.connection.max", String(STREAMS_PER_CONNECTION)],
    ...["--max.partitions.per.broker", String(PARTITIONS_PER_BROKER)],
  ];
  nodes.push(...[1, 2, 3].map((id) => startNode(l, id, root, settings)));
  await waitReady(nodes, 40_000);
  strand = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "hostile-input-test",
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 30_000,
    retry: { initialMs: 50, maxMs: 500, multiplier: 2 },
  });
}, 60_000);

afterAll(async () => {
  if (process.env.STRAND_TEST_DUMP_LOGS)
    for (const n of nodes) for (const l of n.lines) console.log(n.id, l);
  await strand?.close();
  for (const c of channels.splice(0)) c.close();
  for (const c of controllers.splice(0)) c.close();
  closeAllStubs();
  await Promise.all(nodes.splice(0).map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
}, 30_000);

function pidOf(n: NodeProcess): number {
  const pid = n.child.pid;
  if (pid === undefined) throw new Error(`node ${n.id} has no pid`);
  return pid;
}

/** Resident set size of a process (VmRSS of /proc/<pid>/status), in bytes. */
function rssBytes(n: NodeProcess): number {
  const status = readFileSync(`/proc/${pidOf(n)}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for node ${n.id}`);
  return Number(kb) * 1024;
}

/** Open descriptors of a process (entries of /proc/<pid>/fd). */
function fdCount(n: NodeProcess): number {
  return readdirSync(`/proc/${pidOf(n)}/fd`).length;
}

function controller(n: NodeProcess): ControllerClient {
  const c = new ControllerClient(`127.0.0.1:${n.ports.internal}`, 5_000);
  controllers.push(c);
  return c;
}

function raftClient(n: NodeProcess): RaftServiceClient {
  const c = new (strandGrpc().strand.v1.RaftService)(
    `127.0.0.1:${n.ports.internal}`,
    grpc.credentials.createInsecure(),
    internalChannelOptions(),
  );
  channels.push(c);
  return c;
}

/** Sends one Step batch; resolves with how many messages passed the wire validation. */
function step(n: NodeProcess, messages: RaftMessage[]): Promise<number> {
  return unary<{ accepted: number }>((cb) =>
    raftClient(n).Step({ messages }, { deadline: Date.now() + 5_000 }, cb),
  ).then((r) => r.accepted);
}

/** Reads `count` records of `topic` (partitions 0..partitions-1) from the start, bounded. */
async function readAll(topic: string, partitions: number, count: number): Promise<ConsumerBatch[]> {
  const consumer = strand.consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const batches: ConsumerBatch[] = [];
  let seen = 0;
  const deadline = Date.now() + 20_000;
  try {
    for (let round = 0; round < 1_000 && seen < count && Date.now() < deadline; round++)
      for (const b of await consumer.poll()) {
        batches.push(b);
        seen += b.messages.length;
      }
  } finally {
    await consumer.close();
  }
  expect(seen).toBe(count);
  return batches;
}

/** The JSON log lines of `n` whose message starts with `msg`. */
function logLines(n: NodeProcess, msg: string): Record<string, unknown>[] {
  return n.lines
    .filter((l) => l.includes(msg))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => typeof o.msg === "string" && o.msg.startsWith(msg));
}

/** The partition leader of `topic`/0 once it has a full ISR. */
async function leaderOf(topic: string): Promise<NodeProcess> {
  const id = await waitFor(`a leader of ${topic} with a full ISR`, async () => {
    const r = await unary<MetadataResponse__Output>((cb) =>
      stubs(nodes[0]!.clientAddress).metadata.Metadata({ topics: [topic] }, cb),
    );
    const p = r.topics[0]?.partitions[0];
    return p !== undefined && p.leaderId > 0 && p.isr.length === 3 ? p.leaderId : undefined;
  });
  return nodes[id - 1]!;
}

function produce(address: string, topic: string, records: Buffer) {
  return unary<ProduceResponse__Output>((cb) =>
    stubs(address).produce.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 10_000,
        topics: [{ topic, partitions: [{ partition: 0, records }] }],
      },
      cb,
    ),
  ).then((r) => r.topics[0]!.partitions[0]!);
}

/** A FetchService client on a channel of its own (not shared with other tests' calls). */
function ownFetchClient(node: NodeProcess): FetchServiceClient {
  const client: FetchServiceClient = new (strandGrpc().strand.v1.FetchService)(
    node.clientAddress,
    grpc.credentials.createInsecure(),
    { ...clientChannelOptions(), "grpc.use_local_subchannel_pool": 1 },
  );
  channels.push(client);
  return client;
}

describe("hostile input against one running 3-node cluster", () => {
  it("baseline: writes records with acks=all and reads them back; measures RSS and descriptors", async () => {
    const admin = strand.admin();
    await admin.createTopics([{ topic: "baseline", numPartitions: 3, replicationFactor: 3 }]);
    const producer = strand.producer({ acks: "all", lingerMs: 5 });
    const messages = Array.from({ length: 3 * BASELINE_PER_PARTITION }, (_, i) => ({
      key: `k${i}`,
      value: `baseline-${i}`,
      partition: i % 3,
    }));
    const metas = await producer.send({ topic: "baseline", messages });
    await producer.close();
    baseline = metas.map((meta, i) => ({ meta, value: messages[i]!.value }));
    await expectBaselineIntact();
    for (const n of nodes) before[n.id - 1] = { rss: rssBytes(n), fds: fdCount(n) };
  }, 60_000);

  it("raw Raft messages: the wire bound, the term-jump bound and the voter-only rule", async () => {
    const described = await controller(nodes[0]!).describeCluster();
    const voters = described.quorum!.voters;
    expect(voters).toHaveLength(3);
    const dirOf = (id: number) => voters.find((v) => v.nodeId === id)!.directoryId;
    const termsBefore = await Promise.all(
      nodes.map(async (n) => Number((await controller(n).describeCluster()).quorum!.term)),
    );
    for (const n of nodes) {
      const voter = nodes.find((o) => o.id !== n.id)!.id; // a real voter identity
      const head = (from: number, fromDirectoryId: string, term: string) => ({
        from,
        fromDirectoryId,
        to: n.id,
        toDirectoryId: "",
        term,
      });
      const current = termsBefore[n.id - 1]!;
      const append = { prevIndex: "0", prevTerm: "0", entries: [], commit: "0" };
      // A heartbeat and an append at 2^53-1, even from a voter: refused by the wire bound.
      expect(
        await step(n, [
          { ...head(voter, dirOf(voter), HUGE_TERM), heartbeat: { commit: "0" } },
          { ...head(voter, dirOf(voter), HUGE_TERM), append },
        ]),
      ).toBe(0);
      // Valid on the wire, each handed to Raft, which drops it: a term jump from a voter;
      // TimeoutNow and a next-term append from ids that are not voters (an unknown node id,
      // and a voter's node id with another directory id).
      const next = String(current + 1);
      expect(
        await step(n, [
          { ...head(voter, dirOf(voter), JUMP_TERM), heartbeat: { commit: "0" } },
          { ...head(99, "forged-timeout-now", String(current)), timeoutNow: {} },
          { ...head(98, "forged-append", next), append },
          { ...head(voter, "forged-directory", next), timeoutNow: {} },
        ]),
      ).toBe(4);
    }
    // Every node logged each refusal (the driver logs one line per sender per 10 s).
    for (const n of nodes) {
      await waitFor(`node ${n.id} logs the refusals`, () => {
        const invalid = logLines(n, "invalid raft message dropped");
        const dropped = logLines(n, "raft message dropped");
        const why = (from: number, fromDir: string) =>
          dropped.find((o) => o.from === from && o.fromDir === fromDir)?.why;
        const voter = nodes.find((o) => o.id !== n.id)!.id;
        return (
          invalid.some((o) => String(o.why).includes("beyond 2^48")) &&
          String(why(voter, dirOf(voter))).includes("far beyond") &&
          String(why(99, "forged-timeout-now")).includes("not a voter") &&
          String(why(98, "forged-append")).includes("not a voter") &&
          String(why(voter, "forged-directory")).includes("not a voter")
        );
      });
    }
    // The quorum still counts terms normally and still commits: a metadata write works.
    await strand.admin().createTopics([{ topic: "after-raft", numPartitions: 1 }]);
    const after = await Promise.all(nodes.map((n) => controller(n).describeCluster()));
    const leaders = new Set(after.map((d) => d.quorum!.leaderId));
    expect(leaders.size).toBe(1);
    expect([...leaders][0]).toBeGreaterThan(0);
    for (const d of after) expect(Number(d.quorum!.term)).toBeLessThan(2 ** 20);
    console.log(
      `controller terms before ${termsBefore.join(",")}, after ${after.map((d) => d.quorum!.term).join(",")}`,
    );
  }, 60_000);

  it("client listener: request bounds answer their documented errors", async () => {
    const partitions = Array.from({ length: 5_001 }, (_, partition) => ({
      partition,
      fetchOffset: "0",
    }));
    for (const n of nodes) {
      const s = stubs(n.clientAddress);
      // 10,002 partitions in total over two topics (each list alone is within 10,000).
      await expect(
        unary((cb) =>
          s.fetch.Fetch(
            {
              topics: [
                { topic: "baseline", partitions },
                { topic: "other", partitions },
              ],
            },
            cb,
          ),
        ),
      ).rejects.toThrow(/INVALID_ARGUMENT.*10002 items in total; at most 10000/);
      // Bytes that are not a MetadataRequest nor a ProduceRequest.
      const raw = new grpc.Client(n.clientAddress, grpc.credentials.createInsecure());
      channels.push(raw);
      for (const method of [
        "/strand.v1.MetadataService/Metadata",
        "/strand.v1.ProduceService/Produce",
      ]) {
        const bad = await new Promise<grpc.ServiceError | null>((resolve) => {
          raw.makeUnaryRequest(
            method,
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.from([0x0a, 0xff, 0xff, 0xff]),
            (error) => resolve(error),
          );
        });
        expect({ method, code: bad?.code }).toEqual({ method, code: grpc.status.INVALID_ARGUMENT });
        expect(bad?.details).toMatch(/do not decode/);
      }
      // A gzip request of 24 MiB of zeros (~24 KB on the wire) inflates beyond
      // socket.request.max.bytes (default message.max.bytes + 16 MiB).
      const gz = new (strandGrpc().strand.v1.ProduceService)(
        n.clientAddress,
        grpc.credentials.createInsecure(),
        { ...clientChannelOptions(), "grpc.default_compression_algorithm": 2 },
      );
      channels.push(gz);
      await expect(
        unary((cb) =>
          gz.Produce(
            {
              acks: "ACKS_ALL",
              timeoutMs: 5_000,
              topics: [
                {
                  topic: "baseline",
                  partitions: [{ partition: 0, records: Buffer.alloc(24 * MiB) }],
                },
              ],
            },
            cb,
          ),
        ),
      ).rejects.toThrow(/RESOURCE_EXHAUSTED.*decompresses to a size larger than/);
    }
    // One replica per broker per partition (RF 3 on 3 brokers): beyond the cap is refused.
    const created = await unary<{
      topics: { name: string; errorCode: number; errorMessage: string }[];
    }>((cb) =>
      stubs(nodes[1]!.clientAddress).admin.CreateTopics(
        { topics: [{ name: "too-many", partitionCount: PARTITIONS_PER_BROKER + 1 }] },
        cb,
      ),
    );
    expect(created.topics[0]).toMatchObject({
      name: "too-many",
      errorCode: ErrorCode.INVALID_PARTITIONS.code,
    });
    expect(created.topics[0]?.errorMessage).toContain("max.partitions.per.broker");
  }, 60_000);

  it("hostile record batches: each refused with its code at the partition leader", async () => {
    await strand.admin().createTopics([{ topic: "batches", numPartitions: 1 }]);
    const leader = await leaderOf("batches");
    for (const hostile of hostileBatches()) {
      const refused = await produce(leader.clientAddress, "batches", Buffer.from(hostile.bytes));
      const expected = ErrorCode[hostile.code];
      expect({ name: hostile.name, code: refused.errorCode }).toEqual({
        name: hostile.name,
        code: expected.code,
      });
    }
    // Nothing was stored: the next valid batch lands at offset 0.
    const ok = await produce(
      leader.clientAddress,
      "batches",
      encodeRecordBatch({
        baseTimestamp: BigInt(Date.now()),
        records: [{ key: null, value: Buffer.from("valid") }],
      }),
    );
    expect(ok).toMatchObject({ errorCode: 0, baseOffset: "0" });
  }, 60_000);

  it("Subscribe streams beyond the per-connection cap: RESOURCE_EXHAUSTED naming the setting", async () => {
    // The leader of "batches" holds one record: a stream's first push.
    const client = ownFetchClient(await leaderOf("batches"));
    type Stream = grpc.ClientReadableStream<unknown>;
    const open = (): Promise<{ stream: Stream; error: grpc.ServiceError | null }> => {
      const stream = client.Subscribe({
        topics: [{ topic: "batches", partitions: [{ partition: 0, fetchOffset: "0" }] }],
      }) as Stream;
      stream.on("error", () => undefined);
      return new Promise((resolve) => {
        stream.once("data", () => resolve({ stream, error: null }));
        stream.once("error", (error: grpc.ServiceError) => resolve({ stream, error }));
      });
    };
    const opened = [];
    for (let i = 0; i < STREAMS_PER_CONNECTION; i++) opened.push(await open());
    expect(opened.map((o) => o.error)).toEqual(opened.map(() => null));
    const beyond = await open();
    expect(beyond.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(beyond.error?.details).toContain("subscribe.streams.per.connection.max");
    for (const o of opened) o.stream.cancel();
  }, 30_000);

  it("FetchStream: parked requests beyond its bound and a request without a body end the stream", async () => {
    // The leader of "batches" holds one record: a fetch at offset 1 parks.
    const client = ownFetchClient(await leaderOf("batches"));
    const ended = (stream: {
      on(event: "error", listener: (e: grpc.ServiceError) => void): unknown;
    }) => new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    const parked = {
      maxWaitMs: 30_000,
      topics: [{ topic: "batches", partitions: [{ partition: 0, fetchOffset: "1" }] }],
    };
    const flooded = client.FetchStream();
    const floodEnd = ended(flooded);
    for (let id = 1; id <= 101; id++) flooded.write({ correlationId: id, request: parked });
    const flood = await floodEnd;
    expect(flood.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(flood.details).toContain("more than 100 FetchStream requests in flight");

    const empty = client.FetchStream();
    const emptyEnd = ended(empty);
    empty.write({ correlationId: 7 });
    const bodiless = await emptyEnd;
    expect(bodiless.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bodiless.details).toContain("request 7 has no request body");
  }, 30_000);

  it(`${IDLE_CONNECTIONS} idle TCP connections per node: the node keeps serving, then they close`, async () => {
    const sockets: Socket[] = [];
    try {
      for (const n of nodes) {
        const batch = await Promise.all(
          Array.from(
            { length: IDLE_CONNECTIONS },
            () =>
              new Promise<Socket>((resolve, reject) => {
                const s = connectTcp(n.ports.client, "127.0.0.1");
                s.once("connect", () => resolve(s));
                s.once("error", reject);
              }),
          ),
        );
        sockets.push(...batch);
      }
      // The server accepted them all (each costs it a descriptor) and still answers.
      for (const n of nodes) {
        await waitFor(
          `node ${n.id} holds the idle connections`,
          () => fdCount(n) >= before[n.id - 1]!.fds + IDLE_CONNECTIONS,
          20_000,
          100,
        );
        const md = await unary<MetadataResponse__Output>((cb) =>
          stubs(n.clientAddress).metadata.Metadata({ topics: ["baseline"] }, cb),
        );
        expect(md.brokers).toHaveLength(3);
      }
    } finally {
      for (const s of sockets) s.destroy();
    }
  }, 60_000);

  it("afterwards: every node up and ready, the baseline intact, new writes work, RSS and fds bounded", async () => {
    for (const n of nodes) expect({ id: n.id, alive: n.alive }).toEqual({ id: n.id, alive: true });
    for (const n of nodes)
      await waitFor(
        `node ${n.id} /readyz 200`,
        async () => (await n.http("/readyz")).status === 200,
        20_000,
        100,
      );
    await expectBaselineIntact();

    await strand.admin().createTopics([{ topic: "after", numPartitions: 1, replicationFactor: 3 }]);
    const producer = strand.producer({ acks: "all" });
    const [meta] = await producer.send({
      topic: "after",
      messages: [{ key: "k", value: "fresh" }],
    });
    await producer.close();
    const [read] = await readAll("after", 1, 1);
    expect(read?.messages[0]?.value?.toString()).toBe("fresh");
    expect(read?.messages[0]?.offset).toBe(meta!.offset);

    const report: string[] = [];
    for (const n of nodes) {
      const base = before[n.id - 1]!;
      const fds = await waitFor(
        `node ${n.id} descriptors back within ${FD_GROWTH_MAX} of ${base.fds}`,
        () => {
          const now = fdCount(n);
          return now - base.fds < FD_GROWTH_MAX ? now : undefined;
        },
        20_000,
        100,
      );
      const rss = rssBytes(n);
      report.push(
        `node ${n.id}: rss ${(base.rss / MiB).toFixed(0)} -> ${(rss / MiB).toFixed(0)} MiB (${((rss - base.rss) / MiB).toFixed(1)}), fds ${base.fds} -> ${fds} (${fds - base.fds})`,
      );
      expect(rss - base.rss, report.at(-1)).toBeLessThan(RSS_GROWTH_MAX_BYTES);
    }
    console.log(report.join("\n"));
  }, 60_000);
});

/** Every baseline record reads back at the offset send() reported, with its value. */
async function expectBaselineIntact(): Promise<void> {
  const batches = await readAll("baseline", 3, baseline.length);
  const byPlace = new Map<string, string | undefined>();
  for (const b of batches)
    for (const m of b.messages) byPlace.set(`${b.partition}@${m.offset}`, m.value?.toString());
  for (const { meta, value } of baseline)
    expect(byPlace.get(`${meta.partition}@${meta.offset}`), value).toBe(value);
}
