/** Keeps a group's gauges in step with its state (or removes them when it is gone). */
import type { GroupMetrics } from "../admin/group-metrics.ts";
import type { GroupState } from "../core/groups/state.ts";

/** The (group, topic) lag series published per metrics object, so they can be removed. */
const lagSeries = new WeakMap<GroupMetrics, Map<string, Set<string>>>();

function seriesOf(metrics: GroupMetrics): Map<string, Set<string>> {
  let m = lagSeries.get(metrics);
  if (m === undefined) {
    m = new Map();
    lagSeries.set(metrics, m);
  }
  return m;
}

/** Publishes one group's lag on one topic. */
export function setLag(
  metrics: GroupMetrics,
  group: string,
  topic: string,
  sum: number,
  max: number,
  seconds: number | null,
): void {
  const labels = { group, topic };
  metrics.lagRecords.set(labels, sum);
  metrics.lagMaxRecords.set(labels, max);
  if (seconds === null) metrics.lagSeconds.remove(labels);
  else metrics.lagSeconds.set(labels, seconds);
  const topics = seriesOf(metrics).get(group) ?? new Set<string>();
  topics.add(topic);
  seriesOf(metrics).set(group, topics);
}

/** Removes the lag series of a group on topics not in `keep`. */
export function pruneLag(metrics: GroupMetrics, group: string, keep: ReadonlySet<string>): void {
  const topics = seriesOf(metrics).get(group);
  if (topics === undefined) return;
  for (const topic of [...topics]) {
    if (keep.has(topic)) continue;
    for (const gauge of [metrics.lagRecords, metrics.lagMaxRecords, metrics.lagSeconds])
      gauge.remove({ group, topic });
    topics.delete(topic);
  }
  if (topics.size === 0) seriesOf(metrics).delete(group);
}

/** Sets members and assignment epoch of `groupId`, or removes its series when `g` is undefined. */
export function refreshGroupGauges(
  metrics: GroupMetrics,
  groupId: string,
  g: GroupState | undefined,
): void {
  if (g === undefined) {
    metrics.members.remove({ group: groupId });
    metrics.assignmentEpoch.remove({ group: groupId });
    metrics.rebalancesTotal.remove({ group: groupId });
    pruneLag(metrics, groupId, new Set());
    return;
  }
  metrics.members.set({ group: groupId }, g.members.size);
  metrics.assignmentEpoch.set({ group: groupId }, g.assignmentEpoch);
}
