/**
 * Feeds the log cleaner's tick reports (from @strand/storage) into the node's metrics: bytes
 * cleaned and written, records removed, pass time, and the largest dirty ratio.
 */
import type { CleanerPassReport } from "@strand/storage";
import type { BrokerMetrics } from "../admin/metrics.ts";

/** Records one cleaner tick. */
export function recordCleanerPass(metrics: BrokerMetrics, report: CleanerPassReport): void {
  metrics.logCleanerMaxDirtyRatio.set(report.maxDirtyRatio);
  const { cleaned, result } = report;
  if (cleaned === undefined || result === undefined || !result.cleaned) return;
  const labels = { topic: cleaned.topic };
  metrics.logCleanerCleanedBytesTotal.inc(labels, result.bytesRead);
  metrics.logCleanerWrittenBytesTotal.inc(labels, result.bytesWritten);
  metrics.logCleanerRemovedRecordsTotal.inc(labels, result.recordsRemoved);
  metrics.logCleanerPassDurationSeconds.observe(report.durationMs / 1000);
}
