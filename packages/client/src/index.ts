/**
 * @strand/client: the TypeScript SDK for Strand (Admin, Producer, Consumer, metadata cache,
 * partition-aware routing). Start with {@link Strand}; docs/client.md has examples.
 * @packageDocumentation
 */

// First, so it is evaluated before any other module of the SDK: an unsupported Node.js gets
// "Strand needs Node.js >= X (found Y)" rather than a failure deep inside.
import "./node-version.ts";

// The SDK's logger names (pino-compatible, with child loggers); the one definition is in base.
export {
  type ChildLogger as Logger,
  type LogFields,
  noopLogger as silentLogger,
} from "@strand/base";
export type { TlsClientOptions as TlsOptions } from "@strand/protocol";
/** The SAN URI prefix of node certificates (`strand:node:<id>`, docs/security.md). */
export { NODE_URI_PREFIX } from "@strand/protocol";
export type {
  AdminCallOptions,
  BrokerDescription,
  ClusterDescription,
  ConfigChanges,
  ConfigResource,
  ConfigValue,
  NewPartitions,
  NewTopic,
  PartitionDescription,
  PartitionOffsets,
  QuorumDescription,
  QuorumVoter,
  ResourceConfigs,
  TopicDescription,
  TopicResult,
  UserDescription,
  VoterChange,
} from "./admin.ts";
export { Admin } from "./admin.ts";
export type {
  Acl,
  AclBinding,
  AclFilter,
  AclOperation,
  AclResourceType,
} from "./admin-acls.ts";
export { ACL_OPERATIONS } from "./admin-acls.ts";
export type {
  GroupCallOptions,
  GroupDescription,
  GroupMember,
  GroupPartitionLag,
  ListedGroup,
  OffsetReset,
  OffsetResetResult,
  OffsetResetTarget,
  ResetOffsetsOptions,
} from "./admin-groups.ts";
export type { ClientAuth } from "./auth.ts";
export type {
  CommitOffset,
  ConsumerOptions,
  EachBatchPayload,
  EachMessagePayload,
  RunOptions,
  SeekOptions,
  SeekTarget,
  SubscribeOptions,
} from "./consumer.ts";
export { Consumer } from "./consumer.ts";
export type { ErrorLocation, StrandClientErrorOptions, StrandErrorCode } from "./errors.ts";
export {
  AbortedError,
  AuthenticationError,
  AuthorizationError,
  CLIENT_ERROR_CODES,
  ConnectionError,
  CoordinatorNotAvailableError,
  CorruptRecordError,
  FencedInstanceIdError,
  FencedMemberError,
  GroupNotEmptyError,
  GroupNotFoundError,
  InvalidGroupError,
  NotLeaderError,
  OffsetOutOfRangeError,
  StaleMemberEpochError,
  StrandClientError,
  TimeoutError,
  UnknownTopicError,
} from "./errors.ts";
export type { RebalanceListener } from "./group-session.ts";
export type { ProducerIdentity, ProducerOptions, ProducerRecord } from "./producer.ts";
export { Producer } from "./producer.ts";
export type { RetryOptions } from "./retry.ts";
export { DEFAULT_RETRY } from "./retry.ts";
export type { StrandOptions } from "./strand.ts";
export { Strand } from "./strand.ts";
export type {
  Acks,
  ConsumedHeader,
  ConsumedMessage,
  ConsumerBatch,
  HeaderValue,
  Message,
  MessageHeaders,
  RecordMetadata,
  TopicPartition,
} from "./types.ts";
