// Goal: client authentication on a real 3-node TLS cluster (docs/security.md). The client
// listener asks for certificates (client.auth=requested) and refuses anonymous calls; JWTs
// are checked against a JWKS file. Refused, each with a clear UNAUTHENTICATED reason: no
// credentials, a certificate from another CA, an expired certificate of the cluster CA (an
// unverified certificate is never a principal), a wrong password, an unknown user, a token
// signed by another key, an expired token. Accepted: a user created with the real
// `strand user create` produces and consumes through the SDK with SCRAM; a JWT principal
// produces. A forwarded request carrying the principal header from a non-node certificate is
// PERMISSION_DENIED. A FetchStream opened with a SCRAM session ends UNAUTHENTICATED once
// the user's password changes. Failures are counted in strand_authentication_failures_total.
// Certificates come from `strand cert` and openssl in a temp dir; ports are random; every
// process is stopped.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AuthenticationError, Strand, type StrandOptions } from "@strand/client";
import { clientChannelOptions, type MetadataServiceClient, strandGrpc } from "@strand/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwks, jwt, testKey } from "../packages/broker/test/security/jwt-tokens.ts";
import { startNode as launchNode, waitReady } from "../scripts/lib/cluster.ts";
import { tlsNodeFlags } from "../scripts/lib/tls-certs.ts";
import { FAST_SETTINGS, layout, type NodeProcess } from "./support/cluster.ts";
import { rawBroker } from "./support/scram-login.ts";
import { runStrand } from "./support/strand-cli.ts";

let root = "";
let certs = "";
let other = "";
const nodes: NodeProcess[] = [];
const clients: Strand[] = [];
const closers: (() => void)[] = [];
const issuer = testKey("ES256", "idp-1");
const stranger = testKey("ES256", "idp-1");
const ISS = "https://idp.test";

const pem = (dir: string, name: string): Buffer => readFileSync(join(dir, name));

const caTls = () => ({ ca: pem(certs, "ca.crt") });

function client(options: Partial<StrandOptions>): Strand {
  const s = new Strand({
    brokers: nodes.map((n) => n.clientAddress),
    clientId: "authn-test",
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 20_000,
    retry: { initialMs: 50, maxMs: 200 },
    tls: caTls(),
    ...options,
  });
  clients.push(s);
  return s;
}

/** The error an admin call of `s` fails with. */
async function refusal(s: Strand): Promise<Error> {
  const error = await s
    .admin()
    .describeCluster({ timeoutMs: 5_000 })
    .then(
      () => null,
      (e: unknown) => e as Error,
    );
  if (error === null) throw new Error("the call was accepted");
  return error;
}

/** A client certificate of the cluster CA that expired in 2020 (openssl ca -enddate). */
function expiredCertificate(dir: string): void {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca=d",
      "[d]",
      "database=index.txt",
      "new_certs_dir=.",
      "serial=serial",
      "default_md=sha256",
      "policy=p",
      "[p]",
      "commonName=supplied",
    ].join("\n"),
  );
  run(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "expired.key"]);
  run(["req", "-new", "-key", "expired.key", "-subj", "/CN=expired", "-out", "expired.csr"]);
  run([
    ...["ca", "-batch", "-config", "ca.cnf", "-notext", "-in", "expired.csr"],
    ...["-cert", join(certs, "ca.crt"), "-keyfile", join(certs, "ca.key")],
    ...["-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-out", "expired.crt"],
  ]);
}

function tlsFlags(id: number): string[] {
  return [
    ...tlsNodeFlags(certs, id, { client: "requested", admin: false }),
    ...["--authentication.anonymous.enable", "false"],
    ...["--authentication.jwt.jwks.file", join(root, "jwks.json")],
    ...["--authentication.jwt.issuer", ISS, "--authentication.jwt.audience", "strand"],
  ];
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-authn-"));
  certs = join(root, "certs");
  other = join(root, "other");
  for (const dir of [certs, other]) {
    const made = await runStrand("", ["cert", "cluster", "--dir", dir, "--nodes", "3"], "", 30_000);
    expect(made.code, made.stderr).toBe(0);
  }
  expiredCertificate(certs);
  writeFileSync(join(root, "jwks.json"), jwks(issuer));
  const l = await layout(3);
  for (const id of [1, 2, 3])
    nodes.push(
      launchNode({
        id,
        layout: l,
        dataDir: join(root, `node-${id}`),
        bootstrap: true,
        args: [...FAST_SETTINGS, ...tlsFlags(id)],
      }),
    );
  await waitReady(nodes, 60_000, 100);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const close of closers) close();
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

const adminCert = () => ({
  ...caTls(),
  cert: pem(certs, "admin.crt"),
  key: pem(certs, "admin.key"),
});

describe("client authentication on a TLS cluster", () => {
  it("refuses a client without credentials, with another CA's or an expired certificate", async () => {
    const none = await refusal(client({}));
    expect(none).toBeInstanceOf(AuthenticationError);
    expect(none.message).toMatch(/anonymous calls are refused/);
    const foreign = client({
      tls: { ...caTls(), cert: pem(other, "admin.crt"), key: pem(other, "admin.key") },
    });
    expect((await refusal(foreign)).message).toMatch(/anonymous calls are refused/);
    const expired = client({
      tls: { ...caTls(), cert: pem(certs, "expired.crt"), key: pem(certs, "expired.key") },
    });
    expect((await refusal(expired)).message).toMatch(/anonymous calls are refused/);
  });

  it("a user created with `strand user create` produces and consumes with SCRAM", async () => {
    const tlsArgs = [
      ...["--tls-ca", join(certs, "ca.crt"), "--tls-cert", join(certs, "admin.crt")],
      ...["--tls-key", join(certs, "admin.key")],
    ];
    const brokers = nodes.map((n) => n.clientAddress).join(",");
    const created = await runStrand(brokers, [
      ...["user", "create", "alice", "--new-password", "s3cret-pw", ...tlsArgs],
    ]);
    expect(created.code, created.stderr).toBe(0);
    const listed = await runStrand(brokers, ["user", "list", "--format", "json", ...tlsArgs]);
    expect(JSON.parse(listed.stdout)).toEqual([
      { name: "alice", credentials: [{ mechanism: "SCRAM-SHA-512", iterations: 8192 }] },
    ]);
    expect(listed.stdout).not.toMatch(/s3cret/);
    const admin = client({ tls: adminCert() }).admin();
    await admin.createTopics([{ topic: "authn", numPartitions: 3, replicationFactor: 3 }]);

    const alice = client({ auth: { scram: { username: "alice", password: "s3cret-pw" } } });
    const producer = alice.producer({ acks: "all" });
    const messages = Array.from({ length: 30 }, (_, k) => ({ partition: k % 3, value: `v${k}` }));
    expect(await producer.send({ topic: "authn", messages })).toHaveLength(30);
    await producer.close();
    const consumer = alice.consumer({ autoOffsetReset: "earliest", maxWaitMs: 200 });
    consumer.assign([0, 1, 2].map((partition) => ({ topic: "authn", partition })));
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    while (seen.length < 30 && Date.now() < deadline)
      for (const b of await consumer.poll())
        for (const m of b.messages) seen.push(Buffer.from(m.value ?? "").toString());
    await consumer.close();
    expect(seen.sort()).toEqual(messages.map((m) => m.value).sort());

    // CLI with the user's own credentials (STRAND_PASSWORD would keep it out of `ps`).
    const asAlice = await runStrand(brokers, [
      ...["topic", "list", "--tls-ca", join(certs, "ca.crt")],
      ...["--user", "alice", "--password", "s3cret-pw"],
    ]);
    expect(asAlice.code, asAlice.stderr).toBe(0);
    expect(asAlice.stdout).toMatch(/authn/);
  }, 60_000);

  it("ends a stream whose SCRAM session a new password ended", async () => {
    const admin = client({ tls: adminCert() }).admin();
    await admin.createTopics([{ topic: "authn-stream", numPartitions: 1, replicationFactor: 3 }]);
    await admin.createUser("carol", "first-pw", { timeoutMs: 20_000 });
    const raw = rawBroker(nodes[0]!.clientAddress, pem(certs, "ca.crt"));
    closers.push(() => raw.close());
    const session = await raw.login("carol", "first-pw");
    const stream = raw.fetchStream(session);
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    const answers: string[] = [];
    stream.on("data", (m: { correlationId: string }) => answers.push(m.correlationId));
    let id = 0;
    const ask = () =>
      stream.write({
        correlationId: ++id,
        request: {
          maxWaitMs: 0,
          topics: [{ topic: "authn-stream", partitions: [{ partition: 0, fetchOffset: 0 }] }],
        },
      });
    ask();
    await expect.poll(() => answers, { timeout: 10_000 }).toContain("1");

    await admin.createUser("carol", "second-pw", { timeoutMs: 20_000 });
    // The broker re-checks a stream's credentials at most STREAM_REAUTH_MS (1 s) apart, once
    // the new credential reached its metadata: keep asking until the stream ends.
    const asking = setInterval(ask, 200);
    try {
      const error = await Promise.race([
        ended,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
      ]);
      expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(error?.details).toMatch(/password of user carol changed/);
    } finally {
      clearInterval(asking);
      stream.cancel();
    }
  }, 60_000);

  it("answers a refused credential at once, with the rule", async () => {
    const admin = client({ tls: adminCert() }).admin();
    const started = Date.now();
    const error = await admin
      .createUser("bad,name", "pw", { timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/UNACCEPTABLE_CREDENTIAL.*without spaces/);
    const missing = await admin.deleteUser("ghost").catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/RESOURCE_NOT_FOUND/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses a wrong password and an unknown user", async () => {
    const wrong = await refusal(
      client({ auth: { scram: { username: "alice", password: "nope" } } }),
    );
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.message).toMatch(/login as alice failed: unknown user or wrong password/);
    const ghost = await refusal(client({ auth: { scram: { username: "ghost", password: "x" } } }));
    expect(ghost.message).toMatch(/login as ghost failed: unknown user or wrong password/);
  });

  it("accepts a JWT from the JWKS; refuses a foreign key's and an expired one", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const claims = { sub: "svc-orders", iss: ISS, aud: "strand", exp };
    const good = client({ auth: { token: () => jwt(issuer, claims) } });
    const producer = good.producer({ acks: "all" });
    expect(await producer.send({ topic: "authn", messages: [{ value: "jwt" }] })).toHaveLength(1);
    await producer.close();
    const foreign = await refusal(client({ auth: { token: jwt(stranger, claims) } }));
    expect(foreign.message).toMatch(/signature does not verify/);
    const old = jwt(issuer, { ...claims, exp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await refusal(client({ auth: { token: old } }))).message).toMatch(/token expired/);
  });

  it("forwards a SCRAM user's request to the leader with its principal", async () => {
    const admin = client({ tls: adminCert() }).admin();
    const [topic] = await admin.describeTopics(["authn"]);
    const leader = topic!.partitions.find((p) => p.partition === 0)!.leader;
    const via = nodes.find((_, i) => i + 1 !== leader)!;
    const broker = rawBroker(via.clientAddress, pem(certs, "ca.crt"));
    closers.push(() => broker.close());
    const session = await broker.login("alice", "s3cret-pw");
    const answer = await broker.listOffsets("authn", 0, session);
    // Served by the leader through a forward: the leader accepted the forwarded principal
    // (with anonymous calls refused, a forward without it would fail).
    expect(answer.topics[0]?.partitions[0]?.errorCode).toBe(0);
    const metrics = await fetch(`http://127.0.0.1:${via.ports.admin}/metrics`).then((r) =>
      r.text(),
    );
    expect(metrics).toMatch(/strand_broker_forwarded_requests_total\{[^}]*method="ListOffsets"/);
    const anonymous = await broker.listOffsets("authn", 0, null).catch((e: grpc.ServiceError) => e);
    expect((anonymous as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("refuses a forwarded principal from a certificate that names no node", async () => {
    const v1 = strandGrpc().strand.v1;
    const creds = grpc.credentials.createSsl(
      pem(certs, "ca.crt"),
      pem(certs, "admin.key"),
      pem(certs, "admin.crt"),
    );
    const stub: MetadataServiceClient = new v1.MetadataService(
      nodes[1]!.clientAddress,
      creds,
      clientChannelOptions(),
    );
    closers.push(() => stub.close());
    const md = new grpc.Metadata();
    md.set("strand-forwarded", "1");
    md.set("strand-principal", JSON.stringify({ kind: "user", name: "root", mechanism: "scram" }));
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      stub.Metadata({ topics: [] }, md, { deadline: Date.now() + 5_000 }, (e) => resolve(e)),
    );
    expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error?.details).toMatch(/only a cluster node .* may forward a principal/);
  });

  it("the SDK refuses credentials without TLS", () => {
    expect(
      () =>
        new Strand({
          brokers: [nodes[0]!.clientAddress],
          auth: { scram: { username: "alice", password: "x" } },
        }),
    ).toThrow(/auth needs tls/);
  });

  it("counts failures by mechanism and reason", async () => {
    const text = await fetch(`http://127.0.0.1:${nodes[0]!.ports.admin}/metrics`).then((r) =>
      r.text(),
    );
    expect(text).toMatch(/strand_authentication_failures_total\{[^}]*mechanism="none"/);
  });
});
