// Goal: with `listeners.client.tls.client.auth=none` (certificates name no user) and anonymous
// calls refused, brokers still recognise each other on the client listener: the first SCRAM
// user is created with a node certificate (the operator's way in), a client certificate of
// the cluster CA is NOT a user, and a SCRAM user's request sent to a non-leader is forwarded
// to the leader as that user. Real processes, random ports, temp dirs; every node is stopped.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationError, Strand } from "@strand/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode as launchNode, waitReady } from "../scripts/lib/cluster.ts";
import { tlsNodeFlags } from "../scripts/lib/tls-certs.ts";
import { FAST_SETTINGS, layout, type NodeProcess } from "./support/cluster.ts";
import { rawBroker } from "./support/scram-login.ts";
import { runStrand } from "./support/strand-cli.ts";

let root = "";
let certs = "";
const nodes: NodeProcess[] = [];
const clients: Strand[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "strand-authn-none-"));
  certs = join(root, "certs");
  const made = await runStrand("", ["cert", "cluster", "--dir", certs, "--nodes", "3"], "", 30_000);
  expect(made.code, made.stderr).toBe(0);
  const l = await layout(3);
  for (const id of [1, 2, 3]) {
    nodes.push(
      launchNode({
        id,
        layout: l,
        dataDir: join(root, `node-${id}`),
        bootstrap: true,
        args: [
          ...FAST_SETTINGS,
          ...tlsNodeFlags(certs, id, { client: "none", admin: false }),
          ...["--authentication.anonymous.enable", "false"],
        ],
      }),
    );
  }
  await waitReady(nodes, 60_000, 100);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

function client(options: Partial<ConstructorParameters<typeof Strand>[0]>): Strand {
  const s = new Strand({
    brokers: [nodes[0]!.clientAddress],
    requestTimeoutMs: 5_000,
    retry: { initialMs: 50, maxMs: 200 },
    tls: { ca: readFileSync(join(certs, "ca.crt")) },
    ...options,
  });
  clients.push(s);
  return s;
}

describe("client.auth=none with authentication", () => {
  it("creates the first user with a node certificate; a client certificate is no user", async () => {
    const brokers = nodes.map((n) => n.clientAddress).join(",");
    const ca = ["--tls-ca", join(certs, "ca.crt")];
    const asNode = [
      "--tls-cert",
      join(certs, "node-1.crt"),
      "--tls-key",
      join(certs, "node-1.key"),
    ];
    const created = await runStrand(brokers, [
      ...["user", "create", "carol", "--new-password", "pw-carol", ...ca, ...asNode],
    ]);
    expect(created.code, created.stderr).toBe(0);
    const asAdmin = ["--tls-cert", join(certs, "admin.crt"), "--tls-key", join(certs, "admin.key")];
    const refused = await runStrand(brokers, ["user", "list", ...ca, ...asAdmin]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/anonymous calls are refused/);
  }, 30_000);

  it("serves a SCRAM user, also through a forward from a non-leader", async () => {
    const carol = client({ auth: { scram: { username: "carol", password: "pw-carol" } } });
    const pem = (n: string) => readFileSync(join(certs, n));
    const admin = client({
      tls: { ca: pem("ca.crt"), cert: pem("node-2.crt"), key: pem("node-2.key") },
    }).admin();
    await admin.createTopics([{ topic: "none-auth", numPartitions: 3, replicationFactor: 3 }]);
    const producer = carol.producer({ acks: "all" });
    const messages = [0, 1, 2].map((partition) => ({ partition, value: `p${partition}` }));
    expect(await producer.send({ topic: "none-auth", messages })).toHaveLength(3);
    await producer.close();
    const offsets = await carol.admin().fetchTopicOffsets("none-auth");
    expect(offsets.map((o) => Number(o.high)).sort()).toEqual([1, 1, 1]);
    // A request to a broker that does not lead partition 0 is forwarded as carol.
    const [topic] = await admin.describeTopics(["none-auth"]);
    const leader = topic!.partitions.find((p) => p.partition === 0)!.leader;
    const broker = rawBroker(nodes.find((_, i) => i + 1 !== leader)!.clientAddress, pem("ca.crt"));
    try {
      const session = await broker.login("carol", "pw-carol");
      const answer = await broker.listOffsets("none-auth", 0, session);
      expect(answer.topics[0]?.partitions[0]?.errorCode).toBe(0);
      expect(answer.topics[0]?.partitions[0]?.offset).toBe("1");
    } finally {
      broker.close();
    }
    const nobody = client({});
    const error = await nobody
      .admin()
      .listTopics()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
  }, 60_000);
});
