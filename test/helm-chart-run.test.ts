// Goal: the chart's wiring works, not just its syntax. The chart is rendered with helm and each
// StatefulSet pod's container is started as a local process with the rendered args and env
// (test/support/chart-pods.ts: one loopback address per pod, pod DNS names resolved through
// /etc/hosts in a private mount namespace). The three pods form one cluster by their node
// ids from the ordinal and their advertised DNS names, the rendered probes answer on the
// admin port, the rendered `helm test` pod's steps (create topic, produce, consume) pass, and
// SIGTERM to one pod moves its leaderships away (controlled shutdown) before it exits 0,
// within the rendered grace period.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ContainerProcess,
  type ContainerSpec,
  canIsolateHosts,
  containerEnv,
  type PodPlace,
  runContainer,
  startContainer,
  stopPods,
  writeHosts,
} from "./support/chart-pods.ts";
import { freePorts, waitFor } from "./support/free-ports.ts";
import { type K8sObject, one, render } from "./support/helm.ts";

const dir = mkdtempSync(join(tmpdir(), "strand-chart-run-"));
const hostsFile = join(dir, "hosts");
const NAMESPACE = "data";
const isRoot = process.getuid?.() === 0;
writeHosts(hostsFile, new Map());
const isolated = isRoot && canIsolateHosts(hostsFile);
if (!isolated) {
  process.stderr.write(
    "helm-chart-run.test.ts: skipped: needs root and `unshare --mount` (a private /etc/hosts per pod)\n",
  );
}

let objects: K8sObject[] = [];
let pods: { place: PodPlace; container: ContainerSpec; proc: ContainerProcess }[] = [];
let ports: { client: number; internal: number; admin: number };

/** The rendered pod template's strand container. */
function strandContainer(): ContainerSpec & Record<string, unknown> {
  return one(objects, "StatefulSet").spec.template.spec.containers[0];
}

/** A client "pod" (helm test, CLI): resolves names like the others; its own loopback IP. */
const clientPlace: PodPlace = { name: "client", namespace: NAMESPACE, ip: "127.0.0.9", mounts: {} };

async function strand(args: string[], timeoutMs = 30_000) {
  const env = [
    { name: "STRAND_BROKERS", value: `demo-strand.${NAMESPACE}.svc.cluster.local:${ports.client}` },
  ];
  return runContainer(
    { name: `cli-${args[0]}`, args, env },
    clientPlace,
    hostsFile,
    dir,
    timeoutMs,
  );
}

async function httpStatus(ip: string, port: number, path: string): Promise<number> {
  const response = await fetch(`http://${ip}:${port}${path}`, {
    signal: AbortSignal.timeout(2_000),
  });
  return response.status;
}

describe.skipIf(!isolated)("the chart's pods as local processes", () => {
  beforeAll(async () => {
    const [client, internal, admin] = await freePorts(3);
    ports = { client: client!, internal: internal!, admin: admin! };
    objects = await render({
      release: "demo",
      namespace: NAMESPACE,
      set: {
        "ports.client": String(ports.client),
        "ports.internal": String(ports.internal),
        "ports.admin": String(ports.admin),
        // Faster failure detection for a test on a loaded machine; also exercises config:.
        "config.controller\\.tick\\.ms": "50",
        "config.broker\\.heartbeat\\.interval\\.ms": "200",
        "config.broker\\.session\\.timeout\\.ms": "3000",
      },
    });
    const sts = one(objects, "StatefulSet");
    const names = new Map<string, string>();
    const places: PodPlace[] = [];
    for (let i = 0; i < sts.spec.replicas; i++) {
      const name = `${sts.metadata.name}-${i}`;
      const ip = `127.0.0.${i + 2}`;
      names.set(`${name}.${sts.spec.serviceName}.${NAMESPACE}.svc.cluster.local`, ip);
      places.push({
        name,
        namespace: NAMESPACE,
        ip,
        mounts: { "/data": mkdtempSync(join(dir, `${name}-data-`)) },
      });
    }
    // The client Service: a VIP in a cluster; here the first pod (any pod can bootstrap).
    names.set(`demo-strand.${NAMESPACE}.svc.cluster.local`, "127.0.0.2");
    writeHosts(hostsFile, names);
    const container = strandContainer();
    pods = places.map((place) => ({
      place,
      container,
      proc: startContainer(container, place, hostsFile, dir, ["--exit-with-parent"]),
    }));
  }, 60_000);

  afterAll(async () => {
    await stopPods(pods, dir);
  });

  it("forms one cluster: ids from the ordinals, probes green on the admin port", async () => {
    const c: K8sObject = {
      ...strandContainer(),
      apiVersion: "v1",
      kind: "Container",
      metadata: { name: "strand" },
    };
    const adminPort = c.ports.find(
      (p: { name: string }) => p.name === c.readinessProbe.httpGet.port,
    );
    expect(adminPort.containerPort).toBe(ports.admin);
    for (const { place, proc } of pods) {
      await waitFor(
        `${place.name} ${c.readinessProbe.httpGet.path} = 200 (log: ${proc.logFile})`,
        async () =>
          (await httpStatus(place.ip, ports.admin, c.readinessProbe.httpGet.path)) === 200,
        90_000,
        200,
      );
      expect(await httpStatus(place.ip, ports.admin, c.livenessProbe.httpGet.path)).toBe(200);
      expect(await httpStatus(place.ip, ports.admin, c.startupProbe.httpGet.path)).toBe(200);
    }
    const info = await strand(["cluster", "info", "-f", "json"]);
    expect(info.code, info.output).toBe(0);
    const cluster = JSON.parse(info.output.trim().split("\n").at(-1)!);
    expect(cluster.clusterId).toBe(
      containerEnv(strandContainer(), pods[0]!.place).STRAND_CLUSTER_ID,
    );
    expect(cluster.controllerId).toBeGreaterThanOrEqual(0);
    expect(
      cluster.brokers
        .map((b: { brokerId: number; host: string }) => `${b.brokerId} ${b.host}`)
        .sort(),
    ).toEqual(
      pods.map(
        (p, i) => `${i + 1} ${p.place.name}.demo-strand-headless.${NAMESPACE}.svc.cluster.local`,
      ),
    );
  }, 120_000);

  it("passes the rendered helm test pod: create topic, produce, consume", async () => {
    const test = one(objects, "Pod");
    const steps: ContainerSpec[] = [...test.spec.initContainers, ...test.spec.containers];
    expect(steps.map((s) => s.name)).toEqual(["create-topic", "produce", "consume"]);
    for (const step of steps) {
      const run = await runContainer(step, clientPlace, hostsFile, dir, 60_000);
      expect(run.code, `${step.name}: ${run.output}`).toBe(0);
    }
    // Re-running it (a second `helm test`) finds the topic and still passes.
    const again = await runContainer(steps[0]!, clientPlace, hostsFile, dir, 60_000);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain("exists");
  }, 180_000);

  it("drains a pod's leaderships on SIGTERM before it exits 0, within the grace period", async () => {
    const created = await strand(["topic", "create", "drain", "-p", "6", "-r", "3"]);
    expect(created.code, created.output).toBe(0);
    const leaders = async (): Promise<number[]> => {
      const run = await strand(["topic", "describe", "drain", "-f", "json"]);
      if (run.code !== 0) throw new Error(run.output);
      const topic = JSON.parse(run.output.trim().split("\n").at(-1)!);
      return topic.partitions.map((p: { leader: number }) => p.leader);
    };
    // Wait until every partition has a leader and pod 1 (node 2) leads at least one.
    const before = await waitFor(
      "leaders of every partition, some on node 2",
      async () => {
        const l = await leaders();
        return l.every((id) => id >= 0) && l.includes(2) ? l : false;
      },
      60_000,
      300,
    );
    const victim = pods[1]!;
    const grace = one(objects, "StatefulSet").spec.template.spec.terminationGracePeriodSeconds;
    const started = Date.now();
    victim.proc.child.kill("SIGTERM");
    const code = await victim.proc.exited;
    const tookMs = Date.now() - started;
    const log = victim.proc.log();
    expect(code, log).toBe(0);
    expect(tookMs).toBeLessThan(grace * 1000);
    expect(log).toContain("controlled shutdown complete");
    expect(log.indexOf("controlled shutdown complete")).toBeLessThan(log.indexOf("node stopped"));
    const after = await leaders();
    expect(before.filter((id) => id === 2).length).toBeGreaterThan(0);
    expect(after.filter((id) => id === 2)).toEqual([]);
    expect(after.every((id) => id >= 0)).toBe(true);
  }, 120_000);

  it("refuses to bring back a pod whose volume was lost under its old identity", async () => {
    // After the first formation (the first `helm upgrade` renders no --bootstrap), pod 1's
    // volume is replaced by an empty one: it must not rejoin as voter 2 with an empty log.
    const victim = pods[1]!;
    expect(victim.proc.child.exitCode).not.toBeNull();
    const later = await render({
      release: "demo",
      namespace: NAMESPACE,
      set: {
        "bootstrap.mode": "never",
        "ports.client": String(ports.client),
        "ports.internal": String(ports.internal),
        "ports.admin": String(ports.admin),
      },
    });
    const container: ContainerSpec = one(later, "StatefulSet").spec.template.spec.containers[0];
    expect(container.args).toEqual(["server", "start"]);
    const emptyVolume = mkdtempSync(join(dir, "lost-volume-"));
    const place = { ...victim.place, mounts: { "/data": emptyVolume } };
    const run = await runContainer(
      { ...container, name: "restart" },
      place,
      hostsFile,
      dir,
      60_000,
    );
    expect(run.code, run.output).toBe(2);
    expect(run.output).toContain("is empty and node 2 is one of 3 controller voters");
    expect(run.output).toContain("do not reuse its identity");
  }, 90_000);
});
