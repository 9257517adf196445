// Goal: a 3-node cluster with TLS on every listener (mTLS required on all three) forms and
// serves the SDK over TLS; a plaintext client and a client without a certificate are refused
// on the client listener; a certificate from another CA is refused on the internal listener;
// a valid node certificate cannot speak for another node (broker heartbeat, replica fetch,
// RegisterBroker from a non-node certificate: PERMISSION_DENIED); a renewed certificate
// (files replaced) is served to new connections without a restart. Certificates come from
// `strand cert` (openssl) in a temp dir; ports are random; every process is stopped.
import { randomUUID } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { Strand } from "@strand/client";
import {
  type ControllerServiceClient,
  clientChannelOptions,
  internalChannelOptions,
  type ReplicationServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode as launchNode } from "../scripts/lib/cluster.ts";
import { FAST_SETTINGS, layout, type NodeProcess } from "./support/cluster.ts";
import { runStrand } from "./support/strand-cli.ts";

let root = "";
let certs = "";
let other = "";
const nodes: NodeProcess[] = [];
const closers: (() => void)[] = [];
let strand: Strand | null = null;

const pem = (dir: string, name: string): Buffer => readFileSync(join(dir, name));

/** Credentials of a gRPC client presenting `who`'s certificate from `dir`, trusting `ca`. */
function creds(dir: string, who: string, ca = pem(certs, "ca.crt")): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(ca, pem(dir, `${who}.key`), pem(dir, `${who}.crt`));
}

function controllerAt(address: string, c: grpc.ChannelCredentials): ControllerServiceClient {
  const client = new (strandGrpc().strand.v1.ControllerService)(
    address,
    c,
    internalChannelOptions(),
  );
  closers.push(() => client.close());
  return client;
}

function heartbeat(client: ControllerServiceClient, brokerId: number): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) => {
    client.BrokerHeartbeat(
      { brokerId, brokerEpoch: "1", metadataOffset: "0" },
      { deadline: Date.now() + 10_000 },
      (error) => (error === null ? reject(new Error("heartbeat accepted")) : resolve(error)),
    );
  });
}

/** The node ports' TLS flags: node `id`'s own certificate (copied so it can be replaced). */
function tlsFlags(id: number): string[] {
  const own = (kind: string) => join(root, `node-${id}-${kind}`);
  copyFileSync(join(certs, `node-${id}.crt`), own("client.crt"));
  copyFileSync(join(certs, `node-${id}.key`), own("client.key"));
  const ca = join(certs, "ca.crt");
  const node = (ext: string) => join(certs, `node-${id}.${ext}`);
  return [
    ...["--listeners.client.tls.cert.file", own("client.crt")],
    ...["--listeners.client.tls.key.file", own("client.key")],
    ...["--listeners.client.tls.ca.file", ca, "--listeners.client.tls.client.auth", "required"],
    ...["--listeners.internal.tls.cert.file", node("crt")],
    ...["--listeners.internal.tls.key.file", node("key")],
    ...["--listeners.internal.tls.ca.file", ca],
    ...[
      "--listeners.admin.tls.cert.file",
      node("crt"),
      "--listeners.admin.tls.key.file",
      node("key"),
    ],
    ...["--listeners.admin.tls.ca.file", ca, "--listeners.admin.tls.client.auth", "required"],
    ...["--tls.reload.interval.ms", "200"],
  ];
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-tls-"));
  certs = join(root, "certs");
  other = join(root, "other");
  for (const dir of [certs, other]) {
    const made = await runStrand("", ["cert", "cluster", "--dir", dir, "--nodes", "3"], "", 30_000);
    expect(made.code, made.stderr).toBe(0);
  }
  const l = await layout(3);
  const adminTls = {
    ca: pem(certs, "ca.crt"),
    cert: pem(certs, "admin.crt"),
    key: pem(certs, "admin.key"),
  };
  for (const id of [1, 2, 3])
    nodes.push(
      launchNode({
        id,
        layout: l,
        dataDir: join(root, `node-${id}`),
        bootstrap: true,
        args: [...FAST_SETTINGS, ...tlsFlags(id)],
        adminTls,
      }),
    );
  const { waitReady } = await import("../scripts/lib/cluster.ts");
  await waitReady(nodes, 60_000, 100);
  strand = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "tls-test",
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 30_000,
    tls: { ca: pem(certs, "ca.crt"), cert: pem(certs, "admin.crt"), key: pem(certs, "admin.key") },
  });
}, 120_000);

afterAll(async () => {
  await strand?.close();
  for (const close of closers) close();
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

describe("a TLS cluster", () => {
  it("produces and consumes through the SDK over mTLS, replicated to 3 nodes", async () => {
    const s = strand!;
    await s.admin().createTopics([{ topic: "secure", numPartitions: 2, replicationFactor: 3 }]);
    const producer = s.producer({ acks: "all" });
    const messages = Array.from({ length: 20 }, (_, k) => ({ partition: k % 2, value: `v${k}` }));
    const sent = await producer.send({ topic: "secure", messages });
    await producer.close();
    expect(sent).toHaveLength(20);
    const consumer = s.consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
    consumer.assign([
      { topic: "secure", partition: 0 },
      { topic: "secure", partition: 1 },
    ]);
    const values = new Set<string>();
    const deadline = Date.now() + 30_000;
    while (values.size < 20 && Date.now() < deadline)
      for (const b of await consumer.poll())
        for (const m of b.messages) values.add(Buffer.from(m.value ?? "").toString());
    await consumer.close();
    expect(values.size).toBe(20);
    const [t] = await s.admin().describeTopics(["secure"]);
    for (const p of t!.partitions) expect(p.isr).toHaveLength(3);
  }, 90_000);

  it("refuses a plaintext client and a client without a certificate on the client listener", async () => {
    const call = (c: grpc.ChannelCredentials) =>
      new Promise<grpc.ServiceError>((resolve, reject) => {
        const client = new (strandGrpc().strand.v1.MetadataService)(
          nodes[0]!.clientAddress,
          c,
          clientChannelOptions(),
        );
        closers.push(() => client.close());
        client.Metadata({ topics: [] }, { deadline: Date.now() + 5_000 }, (error) =>
          error === null ? reject(new Error("answered")) : resolve(error),
        );
      });
    const plain = await call(grpc.credentials.createInsecure());
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(plain.code);
    const noCert = await call(grpc.credentials.createSsl(pem(certs, "ca.crt")));
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(noCert.code);
  }, 30_000);

  it("serves the CLI with --tls-*; without a client certificate it fails at once, saying why", async () => {
    const ca = ["--tls-ca", join(certs, "ca.crt")];
    const mine = ["--tls-cert", join(certs, "admin.crt"), "--tls-key", join(certs, "admin.key")];
    const ok = await runStrand(nodes[0]!.clientAddress, ["topic", "list", ...ca, ...mine]);
    expect(ok.code, ok.stderr).toBe(0);
    const refused = await runStrand(nodes[0]!.clientAddress, ["topic", "list", ...ca]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/TLS: .*certificate/);
    const foreign = await runStrand(nodes[0]!.clientAddress, [
      ...["topic", "list", "--tls-ca", join(other, "ca.crt")],
      ...["--tls-cert", join(other, "admin.crt"), "--tls-key", join(other, "admin.key")],
    ]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/TLS: /);
  }, 60_000);

  it("refuses a certificate from another CA on the internal listener", async () => {
    const internal = `127.0.0.1:${nodes[0]!.ports.internal}`;
    // Node 2's certificate of another cluster, which trusts our CA: our node refuses it.
    const error = await heartbeat(controllerAt(internal, creds(other, "node-2")), 2);
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(error.code);
  }, 30_000);

  it("refuses node 2's certificate speaking for node 3, and a client certificate speaking for any node", async () => {
    const internal = `127.0.0.1:${nodes[0]!.ports.internal}`;
    const asNode2 = controllerAt(internal, creds(certs, "node-2"));
    const forged = await heartbeat(asNode2, 3);
    expect(forged.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(forged.details).toMatch(/broker_id 3 refused: the client certificate belongs to node 2/);
    const asClient = controllerAt(internal, creds(certs, "admin"));
    const anon = await heartbeat(asClient, 1);
    expect(anon.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(anon.details).toMatch(/names no node/);

    const replication = new (strandGrpc().strand.v1.ReplicationService)(
      internal,
      creds(certs, "node-2"),
      internalChannelOptions(),
    ) as ReplicationServiceClient;
    closers.push(() => replication.close());
    const fetchError = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const stream = replication.ReplicaFetch({ deadline: Date.now() + 10_000 });
      stream.on("data", () => reject(new Error("a forged replica fetch was answered")));
      stream.on("error", (e: grpc.ServiceError) => resolve(e));
      stream.on("end", () => reject(new Error("stream ended without an error")));
      stream.write({
        correlationId: "1",
        replicaId: 3,
        brokerEpoch: "9223372036854775807",
        maxWaitMs: 10,
        minBytes: 1,
        maxBytes: 1024,
        partitions: [],
      });
    });
    expect(fetchError.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(fetchError.details).toMatch(
      /replica_id 3 refused: the client certificate belongs to node 2/,
    );
    // Raft: a pre-vote from node 3 is taken over node 3's certificate, refused over node 2's,
    // and the call is refused over a certificate that names no node.
    const step = (who: string) =>
      new Promise<{ accepted: number } | grpc.ServiceError>((resolve) => {
        const raft = new (strandGrpc().strand.v1.RaftService)(
          internal,
          creds(certs, who),
          internalChannelOptions(),
        );
        closers.push(() => raft.close());
        const preVote = {
          ...{ from: 3, fromDirectoryId: randomUUID(), to: 1, term: "1" },
          preVote: { lastIndex: "0", lastTerm: "0" },
        };
        raft.Step({ messages: [preVote] }, { deadline: Date.now() + 10_000 }, (e, r) =>
          resolve(e ?? { accepted: (r as { accepted: number }).accepted }),
        );
      });
    expect(await step("node-3")).toEqual({ accepted: 1 });
    const forgedStep = (await step("node-2")) as grpc.ServiceError;
    expect(forgedStep.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(forgedStep.details).toMatch(
      /from node 3 refused: the client certificate belongs to node 2/,
    );
    expect(((await step("admin")) as grpc.ServiceError).code).toBe(grpc.status.PERMISSION_DENIED);
    // The cluster still serves: nothing forged reached the controller.
    for (const n of nodes) expect((await n.http("/readyz")).status).toBe(200);
  }, 40_000);

  it("serves a renewed certificate to new connections without a restart", async () => {
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({
          host: "127.0.0.1",
          port: nodes[0]!.ports.client,
          ca: pem(certs, "ca.crt"),
          cert: pem(certs, "admin.crt"),
          key: pem(certs, "admin.key"),
          ALPNProtocols: ["h2"],
          servername: "localhost",
        });
        socket.once("secureConnect", () => {
          resolve(socket.getPeerCertificate().serialNumber);
          socket.destroy();
        });
        socket.once("error", reject);
      });
    const before = await serial();
    // Renewed with the same CA, in a separate dir, then moved over the files the node reads.
    const renewed = join(root, "renewed");
    mkdirSync(renewed);
    copyFileSync(join(certs, "ca.crt"), join(renewed, "ca.crt"));
    copyFileSync(join(certs, "ca.key"), join(renewed, "ca.key"));
    const made = await runStrand("", ["cert", "node", "1", "--dir", renewed], "", 30_000);
    expect(made.code, made.stderr).toBe(0);
    // Key first, then the certificate, each by rename: between the two the files do not match,
    // which the node must ride out on its previous certificate.
    renameSync(join(renewed, "node-1.key"), join(root, "node-1-client.key"));
    renameSync(join(renewed, "node-1.crt"), join(root, "node-1-client.crt"));
    let now = before;
    const deadline = Date.now() + 15_000;
    while (now === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      now = await serial();
    }
    expect(now).not.toBe(before);
    // The SDK's existing connection and new ones keep working.
    const [t] = await strand!.admin().describeTopics(["secure"]);
    expect(t?.partitions).toHaveLength(2);
  }, 60_000);
});
