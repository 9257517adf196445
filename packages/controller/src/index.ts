/**
 * @strand/controller: the cluster metadata state machine on top of Raft. See
 * docs/controller.md.
 * @packageDocumentation
 */
export {
  allocateProducerIds,
  brokerHeartbeat,
  expireSessions,
  registerBroker,
  sessionAlive,
  unregisterBroker,
} from "./brokers.ts";
export {
  decodeMetadataBatch,
  decodeMetadataRecord,
  encodeMetadataBatch,
  encodeMetadataRecord,
  MetadataRecordError,
} from "./codec.ts";
export {
  Controller,
  type ControllerOptions,
  type MetadataLog,
  PENDING_REQUESTS_MAX,
} from "./controller.ts";
export {
  type ChangeRules,
  changesForLeavingBrokers,
  type Eligibility,
  electOfflinePartitions,
  eligibleIn,
  partitionChange,
  preferredLeaderChanges,
  uncleanElectionEnabled,
} from "./election.ts";
export { handleRequest, type ResultOf } from "./handle.ts";
export {
  applyBatch,
  type BrokerRegistration,
  configResourceKey,
  EMPTY_IMAGE,
  MetadataDelta,
  type MetadataImage,
  nextProducerId,
  type PartitionRegistration,
  type ProducerIdsBlock,
  replay,
  type TopicIdPartition,
  type TopicImage,
} from "./image.ts";
export { alterPartition, electPreferredLeaders } from "./partitions.ts";
export {
  type PlacementBroker,
  type PlacementRequest,
  placeReplicas,
  rackAlternatedBrokers,
} from "./placement.ts";
export {
  type ConfigEntry,
  describeCluster,
  describeConfigs,
  describeTopic,
  imageViolations,
  type LocalChanges,
  listTopics,
  localChanges,
  type TopicDescription,
} from "./queries.ts";
export type {
  BrokerControlledShutdownRecord,
  BrokerListener,
  ConfigRecord,
  ConfigResource,
  ConfigResourceType,
  FeatureLevelRecord,
  FenceBrokerRecord,
  MetadataProvenance,
  MetadataRecord,
  MetadataRecordType,
  NoOpRecord,
  PartitionChangeRecord,
  PartitionRecord,
  ProducerIdsBlockRecord,
  RegisterBrokerRecord,
  RemoveTopicRecord,
  TopicRecord,
  UnfenceBrokerRecord,
  UnregisterBrokerRecord,
} from "./records.ts";
export { RECORD_VERSIONS } from "./records.ts";
export {
  type AllocateProducerIdsRequest,
  type AllocateProducerIdsResponse,
  type AlterConfigsRequest,
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  type BrokerHeartbeatRequest,
  type BrokerHeartbeatResponse,
  type BrokerSession,
  type BrokerSessions,
  type ControllerConfig,
  type ControllerRequest,
  type ControllerResponses,
  type ControllerResult,
  type CreateTopicRequest,
  type CreateTopicResponse,
  DEFAULT_CONTROLLER_CONFIG,
  type DeleteTopicRequest,
  type DeleteTopicResponse,
  type ElectPreferredLeadersRequest,
  type ElectPreferredLeadersResponse,
  type QuorumControllerState,
  type RegisterBrokerRequest,
  type RegisterBrokerResponse,
  type ResponseBase,
  type ResponseOf,
  type UnregisterBrokerRequest,
  type UpdateFeatureRequest,
} from "./requests.ts";
export { imageToRecords, loadSnapshot } from "./snapshot.ts";
export { alterConfigs, createTopic, deleteTopic, deriveTopicId, updateFeature } from "./topics.ts";
export {
  type BrokerEpoch,
  type BrokerId,
  brokerEpoch,
  brokerId,
  type LeaderEpoch,
  type Logger,
  leaderEpoch,
  type MetadataOffset,
  metadataOffset,
  NO_LEADER_WIRE,
  noopLogger,
  type PartitionEpoch,
  PRODUCER_ID_BLOCK_SIZE,
  partitionEpoch,
  type TopicId,
  topicId,
} from "./types.ts";
export {
  type ConfigDef,
  collisionName,
  configError,
  TOPIC_CONFIGS,
  TOPIC_NAME_LENGTH_MAX,
  topicNameError,
  UNCLEAN_LEADER_ELECTION,
} from "./validation.ts";
