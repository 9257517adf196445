// Goal: the admin listener serves Prometheus metrics with Strand's names, a liveness probe, and
// a readiness probe that says why the node is not ready.
import { afterEach, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../src/admin/http.ts";
import { createBrokerMetrics } from "../src/admin/metrics.ts";

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("admin HTTP", () => {
  it("serves /metrics, /healthz and /readyz", async () => {
    const metrics = createBrokerMetrics(7);
    let ready = false;
    server = await startAdminServer({
      host: "127.0.0.1",
      port: 0,
      registry: metrics.registry,
      readiness: () => ({ ready, reason: ready ? "ready" : "not registered with the controller" }),
    });
    metrics.requestsTotal.inc({ method: "Produce", code: "NONE" });
    metrics.partitionsLed.set(3);
    const base = `http://127.0.0.1:${server.port}`;

    const body = await (await fetch(`${base}/metrics`)).text();
    expect(body).toContain(
      'strand_broker_requests_total{method="Produce",code="NONE",node_id="7"} 1',
    );
    expect(body).toContain('strand_broker_partitions_led{node_id="7"} 3');
    // Stock Node.js dashboards expect the default metrics unprefixed.
    expect(body).toContain("process_cpu_seconds_total");
    expect(body).toContain("nodejs_eventloop_lag_seconds");
    expect(body).not.toContain("strand_process_");
    // Only counters end in _total (promtool check metrics).
    expect(body).not.toMatch(/^# TYPE nodejs_active_\w+_total gauge/m);
    expect(body).toMatch(
      /^strand_build_info\{version="[^"]+",node_version="v\d+[^"]*",roles="",node_id="7"\} 1$/m,
    );

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain("not registered");
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("keeps two nodes' metrics apart in one process", () => {
    const a = createBrokerMetrics(1);
    const b = createBrokerMetrics(2);
    a.isrShrinksTotal.inc();
    expect(a.registry).not.toBe(b.registry);
  });
});
