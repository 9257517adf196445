// Goal: prove the simulator's checker bites. Each unsafe switch removes one rule of Raft; the
// simulator must report a safety violation within a bounded number of seeds. Seeds are
// deterministic, so these tests are too; the rates are in docs/raft.md.
import { describe, expect, it } from "vitest";
import type { SimOptions } from "../src/sim/index.ts";
import { runSeed } from "../src/sim/index.ts";

/** The first seed in [0, limit) whose run reports a safety violation, with its message. */
function firstViolation(options: Omit<SimOptions, "seed">, limit: number): string | null {
  for (let seed = 0; seed < limit; seed++) {
    const r = runSeed({ ...options, seed });
    if (r.failure?.kind === "safety") return `seed ${seed}: ${r.failure.message}`;
  }
  return null;
}

describe("the checker bites", () => {
  it("catches votes granted without the up-to-date log check (§5.4.1)", () => {
    const found = firstViolation({ unsafe: { skipVoteLogCheck: true } }, 50);
    expect(found).toMatch(/^seed \d+: .*(committed|log matching|state machine)/);
  });

  it("catches a leader committing an earlier term's entry by counting (Figure 8)", () => {
    // The window is one round trip after an election, so aim at it: 3 nodes, one entry per
    // append (the old entry reaches a majority before the new leader's no-op does).
    const found = firstViolation(
      { nodes: 3, unsafe: { commitPreviousTermByCounting: true }, tuning: { appendEntriesMax: 1 } },
      1000,
    );
    expect(found).not.toBeNull();
  }, 120_000);

  it("the safe core passes the same aimed configuration", () => {
    expect(firstViolation({ nodes: 3, tuning: { appendEntriesMax: 1 } }, 300)).toBeNull();
  }, 120_000);
});
