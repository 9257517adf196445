/**
 * The deterministic simulator of the Raft core (test and dev tooling; not used in production).
 * @packageDocumentation
 */
export { InvariantViolation, SafetyChecker } from "./checker.ts";
export { formatEntry, formatMessage } from "./format.ts";
export type { SimOptions, SimResult, SimStats } from "./simulation.ts";
export { Simulation } from "./simulation.ts";

import type { SimOptions, SimResult } from "./simulation.ts";
import { Simulation } from "./simulation.ts";

/** Runs one seed and returns its result. */
export function runSeed(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
