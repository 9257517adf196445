// Goal: the client listener turns new calls away with RESOURCE_EXHAUSTED, naming the numbers
// and the setting, while the process's descriptors exceed its limit minus the reserve kept for
// Raft and storage, and serves again once they drop; a reserve of 0 or an unknown limit never
// refuses. An in-process gRPC server with the Health service stands in for the listener.
import * as grpc from "@grpc/grpc-js";
import { healthServiceDefinition } from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { DescriptorBudget, type DescriptorSource } from "../src/services/descriptors.ts";
import { HealthStatus, healthClient } from "../src/services/health.ts";

const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(budget: DescriptorBudget): Promise<ReturnType<typeof healthClient>> {
  const server = new grpc.Server({ interceptors: [budget.interceptor()] });
  servers.push(server);
  const health = new HealthStatus([]);
  health.setAll("SERVING");
  server.addService(healthServiceDefinition(), health.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  const client = healthClient(`127.0.0.1:${port}`);
  clients.push(client);
  return client;
}

function check(client: ReturnType<typeof healthClient>): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) =>
    client.Check({ service: "" }, { deadline: Date.now() + 5_000 }, (e) => resolve(e)),
  );
}

describe("descriptor budget", () => {
  it("refuses new calls beyond limit - reserve, and serves again below it", async () => {
    let open = 95;
    const source: DescriptorSource = { count: async () => open, limit: async () => 100 };
    const budget = new DescriptorBudget(10, source, 0);
    await budget.refresh();
    const client = await serve(budget);
    const refused = await check(client);
    expect(refused?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused?.details).toMatch(/95 of its 100 file descriptors.*file\.descriptors\.reserve/);
    open = 50;
    await budget.refresh();
    expect(await check(client)).toBeNull();
  });

  it("never refuses with a reserve of 0 or an unknown limit", async () => {
    const full: DescriptorSource = { count: async () => 100, limit: async () => 100 };
    const off = new DescriptorBudget(0, full, 0);
    await off.refresh();
    expect(off.refusal()).toBeNull();
    const unknown = new DescriptorBudget(
      10,
      { count: async () => 1e6, limit: async () => null },
      0,
    );
    await unknown.refresh();
    expect(unknown.refusal()).toBeNull();
    expect(await check(await serve(unknown))).toBeNull();
  });

  it("reads this process's descriptors from /proc on Linux", async () => {
    if (process.platform !== "linux") return;
    const budget = new DescriptorBudget(1);
    await budget.refresh();
    expect(budget.refusal()).toBeNull();
  });
});
