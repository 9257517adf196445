/**
 * Maps what can go wrong on a partition to the contract's `PartitionError`: typed Strand
 * errors keep their wire code (CorruptBatchError -> CORRUPT_MESSAGE, RecordTooLargeError ->
 * MESSAGE_TOO_LARGE, LogStorageError -> KAFKA_STORAGE_ERROR, ...); anything else is a bug
 * and answers UNKNOWN (and is logged by the caller). Bad client bytes never throw out.
 */

import { AssertionFailure } from "@strand/base";
import type { BrokerId, MetadataImage } from "@strand/controller";
import { ErrorCode, type ErrorCodeInfo, StrandError } from "@strand/protocol";
import { CLIENT_LISTENER } from "./options.ts";
import type { LeaderHint, PartitionError } from "./types.ts";

/** A success. */
export const NO_ERROR: PartitionError = Object.freeze({ errorCode: 0, errorMessage: "" });

/** An error with its code's advice appended to `message`. */
export function partitionError(
  error: ErrorCodeInfo,
  message: string,
  leaderHint?: LeaderHint,
): PartitionError {
  const errorMessage = `${error.name}: ${message}. ${error.action}`;
  return leaderHint === undefined
    ? { errorCode: error.code, errorMessage }
    : { errorCode: error.code, errorMessage, leaderHint };
}

/**
 * The wire error of a thrown value; `unexpected` is true for non-Strand errors (bugs, to log).
 * A broken invariant (AssertionFailure) is rethrown: it is never an error path.
 */
export function errorOf(thrown: unknown): { error: PartitionError; unexpected: boolean } {
  if (thrown instanceof AssertionFailure) throw thrown;
  if (thrown instanceof StrandError) {
    return { error: partitionError(thrown.errorCode, thrown.message), unexpected: false };
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return { error: partitionError(ErrorCode.UNKNOWN, message), unexpected: true };
}

/** Where the partition's leader is, for NOT_LEADER_OR_FOLLOWER answers. */
export function leaderHintOf(
  image: MetadataImage,
  topic: string,
  partition: number,
): LeaderHint | undefined {
  const p = image.topicsByName.get(topic)?.partitions.get(partition);
  if (p === undefined || p.leader === null) return undefined;
  const listener = image.brokers.get(p.leader)?.listeners.find((l) => l.name === CLIENT_LISTENER);
  if (listener === undefined) return undefined;
  return {
    leaderId: p.leader,
    leaderEpoch: p.leaderEpoch,
    host: listener.host,
    port: listener.port,
  };
}

/** The answer for a partition this broker does not lead (or does not know). */
export function notLeaderError(
  image: MetadataImage,
  topic: string,
  partition: number,
  brokerId: BrokerId,
): PartitionError {
  const p = image.topicsByName.get(topic)?.partitions.get(partition);
  if (p === undefined) {
    return partitionError(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      `partition ${topic}-${partition} does not exist`,
    );
  }
  const hint = leaderHintOf(image, topic, partition);
  if (p.leader === brokerId) {
    // The image names this broker, but its replica manager has not taken over yet (or has just
    // handed the partition off): "does not lead X, which is led by <itself>" would be nonsense.
    return partitionError(
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      `broker ${brokerId} is taking over the leadership of ${topic}-${partition} and cannot serve it yet; retry after a short backoff`,
      hint,
    );
  }
  const who = p.leader === null ? "has no leader" : `is led by broker ${p.leader}`;
  return partitionError(
    ErrorCode.NOT_LEADER_OR_FOLLOWER,
    `broker ${brokerId} does not lead ${topic}-${partition}, which ${who}`,
    hint,
  );
}
