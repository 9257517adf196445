/**
 * Summarizes V8 `.cpuprofile` files (from `node --cpu-prof`): self time per function (name,
 * file:line) and per area (Strand package, grpc-js, protobufjs, node internals, GC, idle),
 * from the sample list and its time deltas. Also runnable on its own:
 *
 *   node scripts/bench/cpuprofile.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  /** Microseconds of CLOCK_MONOTONIC, the clock of `process.hrtime` in every process. */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTimeRow {
  readonly name: string;
  readonly where: string;
  readonly area: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly busyMs: number;
  readonly functions: readonly SelfTimeRow[];
  readonly areas: readonly { area: string; ms: number; share: number }[];
}

const root = relative("/", `${import.meta.dirname}/../..`);

/** Which part of the stack a file belongs to. */
function areaOf(url: string, name: string): string {
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)") return "program (native, unattributed)";
  const m = /packages\/([a-z]+)\/src/.exec(url);
  if (m !== null && !url.includes("node_modules")) return `@strand/${m[1]}`;
  if (url.includes("@grpc/grpc-js")) return "grpc-js";
  if (url.includes("protobufjs") || url.includes("@protobufjs")) return "protobufjs";
  if (url.includes("pino")) return "pino";
  if (url.includes("prom-client")) return "prom-client";
  if (url.startsWith("node:")) return "node internals";
  if (url === "") return "native / builtins";
  return "other";
}

function where(url: string, line: number): string {
  if (url === "") return "";
  const path = url.replace(/^file:\/\//, "").replace(`/${root}/`, "");
  return `${path}:${line + 1}`;
}

/** A time window in microseconds of `process.hrtime` (shared by all processes of a machine). */
export interface WindowUs {
  readonly fromUs: number;
  readonly toUs: number;
}

/** The current time on the profiles' clock. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time of every function in `files` (several profiles are summed), counting only samples
 * inside `window` when one is given (e.g. one measured phase, without start-up).
 */
export function summarizeProfiles(
  files: readonly string[],
  top = 25,
  window?: WindowUs,
): ProfileSummary {
  const byKey = new Map<string, { name: string; where: string; area: string; ms: number }>();
  const areas = new Map<string, number>();
  let totalMs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parentOf = new Map<number, ProfileNode>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n);
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i]!);
      t += profile.timeDeltas[i] ?? 0;
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue;
      if (node === undefined || ms <= 0) continue;
      totalMs += ms;
      const f = node.callFrame;
      const name = f.functionName === "" ? "(anonymous)" : f.functionName;
      const area = areaOf(f.url, name);
      areas.set(area, (areas.get(area) ?? 0) + ms);
      // A native function (no url) is named with the JS function that called it: "read" alone
      // says nothing, "read <- readAt" says which part of the code pays for it.
      const caller = f.url === "" && !name.startsWith("(") ? jsCaller(node, parentOf) : null;
      const key = `${name}\u0000${f.url}\u0000${f.lineNumber}\u0000${caller === null ? "" : `${caller.callFrame.url}:${caller.callFrame.lineNumber}`}`;
      const row = byKey.get(key) ?? {
        name:
          caller === null ? name : `${name} <- ${caller.callFrame.functionName || "(anonymous)"}`,
        where:
          caller === null
            ? where(f.url, f.lineNumber)
            : where(caller.callFrame.url, caller.callFrame.lineNumber),
        area,
        ms: 0,
      };
      row.ms += ms;
      byKey.set(key, row);
    }
  }
  const busyMs = totalMs - (areas.get("idle") ?? 0);
  const share = (ms: number) => (busyMs > 0 ? ms / busyMs : 0);
  const functions = [...byKey.values()]
    .filter((r) => r.area !== "idle")
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
    .map((r) => ({ ...r, share: share(r.ms) }));
  const areaRows = [...areas.entries()]
    .filter(([a]) => a !== "idle")
    .sort((a, b) => b[1] - a[1])
    .map(([area, ms]) => ({ area, ms, share: share(ms) }));
  return { totalMs, busyMs, functions, areas: areaRows };
}

/** The nearest ancestor of `node` in application or library code, not node internals. */
function jsCaller(
  node: ProfileNode,
  parentOf: ReadonlyMap<number, ProfileNode>,
): ProfileNode | null {
  let cur = parentOf.get(node.id);
  for (let depth = 0; cur !== undefined && depth < 64; depth++) {
    const url = cur.callFrame.url;
    if (url !== "" && !url.startsWith("node:")) return cur;
    cur = parentOf.get(cur.id);
  }
  return null;
}

/** Prints a summary as two tables (shares are of busy time: total minus idle). */
export function printProfileSummary(title: string, s: ProfileSummary): void {
  console.log(
    `\n${title}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(s.busyMs / 1000).toFixed(1)} s busy (${((100 * s.busyMs) / Math.max(1, s.totalMs)).toFixed(0)} %)`,
  );
  console.log("  self time by area (share of busy time)");
  for (const a of s.areas)
    console.log(`    ${(100 * a.share).toFixed(1).padStart(5)} %  ${a.area}`);
  console.log("  top functions by self time");
  for (const f of s.functions)
    console.log(
      `    ${(100 * f.share).toFixed(1).padStart(5)} %  ${f.name.padEnd(34)} ${f.where}  [${f.area}]`,
    );
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "25" } },
  });
  if (positionals.length === 0) {
    console.log("usage: node scripts/bench/cpuprofile.ts FILE.cpuprofile... [--top N]");
    process.exit(2);
  }
  printProfileSummary(positionals.join(", "), summarizeProfiles(positionals, Number(values.top)));
}
