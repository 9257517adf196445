/**
 * @strand/broker: the node process: gRPC services, replica manager, replication, routing.
 * @packageDocumentation
 */
export { type AdminServer, startAdminServer } from "./admin/http.ts";
export { type BrokerMetrics, createBrokerMetrics } from "./admin/metrics.ts";
export {
  ConfigError,
  envName,
  type HostPort,
  loadNodeConfig,
  type NodeConfig,
  parseFlags,
  SETTINGS,
  type SettingSpec,
} from "./config/index.ts";
export {
  type FetchEpochValidation,
  type FetchPosition,
  type TruncationTarget,
  truncationTarget,
  validateFetchEpoch,
} from "./core/divergence.ts";
export {
  type FollowerAction,
  type FollowerFetchRequest,
  type FollowerFetchResponse,
  type FollowerPartitionOptions,
  FollowerPartitionState,
  type FollowerStatus,
  type LocalLogPosition,
} from "./core/follower-partition.ts";
export {
  type AcksAllResult,
  type AlterPartitionOutcome,
  type AlterPartitionResult,
  type FollowerFetch,
  type FollowerFetchOutcome,
  type LeaderPartitionOptions,
  LeaderPartitionState,
} from "./core/leader-partition.ts";
export {
  AcksAllPurgatory,
  type AcksAllRegistration,
  type AcksAllWaiter,
  DelayedFetchPurgatory,
  type DelayedFetchRegistration,
  type DelayedFetchWaiter,
  type PurgatoryOptions,
} from "./core/purgatory.ts";
export {
  type FetchObservation,
  initialReplicaState,
  isCaughtUp,
  type ReplicaState,
  UNKNOWN_OFFSET,
  updateFetchState,
} from "./core/replica-state.ts";
export {
  type Acks,
  DEFAULT_REPLICATION_CONFIG,
  type DivergingEpoch,
  type EndOffsetForEpoch,
  type IsrProposal,
  NO_EPOCH,
  type PartitionStateUpdate,
  type ReplicationConfig,
  type ReplicationError,
} from "./core/types.ts";
export { ControllerRouter, type ControllerRouterOptions } from "./node/controllers.ts";
export { checkFormatPolicy, metadataFormatted, NodeStartError } from "./node/format.ts";
export {
  BrokerLifecycle,
  type BrokerLifecycleOptions,
  type LifecycleState,
} from "./node/lifecycle.ts";
export { createNodeLogger, type NodeLogger } from "./node/logger.ts";
export { type BoundPorts, BrokerNode, type BrokerNodeOptions } from "./node/node.ts";
export {
  createReplicaManager,
  type NodeReplicaManager,
  REPLICA_MANAGER_AVAILABLE,
} from "./node/replica-factory.ts";
export { ReplicaFetcherManager } from "./replica/follower/fetcher-manager.ts";
export { ReplicaFetcher } from "./replica/follower/replica-fetcher.ts";
export type { FetcherOptions, FetcherPartition } from "./replica/follower/types.ts";
export {
  type HighWatermarks,
  HW_CHECKPOINT_FILE,
  readHighWatermarks,
  writeHighWatermarks,
} from "./replica/hw-checkpoint.ts";
export {
  CLIENT_LISTENER,
  DEFAULT_REPLICA_CONFIG,
  INTERNAL_LISTENER,
  type ReplicaManagerConfig,
  type ReplicaManagerOptions,
  resolveReplicaConfig,
} from "./replica/options.ts";
export { ReplicaManager } from "./replica/replica-manager.ts";
export type {
  AcksMode,
  FetchOptions,
  FetchPartition,
  FetchPartitionResult,
  LeaderHint,
  ListOffsetsResult,
  OffsetSpec,
  PartitionError,
  PartitionStatus,
  ProduceOptions,
  ProducePartition,
  ProducePartitionResult,
  ReplicaManagerApi,
  ReplicaManagerDeps,
} from "./replica/types.ts";
export {
  addClientServices,
  CLIENT_SERVICE_NAMES,
  type ClientStubs,
  type ControllerWrites,
  clientProto,
  clientStubs,
  FORWARDED_HEADER,
  HealthStatus,
  healthClient,
  healthServiceDefinition,
  InvalidArgumentError,
  RETRY_AFTER_HEADER,
  type ServiceContext,
  type ServiceLogger,
  type ServingStatus,
  type TopicDefaults,
  UnavailableError,
} from "./services/index.ts";
export {
  replicationClient,
  replicationProto,
  replicationServiceDefinition,
} from "./services/replication-wire.ts";
