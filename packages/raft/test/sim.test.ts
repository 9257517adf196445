// Goal: the Raft core keeps every safety invariant and converges after faults stop, over
// 2000 simulator seeds (3- and 5-node clusters, all faults), and a seed replays exactly.
import { describe, expect, it } from "vitest";
import { runSeed, Simulation } from "../src/sim/index.ts";

/** Runs seeds [from, from + count) and returns the failing summaries with replay hints. */
function runSeeds(from: number, count: number): string[] {
  const failures: string[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const r = runSeed({ seed });
    if (!r.ok) {
      failures.push(
        `${r.summary}: ${r.failure?.message} (replay: scripts/sim.ts --seed ${seed} --trace)`,
      );
    }
  }
  return failures;
}

describe("simulator: 2000 seeds", () => {
  for (let part = 0; part < 4; part++) {
    const from = part * 500;
    it(`seeds ${from}..${from + 499} keep safety and liveness`, () => {
      expect(runSeeds(from, 500)).toEqual([]);
    }, 120_000);
  }
});

describe("simulator: determinism", () => {
  it("the same seed replays the same events, trace and outcome", () => {
    const a = new Simulation({ seed: 7, trace: true }).run();
    const b = new Simulation({ seed: 7, trace: true }).run();
    expect(a.summary).toBe(b.summary);
    expect(a.trace).toEqual(b.trace);
    expect(a.stats.events).toBeGreaterThan(1000);
  });

  it("a run exercises the faults it claims to (summed over 50 seeds)", () => {
    const total = { crashes: 0, wipes: 0, partitions: 0, snapshots: 0, changes: 0, acked: 0 };
    for (let seed = 0; seed < 50; seed++) {
      const s = runSeed({ seed }).stats;
      total.crashes += s.crashes;
      total.wipes += s.wipes;
      total.partitions += s.partitions;
      total.snapshots += s.snapshotsSent;
      total.changes += s.voterChanges;
      total.acked += s.acked;
    }
    for (const [k, v] of Object.entries(total)) expect(v, k).toBeGreaterThan(0);
  });
});
