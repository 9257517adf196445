/**
 * The controller quorum's I/O edge: ControllerNode (Raft + gRPC services), MetadataFollower
 * (brokers following the committed log), the ControllerService client helpers and the
 * wire conversions. Exported from @strand/controller.
 */
export { ControllerClient, DEFAULT_CALL_TIMEOUT_MS } from "./client.ts";
export {
  CLUSTER_ID_FILE,
  ClusterIdMismatchError,
  isClusterId,
  newClusterId,
  readClusterId,
} from "./cluster-id.ts";
export {
  bootstrapDirectoryId,
  parseVoters,
  QUORUM_VOTERS_MAX,
  type VoterConfig,
  voterAddress,
} from "./config.ts";
export {
  type DeltaListener,
  type FollowerTimers,
  MetadataFollower,
  type MetadataFollowerOptions,
} from "./follower.ts";
export {
  controllerClient,
  controllerServiceDefinition,
} from "./grpc.ts";
export {
  ControllerNode,
  type ControllerNodeOptions,
  checkVoterSet,
  DEFAULT_CONTROLLER_TICK_MS,
  DEFAULT_NOOP_INTERVAL_MS,
  METADATA_LOG_DIR,
  VoterSetMismatchError,
} from "./node.ts";
export { FORWARDED_BY_HEADER } from "./service.ts";
export {
  DEFAULT_CACHED_BATCHES_MAX,
  type LoggedBatch,
  MetadataStateMachine,
  type MetadataStateMachineOptions,
} from "./state-machine.ts";
export {
  FETCH_STREAMS_MAX,
  SNAPSHOT_CHUNK_RECORDS_MAX,
  STREAM_BATCHES_PER_ROUND_MAX,
} from "./stream.ts";
export {
  endpointRecord,
  VOTER_ENDPOINT_CONFIG_KEY,
  type VoterChangeOutcome,
  type VoterEndpoint,
  voterEndpoints,
  voterFromWire,
} from "./voters.ts";
export {
  type ControllerHint,
  errorToWire,
  InvalidArgumentError,
} from "./wire.ts";
