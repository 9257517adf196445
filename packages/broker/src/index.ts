/**
 * @strand/broker: the node process: gRPC services, replica manager, replication, routing.
 * @packageDocumentation
 */
export {
  type FetchEpochValidation,
  type FetchPosition,
  type TruncationTarget,
  truncationTarget,
  validateFetchEpoch,
} from "./replication/divergence.ts";
export {
  type FollowerAction,
  type FollowerFetchRequest,
  type FollowerFetchResponse,
  type FollowerPartitionOptions,
  FollowerPartitionState,
  type FollowerStatus,
  type LocalLogPosition,
} from "./replication/follower-partition.ts";
export {
  type AcksAllResult,
  type AlterPartitionOutcome,
  type AlterPartitionResult,
  type FollowerFetch,
  type FollowerFetchOutcome,
  type LeaderPartitionOptions,
  LeaderPartitionState,
} from "./replication/leader-partition.ts";
export {
  AcksAllPurgatory,
  type AcksAllRegistration,
  type AcksAllWaiter,
  DelayedFetchPurgatory,
  type DelayedFetchRegistration,
  type DelayedFetchWaiter,
  type PurgatoryOptions,
} from "./replication/purgatory.ts";
export {
  type FetchObservation,
  initialReplicaState,
  isCaughtUp,
  type ReplicaState,
  UNKNOWN_OFFSET,
  updateFetchState,
} from "./replication/replica-state.ts";
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
} from "./replication/types.ts";
