// Goal: the Helm chart is valid for the real helm (lint --strict, template) with the default
// values, a 5-node values file and an external-access + monitoring values file; every rendered
// object passes the Kubernetes / prometheus-operator OpenAPI schemas (kubernetes-models: types,
// required fields, enums; unknown fields are not checked by those schemas, so the invariants
// below name the fields that matter); and the chart keeps its promises: voters from
// replicaCount, probes on the admin listener, PDB, preStop within the grace period, the
// security context, every server setting reachable from values, and a schema that refuses
// wrong types and unknown keys.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SETTINGS } from "@strand/broker";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CHART_OWNED_SETTINGS, chartSchemaText } from "../scripts/gen-chart-schema.ts";
import {
  chartDir,
  envOf,
  helm,
  type K8sObject,
  one,
  render,
  renderError,
  validateObject,
} from "./support/helm.ts";

const root = join(import.meta.dirname, "..");
const FIVE = join(chartDir, "ci/five-nodes-values.yaml");
const EXTERNAL = join(chartDir, "ci/external-monitoring-values.yaml");

function strandContainer(objects: readonly K8sObject[]) {
  const sts = one(objects, "StatefulSet");
  return sts.spec.template.spec.containers.find((c: { name: string }) => c.name === "strand");
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

describe("helm chart deploy/helm/strand", () => {
  for (const [name, files] of [
    ["default values", []],
    ["5 nodes", [FIVE]],
    ["external access + monitoring", [EXTERNAL]],
  ] as const) {
    it(`lints strictly and renders schema-valid objects: ${name}`, async () => {
      const lint = await helm(["lint", "--strict", chartDir, ...files.flatMap((f) => ["-f", f])]);
      expect(lint.stdout + lint.stderr, "helm lint --strict").toContain("0 chart(s) failed");
      expect(lint.code).toBe(0);
      const objects = await render({ valuesFiles: files });
      expect(objects.length).toBeGreaterThan(4);
      for (const object of objects) await validateObject(object);
    });
  }

  it("generates the controller voters from replicaCount, ids from the pod ordinal", async () => {
    for (const [files, count] of [
      [[], 3],
      [[FIVE], 5],
    ] as const) {
      const objects = await render({ valuesFiles: files });
      const sts = one(objects, "StatefulSet");
      expect(sts.spec.replicas).toBe(count);
      expect(sts.spec.podManagementPolicy).toBe("Parallel");
      const env = envOf(strandContainer(objects));
      const voters = env.get("STRAND_CONTROLLER_QUORUM_VOTERS")!.split(",");
      expect(voters).toEqual(
        Array.from(
          { length: count },
          (_, i) => `${i + 1}@demo-strand-${i}.demo-strand-headless.data.svc.cluster.local:9093`,
        ),
      );
      expect(env.get("STRAND_NODE_ID_FROM_HOSTNAME")).toBe("true");
      expect(env.get("HOSTNAME")).toBe("<from>");
      expect(env.get("STRAND_ADVERTISED_INTERNAL")).toBe(
        "$(POD_NAME).demo-strand-headless.data.svc.cluster.local:9093",
      );
      expect(env.get("STRAND_LISTENERS_CLIENT")).toBe("0.0.0.0:9092");
      expect(env.get("STRAND_CLUSTER_ID")).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
    expect(await renderError({ set: { replicaCount: "4" } })).toMatch(
      /replicaCount must be 1, 3 or 5 with the controller role/,
    );
    expect(await renderError({ set: { nodeIdOffset: "0" } })).toMatch(
      /nodeIdOffset must be 1 or more with the controller role/,
    );
  });

  it("runs broker-only pods beside a controller set: given voters, offset ids, no bootstrap", async () => {
    const objects = await render({
      release: "brokers",
      set: {
        roles: "broker",
        replicaCount: "4",
        nodeIdOffset: "100",
        "controller.quorumVoters": "1@c-0:9093\\,2@c-1:9093\\,3@c-2:9093",
      },
    });
    const container = strandContainer(objects);
    const env = envOf(container);
    expect(env.get("STRAND_PROCESS_ROLES")).toBe("broker");
    expect(env.get("STRAND_NODE_ID_OFFSET")).toBe("100");
    expect(env.get("STRAND_CONTROLLER_QUORUM_VOTERS")).toBe("1@c-0:9093,2@c-1:9093,3@c-2:9093");
    expect(container.args).not.toContain("--bootstrap");
    expect(await renderError({ set: { roles: "broker" } })).toMatch(
      /controller\.quorumVoters is required for roles: broker/,
    );
  });

  it("bootstraps on first formation only (bootstrap.mode)", async () => {
    // `helm template` sees no existing StatefulSet, like an install: --bootstrap.
    expect(strandContainer(await render()).args).toEqual(["server", "start", "--bootstrap"]);
    const never = await render({ set: { "bootstrap.mode": "never" } });
    expect(strandContainer(never).args).toEqual(["server", "start"]);
    // Replacing a voter whose volume was lost: --new-directory, never with --bootstrap.
    const replacing = await render({
      set: { "bootstrap.mode": "never", "replacement.newDirectory": "true" },
    });
    expect(strandContainer(replacing).args).toEqual(["server", "start", "--new-directory"]);
    expect(await renderError({ set: { "replacement.newDirectory": "true" } })).toMatch(
      /replacement\.newDirectory excludes --bootstrap/,
    );
  });

  it("probes the admin listener: startup with a long budget, liveness /healthz, readiness /readyz", async () => {
    const objects = await render();
    const c = strandContainer(objects);
    const admin = c.ports.find((p: { name: string }) => p.name === "admin");
    expect(admin.containerPort).toBe(portOf(envOf(c).get("STRAND_LISTENERS_ADMIN")!));
    expect(c.startupProbe.httpGet).toEqual({ path: "/healthz", port: "admin", scheme: "HTTP" });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(
      1800,
    );
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin", scheme: "HTTP" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin", scheme: "HTTP" });
    // The paths are the admin listener's own (test/helm-chart-run.test.ts calls them for real).
    const http = readFileSync(join(root, "packages/broker/src/admin/http.ts"), "utf8");
    for (const path of ["/healthz", "/readyz"]) expect(http).toContain(`path === "${path}"`);
  });

  it("stops within the grace period: preStop, then a drain that fits terminationGracePeriodSeconds", async () => {
    const objects = await render();
    const pod = one(objects, "StatefulSet").spec.template.spec;
    const c = strandContainer(objects);
    const env = envOf(c);
    const preStop = c.lifecycle.preStop.sleep.seconds;
    const timeoutMs = Number(env.get("STRAND_SHUTDOWN_TIMEOUT_MS"));
    const drainMs = Number(env.get("STRAND_SHUTDOWN_DRAIN_TIMEOUT_MS"));
    expect(preStop).toBeGreaterThan(0);
    expect(drainMs).toBeLessThan(timeoutMs);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + timeoutMs / 1000);
    // Exec form: no shell between the kubelet's SIGTERM and node.
    expect(c.command).toBeUndefined();
    expect(await renderError({ set: { "shutdown.drainSeconds": "30" } })).toMatch(
      /shutdown\.drainSeconds \(30\) must be below shutdown\.timeoutSeconds \(25\)/,
    );
  });

  it("has the PDB, the Services, anti-affinity, spread, security context and resources", async () => {
    const objects = await render();
    expect(one(objects, "PodDisruptionBudget").spec.maxUnavailable).toBe(1);
    const headless = one(objects, "Service", "demo-strand-headless");
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(one(objects, "Service", "demo-strand").spec.type).toBe("ClusterIP");
    const sts = one(objects, "StatefulSet");
    expect(sts.spec.serviceName).toBe("demo-strand-headless");
    const pod = sts.spec.template.spec;
    const anti = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0];
    expect(anti.podAffinityTerm.topologyKey).toBe("kubernetes.io/hostname");
    expect(pod.topologySpreadConstraints[0].topologyKey).toBe("topology.kubernetes.io/zone");
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    const c = strandContainer(objects);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.resources.requests.cpu).toBeTruthy();
    expect(c.resources.requests.memory).toBeTruthy();
    // /data (the claim) and /tmp are the only writable mounts.
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath).sort()).toEqual([
      "/data",
      "/tmp",
    ]);
    const claim = sts.spec.volumeClaimTemplates[0];
    expect(claim.metadata.name).toBe("data");
    expect(claim.spec.resources.requests.storage).toBe("10Gi");
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: "Retain",
      whenScaled: "Retain",
    });
    // Client pods (helm test) are not selected by the StatefulSet's Services.
    const test = one(objects, "Pod");
    expect((test.metadata.labels as Record<string, string>)["app.kubernetes.io/name"]).not.toBe(
      sts.spec.selector.matchLabels["app.kubernetes.io/name"],
    );
  });

  it("maps config: values to STRAND_* and passes extraEnv / extraVolumes", async () => {
    const five = envOf(strandContainer(await render({ valuesFiles: [FIVE] })));
    expect(five.get("STRAND_MIN_INSYNC_REPLICAS")).toBe("2");
    expect(five.get("STRAND_NUM_PARTITIONS")).toBe("6");
    expect(five.get("STRAND_UNCLEAN_LEADER_ELECTION_ENABLE")).toBe("false");
    expect(five.get("STRAND_LOG_LEVEL")).toBe("warn");
    const objects = await render({ valuesFiles: [EXTERNAL] });
    const c = strandContainer(objects);
    expect(envOf(c).get("NODE_OPTIONS")).toBe("--max-old-space-size=1536");
    expect(c.volumeMounts.some((m: { name: string }) => m.name === "certs")).toBe(true);
    expect(
      one(objects, "StatefulSet").spec.template.spec.volumes.some(
        (v: { name: string }) => v.name === "certs",
      ),
    ).toBe(true);
  });

  it("gives each pod its external address and its own Service when external access is on", async () => {
    const objects = await render({ valuesFiles: [EXTERNAL] });
    const c = strandContainer(objects);
    expect(c.args).toEqual([
      "server",
      "start",
      "--bootstrap",
      "--config",
      "/etc/strand/pods/$(POD_NAME).yaml",
    ]);
    expect(envOf(c).has("STRAND_ADVERTISED_CLIENT")).toBe(false);
    const pods = one(objects, "ConfigMap", "demo-strand-pods");
    for (let i = 0; i < 3; i++) {
      expect(parseYaml(pods.data[`demo-strand-${i}.yaml`])).toEqual({
        "advertised.client": `demo-strand-${i}.strand.example.com:9092`,
      });
      const svc = one(objects, "Service", `demo-strand-${i}-external`);
      expect(svc.spec.type).toBe("LoadBalancer");
      expect(svc.spec.selector["statefulset.kubernetes.io/pod-name"]).toBe(`demo-strand-${i}`);
    }
    const rule = one(objects, "PrometheusRule");
    const alerts = parseYaml(readFileSync(join(chartDir, "files/alerts.yaml"), "utf8"));
    expect(rule.spec.groups).toEqual(alerts.groups);
    const dashboard = one(objects, "ConfigMap", "demo-strand-dashboard");
    expect(JSON.parse(dashboard.data["strand.json"])).toEqual(
      JSON.parse(readFileSync(join(chartDir, "files/strand.json"), "utf8")),
    );
    expect(one(objects, "ServiceMonitor").spec.endpoints[0]).toMatchObject({
      port: "admin",
      path: "/metrics",
    });
    const job = one(objects, "Job");
    const steps = [...job.spec.template.spec.initContainers, ...job.spec.template.spec.containers];
    expect(steps.map((s: { args: string[] }) => s.args.slice(0, 4))).toEqual([
      ["topic", "create", "orders", "--if-not-exists"],
      ["topic", "create", "audit", "--if-not-exists"],
    ]);
    const np = one(objects, "NetworkPolicy");
    expect(np.spec.policyTypes).toEqual(["Ingress"]);
  });

  it("keeps its files/ copies equal to deploy/prometheus/alerts.yaml and deploy/grafana/strand.json", () => {
    for (const [source, copy] of [
      ["deploy/prometheus/alerts.yaml", "files/alerts.yaml"],
      ["deploy/grafana/strand.json", "files/strand.json"],
    ] as const) {
      const path = join(root, source);
      // Until the monitoring assets exist the chart carries placeholders (deploy/README.md).
      if (!existsSync(path)) continue;
      expect(readFileSync(join(chartDir, copy), "utf8"), `${copy} is stale: cp ${source}`).toBe(
        readFileSync(path, "utf8"),
      );
    }
  });

  it("reaches every server setting from values, and its schema is current", () => {
    const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8"));
    expect(`${JSON.stringify(schema, null, 2)}\n`).toBe(chartSchemaText());
    const fromValues = Object.keys(schema.properties.config.properties);
    for (const spec of SETTINGS) {
      expect(
        fromValues.includes(spec.key) || CHART_OWNED_SETTINGS.includes(spec.key),
        `${spec.key} is neither in config: nor set by the chart`,
      ).toBe(true);
    }
    const helpers = readFileSync(join(chartDir, "templates/_helpers.tpl"), "utf8");
    const owned = /define "strand.ownedSettings" -}}\n\{\{- list (.*) \| toJson/.exec(helpers);
    expect(owned?.[1]?.split(" ").map((s) => JSON.parse(s))).toEqual(CHART_OWNED_SETTINGS);
  });

  describe("TLS from Secrets", () => {
    const TLS_CM = join(chartDir, "ci/tls-cert-manager-values.yaml");
    const fromSecret = { "tls.enabled": "true", "tls.secretName": "strand-tls" };
    type Volume = { name: string; secret?: K8sObject["spec"]; projected?: K8sObject["spec"] };
    const volumesOf = (spec: { volumes?: Volume[] }) =>
      new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    const probesOf = (c: Record<string, { httpGet?: { scheme?: string } }>) =>
      ["startupProbe", "livenessProbe", "readinessProbe"].map((p) => c[p]?.httpGet?.scheme);

    it("is off by default: no TLS volume, settings or HTTPS probes", async () => {
      const objects = await render();
      const container = strandContainer(objects);
      expect([...envOf(container).keys()].filter((k) => k.includes("_TLS_"))).toEqual([]);
      expect(probesOf(container)).toEqual(["HTTP", "HTTP", "HTTP"]);
      expect(volumesOf(one(objects, "StatefulSet").spec.template.spec).has("tls")).toBe(false);
      expect(objects.filter((o) => o.kind === "Certificate")).toEqual([]);
    });

    it("mounts an existing Secret's per-node certificates; each pod picks its own by node id", async () => {
      const lint = await helm([
        "lint",
        "--strict",
        chartDir,
        ...Object.entries(fromSecret).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
      ]);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);
      const objects = await render({
        set: { ...fromSecret, "metrics.podMonitor.enabled": "true" },
      });
      for (const object of objects) await validateObject(object);
      expect(objects.filter((o) => o.kind === "Certificate")).toEqual([]);
      const spec = one(objects, "StatefulSet").spec.template.spec;
      const tls = volumesOf(spec).get("tls")!;
      expect(tls.secret.secretName).toBe("strand-tls");
      expect(tls.secret.items.map((i: { path: string }) => i.path)).toEqual([
        "ca.crt",
        ...[1, 2, 3].flatMap((id) => [`node-${id}.crt`, `node-${id}.key`]),
      ]);
      const container = strandContainer(objects);
      expect(container.volumeMounts).toContainEqual({
        name: "tls",
        mountPath: "/etc/strand/tls",
        readOnly: true,
      });
      const env = envOf(container);
      for (const l of ["INTERNAL", "CLIENT", "ADMIN"]) {
        expect(env.get(`STRAND_LISTENERS_${l}_TLS_CERT_FILE`)).toBe(
          "/etc/strand/tls/node-{node.id}.crt",
        );
        expect(env.get(`STRAND_LISTENERS_${l}_TLS_KEY_FILE`)).toBe(
          "/etc/strand/tls/node-{node.id}.key",
        );
        expect(env.get(`STRAND_LISTENERS_${l}_TLS_CA_FILE`)).toBe("/etc/strand/tls/ca.crt");
      }
      expect(env.get("STRAND_LISTENERS_CLIENT_TLS_CLIENT_AUTH")).toBe("required");
      expect(env.get("STRAND_LISTENERS_ADMIN_TLS_CLIENT_AUTH")).toBe("none");
      // The kubelet probes the HTTPS admin listener (it does not verify the certificate).
      expect(probesOf(container)).toEqual(["HTTPS", "HTTPS", "HTTPS"]);
      // Prometheus verifies it against the CA, by a name every node certificate carries.
      const endpoint = one(objects, "PodMonitor").spec.podMetricsEndpoints[0];
      expect(endpoint.scheme).toBe("https");
      expect(endpoint.tlsConfig).toEqual({
        serverName: "demo-strand.data.svc",
        ca: { secret: { name: "strand-tls", key: "ca.crt" } },
      });
      // `helm test` gets the client certificate only, never a node key.
      const test = one(objects, "Pod", "demo-strand-test");
      const clientTls = volumesOf(test.spec).get("tls")!;
      expect(clientTls.secret.items.map((i: { key: string }) => i.key)).toEqual([
        "ca.crt",
        "admin.crt",
        "admin.key",
      ]);
      const cli = envOf(test.spec.containers[0]);
      expect(cli.get("STRAND_TLS_CERT")).toBe("/etc/strand/tls/admin.crt");
      // The client listener alone may stay plaintext (a migration); internal TLS stays on.
      const partial = strandContainer(
        await render({
          set: { ...fromSecret, "tls.client.enabled": "false", "tls.admin.enabled": "false" },
        }),
      );
      const partialEnv = envOf(partial);
      expect(partialEnv.has("STRAND_LISTENERS_INTERNAL_TLS_CERT_FILE")).toBe(true);
      expect(partialEnv.has("STRAND_LISTENERS_CLIENT_TLS_CERT_FILE")).toBe(false);
      expect(probesOf(partial)).toEqual(["HTTP", "HTTP", "HTTP"]);
    });

    it("makes a cert-manager Certificate per node naming it (SAN URI) with the DNS names it is dialled by", async () => {
      const lint = await helm(["lint", "--strict", chartDir, "-f", TLS_CM]);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);
      const objects = await render({ valuesFiles: [TLS_CM], set: { replicaCount: "5" } });
      for (const object of objects.filter((o) => o.kind !== "Certificate"))
        await validateObject(object);
      const certificates = objects.filter((o) => o.kind === "Certificate");
      expect(certificates.map((c) => c.metadata.name)).toEqual([
        ...[1, 2, 3, 4, 5].map((id) => `demo-strand-node-${id}`),
        "demo-strand-admin",
      ]);
      for (const [k, c] of certificates.slice(0, 5).entries()) {
        expect(c.apiVersion).toBe("cert-manager.io/v1");
        expect(c.spec.secretName).toBe(c.metadata.name);
        expect(c.spec.uris).toEqual([`strand:node:${k + 1}`]);
        expect(c.spec.dnsNames).toContain(
          `demo-strand-${k}.demo-strand-headless.data.svc.cluster.local`,
        );
        expect(c.spec.dnsNames).toContain("demo-strand.data.svc.cluster.local");
        expect(c.spec.usages).toEqual(expect.arrayContaining(["server auth", "client auth"]));
        expect(c.spec.issuerRef).toEqual({
          name: "strand-ca",
          kind: "ClusterIssuer",
          group: "cert-manager.io",
        });
        expect(c.spec.privateKey.rotationPolicy).toBe("Always");
      }
      const admin = certificates[5]!;
      expect(admin.spec.uris).toBeUndefined();
      expect(admin.spec.usages).toEqual(expect.arrayContaining(["client auth"]));
      expect(admin.spec.usages).not.toContain("server auth");
      // Each pod mounts every node's Secret (it picks its own by node id at start).
      const tls = volumesOf(one(objects, "StatefulSet").spec.template.spec).get("tls")!;
      const sources = tls.projected.sources as {
        secret: { name: string; items: { path: string }[] };
      }[];
      expect(sources.map((s) => s.secret.name)).toEqual(
        [1, 2, 3, 4, 5].map((id) => `demo-strand-node-${id}`),
      );
      expect(sources.flatMap((s) => s.secret.items.map((i) => i.path))).toEqual([
        "ca.crt",
        ...[1, 2, 3, 4, 5].flatMap((id) => [`node-${id}.crt`, `node-${id}.key`]),
      ]);
      const job = one(objects, "Job", "demo-strand-provisioning");
      expect(volumesOf(job.spec.template.spec).get("tls")!.secret.secretName).toBe(
        "demo-strand-admin",
      );
    });

    const tlsRefusals: [string, Record<string, string>, RegExp][] = [
      [
        "TLS from a Secret without its name",
        { "tls.enabled": "true" },
        /tls\.secretName is required/,
      ],
      [
        "cert-manager without an issuer",
        { "tls.enabled": "true", "tls.source": "certManager" },
        /tls\.certManager\.issuerRef\.name is required/,
      ],
      ["an unknown source", { ...fromSecret, "tls.source": "vault" }, /source/],
      [
        "an admin listener that requires client certificates (the probes have none)",
        { ...fromSecret, "tls.admin.clientAuth": "required" },
        /clientAuth/,
      ],
      ["a bad client auth", { ...fromSecret, "tls.client.clientAuth": "yes" }, /clientAuth/],
      [
        "a TLS file setting through config: (the chart owns them)",
        { "config.listeners\\.client\\.tls\\.cert\\.file": "/x.crt" },
        /additional properties 'listeners\.client\.tls\.cert\.file'/i,
      ],
    ];
    for (const [what, set, message] of tlsRefusals) {
      it(`refuses ${what}`, async () => {
        expect(await renderError({ set })).toMatch(message);
      });
    }
  });

  describe("ACLs", () => {
    const withTls = { "tls.enabled": "true", "tls.secretName": "strand-tls" };

    it("sets authorizer=acl with the chart's own client and the extra super users", async () => {
      const off = envOf(strandContainer(await render({ set: withTls })));
      expect(off.has("STRAND_AUTHORIZER")).toBe(false);
      const objects = await render({
        set: {
          ...withTls,
          "authorization.enabled": "true",
          "authorization.superUsers[0]": "User:ops",
        },
      });
      for (const object of objects) await validateObject(object);
      const env = envOf(strandContainer(objects));
      expect(env.get("STRAND_AUTHORIZER")).toBe("acl");
      expect(env.get("STRAND_SUPER_USERS")).toBe("User:admin;User:ops");
    });

    it("refuses ACLs without TLS on the client listener, and the settings through config:", async () => {
      expect(await renderError({ set: { "authorization.enabled": "true" } })).toMatch(
        /authorization\.enabled needs tls\.enabled/,
      );
      expect(
        await renderError({
          set: { ...withTls, "authorization.enabled": "true", "tls.client.enabled": "false" },
        }),
      ).toMatch(/needs tls\.enabled and tls\.client\.enabled/);
      expect(await renderError({ set: { "config.authorizer": "acl" } })).toMatch(
        /additional properties 'authorizer'/i,
      );
      expect(await renderError({ set: { "authorization.superUsers[0]": "admin" } })).toMatch(
        /superUsers/,
      );
    });
  });

  const refusals: [string, Record<string, string>, RegExp][] = [
    ["a wrong type", { replicaCount: "three" }, /replicaCount.*(integer|got string)/s],
    ["an unknown key", { replicas: "3" }, /additional properties 'replicas' not allowed/i],
    [
      "an unknown setting",
      { "config.min\\.insync\\.replica": "2" },
      /additional properties 'min\.insync\.replica' not allowed/i,
    ],
    ["a setting the chart owns", { "config.node\\.id": "2" }, /additional properties 'node\.id'/i],
    ["a setting of the wrong type", { "config.num\\.partitions": "many" }, /num\.partitions/],
    ["a bad bootstrap mode", { "bootstrap.mode": "sometimes" }, /bootstrap\.mode|mode/],
    ["a bad cluster id", { clusterId: "short" }, /clusterId/],
  ];
  for (const [what, set, message] of refusals) {
    it(`refuses ${what} through values.schema.json`, async () => {
      expect(await renderError({ set })).toMatch(message);
    });
  }
});
