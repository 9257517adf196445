/**
 * A replica fetch in domain terms: what a follower asks its leader for and what the leader
 * answers. The leader wing answers these and the follower wing sends them; the gRPC edge
 * (services/replication-*.ts) converts them to and from `strand.v1.ReplicaFetch*` so nothing
 * under replica/ sees generated protobuf types.
 */
import type { Logger } from "@strand/base";
import type { DivergingEpoch } from "../core/types.ts";

/** One partition a follower fetches. */
export interface ReplicaFetchPartitionQuery {
  readonly topicId: string;
  readonly topic: string;
  readonly partition: number;
  /** Next offset the follower wants; null when the wire value was not an int64. */
  readonly fetchOffset: bigint | null;
  /** Epoch of the follower's last batch, for divergence checks. */
  readonly lastFetchedEpoch: number;
  /** The leader epoch the follower believes in (fences stale leaders and followers). */
  readonly currentLeaderEpoch: number;
  /** The follower's log start; null when the wire value was not an int64. */
  readonly logStartOffset: bigint | null;
  readonly partitionMaxBytes: number;
}

/** One replica fetch request from a follower broker. */
export interface ReplicaFetchQuery {
  /** Matches the answer to the request on a stream. */
  readonly correlationId: string;
  /** The follower broker (raw: the leader validates it). */
  readonly replicaId: number;
  /** The follower's registration epoch; null when the wire value was not an int64. */
  readonly brokerEpoch: bigint | null;
  /** Long-poll bound; 0 answers at once. */
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitions: readonly ReplicaFetchPartitionQuery[];
  /**
   * A request of the stream's fetch session ({@link ReplicaFetchSession}): `partitions` holds
   * only what changed; absent or false, it is a full request answered in full.
   */
  readonly incremental?: boolean;
  /** Incremental only: partitions dropped from the session (topic, partition). */
  readonly forgotten?: readonly { readonly topic: string; readonly partition: number }[];
}

/** What the leader remembers of one partition of a fetch session. */
export interface SessionPartition {
  /** The follower's position as last sent. */
  query: ReplicaFetchPartitionQuery;
  /** The session round that last sent it: equal to the current round = in this request. */
  sentRound: number;
  /** The high watermark and log start last answered (-1 before the first answer). */
  answeredHighWatermark: bigint;
  answeredLogStartOffset: bigint;
}

/**
 * The leader's side of one replication stream's incremental fetch session (Kafka's
 * KIP-227 FetchSession, without session ids: the stream is the session and ends with it).
 * Idle partitions cost neither bytes on the wire nor objects per round.
 */
export class ReplicaFetchSession {
  /** Partition key -> the follower's last sent position, in order of first send. */
  readonly partitions = new Map<string, SessionPartition>();
  /** Requests seen on the stream. */
  round = 0;
  /** The long-poll's watch list (partition key -> fetch offset), reused round to round. */
  readonly waiting = new Map<string, bigint>();
  /** The log end each watched partition's read saw (a missed wake-up check), reused too. */
  readonly seen = new Map<string, bigint>();
}

/** The leader's answer for one partition; offsets are absent when the leader sent none. */
export interface ReplicaFetchPartitionAnswer {
  readonly topicId: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string;
  readonly highWatermark?: bigint;
  readonly logStartOffset?: bigint;
  readonly logEndOffset?: bigint;
  readonly leaderEpoch?: number;
  readonly records?: Buffer;
  /** Set when the follower's log diverges from the leader's: truncate first. */
  readonly divergingEpoch?: DivergingEpoch;
}

/** The leader's answer to one {@link ReplicaFetchQuery}. */
export interface ReplicaFetchAnswer {
  readonly correlationId: string;
  /** Non-zero when the whole request was refused (unknown broker, stale epoch, too large). */
  readonly errorCode: number;
  readonly errorMessage: string;
  readonly partitions: readonly ReplicaFetchPartitionAnswer[];
}

/** The leader side of replication as the gRPC edge drives it (one per replica manager). */
export interface ReplicaFetchLeader {
  /** True once the replica manager is closing: new streams end at once. */
  readonly closed: boolean;
  /** For stream-level warnings. */
  readonly logger: Logger;
  /** Answers one request, long-polling when nothing is available; null once `isOpen()` is false. */
  answer(
    query: ReplicaFetchQuery,
    isOpen: () => boolean,
    session: ReplicaFetchSession,
  ): Promise<ReplicaFetchAnswer | null>;
  /** Tracks an open stream so closing the manager ends it; returns the function to untrack it. */
  track(stream: EndableStream): () => void;
}

/** An open stream the replica manager ends on close. */
export interface EndableStream {
  end(): void;
}
