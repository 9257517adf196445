/**
 * What the replica fetcher needs of a followed partition. The replica manager implements it
 * over its `Partition`; the fetcher never changes roles, only the log and the follower state.
 */
import type { Logger } from "@strand/base";
import type { BrokerId, MetadataImage } from "@strand/controller";
import type { Log } from "@strand/storage";
import type { BrokerMetrics } from "../../admin/metrics.ts";
import type { FollowerPartitionState } from "../../core/follower-partition.ts";
import type { ReplicaFetchAnswer, ReplicaFetchQuery } from "../replica-fetch.ts";

/** A partition a fetcher replicates. */
export interface FetcherPartition {
  /** `${topic}-${partition}`. */
  readonly key: string;
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly log: Log;
  /** The pure follower state now (replaced by `resetFollower`). */
  follower(): FollowerPartitionState | null;
  /** A fresh follower state from the log's position (after a failed append). */
  resetFollower(): FollowerPartitionState | null;
  /** The follower's HW moved. */
  onHighWatermark(highWatermark: bigint): void;
  /** Batches were just appended at `firstOffset` (feeds state kept beside the log). */
  onAppended(records: Buffer, firstOffset: bigint): void;
}

/** Settings and collaborators of the fetchers. */
export interface FetcherOptions {
  /** This (follower) broker. */
  readonly brokerId: BrokerId;
  /** Its registration epoch, sent with every request. */
  readonly brokerEpoch: () => number;
  /** The metadata image, for leader addresses. */
  readonly image: () => MetadataImage;
  readonly logger: Logger;
  readonly metrics: BrokerMetrics | null;
  readonly clock: () => number;
  /** `replica.fetch.max.wait.ms`. */
  readonly maxWaitMs: number;
  /** `replica.fetch.max.bytes`. */
  readonly partitionMaxBytes: number;
  /** `replica.fetch.response.max.bytes`. */
  readonly responseMaxBytes: number;
  /** An answer later than max wait + this abandons the stream. */
  readonly responseTimeoutMs: number;
  /** First reconnect / error backoff. */
  readonly backoffMs: number;
  /** Largest reconnect backoff. */
  readonly backoffMaxMs: number;
  /** How requests reach leaders. */
  readonly transport: ReplicationTransport;
}

/**
 * How a fetcher reaches leaders, in domain types. Injected so the follower wing never sees
 * gRPC or protobuf; services/replication-client.ts implements it over ReplicationService.
 */
export interface ReplicationTransport {
  /** A connection to the leader at `address` (host:port) accepting answers up to `receiveBytesMax`. */
  connect(address: string, receiveBytesMax: number): ReplicationConnection;
}

/** One connection to a leader; streams are opened on it until it is closed. */
export interface ReplicationConnection {
  /** Opens a replica fetch stream; its answers and its end arrive through `listener`. */
  openStream(listener: ReplicaFetchStreamListener): ReplicaFetchStream;
  /** Closes the connection (its streams end). */
  close(): void;
}

/** Receives what arrives on a replica fetch stream. */
export interface ReplicaFetchStreamListener {
  onAnswer(answer: ReplicaFetchAnswer): void;
  onError(error: Error): void;
  /** The leader ended the stream. */
  onEnd(): void;
}

/** A replica fetch stream towards one leader. */
export interface ReplicaFetchStream {
  send(query: ReplicaFetchQuery): void;
  /** Cancels the stream; its listener hears nothing afterwards. */
  cancel(): void;
}
