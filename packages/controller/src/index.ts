/**
 * @strand/controller: the cluster metadata state machine on top of Raft. See
 * docs/controller.md.
 *
 * Exports only what other packages (the broker, cross-package tests, scripts) use; the
 * controller's own tests import its modules by relative path.
 * @packageDocumentation
 */
export {
  ACL_OPERATIONS,
  ACL_PATTERN_TYPES,
  ACL_RESOURCE_TYPES,
  type AclBinding,
  type AclEntry,
  type AclFilter,
  type AclOperation,
  type AclPatternType,
  type AclPermission,
  type AclResourceType,
  AclValidationError,
  aclId,
  CLUSTER_RESOURCE_NAME,
  describeAcls,
  matchesFilter,
  validBinding,
  validFilter,
  WILDCARD,
} from "./acls.ts";
export { decodeMetadataBatch } from "./codec.ts";
export {
  applyBatch,
  configResourceKey,
  EMPTY_IMAGE,
  MetadataDelta,
  type MetadataImage,
  type PartitionRegistration,
  type ScramCredential,
  type TopicImage,
} from "./image.ts";
export {
  ClusterIdMismatchError,
  ControllerClient,
  ControllerNode,
  type ControllerNodeOptions,
  isClusterId,
  METADATA_LOG_DIR,
  MetadataFollower,
  newClusterId,
  parseVoters,
  readClusterId,
  VoterSetMismatchError,
} from "./node/index.ts";
export { describeConfigs, localChanges } from "./queries.ts";
export type { ConfigResource, MetadataRecord, ScramMechanism } from "./records.ts";
export type { AlterPartitionRequest, AlterPartitionResponse } from "./requests.ts";
export {
  type BrokerId,
  brokerEpoch,
  brokerId,
  type LeaderEpoch,
  leaderEpoch,
  metadataOffset,
  type PartitionEpoch,
  partitionEpoch,
  type TopicId,
  topicId,
} from "./types.ts";
export {
  SCRAM_ITERATIONS_MAX,
  SCRAM_ITERATIONS_MIN,
  SCRAM_MECHANISMS,
  userNameError,
} from "./users.ts";
export { configError } from "./validation.ts";
