/**
 * Runs the benchmark suites: `npm run bench -- [cluster|storage|protocol|...|all] [suite options]`.
 * Each suite is its own script; this one only dispatches, so `npm run bench` has one entry.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const suites: Record<string, string> = {
  acl: "bench-acl.ts",
  cleaner: "bench-cleaner.ts",
  cluster: "bench-cluster.ts",
  compare: "bench-compare.ts",
  groups: "bench-groups.ts",
  "groups-load": "bench-groups-load.ts",
  partitions: "bench-partitions.ts",
  protocol: "bench-protocol.ts",
  storage: "bench-storage.ts",
  "transport-gc": "bench-transport-gc.ts",
};

const [which = "all", ...rest] = process.argv.slice(2);
if (which === "--help" || (which !== "all" && !(which in suites))) {
  console.log(`usage: npm run bench -- [${Object.keys(suites).join("|")}|all] [options]`);
  process.exit(which === "--help" ? 0 : 2);
}
// `all` leaves out `partitions` (30,000 replicas and a node kill: minutes) and `compare`
// (it needs a baseline revision).
const selected =
  which === "all"
    ? Object.values(suites).filter((s) => s !== suites.partitions && s !== suites.compare)
    : [suites[which] as string];
for (const script of selected) {
  console.log(`\n== ${script}`);
  const run = spawnSync(
    process.execPath,
    ["--conditions=strand-source", join(import.meta.dirname, script), ...rest],
    { stdio: "inherit" },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
}
