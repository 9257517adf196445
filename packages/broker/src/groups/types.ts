/**
 * What the group coordinator shell needs from the node and offers to the GroupService edge.
 * No protobuf here: the edge translates (test/layering.test.ts).
 */
import type { Logger } from "@strand/base";
import type { MetadataImage } from "@strand/controller";
import type { ErrorCodeInfo } from "@strand/protocol";
import type { GroupMetrics } from "../admin/group-metrics.ts";
import type { GroupConfig } from "../core/groups/types.ts";
import type { OffsetSpec, ReplicaManagerApi } from "../replica/types.ts";

/** The internal topic that holds committed offsets and group state. */
export const OFFSETS_TOPIC = "__consumer_offsets";

/** Where a group's coordinator is (node id -1 and empty host when unknown). */
export interface CoordinatorHintInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** No coordinator known. */
export const NO_HINT: CoordinatorHintInfo = Object.freeze({ nodeId: -1, host: "", port: 0 });

/** A group request this broker cannot serve now (not the coordinator, loading, ...). */
export class CoordinatorError extends Error {
  readonly error: ErrorCodeInfo;
  readonly hint: CoordinatorHintInfo;

  constructor(error: ErrorCodeInfo, message: string, hint: CoordinatorHintInfo = NO_HINT) {
    super(message);
    this.name = "CoordinatorError";
    this.error = error;
    this.hint = hint;
  }
}

/** One offset lookup (routed to the partition's leader by the edge). */
export interface OffsetLookup {
  readonly topic: string;
  readonly partition: number;
  readonly spec: OffsetSpec;
}

/** Its answer. */
export interface OffsetLookupResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string;
  readonly offset: bigint;
}

/** Settings of the offsets topic. */
export interface OffsetsTopicSettings {
  readonly numPartitions: number;
  readonly replicationFactor: number;
  /** segment.bytes of the topic (`offsets.topic.segment.bytes`). */
  readonly segmentBytes: number;
}

/** What the coordinator asks of the rest of the cluster (the gRPC edge implements it). */
export interface GroupEdge {
  /** Asks the controller to create the offsets topic (errors are logged and retried later). */
  createOffsetsTopic(settings: OffsetsTopicSettings): Promise<void>;
  /** ListOffsets routed to each partition's leader. */
  lookupOffsets(items: readonly OffsetLookup[]): Promise<OffsetLookupResult[]>;
  /** The timestamp of the first record at or after `offset` (null: none or unknown). */
  recordTimestamp(topic: string, partition: number, offset: bigint): Promise<bigint | null>;
}

/** What {@link GroupCoordinator} needs. */
export interface GroupCoordinatorOptions {
  readonly brokerId: number;
  readonly replicas: ReplicaManagerApi;
  image(): MetadataImage;
  readonly logger: Logger;
  readonly config: GroupConfig;
  readonly offsetsTopic: OffsetsTopicSettings;
  /** Cluster lookups; given here or later through {@link GroupCoordinator.bindEdge}. */
  readonly edge?: GroupEdge;
  readonly metrics?: GroupMetrics;
  /** How long an append waits for replication (acks=all). */
  readonly appendTimeoutMs: number;
  /** Default Date.now. */
  readonly clock?: () => number;
  /** Default a random UUID. */
  readonly newMemberId?: () => string;
  /** Timer resolution; default 100 ms. */
  readonly tickMs?: number;
  /** How often lag metrics are refreshed; default 10 s (0: never). */
  readonly lagRefreshMs?: number;
}
