/**
 * Consumer-group metrics (docs/consumer-groups.md, "Metrics"), on the node's registry. Labels
 * are bounded: group and topic, never partition or member. A coordinator exports only the
 * groups it coordinates, and drops their series when it stops coordinating them.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The group coordinator's metrics. */
export interface GroupMetrics {
  /** Summed lag (log end offset - committed offset) over a topic's partitions. */
  readonly lagRecords: Gauge<"group" | "topic">;
  /** The largest partition lag of a topic. */
  readonly lagMaxRecords: Gauge<"group" | "topic">;
  /** Age of the oldest unconsumed record of a topic's partitions. */
  readonly lagSeconds: Gauge<"group" | "topic">;
  /** Members of a group. */
  readonly members: Gauge<"group">;
  /** The group's target assignment epoch. */
  readonly assignmentEpoch: Gauge<"group">;
  /** New target assignments computed (group epoch bumps). */
  readonly rebalancesTotal: Counter<"group">;
  /** Time to load an offsets partition on becoming its leader. */
  readonly loadDurationSeconds: Histogram;
}

/** Creates the group metrics on `registry`. */
export function createGroupMetrics(registry: Registry): GroupMetrics {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    lagRecords: gauge(
      "strand_group_lag_records",
      "Summed consumer lag of a group on a topic, in records.",
      ["group", "topic"],
    ),
    lagMaxRecords: gauge(
      "strand_group_lag_max_records",
      "Largest partition lag of a group on a topic, in records.",
      ["group", "topic"],
    ),
    lagSeconds: gauge(
      "strand_group_lag_seconds",
      "Age of the oldest unconsumed record of a group on a topic.",
      ["group", "topic"],
    ),
    members: gauge("strand_group_members", "Members of a consumer group.", ["group"]),
    assignmentEpoch: gauge(
      "strand_group_assignment_epoch",
      "Target assignment epoch of a consumer group.",
      ["group"],
    ),
    rebalancesTotal: new Counter({
      name: "strand_group_rebalances_total",
      help: "Target assignments computed for a group (group epoch bumps).",
      labelNames: ["group"],
      registers: [registry],
    }),
    loadDurationSeconds: new Histogram({
      name: "strand_group_coordinator_load_duration_seconds",
      help: "Time to load the groups of an offsets partition on becoming its leader.",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
