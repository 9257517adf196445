// Goal: each gRPC listener of a node has its own health table with exactly the services it
// serves (the internal listener does not claim ProduceService and knows its own services),
// and reflection on each lists those services plus grpc.health.v1.Health. The client
// AdminService's DescribeCluster reports the cluster id the controller wrote.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { clientStubs } from "@strand/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../../../test/support/free-ports.ts";
import { loadNodeConfig } from "../src/config/index.ts";
import { BrokerNode } from "../src/node/node.ts";
import { healthClient } from "../src/services/health.ts";
import { listServices } from "./reflection-client.ts";

let node: BrokerNode;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "strand-listeners-"));
  const [client, internal] = (await freePorts(2)) as [number, number];
  const config = loadNodeConfig({
    flags: {
      "node.id": "1",
      "data.dir": dir,
      "listeners.client": `127.0.0.1:${client}`,
      "listeners.internal": `127.0.0.1:${internal}`,
      "listeners.admin": "127.0.0.1:0",
      "controller.quorum.voters": `1@127.0.0.1:${internal}`,
    },
    env: {},
  });
  node = await BrokerNode.start(config, { logger: pino({ level: "silent" }) });
  node.watchHealth(50);
});

afterAll(async () => {
  await node?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

function check(port: number, service: string): Promise<string> {
  const client = healthClient(`127.0.0.1:${port}`);
  return new Promise<string>((resolve) => {
    client.Check({ service }, { deadline: Date.now() + 5_000 }, (error, r) => {
      client.close();
      resolve(error === null ? (r?.status ?? "?") : `code ${error.code}`);
    });
  });
}

const CLIENT = [
  "strand.v1.ProduceService",
  "strand.v1.FetchService",
  "strand.v1.MetadataService",
  "strand.v1.AdminService",
  "strand.v1.GroupService",
];
const INTERNAL = [
  "strand.v1.RaftService",
  "strand.v1.ControllerService",
  "strand.v1.ReplicationService",
];
const NOT_FOUND = `code ${grpc.status.NOT_FOUND}`;

describe("gRPC health per listener", () => {
  it("the client listener knows exactly the client services", async () => {
    const port = node.ports.client;
    await expect.poll(() => check(port, ""), { timeout: 30_000 }).toBe("SERVING");
    for (const s of CLIENT) expect(await check(port, s), s).toBe("SERVING");
    for (const s of INTERNAL) expect(await check(port, s), s).toBe(NOT_FOUND);
  });

  it("the internal listener knows exactly the internal services", async () => {
    const port = node.ports.internal;
    expect(await check(port, "")).toBe("SERVING");
    for (const s of INTERNAL) expect(await check(port, s), s).toBe("SERVING");
    for (const s of CLIENT) expect(await check(port, s), s).toBe(NOT_FOUND);
  });
});

describe("reflection per listener", () => {
  it("lists the listener's services and the health service", async () => {
    const listed = async (port: number) =>
      (await listServices(port)).filter((n) => !n.startsWith("grpc.reflection"));
    expect(await listed(node.ports.client)).toEqual([...CLIENT, "grpc.health.v1.Health"].sort());
    expect(await listed(node.ports.internal)).toEqual(
      [...INTERNAL, "grpc.health.v1.Health"].sort(),
    );
  });
});

describe("cluster id", () => {
  it("AdminService.DescribeCluster reports the controller's cluster id", async () => {
    const stubs = clientStubs(`127.0.0.1:${node.ports.client}`);
    try {
      const idNow = () => node.controller?.controller.image.clusterId ?? "";
      await expect.poll(idNow, { timeout: 30_000 }).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const id = idNow();
      const described = await new Promise<{ clusterId: string }>((resolve, reject) =>
        stubs.admin.DescribeCluster({}, (e, r) => (e || !r ? reject(e) : resolve(r))),
      );
      expect(described.clusterId).toBe(id);
    } finally {
      stubs.close();
    }
  });
});
