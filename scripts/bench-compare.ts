/**
 * Before and after in one run (issue 14): builds another revision in a temporary git worktree
 * and runs the cluster benchmark against it and against this checkout, alternating, on the
 * same machine in the same minutes, then prints every figure side by side with the ratio.
 *
 *   npm run bench -- compare --baseline REV [--rounds N] [--keep] -- [cluster options]
 *
 * Alternating (baseline, current, baseline, current, ...) and taking the median of the rounds
 * keeps a load swing from landing on one side only. The worktree is removed at the end unless
 * --keep is given (then a later run with the same REV reuses it, skipping `npm ci`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

interface Options {
  readonly baseline: string;
  readonly rounds: number;
  readonly keep: boolean;
  readonly clusterArgs: readonly string[];
}

const ROOT = resolve(import.meta.dirname, "..");

function usage(): string {
  return [
    "usage: npm run bench -- compare --baseline REV [--rounds N] [--keep] -- [cluster options]",
    "  --baseline REV   the git revision to compare with (e.g. HEAD~3, a tag, a commit)",
    "  --rounds N       cluster runs per side, alternating; the median is reported (default 1)",
    "  --keep           keep the baseline worktree for the next comparison",
    "  after --: options of `npm run bench -- cluster` (both sides get the same)",
  ].join("\n");
}

function parseOptions(): Options | null {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const clusterArgs = dash < 0 ? [] : argv.slice(dash + 1);
  const { values } = parseArgs({
    args: own,
    options: {
      baseline: { type: "string" },
      rounds: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return null;
  if (values.baseline === undefined) throw new Error("--baseline REV is required");
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9)
    throw new Error("--rounds must be an integer from 1 to 9");
  return { baseline: values.baseline, rounds, keep: values.keep, clusterArgs };
}

/** Runs a command, inheriting stderr; throws with its output when it fails. */
function run(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}: ${r.stdout}`);
  return r.stdout;
}

/** A worktree of `rev` with its dependencies installed (reused when kept from before). */
function prepareBaseline(rev: string): { dir: string; commit: string } {
  const commit = run("git", ["rev-parse", "--verify", `${rev}^{commit}`], ROOT).trim();
  const parent = join(tmpdir(), "strand-bench-baseline");
  mkdirSync(parent, { recursive: true });
  const dir = join(parent, commit.slice(0, 12));
  if (!existsSync(join(dir, "node_modules"))) {
    if (!existsSync(dir)) run("git", ["worktree", "add", "--detach", dir, commit], ROOT);
    console.error(`baseline ${rev} (${commit.slice(0, 12)}): npm ci in ${dir}`);
    run("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], dir);
  }
  return { dir, commit };
}

/** One `bench-cluster.ts --json` run in checkout `dir`: its report. */
function clusterRun(dir: string, args: readonly string[]): unknown {
  const out = run(
    process.execPath,
    ["--conditions=strand-source", join(dir, "scripts", "bench-cluster.ts"), "--json", ...args],
    dir,
  );
  // --json prints the report as one pretty JSON object, then profile lines, if any.
  const start = out.indexOf("{\n");
  const end = out.indexOf("\n}\n", start);
  if (start < 0 || end < 0) throw new Error(`no JSON report in the output of ${dir}`);
  return JSON.parse(out.slice(start, end + 2));
}

/** The figures worth comparing, by a readable name (higher or lower is better: `better`). */
interface Figure {
  readonly name: string;
  readonly value: number;
  readonly better: "higher" | "lower";
}

interface LatencyMs {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

interface ClusterReport {
  readonly machine: { readonly load: string };
  readonly produce: readonly {
    readonly batchBytes: number;
    readonly recordsPerSec: number;
    readonly mbPerSec: number;
    readonly latencyMs: LatencyMs;
  }[];
  readonly fetch: readonly {
    readonly topic: string;
    readonly recordsPerSec: number;
    readonly mbPerSec: number;
  }[];
  readonly e2e: { readonly latencyMs: LatencyMs; readonly ackLatencyMs: LatencyMs } | null;
  readonly client?: {
    readonly single: { readonly recordsPerSec: number };
    readonly batched: { readonly recordsPerSec: number; readonly mbPerSec: number };
    readonly consume: { readonly recordsPerSec: number; readonly mbPerSec: number };
    readonly e2e: LatencyMs;
  } | null;
}

function figures(r: ClusterReport): Figure[] {
  const out: Figure[] = [];
  const hi = (name: string, value: number) => out.push({ name, value, better: "higher" });
  const lo = (name: string, value: number) => out.push({ name, value, better: "lower" });
  for (const p of r.produce) {
    hi(`produce ${p.batchBytes} B batches, records/s`, p.recordsPerSec);
    hi(`produce ${p.batchBytes} B batches, MB/s`, p.mbPerSec);
    lo(`produce ${p.batchBytes} B batches, ack p99 ms`, p.latencyMs.p99);
  }
  for (const f of r.fetch) hi(`fetch ${f.topic}, MB/s`, f.mbPerSec);
  if (r.e2e !== null) {
    lo("end to end p50 ms", r.e2e.latencyMs.p50);
    lo("end to end p99 ms", r.e2e.latencyMs.p99);
    lo("end to end p99.9 ms", r.e2e.latencyMs.p999);
  }
  const c = r.client;
  if (c !== undefined && c !== null) {
    // Each sub-phase is null when --client-parts left it out.
    if (c.single !== null) hi("SDK single sends, records/s", c.single.recordsPerSec);
    if (c.batched !== null) hi("SDK batched produce, MB/s", c.batched.mbPerSec);
    if (c.consume !== null) hi("SDK consume, MB/s", c.consume.mbPerSec);
    if (c.e2e !== null) {
      lo("SDK end to end p50 ms", c.e2e.p50);
      lo("SDK end to end p99 ms", c.e2e.p99);
      lo("SDK end to end p99.9 ms", c.e2e.p999);
    }
  }
  return out;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/** Medians of each named figure over the rounds. */
function medians(reports: readonly ClusterReport[]): Map<string, Figure> {
  const byName = new Map<string, Figure[]>();
  for (const r of reports)
    for (const f of figures(r)) byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
  const out = new Map<string, Figure>();
  for (const [name, fs] of byName)
    out.set(name, {
      name,
      better: fs[0]?.better ?? "higher",
      value: median(fs.map((f) => f.value)),
    });
  return out;
}

function printComparison(
  base: Map<string, Figure>,
  current: Map<string, Figure>,
  loads: readonly string[],
  label: { base: string; current: string },
): void {
  const fmt = (x: number) =>
    Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: 2 }) : "-";
  console.log(
    `baseline ${label.base}  vs  current ${label.current}; load at each run: ${loads.join(" | ")}`,
  );
  console.log(`${"figure".padEnd(44)} ${"baseline".padStart(14)} ${"current".padStart(14)}  ratio`);
  for (const [name, c] of current) {
    const b = base.get(name);
    const ratio = b === undefined || b.value === 0 ? Number.NaN : c.value / b.value;
    console.log(
      `${name.padEnd(44)} ${fmt(b?.value ?? Number.NaN).padStart(14)} ${fmt(c.value).padStart(14)}  ${fmt(ratio)}x`,
    );
  }
}

function main(): void {
  const options = parseOptions();
  if (options === null) {
    console.log(usage());
    return;
  }
  const baseline = prepareBaseline(options.baseline);
  const current = run("git", ["rev-parse", "HEAD"], ROOT).trim();
  const baseReports: ClusterReport[] = [];
  const currentReports: ClusterReport[] = [];
  const loads: string[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const [side, dir, into] of [
        ["baseline", baseline.dir, baseReports],
        ["current", ROOT, currentReports],
      ] as const) {
        console.error(`round ${round}/${options.rounds}: ${side}`);
        const report = clusterRun(dir, options.clusterArgs) as ClusterReport;
        loads.push(`${side} ${report.machine.load}`);
        into.push(report);
      }
    }
  } finally {
    if (!options.keep) run("git", ["worktree", "remove", "--force", baseline.dir], ROOT);
  }
  printComparison(medians(baseReports), medians(currentReports), loads, {
    base: `${options.baseline} (${baseline.commit.slice(0, 12)})`,
    current: `HEAD (${current.slice(0, 12)})`,
  });
}

main();
