/**
 * Wires the scrape-time collectors (admin/node-collectors.ts) to a node's parts: the controller's
 * Raft driver and image, the broker's lifecycle, client listener and replicas, the log dir.
 */
import type { ControllerNode, MetadataImage } from "@strand/controller";
import type { LogManager } from "@strand/storage";
import type { BrokerMetrics } from "../admin/metrics.ts";
import {
  type ClusterSample,
  type RaftSample,
  registerNodeCollectors,
} from "../admin/node-collectors.ts";
import type { ClientListener } from "./client-listener.ts";
import type { BrokerLifecycle } from "./lifecycle.ts";
import type { NodeReplicaManager } from "./replica-factory.ts";

/** The node parts the collectors read; each getter answers null until the part exists. */
export interface MetricNodeParts {
  readonly dataDir: string;
  controller(): ControllerNode | null;
  logs(): LogManager | null;
  broker(): {
    readonly lifecycle: BrokerLifecycle;
    readonly clientListener: ClientListener;
    readonly replicas: NodeReplicaManager;
  } | null;
}

/** Registers the node's scrape-time metrics and counts Raft leader changes. */
export function registerNodeMetrics(metrics: BrokerMetrics, parts: MetricNodeParts): void {
  const { raftLeaderChanges } = registerNodeCollectors(metrics.registry, {
    dataDir: parts.dataDir,
    partitionLabels: metrics.partitionLabels,
    raft: () => raftSample(parts.controller()),
    activeController: () => parts.controller()?.controller.isActive ?? null,
    cluster: () => {
      const c = parts.controller();
      return c?.controller.isActive === true ? clusterSample(c.controller.image) : null;
    },
    openConnections: () => parts.broker()?.clientListener.stats().open ?? null,
    brokerFenced: () => parts.broker()?.lifecycle.state.fenced ?? null,
    logDirOffline: () => (parts.logs()?.offlineReason ?? null) !== null,
    tailCache: () => parts.logs()?.tailCache.stats() ?? null,
    partitionLogs: () =>
      (parts.broker()?.replicas.partitionStatuses() ?? []).map((p) => ({
        topic: p.topic,
        partition: p.partition,
        sizeBytes: p.sizeBytes,
        segments: p.segments,
        startOffset: p.logStartOffset,
        endOffset: p.logEndOffset,
      })),
  });
  parts.controller()?.driver.onLeaderChange(() => raftLeaderChanges.inc());
}

function raftSample(c: ControllerNode | null): RaftSample | null {
  if (c === null) return null;
  const s = c.driver.status();
  const leader = s.role === "leader";
  return {
    term: Number(s.term),
    commitIndex: Number(s.commit),
    appliedIndex: Number(s.applied),
    lastIndex: Number(s.lastIndex),
    leader,
    voterLag: leader
      ? s.voterMatch.map((m) => ({
          voter: Number(m.id),
          entries: Math.max(0, Number(s.lastIndex) - Number(m.match)),
        }))
      : [],
  };
}

/** Counts of the image; offline = a partition with no leader. */
export function clusterSample(image: MetadataImage): ClusterSample {
  let partitions = 0;
  let offline = 0;
  for (const t of image.topicsById.values())
    for (const p of t.partitions.values()) {
      partitions += 1;
      if (p.leader === null) offline += 1;
    }
  let fenced = 0;
  for (const b of image.brokers.values()) if (b.fenced) fenced += 1;
  return {
    brokers: image.brokers.size,
    fencedBrokers: fenced,
    topics: image.topicsById.size,
    partitions,
    offlinePartitions: offline,
  };
}
