/**
 * Writes deploy/helm/strand/values.schema.json. The `config:` section is generated from the
 * node's settings table, so every server setting the chart does not own is reachable from
 * values with its type and range, and a typo'd key fails `helm install`
 * (test/helm-chart.test.ts checks the file is current). Run: `npm run gen:chart-schema`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SETTINGS, type SettingSpec } from "@strand/broker";

/** Settings the chart sets from its own values (identity, listeners, voters, shutdown). */
export const CHART_OWNED_SETTINGS: readonly string[] = [
  "node.id",
  "node.id.from.hostname",
  "node.id.offset",
  "process.roles",
  "data.dir",
  "listeners.client",
  "listeners.internal",
  "listeners.admin",
  "advertised.client",
  "advertised.internal",
  "controller.quorum.voters",
  "cluster.id",
  "shutdown.timeout.ms",
  "shutdown.drain.timeout.ms",
  ...["client", "internal", "admin"].flatMap((l) =>
    ["cert", "key", "ca"].map((f) => `listeners.${l}.tls.${f}.file`),
  ),
  "listeners.client.tls.client.auth",
  "listeners.admin.tls.client.auth",
  "authorizer",
  "super.users",
];

type Schema = Record<string, unknown>;

const str: Schema = { type: "string" };
const bool: Schema = { type: "boolean" };
const int = (minimum = 0, maximum?: number): Schema => ({
  type: "integer",
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
});
const map: Schema = { type: "object", additionalProperties: { type: "string" } };
const anyObject: Schema = { type: "object" };
const objects: Schema = { type: "array", items: { type: "object" } };
const quantity: Schema = { type: ["string", "integer"] };

function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
  return {
    type: "object",
    additionalProperties: false,
    properties,
    ...(required.length > 0 ? { required } : {}),
  };
}

const resources = obj({
  requests: { type: "object", additionalProperties: quantity },
  limits: { type: "object", additionalProperties: quantity },
});

function settingSchema(spec: SettingSpec): Schema {
  const description = spec.description;
  if (spec.kind === "boolean") return { type: "boolean", description };
  if (spec.kind === "integer") {
    return {
      type: "integer",
      description,
      ...(spec.min === undefined ? {} : { minimum: spec.min }),
      ...(spec.max === undefined || spec.max > Number.MAX_SAFE_INTEGER - 1
        ? {}
        : { maximum: spec.max }),
    };
  }
  return { type: "string", minLength: 1, description };
}

/** The whole values schema. */
export function chartSchema(): Schema {
  const config = Object.fromEntries(
    SETTINGS.filter((s) => !CHART_OWNED_SETTINGS.includes(s.key)).map((s) => [
      s.key,
      settingSchema(s),
    ]),
  );
  const probe = obj({
    periodSeconds: int(1),
    timeoutSeconds: int(1),
    failureThreshold: int(1),
  });
  const monitor = obj({ enabled: bool, interval: str, labels: map });
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Strand Helm chart values",
    ...obj({
      image: obj({
        repository: { type: "string", minLength: 1 },
        tag: str,
        pullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
      }),
      imagePullSecrets: objects,
      nameOverride: str,
      fullnameOverride: str,
      replicaCount: int(1),
      roles: {
        enum: ["broker,controller", "controller,broker", "broker", "controller"],
      },
      nodeIdOffset: int(0, 2_147_483_647),
      controller: obj({ quorumVoters: str }),
      clusterId: { type: "string", pattern: "^([A-Za-z0-9_-]{22})?$" },
      bootstrap: obj({ mode: { enum: ["auto", "always", "never"] } }),
      replacement: obj({ newDirectory: bool }),
      ports: obj({
        client: int(1, 65_535),
        internal: int(1, 65_535),
        admin: int(1, 65_535),
      }),
      clusterDomain: { type: "string", minLength: 1 },
      config: { type: "object", additionalProperties: false, properties: config },
      tls: obj({
        enabled: bool,
        source: { enum: ["secret", "certManager"] },
        secretName: str,
        certManager: obj({
          issuerRef: obj({ name: str, kind: { type: "string", minLength: 1 }, group: str }),
          duration: { type: "string", pattern: "^([0-9]+(h|m|s))+$" },
          renewBefore: { type: "string", pattern: "^([0-9]+(h|m|s))+$" },
          extraDnsNames: { type: "array", items: { type: "string", minLength: 1 } },
        }),
        client: obj({
          enabled: bool,
          clientAuth: { enum: ["none", "requested", "required"] },
        }),
        admin: obj({ enabled: bool, clientAuth: { enum: ["none", "requested"] } }),
      }),
      authorization: obj({
        enabled: bool,
        superUsers: {
          type: "array",
          items: { type: "string", pattern: "^(User|Node):[^;,\\s]+$" },
        },
      }),
      shutdown: obj({
        timeoutSeconds: int(1),
        drainSeconds: int(1),
        preStopSleepSeconds: int(0),
        graceMarginSeconds: int(0),
      }),
      persistence: obj({
        size: { type: "string", minLength: 1 },
        storageClass: str,
        accessModes: { type: "array", items: str, minItems: 1 },
        retentionPolicy: obj({
          whenDeleted: { enum: ["Retain", "Delete"] },
          whenScaled: { enum: ["Retain", "Delete"] },
        }),
      }),
      resources,
      probes: obj({ startup: probe, liveness: probe, readiness: probe }),
      podSecurityContext: anyObject,
      securityContext: anyObject,
      podAntiAffinity: { enum: ["soft", "hard", "none"] },
      topologySpread: obj({
        enabled: bool,
        topologyKey: str,
        maxSkew: int(1),
        whenUnsatisfiable: { enum: ["ScheduleAnyway", "DoNotSchedule"] },
      }),
      affinity: anyObject,
      nodeSelector: map,
      tolerations: objects,
      priorityClassName: str,
      podAnnotations: map,
      podLabels: map,
      serviceAccount: obj({ create: bool, name: str, annotations: map }),
      podDisruptionBudget: obj({ enabled: bool, maxUnavailable: int(1) }),
      service: obj({
        type: { enum: ["ClusterIP", "NodePort", "LoadBalancer"] },
        annotations: map,
      }),
      external: obj({
        enabled: bool,
        type: { enum: ["LoadBalancer", "NodePort"] },
        port: int(1, 65_535),
        nodePortBase: int(1, 65_535),
        domain: str,
        advertisedAddresses: { type: "array", items: { type: "string", pattern: "^.+:\\d+$" } },
        annotations: map,
        loadBalancerSourceRanges: { type: "array", items: str },
      }),
      extraEnv: objects,
      extraVolumes: objects,
      extraVolumeMounts: objects,
      metrics: obj({ serviceMonitor: monitor, podMonitor: monitor }),
      prometheusRule: obj({ enabled: bool, labels: map }),
      grafanaDashboard: obj({ enabled: bool, labels: map, annotations: map }),
      networkPolicy: obj({ enabled: bool, allowExternal: bool, metricsFrom: objects }),
      provisioning: obj({
        enabled: bool,
        topics: {
          type: "array",
          items: obj(
            {
              name: { type: "string", pattern: "^[A-Za-z0-9._-]{1,249}$" },
              partitions: int(1, 100_000),
              replicationFactor: int(1, 32),
              config: { type: "object", additionalProperties: { type: ["string", "integer"] } },
            },
            ["name"],
          ),
        },
        resources,
      }),
      tests: obj({ resources }),
      global: anyObject,
    }),
  };
}

/** The file's text: two-space JSON, trailing newline. */
export function chartSchemaText(): string {
  return `${JSON.stringify(chartSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  const path = join(import.meta.dirname, "../deploy/helm/strand/values.schema.json");
  writeFileSync(path, chartSchemaText());
  process.stdout.write(`wrote ${path}\n`);
}
