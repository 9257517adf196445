// Helpers for the Prometheus tests: find promtool/prometheus (Debian package `prometheus`;
// tests skip with a clear message without it), read the metric names that the alert rules and
// the Grafana dashboard query, read the metric families a scrape exports, and run a real
// Prometheus server on a free loopback port with its data in a temp dir.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../../scripts/lib/cluster.ts";

/** The repository's deploy/ folder. */
export const DEPLOY = join(import.meta.dirname, "..", "..", "deploy");
export const ALERTS_FILE = join(DEPLOY, "prometheus", "alerts.yaml");
export const ALERTS_TEST_FILE = join(DEPLOY, "prometheus", "alerts.test.yaml");
export const DASHBOARD_FILE = join(DEPLOY, "grafana", "strand.json");

/** Whether `tool --version` runs (the Debian package `prometheus` ships both tools). */
export function hasTool(tool: "promtool" | "prometheus"): boolean {
  const r = spawnSync(tool, ["--version"], { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
}

/** Why a Prometheus test is skipped here, for its title. */
export const MISSING_PROMETHEUS =
  "skipped: promtool/prometheus not installed (apt-get install -y prometheus; .ci/run does)";

/** Runs promtool with `args` (and `input` on stdin); bounded in time. */
export function promtool(
  args: readonly string[],
  input?: string,
): { status: number | null; output: string } {
  const r = spawnSync("promtool", args, {
    input,
    encoding: "utf8",
    timeout: 60_000,
    cwd: join(DEPLOY, "prometheus"),
  });
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** Every `expr:` of the alert rules (single-line and `|` blocks). */
export function alertExpressions(): string[] {
  const lines = readFileSync(ALERTS_FILE, "utf8").split("\n");
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trimStart().startsWith("#")) continue;
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (m === null) continue;
    if ((m[2] ?? "").trim() !== "|") {
      exprs.push(m[2] ?? "");
      continue;
    }
    const block: string[] = [];
    const indent = (m[1] ?? "").length;
    while (i + 1 < lines.length && /^\s*$|^\s+/.test(lines[i + 1] ?? "")) {
      const next = lines[i + 1] ?? "";
      if (next.trim() !== "" && next.length - next.trimStart().length <= indent) break;
      block.push(next);
      i++;
    }
    exprs.push(block.join("\n"));
  }
  return exprs;
}

/** Every `expr` of the dashboard's panels (rows included). */
export function dashboardExpressions(): string[] {
  interface Panel {
    readonly targets?: readonly { readonly expr?: string }[];
    readonly panels?: readonly Panel[];
  }
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as { panels: Panel[] };
  const exprs: string[] = [];
  const visit = (p: Panel) => {
    for (const t of p.targets ?? []) if (t.expr !== undefined) exprs.push(t.expr);
    for (const child of p.panels ?? []) visit(child);
  };
  for (const p of dashboard.panels) visit(p);
  return exprs;
}

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

/**
 * Metric names a PromQL expression selects: identifiers followed by `{`, `[` or a word
 * boundary that are not functions (followed by `(`), keywords, label names (inside `{}` or
 * `by (...)`) or label values.
 */
export function metricNames(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "[]");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    const [, name, call] = m;
    if (name === undefined || call !== undefined || PROMQL_WORDS.has(name)) continue;
    if (/^\d/.test(name) || /^(and|or|unless|bool|offset)$/.test(name)) continue;
    names.add(name);
  }
  return names;
}

/**
 * Sample names a scrape can answer: each `# TYPE` family, plus `_bucket`, `_sum`, `_count` of
 * histograms (and `_sum`, `_count` of summaries).
 */
export function exportedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (name === undefined) continue;
    names.add(name);
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
    if (type === "summary") for (const s of ["_sum", "_count"]) names.add(name + s);
  }
  return names;
}

/** A running Prometheus server. */
export interface PrometheusServer {
  readonly url: string;
  readonly child: ChildProcess;
  /** Output, for a failure message. */
  output(): string;
  /** GET `path` of the HTTP API; the parsed `data`. */
  api<T>(path: string): Promise<T>;
  /** SIGTERM (SIGKILL after 10 s), then removes its data dir. */
  stop(): Promise<void>;
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** host:port of every Strand admin listener to scrape (job "strand"). */
  readonly targets: readonly string[];
  /** Rule file contents to load. */
  readonly rules: string;
  readonly scrapeIntervalS: number;
}

/** Starts `prometheus` on a free loopback port with a temp config, rules and data dir. */
export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "strand-prometheus-"));
  const [port] = await freePorts(1);
  writeFileSync(join(dir, "alerts.yaml"), o.rules);
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global:",
      `  scrape_interval: ${o.scrapeIntervalS}s`,
      `  scrape_timeout: ${o.scrapeIntervalS}s`,
      `  evaluation_interval: ${o.scrapeIntervalS}s`,
      "rule_files:",
      `  - ${join(dir, "alerts.yaml")}`,
      "scrape_configs:",
      "  - job_name: strand",
      "    static_configs:",
      `      - targets: [${o.targets.map((t) => `"${t}"`).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const child = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const server: PrometheusServer = {
    url,
    child,
    output: () => output.split("\n").slice(-40).join("\n"),
    api: async <T>(path: string): Promise<T> => {
      const res = await fetch(`${url}/api/v1/${path}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== "success") throw new Error(`${path}: ${body.error ?? res.status}`);
      return body.data;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Polls `check` every `everyMs` until it answers a value, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
