/**
 * Typed errors of the SDK. Every error the SDK throws is a {@link StrandClientError}: it
 * carries a wire error code (the broker's Strand error code, number and name, from
 * docs/errors.md), a `retriable` flag (whether retrying may succeed without user action) and
 * the broker's message when a broker sent one. Subclasses name the cases callers branch on,
 * in the spirit of KafkaJS (`KafkaJSNotLeaderError`, `KafkaJSTimeout`, ...).
 */
import { ErrorCode, type ErrorCodeInfo, errorCodeInfo } from "@strand/protocol";

/** A wire error code: its number and its stable name (see docs/errors.md). */
export interface StrandErrorCode {
  /** The numeric code carried in responses (0 = NONE, -1 = UNKNOWN). */
  readonly code: number;
  /** The stable upper-snake name, e.g. `NOT_LEADER_OR_FOLLOWER`. */
  readonly name: string;
}

/** Where an error happened, when it concerns one partition. */
export interface ErrorLocation {
  /** The topic. */
  readonly topic?: string;
  /** The partition number. */
  readonly partition?: number;
  /** The broker address (host:port) that answered or failed. */
  readonly broker?: string;
}

/** Options of {@link StrandClientError}'s constructor. */
export interface StrandClientErrorOptions extends ErrorLocation {
  /** The wire error code; default UNKNOWN (-1). */
  readonly code?: StrandErrorCode;
  /** Whether retrying may succeed; default the code table's flag. */
  readonly retriable?: boolean;
  /** The message the broker sent with the code, if any. */
  readonly brokerMessage?: string;
  /** The underlying error. */
  readonly cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class StrandClientError extends Error {
  /** The wire error code (number and name). */
  readonly code: StrandErrorCode;
  /** True when retrying the same operation may succeed without user action. */
  readonly retriable: boolean;
  /** The broker's message (what went wrong and what to do); empty when none. */
  readonly brokerMessage: string;
  /** The topic concerned, if any. */
  readonly topic: string | undefined;
  /** The partition concerned, if any. */
  readonly partition: number | undefined;
  /** The broker address concerned, if any. */
  readonly broker: string | undefined;

  /** Creates an error; `message` is for humans, `options.code` for programs. */
  constructor(message: string, options: StrandClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    const code = options.code ?? ErrorCode.UNKNOWN;
    this.code = { code: code.code, name: code.name };
    this.retriable = options.retriable ?? errorCodeInfo(code.code).retriable;
    this.brokerMessage = options.brokerMessage ?? "";
    this.topic = options.topic;
    this.partition = options.partition;
    this.broker = options.broker;
  }
}

/**
 * The broker refused the client's credentials (gRPC UNAUTHENTICATED): a wrong password, an
 * unknown user, an expired or foreign token, or none where the listener requires them.
 */
export class AuthenticationError extends StrandClientError {}

/** The broker does not lead the partition (NOT_LEADER_OR_FOLLOWER, retriable). */
export class NotLeaderError extends StrandClientError {}

/** An operation did not finish in time: a request deadline or the delivery timeout. */
export class TimeoutError extends StrandClientError {}

/** The requested offset is outside [log start, high watermark] (OFFSET_OUT_OF_RANGE). */
export class OffsetOutOfRangeError extends StrandClientError {}

/** The topic or partition does not exist (UNKNOWN_TOPIC_OR_PARTITION). */
export class UnknownTopicError extends StrandClientError {}

/** No broker could be reached, or a connection failed mid-request (retriable). */
export class ConnectionError extends StrandClientError {}

/** The caller's AbortSignal fired, or the client was closed, before the operation ended. */
export class AbortedError extends StrandClientError {}

/**
 * A fetched batch does not decode (unknown codec, corrupt compressed data, records that
 * disagree with the header, a failed CRC): a "poison pill" written before brokers validated
 * appends, or damaged since. Not retriable: fetching it again returns the same bytes. The
 * consumer stays before the batch and throws this from every poll() until the application
 * skips it with `consumer.seek({ topic, partition, offset: error.nextOffset })`.
 */
export class CorruptRecordError extends StrandClientError {
  /** The batch's first offset. */
  readonly offset: bigint;
  /** The offset after the batch as its header states it: seek there to skip the batch. */
  readonly nextOffset: bigint;
  /** The topic (always set). */
  declare readonly topic: string;
  /** The partition (always set). */
  declare readonly partition: number;

  /** Builds the error for the batch at `offset` of `topic`-`partition`. */
  constructor(
    where: { topic: string; partition: number; offset: bigint; nextOffset: bigint },
    options: { code: StrandErrorCode; cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `${options.code.name} (${where.topic}-${where.partition}): the batch at offset ${where.offset} does not decode: ${reason}; skip it with seek({ topic, partition, offset: ${where.nextOffset}n })`,
      { ...options, retriable: false, topic: where.topic, partition: where.partition },
    );
    this.offset = where.offset;
    this.nextOffset = where.nextOffset;
  }
}

/**
 * The group's coordinator cannot answer right now: it moved (NOT_COORDINATOR), is loading its
 * offsets partition (COORDINATOR_LOAD_IN_PROGRESS) or has no leader (COORDINATOR_NOT_AVAILABLE).
 * Retriable: the SDK finds the coordinator again and retries until its deadline.
 */
export class CoordinatorNotAvailableError extends StrandClientError {}

/**
 * The coordinator no longer knows this member at this epoch (FENCED_MEMBER_EPOCH,
 * UNKNOWN_MEMBER_ID): the member lost its partitions without committing and rejoins with
 * epoch 0. A commit that fails with it was not applied; commits acknowledged earlier stand.
 */
export class FencedMemberError extends StrandClientError {}

/**
 * A commit carried an older member epoch than the member's current one (STALE_MEMBER_EPOCH,
 * retriable): the SDK refreshes the epoch with a heartbeat and commits again.
 */
export class StaleMemberEpochError extends StrandClientError {}

/**
 * Another consumer uses the same `groupInstanceId` (FENCED_INSTANCE_ID), or a member with it
 * has not left yet (UNRELEASED_INSTANCE_ID, retriable): give each static member a unique id.
 */
export class FencedInstanceIdError extends StrandClientError {}

/** The group has active members, so it cannot be deleted or reset (NON_EMPTY_GROUP). */
export class GroupNotEmptyError extends StrandClientError {}

/** The coordinator has no such group (GROUP_ID_NOT_FOUND). */
export class GroupNotFoundError extends StrandClientError {}

/** The group id is empty or too long (INVALID_GROUP_ID), or the assignor is unknown (UNSUPPORTED_ASSIGNOR). */
export class InvalidGroupError extends StrandClientError {}

/**
 * The principal may not do this (TOPIC_, GROUP_ or CLUSTER_AUTHORIZATION_FAILED, or a gRPC
 * PERMISSION_DENIED): an ACL is missing or a deny ACL applies. Not retriable.
 */
export class AuthorizationError extends StrandClientError {}

/** Client-side codes for conditions that have no broker code; numbers are Kafka's. */
export const CLIENT_ERROR_CODES = Object.freeze({
  /** A connection failed (Kafka's NETWORK_EXCEPTION). */
  NETWORK_EXCEPTION: Object.freeze({ code: 13, name: "NETWORK_EXCEPTION" }),
  /** The caller aborted, or the client was closed. */
  ABORTED: Object.freeze({ code: -1, name: "ABORTED" }),
});

function brokerText(message: string): string {
  return message === "" ? "" : `: ${message}`;
}

/**
 * The broker's message without a leading `NAME: ` of its own code: brokers relay the
 * controller's answers as `NAME: text`, and the error message already starts with the name,
 * so keeping both would print the code twice (`INVALID_CONFIG (t): INVALID_CONFIG: ...`).
 */
function withoutCodePrefix(message: string, name: string): string {
  const prefix = `${name}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** The typed error for a per-partition or per-item Strand error code from a broker. */
export function errorForCode(
  code: number,
  brokerMessage: string,
  where: ErrorLocation = {},
): StrandClientError {
  const info: ErrorCodeInfo = errorCodeInfo(code);
  const place =
    where.topic === undefined
      ? ""
      : ` (${where.topic}${where.partition === undefined ? "" : `-${where.partition}`})`;
  const text = withoutCodePrefix(brokerMessage, info.name);
  const message = `${info.name}${place}${brokerText(text || info.action)}`;
  const options = {
    ...where,
    code: code === info.code ? info : { code, name: info.name },
    brokerMessage,
  };
  switch (info.code) {
    case ErrorCode.NOT_LEADER_OR_FOLLOWER.code:
      return new NotLeaderError(message, options);
    case ErrorCode.REQUEST_TIMED_OUT.code:
      return new TimeoutError(message, options);
    case ErrorCode.OFFSET_OUT_OF_RANGE.code:
      return new OffsetOutOfRangeError(message, options);
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code:
      return new UnknownTopicError(message, options);
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED.code:
    case ErrorCode.GROUP_AUTHORIZATION_FAILED.code:
    case ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code:
      return new AuthorizationError(message, options);
    default:
      return (
        groupErrorForCode(info.code, message, options) ?? new StrandClientError(message, options)
      );
  }
}

/** The typed error for a consumer-group code, or null when `code` is not one. */
function groupErrorForCode(
  code: number,
  message: string,
  options: StrandClientErrorOptions,
): StrandClientError | null {
  switch (code) {
    case ErrorCode.NOT_COORDINATOR.code:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS.code:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE.code:
      return new CoordinatorNotAvailableError(message, options);
    case ErrorCode.FENCED_MEMBER_EPOCH.code:
    case ErrorCode.UNKNOWN_MEMBER_ID.code:
      return new FencedMemberError(message, options);
    case ErrorCode.STALE_MEMBER_EPOCH.code:
      return new StaleMemberEpochError(message, options);
    case ErrorCode.FENCED_INSTANCE_ID.code:
    case ErrorCode.UNRELEASED_INSTANCE_ID.code:
      return new FencedInstanceIdError(message, options);
    case ErrorCode.NON_EMPTY_GROUP.code:
      return new GroupNotEmptyError(message, options);
    case ErrorCode.GROUP_ID_NOT_FOUND.code:
      return new GroupNotFoundError(message, options);
    case ErrorCode.INVALID_GROUP_ID.code:
    case ErrorCode.UNSUPPORTED_ASSIGNOR.code:
      return new InvalidGroupError(message, options);
    default:
      return null;
  }
}

/**
 * The error for a topic (or partition) that a fresh metadata answer does not list. Not
 * retriable: the code's table entry says retriable because metadata may lag a create, but
 * the callers raise this only after a refresh confirmed it, so waiting out a delivery
 * timeout would only delay the same answer (Kafka clients fail it fast too).
 */
export function unknownTopicError(topic: string, partition?: number): UnknownTopicError {
  const what = partition === undefined ? `topic ${topic}` : `${topic}-${partition}`;
  return new UnknownTopicError(
    `UNKNOWN_TOPIC_OR_PARTITION: ${what} does not exist; create it first (admin.createTopics) or check the name`,
    {
      code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      retriable: false,
      topic,
      ...(partition === undefined ? {} : { partition }),
    },
  );
}

/** The error an aborted operation rejects with. */
export function abortedError(what: string, reason?: unknown): AbortedError {
  return new AbortedError(`${what} was aborted`, {
    code: CLIENT_ERROR_CODES.ABORTED,
    retriable: false,
    ...(reason === undefined ? {} : { cause: reason }),
  });
}
