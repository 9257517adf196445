/**
 * Consumer lag: per partition, log end offset (the high watermark, what consumers can read)
 * minus the committed offset (minus the log start offset when nothing is committed). Log end
 * offsets are looked up at each partition's leader (ListOffsets, routed by the edge). Lag in
 * seconds is the age of the first unconsumed record, read from its batch's record timestamp.
 */

import type { GroupMetrics } from "../admin/group-metrics.ts";
import { describedPartitions, partitionOwners } from "../core/groups/admin.ts";
import type { GroupState } from "../core/groups/state.ts";
import type { GroupCoordinator } from "./coordinator.ts";
import { pruneLag, setLag } from "./metrics.ts";

/** One partition's offsets and lag (-1n where unknown). */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: bigint;
  readonly logEndOffset: bigint;
  readonly lag: bigint;
  readonly ownerMemberId: string;
}

/** The lag of every partition a group commits to or owns; `withLag` false skips the lookups. */
export async function groupLag(
  coord: GroupCoordinator,
  g: GroupState,
  withLag: boolean,
): Promise<PartitionLag[]> {
  const partitions = describedPartitions(g);
  const owners = partitionOwners(g);
  const committed = partitions.map((p) => g.offsets.get(p.topic)?.get(p.partition)?.offset ?? -1n);
  const ends = withLag
    ? await coord.edge.lookupOffsets(partitions.map((p) => ({ ...p, spec: "latest" as const })))
    : [];
  const uncommitted = partitions.filter((_, i) => (committed[i] ?? -1n) < 0n);
  const starts =
    withLag && uncommitted.length > 0
      ? await coord.edge.lookupOffsets(
          uncommitted.map((p) => ({ ...p, spec: "earliest" as const })),
        )
      : [];
  const startOf = new Map(
    starts.map((s) => [`${s.topic}\u0000${s.partition}`, s.errorCode === 0 ? s.offset : -1n]),
  );
  return partitions.map((p, i) => {
    const end = ends[i];
    const logEndOffset = end !== undefined && end.errorCode === 0 ? end.offset : -1n;
    const c = committed[i] ?? -1n;
    const base = c >= 0n ? c : (startOf.get(`${p.topic}\u0000${p.partition}`) ?? -1n);
    const lag =
      logEndOffset >= 0n && base >= 0n ? (logEndOffset > base ? logEndOffset - base : 0n) : -1n;
    return {
      ...p,
      committedOffset: c,
      logEndOffset,
      lag,
      ownerMemberId: owners.get(`${p.topic}\u0000${p.partition}`) ?? "",
    };
  });
}

/** Publishes a group's lag gauges from freshly looked-up partition lags. */
export async function publishGroupLag(
  coord: GroupCoordinator,
  metrics: GroupMetrics,
  groupId: string,
  lags: readonly PartitionLag[],
): Promise<void> {
  const now = coord.now;
  const byTopic = new Map<
    string,
    { sum: number; max: number; oldest: number | null; known: boolean }
  >();
  for (const l of lags) {
    const t = byTopic.get(l.topic) ?? { sum: 0, max: 0, oldest: null, known: true };
    if (l.lag < 0n) t.known = false;
    if (l.lag > 0n) {
      t.sum += Number(l.lag);
      t.max = Math.max(t.max, Number(l.lag));
      const first = l.logEndOffset - l.lag;
      const ts = await coord.edge.recordTimestamp(l.topic, l.partition, first).catch(() => null);
      if (ts !== null && ts >= 0n)
        t.oldest = Math.min(t.oldest ?? Number.MAX_SAFE_INTEGER, Number(ts));
    }
    byTopic.set(l.topic, t);
  }
  for (const [topic, t] of byTopic) {
    if (!t.known && t.sum === 0) continue;
    const seconds =
      t.oldest !== null ? Math.max(0, (now - t.oldest) / 1000) : t.sum === 0 ? 0 : null;
    setLag(metrics, groupId, topic, t.sum, t.max, seconds);
  }
  pruneLag(metrics, groupId, new Set(byTopic.keys()));
}

/** Recomputes the lag gauges of every group this broker coordinates. */
export async function refreshLagMetrics(
  coord: GroupCoordinator,
  metrics: GroupMetrics,
): Promise<void> {
  for (const p of coord.partitions)
    for (const g of [...p.state.groups.values()])
      await publishGroupLag(coord, metrics, g.groupId, await groupLag(coord, g, true));
}
