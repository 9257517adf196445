/**
 * Memory of the nodes during the cluster benchmark's soak (`--soak-minutes N`): resident set
 * and V8 heap per node, read from each node's own /metrics (prom-client's default process
 * metrics), sampled at the start, periodically and at the end, so a leak shows as a trend
 * rather than one noisy figure. On Linux each sample also splits the resident set into
 * anonymous memory (heap, buffers, malloc arenas) and file pages (code, mapped files) from
 * /proc/<pid>/smaps_rollup: RSS that grows outside the V8 heap and external counters is
 * anonymous memory the allocator holds.
 */
import { readFileSync } from "node:fs";
import type { NodeProcess } from "../lib/cluster.ts";

/** One node's memory at one moment, in MB (10^6 bytes). */
export interface MemorySample {
  readonly node: number;
  readonly atSeconds: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  /** Buffers outside the V8 heap (records, the tail cache, gRPC frames). */
  readonly externalMb: number;
  /** Anonymous resident memory (smaps_rollup); NaN off Linux. */
  readonly anonMb: number;
}

/** A node's anonymous resident memory in MB from /proc/<pid>/smaps_rollup, or NaN. */
function anonymousMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = /^Anonymous:\s+(\d+) kB/m.exec(text)?.[1];
    return kb === undefined ? Number.NaN : (Number(kb) * 1024) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/** The value of a metric with one series (labels such as node_id allowed), or NaN. */
export function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) return Number.NaN;
  const afterLabels = line.slice(line.lastIndexOf("}") + 1 || name.length).trim();
  return Number(afterLabels.split(" ")[0]);
}

/** Every node's memory now; `atSeconds` is the caller's clock. */
export async function memorySamples(
  nodes: readonly NodeProcess[],
  atSeconds: number,
): Promise<MemorySample[]> {
  return Promise.all(
    nodes.map(async (n) => {
      const { status, body } = await n.http("/metrics");
      if (status !== 200) throw new Error(`node ${n.id} /metrics answered ${status}`);
      const mb = (name: string) => metricValue(body, name) / 1e6;
      return {
        node: n.id,
        atSeconds,
        rssMb: mb("process_resident_memory_bytes"),
        heapUsedMb: mb("nodejs_heap_size_used_bytes"),
        heapTotalMb: mb("nodejs_heap_size_total_bytes"),
        externalMb: mb("nodejs_external_memory_bytes"),
        anonMb: anonymousMb(n.child.pid),
      };
    }),
  );
}

/**
 * Samples every `intervalMs` until stopped; a failed sample (a node busy past the HTTP
 * timeout) is skipped rather than ending the soak.
 */
export function memorySampler(
  nodes: readonly NodeProcess[],
  intervalMs: number,
): { stop(): Promise<MemorySample[]> } {
  const started = performance.now();
  const samples: MemorySample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const at = (performance.now() - started) / 1000;
      samples.push(...(await memorySamples(nodes, at).catch(() => [])));
      for (let waited = 0; waited < intervalMs && !stopped; waited += 250)
        await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      samples.push(...(await memorySamples(nodes, (performance.now() - started) / 1000)));
      return samples;
    },
  };
}

/** Per node: the first and the last sample, the largest RSS and heap seen, and the series. */
export interface MemoryTrend {
  readonly node: number;
  readonly start: MemorySample;
  readonly end: MemorySample;
  readonly rssMaxMb: number;
  readonly heapUsedMaxMb: number;
  /** Every sample, oldest first: whether RSS levels off shows here, not in start and end. */
  readonly samples: readonly MemorySample[];
}

/** Groups samples by node into first/last/max. */
export function memoryTrends(samples: readonly MemorySample[]): MemoryTrend[] {
  const byNode = new Map<number, MemorySample[]>();
  for (const s of samples) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);
  return [...byNode.entries()]
    .sort(([a], [b]) => a - b)
    .map(([node, list]) => ({
      node,
      start: list[0] as MemorySample,
      end: list[list.length - 1] as MemorySample,
      rssMaxMb: Math.max(...list.map((s) => s.rssMb)),
      heapUsedMaxMb: Math.max(...list.map((s) => s.heapUsedMb)),
      samples: list,
    }));
}
