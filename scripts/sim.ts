/**
 * The Raft simulator's command line.
 *
 *   node --conditions=strand-source scripts/sim.ts --seeds 1000 [--from 0] [--nodes 3|5]
 *   node --conditions=strand-source scripts/sim.ts --seed 42 [--nodes 3|5] --trace
 *
 * Batch mode runs seeds from..from+N-1 and, for each failing seed, prints the one-line command
 * that replays it. Single-seed mode prints the plan drawn from the seed first, then the
 * summary; with --trace, the readable event trace (the tail of it on failure).
 */
import { parseArgs } from "node:util";
import type { SimOptions } from "@strand/raft/sim";
import { runSeed, Simulation } from "@strand/raft/sim";

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    from: { type: "string", default: "0" },
    seed: { type: "string" },
    nodes: { type: "string" },
    trace: { type: "boolean", default: false },
    "trace-lines": { type: "string", default: "400" },
  },
});

function nodesOption(): SimOptions["nodes"] {
  if (values.nodes === undefined) return undefined;
  if (values.nodes !== "3" && values.nodes !== "5") throw new Error("--nodes must be 3 or 5");
  return values.nodes === "3" ? 3 : 5;
}

function replayCommand(seed: number): string {
  const n = values.nodes === undefined ? "" : ` --nodes ${values.nodes}`;
  return `node --conditions=strand-source scripts/sim.ts --seed ${seed}${n} --trace`;
}

function single(seed: number): number {
  const nodes = nodesOption();
  const sim = new Simulation({ seed, nodes, trace: values.trace });
  console.log(`seed ${seed}: ${sim.describe()}`);
  const r = sim.run();
  if (values.trace) {
    const max = Number(values["trace-lines"]);
    const lines = r.ok || r.trace.length <= max ? r.trace : r.trace.slice(-max);
    if (lines.length < r.trace.length)
      console.log(`... (${r.trace.length - lines.length} earlier lines)`);
    for (const l of lines) console.log(l);
  }
  console.log(r.summary);
  if (r.failure !== null) console.log(`${r.failure.kind}: ${r.failure.message}`);
  return r.ok ? 0 : 1;
}

function batch(count: number, from: number): number {
  const nodes = nodesOption();
  console.log(`seeds ${from}..${from + count - 1}${nodes === undefined ? "" : ` nodes=${nodes}`}`);
  const started = performance.now();
  let failed = 0;
  let events = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = runSeed({ seed, nodes });
    events += r.stats.events;
    if (r.ok) continue;
    failed++;
    console.log(
      `${r.summary}\n  ${r.failure?.kind}: ${r.failure?.message}\n  replay: ${replayCommand(seed)}`,
    );
  }
  const ms = performance.now() - started;
  console.log(
    `${count - failed}/${count} seeds passed in ${(ms / 1000).toFixed(1)}s ` +
      `(${(ms / count).toFixed(1)} ms/seed, ${events} events)`,
  );
  return failed === 0 ? 0 : 1;
}

if (values.seed !== undefined) process.exitCode = single(Number(values.seed));
else if (values.seeds !== undefined)
  process.exitCode = batch(Number(values.seeds), Number(values.from));
else {
  console.log(
    "usage: scripts/sim.ts --seeds N [--from S] [--nodes 3|5] | --seed S [--nodes 3|5] [--trace]",
  );
  process.exitCode = 2;
}
