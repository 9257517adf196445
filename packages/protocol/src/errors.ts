/**
 * Wire error codes: one table for the whole cluster. Numbers follow Kafka's where Kafka has
 * the same meaning, so operators can read them; they are never renumbered.
 * Every code says whether a client may retry and what the user should do.
 */

/** One row of the error-code table. */
export interface ErrorCodeInfo {
  /** Stable numeric code carried in responses. */
  readonly code: number;
  /** Stable upper-snake name. */
  readonly name: string;
  /** True when retrying the same request may succeed without user action. */
  readonly retriable: boolean;
  /** What the user or operator should do, in one sentence. */
  readonly action: string;
}

function row(code: number, name: string, retriable: boolean, action: string): ErrorCodeInfo {
  return Object.freeze({ code, name, retriable, action });
}

/** The error-code table, keyed by name. */
export const ErrorCode = Object.freeze({
  NONE: row(0, "NONE", false, "Nothing to do: the request succeeded."),
  UNKNOWN: row(
    -1,
    "UNKNOWN",
    false,
    "An unexpected server error; check the broker log and report it.",
  ),
  OFFSET_OUT_OF_RANGE: row(
    1,
    "OFFSET_OUT_OF_RANGE",
    false,
    "Seek to an offset between the log start offset and the high watermark, or use an auto-offset-reset policy.",
  ),
  CORRUPT_MESSAGE: row(
    2,
    "CORRUPT_MESSAGE",
    false,
    "The batch failed validation (CRC, length or layout); re-encode it with a RecordBatch v2 encoder.",
  ),
  UNKNOWN_TOPIC_OR_PARTITION: row(
    3,
    "UNKNOWN_TOPIC_OR_PARTITION",
    true,
    "Create the topic or use a partition number below the topic's partition count.",
  ),
  LEADER_NOT_AVAILABLE: row(
    5,
    "LEADER_NOT_AVAILABLE",
    true,
    "The partition has no leader right now (an election is in progress or every ISR member is down); refresh metadata and retry after a short backoff.",
  ),
  NOT_LEADER_OR_FOLLOWER: row(
    6,
    "NOT_LEADER_OR_FOLLOWER",
    true,
    "Send the request to the current leader named in the response, or refresh metadata.",
  ),
  REQUEST_TIMED_OUT: row(
    7,
    "REQUEST_TIMED_OUT",
    true,
    "The request's timeout passed before it completed (for acks=all the batch may still commit); retry, ideally with an idempotent producer.",
  ),
  MESSAGE_TOO_LARGE: row(
    10,
    "MESSAGE_TOO_LARGE",
    false,
    "Send smaller batches or raise the topic's max.message.bytes.",
  ),
  NOT_ENOUGH_REPLICAS: row(
    19,
    "NOT_ENOUGH_REPLICAS",
    true,
    "The ISR is smaller than min.insync.replicas, so acks=all is refused and nothing was written; retry once lagging replicas catch up, or bring failed brokers back.",
  ),
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: row(
    20,
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    true,
    "The batch was written but the ISR fell below min.insync.replicas before it was acknowledged; retry (an idempotent producer avoids a duplicate).",
  ),
  UNSUPPORTED_COMPRESSION_TYPE: row(
    76,
    "UNSUPPORTED_COMPRESSION_TYPE",
    false,
    "Use one of none, gzip, snappy, lz4 or zstd.",
  ),
  INVALID_RECORD: row(
    87,
    "INVALID_RECORD",
    false,
    "A record inside the batch is malformed; fix the producer that encoded it.",
  ),
  TOPIC_AUTHORIZATION_FAILED: row(
    29,
    "TOPIC_AUTHORIZATION_FAILED",
    false,
    "Not authorized: the principal has no ACL allowing this operation on the topic; ask an administrator for one (strand acl create).",
  ),
  GROUP_AUTHORIZATION_FAILED: row(
    30,
    "GROUP_AUTHORIZATION_FAILED",
    false,
    "Not authorized: the principal has no ACL allowing this operation on the consumer group; ask an administrator for one (strand acl create).",
  ),
  CLUSTER_AUTHORIZATION_FAILED: row(
    31,
    "CLUSTER_AUTHORIZATION_FAILED",
    false,
    "Not authorized: the principal has no ACL allowing this operation on the cluster; ask an administrator for one (strand acl create).",
  ),
  INVALID_TIMESTAMP: row(
    32,
    "INVALID_TIMESTAMP",
    false,
    "A batch timestamp is out of range (maxTimestamp more than a year ahead of the broker's clock, below -1, or below baseTimestamp); fix the producer's clock or the timestamps it sets.",
  ),
  KAFKA_STORAGE_ERROR: row(
    56,
    "KAFKA_STORAGE_ERROR",
    true,
    "The broker's log directory failed; the partition moves to another replica, check the broker's disk.",
  ),
  // Idempotent producer errors; numbers and names are Kafka's (docs/idempotence.md).
  OUT_OF_ORDER_SEQUENCE_NUMBER: row(
    45,
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    false,
    "The batch's sequence number does not follow the last one the partition accepted from this producer; if an earlier batch is still being retried send this one after it, otherwise get a new producer id with InitProducerId and resend.",
  ),
  INVALID_PRODUCER_EPOCH: row(
    47,
    "INVALID_PRODUCER_EPOCH",
    false,
    "A newer epoch of this producer id has written to the partition, so this producer is fenced; close it and start a new producer.",
  ),
  UNKNOWN_PRODUCER_ID: row(
    59,
    "UNKNOWN_PRODUCER_ID",
    false,
    "The partition has no state for this producer id (expired after producer.id.expiration.ms without writes, or never seen) and the batch does not start at sequence 0; get a new producer id with InitProducerId and resend.",
  ),
  // Controller (metadata) errors; numbers and names are Kafka's.
  INVALID_TOPIC_EXCEPTION: row(
    17,
    "INVALID_TOPIC_EXCEPTION",
    false,
    "Use a topic name of 1 to 249 characters from [a-zA-Z0-9._-], not '.' or '..', that does not collide with an existing name when '.' and '_' are swapped.",
  ),
  UNSUPPORTED_VERSION: row(
    35,
    "UNSUPPORTED_VERSION",
    false,
    "The record or request version is newer than this node understands; upgrade the node before the cluster's feature level.",
  ),
  TOPIC_ALREADY_EXISTS: row(
    36,
    "TOPIC_ALREADY_EXISTS",
    false,
    "Pick another topic name, or delete the existing topic first.",
  ),
  INVALID_PARTITIONS: row(
    37,
    "INVALID_PARTITIONS",
    false,
    "Ask for at least one partition, no more than the controller's per-topic limit, and no more replicas per broker than max.partitions.per.broker (add brokers or delete topics).",
  ),
  INVALID_REPLICATION_FACTOR: row(
    38,
    "INVALID_REPLICATION_FACTOR",
    true,
    "Use a replication factor of at least 1 and at most the number of live (unfenced) brokers, or start more brokers.",
  ),
  INVALID_REPLICA_ASSIGNMENT: row(
    39,
    "INVALID_REPLICA_ASSIGNMENT",
    false,
    "Give every partition the same number of distinct, registered broker ids, numbered from partition 0.",
  ),
  INVALID_CONFIG: row(
    40,
    "INVALID_CONFIG",
    false,
    "Use a known configuration key with a value of the documented type and range.",
  ),
  NOT_CONTROLLER: row(
    41,
    "NOT_CONTROLLER",
    true,
    "Send the request to the active controller (the metadata quorum's Raft leader) and retry.",
  ),
  INVALID_REQUEST: row(
    42,
    "INVALID_REQUEST",
    false,
    "The request is malformed for this API (e.g. an ISR without its leader); fix the caller.",
  ),
  FENCED_LEADER_EPOCH: row(
    74,
    "FENCED_LEADER_EPOCH",
    true,
    "The leader epoch in the request is stale; refresh metadata and retry with the current epoch.",
  ),
  UNKNOWN_LEADER_EPOCH: row(
    75,
    "UNKNOWN_LEADER_EPOCH",
    true,
    "The broker has not yet seen the leader epoch in the request; retry after a short backoff or refresh metadata.",
  ),
  STALE_BROKER_EPOCH: row(
    77,
    "STALE_BROKER_EPOCH",
    false,
    "The broker's registration is outdated (it restarted or was re-registered); register the broker again.",
  ),
  UNKNOWN_TOPIC_ID: row(
    100,
    "UNKNOWN_TOPIC_ID",
    true,
    "The topic id is unknown (deleted or not yet propagated); refresh metadata and use the current id.",
  ),
  DUPLICATE_BROKER_REGISTRATION: row(
    101,
    "DUPLICATE_BROKER_REGISTRATION",
    false,
    "Another live process holds this node.id; stop it or give this node a different node.id.",
  ),
  BROKER_ID_NOT_REGISTERED: row(
    102,
    "BROKER_ID_NOT_REGISTERED",
    false,
    "The broker is not registered with the controller; register it before heartbeating.",
  ),
  INELIGIBLE_REPLICA: row(
    107,
    "INELIGIBLE_REPLICA",
    false,
    "The proposed ISR names a replica that is not assigned, fenced or shutting down; drop it and retry with a fresh state.",
  ),
  INVALID_UPDATE_VERSION: row(
    108,
    "INVALID_UPDATE_VERSION",
    false,
    "The partition epoch in the request is stale; apply the latest partition state from metadata before proposing again.",
  ),
  COORDINATOR_LOAD_IN_PROGRESS: row(
    14,
    "COORDINATOR_LOAD_IN_PROGRESS",
    true,
    "The group coordinator is replaying its offsets partition after a leadership change; retry after a short backoff.",
  ),
  COORDINATOR_NOT_AVAILABLE: row(
    15,
    "COORDINATOR_NOT_AVAILABLE",
    true,
    "The group's offsets partition has no leader right now, or the offsets topic is not created yet; find the coordinator again and retry.",
  ),
  NOT_COORDINATOR: row(
    16,
    "NOT_COORDINATOR",
    true,
    "This broker does not coordinate the group; send the request to the coordinator named in the response, or find the coordinator again.",
  ),
  INVALID_GROUP_ID: row(
    24,
    "INVALID_GROUP_ID",
    false,
    "Use a non-empty group id of at most 255 characters.",
  ),
  UNKNOWN_MEMBER_ID: row(
    25,
    "UNKNOWN_MEMBER_ID",
    false,
    "The member id is not in the group (it left or was removed after its session timed out); rejoin with member epoch 0.",
  ),
  NON_EMPTY_GROUP: row(
    68,
    "NON_EMPTY_GROUP",
    false,
    "The group still has active members; stop its consumers (or wait for their session timeout) and retry.",
  ),
  GROUP_ID_NOT_FOUND: row(
    69,
    "GROUP_ID_NOT_FOUND",
    false,
    "No such group on its coordinator; check the group id with `strand group list`.",
  ),
  FENCED_INSTANCE_ID: row(
    82,
    "FENCED_INSTANCE_ID",
    false,
    "Another consumer joined with the same group instance id; give every static member a unique instance id.",
  ),
  FENCED_MEMBER_EPOCH: row(
    110,
    "FENCED_MEMBER_EPOCH",
    false,
    "The member epoch is stale or unknown; the member must give up its partitions and rejoin with member epoch 0.",
  ),
  UNRELEASED_INSTANCE_ID: row(
    111,
    "UNRELEASED_INSTANCE_ID",
    true,
    "A member with this group instance id is still in the group; retry once it leaves or its session times out.",
  ),
  UNSUPPORTED_ASSIGNOR: row(
    112,
    "UNSUPPORTED_ASSIGNOR",
    false,
    "Use one of the server assignors `uniform` or `range`.",
  ),
  STALE_MEMBER_EPOCH: row(
    113,
    "STALE_MEMBER_EPOCH",
    true,
    "The commit carried an older member epoch than the member's current one; refresh the epoch with a heartbeat and commit again.",
  ),
  GROUP_MAX_SIZE_REACHED: row(
    81,
    "GROUP_MAX_SIZE_REACHED",
    false,
    "The group has as many members as group.consumer.max.size allows; stop a member or raise the setting.",
  ),
  // Authentication (docs/security.md); numbers and names are Kafka's.
  SASL_AUTHENTICATION_FAILED: row(
    58,
    "SASL_AUTHENTICATION_FAILED",
    false,
    "The user name, password or token did not verify; check the credentials (strand user list) and log in again.",
  ),
  RESOURCE_NOT_FOUND: row(
    91,
    "RESOURCE_NOT_FOUND",
    false,
    "The named user (or other resource) does not exist; check the name, e.g. with strand user list.",
  ),
  UNACCEPTABLE_CREDENTIAL: row(
    93,
    "UNACCEPTABLE_CREDENTIAL",
    false,
    "The credential breaks a rule: SCRAM-SHA-512 only, 4096..1000000 iterations, a 16..64-byte salt, a user name of 1..256 printable characters.",
  ),
} satisfies Record<string, ErrorCodeInfo>);

/** Name of an error code in the table. */
export type ErrorCodeName = keyof typeof ErrorCode;

const byNumber = new Map<number, ErrorCodeInfo>(Object.values(ErrorCode).map((e) => [e.code, e]));

/** Looks up an error code by its number; unknown numbers map to UNKNOWN. */
export function errorCodeInfo(code: number): ErrorCodeInfo {
  return byNumber.get(code) ?? ErrorCode.UNKNOWN;
}

/** Base class of every typed in-process Strand error. */
export class StrandError extends Error {
  /** The wire error code this error maps to. */
  readonly errorCode: ErrorCodeInfo;

  constructor(errorCode: ErrorCodeInfo, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.errorCode = errorCode;
  }

  /** True when retrying may succeed without user action. */
  get retriable(): boolean {
    return this.errorCode.retriable;
  }
}

/** Bytes that do not form a valid RecordBatch v2 (bad length, CRC, magic or layout). */
export class CorruptBatchError extends StrandError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.CORRUPT_MESSAGE, message, options);
  }
}

/** A record inside an otherwise well-framed batch is malformed. */
export class InvalidRecordError extends StrandError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.INVALID_RECORD, message, options);
  }
}

/** The batch uses a compression codec number Strand does not know. */
export class UnsupportedCompressionError extends StrandError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, message, options);
  }
}

/** A batch's timestamps are out of the range the broker accepts (INVALID_TIMESTAMP). */
export class InvalidTimestampError extends StrandError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.INVALID_TIMESTAMP, message, options);
  }
}
