/**
 * Typed errors raised by the storage layer. Each maps to a wire code from the shared table in
 * @strand/protocol, so the broker can answer a client without guessing.
 */
import { ErrorCode, StrandError } from "@strand/protocol";

/** A read asked for an offset outside [logStartOffset, logEndOffset]. */
export class LogOffsetOutOfRangeError extends StrandError {
  /** The offset that was asked for. */
  readonly requestedOffset: bigint;
  /** The log start offset at the time of the request. */
  readonly logStartOffset: bigint;
  /** The log end offset at the time of the request. */
  readonly logEndOffset: bigint;

  /** Builds the error from the requested offset and the log's current bounds. */
  constructor(requestedOffset: bigint, bounds: { logStartOffset: bigint; logEndOffset: bigint }) {
    super(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${requestedOffset} is outside the log range [${bounds.logStartOffset}, ${bounds.logEndOffset}]`,
    );
    this.requestedOffset = requestedOffset;
    this.logStartOffset = bounds.logStartOffset;
    this.logEndOffset = bounds.logEndOffset;
  }
}

/**
 * A disk or file-format failure of a log or log directory: I/O errors, unreadable checkpoints,
 * a data dir locked by another process, a log that went offline after a failed write.
 * Every I/O error of a log funnels into this one type (as Kafka's KafkaStorageException), so
 * the broker can take the partition offline instead of guessing what state the files are in.
 */
export class LogStorageError extends StrandError {
  /** Builds the error; `cause` keeps the original Node.js error when there is one. */
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.KAFKA_STORAGE_ERROR, message, options);
  }
}

/** A batch (or the whole append) is larger than max.message.bytes or segment.bytes. */
export class RecordTooLargeError extends StrandError {
  /** Builds the error with a message naming the size and the limit. */
  constructor(message: string) {
    super(ErrorCode.MESSAGE_TOO_LARGE, message);
  }
}

/**
 * An append that would break the log's order: follower batches that start below the log end
 * offset or overlap each other, or leader epochs that go backwards. The replica fetcher
 * and the log disagree: the fetcher must truncate or refetch. The protocol table has no
 * dedicated code yet, so it maps to UNKNOWN.
 */
export class InvalidAppendError extends StrandError {
  /** Builds the error with a message naming what was expected and what was received. */
  constructor(message: string) {
    super(ErrorCode.UNKNOWN, message);
  }
}

/**
 * A configuration value out of range. The protocol table has no INVALID_CONFIG code yet
 * (Kafka's 40), so it maps to UNKNOWN; the message names the setting and the allowed range.
 */
export class InvalidLogConfigError extends StrandError {
  /** Builds the error with a message naming the setting and its allowed range. */
  constructor(message: string) {
    super(ErrorCode.UNKNOWN, message);
  }
}
