/**
 * Garbage-collector pauses of the nodes during a benchmark phase, from prom-client's default
 * `nodejs_gc_duration_seconds` histogram on each node's /metrics: how many pauses and how much
 * pause time, and how many were >= 10 ms and >= 100 ms (the histogram's bucket bounds), so an
 * end-to-end tail can be set beside the pauses that could explain it.
 */
import type { NodeProcess } from "../lib/cluster.ts";

/** Cumulative GC figures of one node (summed over GC kinds). */
export interface GcTotals {
  readonly count: number;
  readonly seconds: number;
  readonly atLeast10ms: number;
  readonly atLeast100ms: number;
}

const NAME = "nodejs_gc_duration_seconds";

function sumOf(lines: readonly string[], prefix: string, le?: string): number {
  let total = 0;
  for (const line of lines) {
    if (!line.startsWith(prefix)) continue;
    if (le !== undefined && !line.includes(`le="${le}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
  }
  return total;
}

/** Every node's cumulative GC totals now (node id -> totals). */
export async function gcTotals(nodes: readonly NodeProcess[]): Promise<Map<number, GcTotals>> {
  const out = new Map<number, GcTotals>();
  for (const n of nodes) {
    const { body } = await n.http("/metrics").catch(() => ({ body: "" }));
    const lines = body.split("\n");
    const count = sumOf(lines, `${NAME}_count`);
    out.set(n.id, {
      count,
      seconds: sumOf(lines, `${NAME}_sum`),
      atLeast10ms: count - sumOf(lines, `${NAME}_bucket`, "0.01"),
      atLeast100ms: count - sumOf(lines, `${NAME}_bucket`, "0.1"),
    });
  }
  return out;
}

/** What happened between two readings, per node. */
export function gcDelta(
  before: ReadonlyMap<number, GcTotals>,
  after: ReadonlyMap<number, GcTotals>,
): Record<number, GcTotals> {
  const out: Record<number, GcTotals> = {};
  for (const [id, a] of after) {
    const b = before.get(id) ?? { count: 0, seconds: 0, atLeast10ms: 0, atLeast100ms: 0 };
    out[id] = {
      count: a.count - b.count,
      seconds: a.seconds - b.seconds,
      atLeast10ms: a.atLeast10ms - b.atLeast10ms,
      atLeast100ms: a.atLeast100ms - b.atLeast100ms,
    };
  }
  return out;
}
