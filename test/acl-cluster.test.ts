// Goal (issue 15, authorization): a 3-node TLS cluster with client.auth=required and
// authorizer=acl, super user User:admin. Principals are client certificates (`strand cert
// client NAME` -> User:NAME). ACLs are created through the real CLI. Proves: alice with WRITE
// produces, bob without WRITE cannot; without READ no fetch; without DESCRIBE the topic is not
// in the topic list nor in metadata (and naming it answers TOPIC_AUTHORIZATION_FAILED, not
// "unknown"); a deny beats an allow; prefixed ACLs; the client-listener attacks of the issue by
// a non-admin (retention.ms=0, unclean election, min.insync.replicas=1, delete topics) are
// refused and the topics and configs are unchanged; a produce sent to a broker that does not
// lead the partition (forwarded) is still authorized; a consumer group needs READ on the
// group; the denials are counted in metrics.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AuthorizationError, Strand } from "@strand/client";
import {
  clientChannelOptions,
  encodeRecordBatch,
  type ProduceResponse__Output,
  type ProduceServiceClient,
  type ProduceStreamResponse__Output,
  strandGrpc,
} from "@strand/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeProcess, startNode, waitReady } from "../scripts/lib/cluster.ts";
import { tlsNodeFlags } from "../scripts/lib/tls-certs.ts";
import { FAST_SETTINGS, layout } from "./support/cluster.ts";
import { runStrand } from "./support/strand-cli.ts";

let root = "";
let certs = "";
const nodes: NodeProcess[] = [];
const clients: Strand[] = [];
const closers: (() => void)[] = [];

const pem = (name: string): Buffer => readFileSync(join(certs, name));
const brokers = (): string => nodes.map((n) => n.clientAddress).join(",");

/** An SDK client presenting `who`'s certificate. */
function client(who: string): Strand {
  const s = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: `acl-${who}`,
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 10_000,
    tls: { ca: pem("ca.crt"), cert: pem(`${who}.crt`), key: pem(`${who}.key`) },
  });
  clients.push(s);
  return s;
}

/** `strand ARGS` as `who` over mTLS. */
function cli(who: string, args: readonly string[]) {
  const tls = ["--tls-ca", join(certs, "ca.crt"), "--tls-cert", join(certs, `${who}.crt`)];
  return runStrand(
    brokers(),
    [...args, ...tls, "--tls-key", join(certs, `${who}.key`)],
    "",
    30_000,
  );
}

async function aclCreate(...args: string[]): Promise<void> {
  const r = await cli("admin", ["acl", "create", ...args]);
  expect(r.code, r.stderr).toBe(0);
}

/** A raw ProduceService client to one broker as `who` (to pick the broker: forwarding). */
function produceStub(address: string, who: string): ProduceServiceClient {
  const creds = grpc.credentials.createSsl(pem("ca.crt"), pem(`${who}.key`), pem(`${who}.crt`));
  const c = new (strandGrpc().strand.v1.ProduceService)(address, creds, clientChannelOptions());
  closers.push(() => c.close());
  return c;
}

function rawProduce(
  stub: ProduceServiceClient,
  topic: string,
  partition: number,
): Promise<ProduceResponse__Output> {
  const records = encodeRecordBatch({
    baseTimestamp: 1_700_000_000_000n,
    records: [{ key: null, value: Buffer.from("raw") }],
  });
  return new Promise((resolve, reject) =>
    stub.Produce(
      {
        acks: "ACKS_ALL",
        timeoutMs: 5_000,
        topics: [{ topic, partitions: [{ partition, records }] }],
      },
      { deadline: Date.now() + 15_000 },
      (e, r) => (e !== null || r === undefined ? reject(e) : resolve(r)),
    ),
  );
}

async function denied(p: Promise<unknown>, code: string): Promise<AuthorizationError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthorizationError);
  expect((error as AuthorizationError).code.name).toBe(code);
  expect((error as Error).message).toMatch(/not authorized|may not/i);
  return error as AuthorizationError;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-acl-"));
  certs = join(root, "certs");
  const made = await runStrand("", ["cert", "cluster", "--dir", certs, "--nodes", "3"], "", 30_000);
  expect(made.code, made.stderr).toBe(0);
  for (const who of ["alice", "bob", "carol"]) {
    const c = await runStrand("", ["cert", "client", who, "--dir", certs], "", 30_000);
    expect(c.code, c.stderr).toBe(0);
  }
  const l = await layout(3);
  for (const id of [1, 2, 3]) {
    nodes.push(
      startNode({
        id,
        layout: l,
        dataDir: join(root, `node-${id}`),
        bootstrap: true,
        args: [
          ...FAST_SETTINGS,
          ...tlsNodeFlags(certs, id, { client: "required", admin: false }),
          ...["--authorizer", "acl", "--super.users", "User:admin"],
        ],
      }),
    );
  }
  await waitReady(nodes, 60_000, 100);
  const admin = client("admin");
  await admin.admin().createTopics([
    { topic: "orders", numPartitions: 3, replicationFactor: 3 },
    { topic: "orders.eu", numPartitions: 1, replicationFactor: 3 },
    {
      topic: "secret",
      numPartitions: 1,
      replicationFactor: 3,
      configs: { "retention.ms": "86400000" },
    },
  ]);
  // Through the real CLI, as the super user.
  await aclCreate("--principal", "User:alice", "--topic", "orders", "--operation", "write");
  await aclCreate("--principal", "User:alice", "--topic", "orders", "--operation", "read");
  await aclCreate("--principal", "User:bob", "--topic", "orders", "--operation", "describe");
  await aclCreate(
    "--principal",
    "User:carol",
    "--topic",
    "orders.",
    "--prefixed",
    "--operation",
    "all",
  );
  await aclCreate(
    "--principal",
    "User:carol",
    "--topic",
    "orders.eu",
    "--operation",
    "write",
    "--deny",
  );
}, 180_000);

afterAll(async () => {
  for (const s of clients) await s.close();
  for (const close of closers) close();
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

describe("ACLs on a TLS cluster (authorizer=acl)", () => {
  it("lists the ACLs created through the CLI, to the super user only", async () => {
    const listed = await cli("admin", ["acl", "list", "--principal", "User:carol", "-f", "json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const acls = JSON.parse(listed.stdout) as { operation: string; permission: string }[];
    expect(acls.map((a) => `${a.permission} ${a.operation}`).sort()).toEqual([
      "allow all",
      "deny write",
    ]);
    // Delete through the CLI: only what the filter selects, and it says what it removed.
    await aclCreate("--principal", "User:dave", "--group", "tmp", "--operation", "read");
    await aclCreate("--principal", "User:dave", "--topic", "tmp", "--operation", "read");
    const deleted = await cli("admin", [
      "acl",
      "delete",
      "--principal",
      "User:dave",
      "--group",
      "tmp",
    ]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/deleted 1 ACL\(s\)/);
    const left = await cli("admin", ["acl", "list", "--principal", "User:dave", "-f", "json"]);
    expect(
      (JSON.parse(left.stdout) as { resourceType: string }[]).map((a) => a.resourceType),
    ).toEqual(["topic"]);
    const refused = await cli("bob", ["acl", "list"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not authorized.*CLUSTER_AUTHORIZATION_FAILED/);
  });

  it("alice with WRITE produces; bob without WRITE cannot", async () => {
    const sent = await client("alice")
      .producer({ acks: "all" })
      .send({ topic: "orders", messages: [{ partition: 0, value: "a1" }] });
    expect(sent).toHaveLength(1);
    const bob = client("bob");
    await denied(
      bob
        .producer({ acks: "all", idempotent: false })
        .send({ topic: "orders", messages: [{ partition: 0, value: "b" }] }),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    // An idempotent producer id needs WRITE on some topic: bob has none.
    await denied(
      bob
        .producer({ acks: "all" })
        .send({ topic: "orders", messages: [{ partition: 0, value: "b" }] }),
      "CLUSTER_AUTHORIZATION_FAILED",
    );
  });

  it("without READ a principal cannot fetch; with READ it can", async () => {
    const fetchAs = async (who: string) => {
      const consumer = client(who).consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
      consumer.assign([{ topic: "orders", partition: 0 }]);
      try {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const got = await consumer.poll();
          if (got.length > 0) return got;
        }
        return [];
      } finally {
        await consumer.close();
      }
    };
    expect((await fetchAs("alice")).length).toBeGreaterThan(0);
    await denied(fetchAs("bob"), "TOPIC_AUTHORIZATION_FAILED");
  });

  it("without DESCRIBE the topic is neither listed nor revealed", async () => {
    expect(await client("bob").admin().listTopics()).toEqual(["orders"]);
    expect(await client("carol").admin().listTopics()).toEqual(["orders.eu"]);
    expect(await client("admin").admin().listTopics()).toEqual(
      expect.arrayContaining(["orders", "orders.eu", "secret"]),
    );
    // Naming a hidden topic and a missing one answers the same: not authorized.
    await denied(client("bob").admin().describeTopics(["secret"]), "TOPIC_AUTHORIZATION_FAILED");
    await denied(client("bob").admin().describeTopics(["no-such"]), "TOPIC_AUTHORIZATION_FAILED");
  });

  it("a deny beats an allow, and a prefixed ACL covers the names under it", async () => {
    const carol = client("carol");
    // carol: allow all on orders.* but deny write on orders.eu; orders itself is not under "orders.".
    await denied(
      carol
        .producer({ acks: "all", idempotent: false })
        .send({ topic: "orders.eu", messages: [{ value: "c" }] }),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    await denied(
      carol
        .producer({ acks: "all", idempotent: false })
        .send({ topic: "orders", messages: [{ value: "c" }] }),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    const offsets = await carol.admin().fetchTopicOffsets("orders.eu");
    expect(offsets).toHaveLength(1);
  });

  it("refuses the client-listener attacks of the issue to a non-admin, leaving the cluster unchanged", async () => {
    const bob = client("bob").admin();
    await denied(
      bob.alterConfigs([
        { resource: { type: "topic", name: "secret" }, changes: { "retention.ms": "0" } },
      ]),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    await denied(
      bob.alterConfigs([
        {
          resource: { type: "topic", name: "orders" },
          changes: { "unclean.leader.election.enable": "true" },
        },
      ]),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    await denied(
      bob.alterConfigs([
        {
          resource: { type: "cluster", name: "" },
          changes: { "unclean.leader.election.enable": "true" },
        },
      ]),
      "CLUSTER_AUTHORIZATION_FAILED",
    );
    await denied(
      bob.alterConfigs([
        { resource: { type: "topic", name: "orders" }, changes: { "min.insync.replicas": "1" } },
      ]),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    await denied(bob.deleteTopics(["orders"]), "TOPIC_AUTHORIZATION_FAILED");
    await denied(bob.deleteTopics(["secret"]), "TOPIC_AUTHORIZATION_FAILED");
    await denied(
      bob.createTopics([{ topic: "bobs", numPartitions: 1 }]),
      "TOPIC_AUTHORIZATION_FAILED",
    );
    await denied(
      bob.createAcls([
        { principal: "User:bob", resourceType: "topic", resourceName: "*", operation: "all" },
      ]),
      "CLUSTER_AUTHORIZATION_FAILED",
    );

    const admin = client("admin").admin();
    expect(await admin.listTopics()).toEqual(
      expect.arrayContaining(["orders", "orders.eu", "secret"]),
    );
    expect(await admin.listTopics()).not.toContain("bobs");
    const configs = await admin.describeConfigs([
      { type: "topic", name: "secret" },
      { type: "topic", name: "orders" },
    ]);
    const value = (i: number, key: string) => configs[i]?.values.find((v) => v.key === key)?.value;
    expect(value(0, "retention.ms")).toBe("86400000");
    expect(value(1, "unclean.leader.election.enable")).toBe("false");
    expect(value(1, "min.insync.replicas")).not.toBe("1");
    expect((await admin.describeAcls({ principal: "User:bob" })).map((a) => a.operation)).toEqual([
      "describe",
    ]);
  });

  it("authorizes a produce sent to a broker that does not lead the partition (forwarded)", async () => {
    const [topic] = await client("admin").admin().describeTopics(["orders"]);
    const p0 = topic!.partitions[0]!;
    const follower = nodes.find((n) => n.id !== p0.leader)!;
    const aliceResponse = await rawProduce(
      produceStub(follower.clientAddress, "alice"),
      "orders",
      0,
    );
    expect(aliceResponse.topics[0]?.partitions[0]?.errorCode).toBe(0);
    const bobResponse = await rawProduce(produceStub(follower.clientAddress, "bob"), "orders", 0);
    expect(bobResponse.topics[0]?.partitions[0]?.errorCode).toBe(29);
    expect(bobResponse.topics[0]?.partitions[0]?.errorMessage).toMatch(
      /User:bob may not write topic orders/,
    );
  });

  it("checks the streams too: ProduceStream per request, Subscribe for the whole stream", async () => {
    const creds = (who: string) =>
      grpc.credentials.createSsl(pem("ca.crt"), pem(`${who}.key`), pem(`${who}.crt`));
    const address = nodes[0]!.clientAddress;
    const produce = new (strandGrpc().strand.v1.ProduceService)(
      address,
      creds("bob"),
      clientChannelOptions(),
    );
    const fetch = new (strandGrpc().strand.v1.FetchService)(
      address,
      creds("bob"),
      clientChannelOptions(),
    );
    closers.push(
      () => produce.close(),
      () => fetch.close(),
    );
    const records = encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      records: [{ key: null, value: Buffer.from("s") }],
    });
    const streamed = await new Promise<ProduceStreamResponse__Output>((resolve, reject) => {
      const call = produce.ProduceStream({ deadline: Date.now() + 15_000 });
      call.on("data", (r: ProduceStreamResponse__Output) => {
        resolve(r);
        call.end();
      });
      call.on("error", reject);
      call.write({
        correlationId: "1",
        request: {
          acks: "ACKS_ALL",
          timeoutMs: 5_000,
          topics: [{ topic: "orders", partitions: [{ partition: 0, records }] }],
        },
      });
    });
    expect(streamed.response?.topics[0]?.partitions[0]?.errorCode).toBe(29);
    const status = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const call = fetch.Subscribe(
        {
          topics: [{ topic: "orders", partitions: [{ partition: 0, fetchOffset: "0" }] }],
          maxBytes: 0,
        },
        { deadline: Date.now() + 15_000 },
      );
      call.on("data", () => reject(new Error("bob received records")));
      call.on("error", resolve);
    });
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toMatch(
      /TOPIC_AUTHORIZATION_FAILED: User:bob may not read topic orders/,
    );
  });

  it("a group needs READ on the group: denied until an ACL allows it", async () => {
    const inGroup = async () => {
      const consumer = client("alice").consumer({
        groupId: "billing",
        autoOffsetReset: "earliest",
        maxWaitMs: 200,
      });
      consumer.subscribe({ topics: ["orders"] });
      try {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const got = await consumer.poll();
          if (got.length > 0) return got;
        }
        return [];
      } finally {
        await consumer.close().catch(() => undefined);
      }
    };
    await denied(inGroup(), "GROUP_AUTHORIZATION_FAILED");
    await denied(client("bob").admin().describeGroups(["billing"]), "GROUP_AUTHORIZATION_FAILED");
    await aclCreate("--principal", "User:alice", "--group", "billing", "--operation", "read");
    expect((await inGroup()).length).toBeGreaterThan(0);
  });

  it("counts the denials in strand_authorization_denials_total", async () => {
    const texts = await Promise.all(nodes.map(async (n) => (await n.http("/metrics")).body));
    const total = texts
      .flatMap((t) => t.split("\n"))
      .filter(
        (l) =>
          l.startsWith("strand_authorization_denials_total{") &&
          l.includes('operation="write",resource_type="topic"'),
      )
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    expect(total).toBeGreaterThan(0);
  });
});
