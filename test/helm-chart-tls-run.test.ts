// Goal: the chart's TLS wiring works, not just its syntax. The chart is rendered with
// `tls.enabled` from an existing Secret, whose files (`strand cert`, with the pods' DNS names)
// stand at the mount path; each StatefulSet pod's container runs as a local process as in
// helm-chart-run.test.ts. The three pods each pick their own certificate by node id
// (`node-{node.id}.crt`), form one cluster over mTLS by their DNS names, answer the rendered
// HTTPS probes (unverified, as the kubelet does), and the rendered `helm test` pod passes with
// the client certificate the chart hands it — with `authorization.enabled`, so the nodes run
// authorizer=acl and the chart's own client (User:admin) is the super user that may.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ContainerProcess,
  type ContainerSpec,
  canIsolateHosts,
  type PodPlace,
  runContainer,
  startContainer,
  stopPods,
  writeHosts,
} from "./support/chart-pods.ts";
import { freePorts, waitFor } from "./support/free-ports.ts";
import { type K8sObject, one, render } from "./support/helm.ts";

const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "strand-chart-tls-run-"));
const certs = join(dir, "certs");
const hostsFile = join(dir, "hosts");
const NAMESPACE = "data";
const TLS_DIR = "/etc/strand/tls";
const isRoot = process.getuid?.() === 0;
writeHosts(hostsFile, new Map());
const isolated = isRoot && canIsolateHosts(hostsFile);
if (!isolated) {
  process.stderr.write(
    "helm-chart-tls-run.test.ts: skipped: needs root and `unshare --mount` (a private /etc/hosts per pod)\n",
  );
}

let objects: K8sObject[] = [];
let pods: { place: PodPlace; proc: ContainerProcess }[] = [];
let ports: { client: number; internal: number; admin: number };

/** `strand cert ...` from the sources. */
function cert(args: string[]): void {
  execFileSync(process.execPath, [join(root, "packages/cli/src/main.ts"), "cert", ...args], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 30_000,
  });
}

/** An HTTPS GET that does not verify the certificate (as the kubelet's probes). */
function probe(ip: string, port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: ip, port, path, rejectUnauthorized: false, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** The node URI of the certificate `place` serves on `port`, verified by its DNS name. */
function servedNode(place: PodPlace, port: number): Promise<string> {
  const file = (name: string) => readFileSync(join(certs, name));
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: place.ip,
      port,
      servername: `${place.name}.demo-strand-headless.${NAMESPACE}.svc.cluster.local`,
      ca: file("ca.crt"),
      cert: file("admin.crt"),
      key: file("admin.key"),
      ALPNProtocols: ["h2"],
    });
    socket.once("secureConnect", () => {
      const sans = socket.getPeerCertificate().subjectaltname ?? "";
      resolve(sans.split(", ").find((s) => s.startsWith("URI:")) ?? "");
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

describe.skipIf(!isolated)("the chart's pods with TLS from a Secret", () => {
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
        "tls.enabled": "true",
        "tls.secretName": "strand-tls",
        "authorization.enabled": "true",
        "config.controller\\.tick\\.ms": "50",
        "config.broker\\.heartbeat\\.interval\\.ms": "200",
        "config.broker\\.session\\.timeout\\.ms": "3000",
      },
    });
    const sts = one(objects, "StatefulSet");
    const service = `demo-strand.${NAMESPACE}.svc.cluster.local`;
    cert(["ca", "--dir", certs]);
    const names = new Map<string, string>();
    const places: PodPlace[] = [];
    for (let i = 0; i < sts.spec.replicas; i++) {
      const name = `${sts.metadata.name}-${i}`;
      const fqdn = `${name}.${sts.spec.serviceName}.${NAMESPACE}.svc.cluster.local`;
      const ip = `127.0.0.${i + 2}`;
      names.set(fqdn, ip);
      cert(["node", String(i + 1), "--dir", certs, "--host", fqdn, "--host", service]);
      places.push({
        name,
        namespace: NAMESPACE,
        ip,
        mounts: { "/data": mkdtempSync(join(dir, `${name}-data-`)), [TLS_DIR]: certs },
      });
    }
    cert(["client", "admin", "--dir", certs]);
    names.set(service, "127.0.0.2");
    writeHosts(hostsFile, names);
    const container = sts.spec.template.spec.containers[0] as ContainerSpec;
    pods = places.map((place) => ({
      place,
      proc: startContainer(container, place, hostsFile, dir, ["--exit-with-parent"]),
    }));
  }, 60_000);

  afterAll(async () => {
    await stopPods(pods, dir);
  });

  it("forms one cluster over mTLS, each pod with its own certificate; HTTPS probes green", async () => {
    const c = one(objects, "StatefulSet").spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet.scheme).toBe("HTTPS");
    for (const { place, proc } of pods) {
      await waitFor(
        `${place.name} https ${c.readinessProbe.httpGet.path} = 200 (log: ${proc.logFile})`,
        async () => (await probe(place.ip, ports.admin, c.readinessProbe.httpGet.path)) === 200,
        90_000,
        200,
      );
      expect(await probe(place.ip, ports.admin, c.livenessProbe.httpGet.path)).toBe(200);
    }
    // Each node serves its own certificate (node N's SAN URI), picked by {node.id}, valid for
    // the DNS name other nodes dial.
    for (const [i, { place }] of pods.entries())
      expect(await servedNode(place, ports.internal)).toBe(`URI:strand:node:${i + 1}`);
  }, 120_000);

  it("passes the rendered helm test pod with the chart's client certificate", async () => {
    const test = one(objects, "Pod", "demo-strand-test");
    const steps: ContainerSpec[] = [...test.spec.initContainers, ...test.spec.containers];
    const client: PodPlace = {
      name: "client",
      namespace: NAMESPACE,
      ip: "127.0.0.9",
      mounts: { [TLS_DIR]: certs },
    };
    for (const step of steps) {
      const env = step.env ?? [];
      expect(env.map((e) => e.name)).toEqual(
        expect.arrayContaining(["STRAND_TLS_CA", "STRAND_TLS_CERT", "STRAND_TLS_KEY"]),
      );
      const brokers = env.map((e) =>
        e.name === "STRAND_BROKERS"
          ? { ...e, value: `demo-strand.${NAMESPACE}.svc.cluster.local:${ports.client}` }
          : e,
      );
      const run = await runContainer({ ...step, env: brokers }, client, hostsFile, dir, 60_000);
      expect(run.code, `${step.name}: ${run.output}`).toBe(0);
    }
  }, 180_000);
});
