/**
 * What the client services need from the node: the replica manager, the metadata image, the
 * controller, peers' client listeners (for forwarding), metrics and a logger. The node builds
 * one {@link ServiceContext}; tests build their own around stand-ins.
 */

import type { Logger } from "@strand/base";
import type { MetadataImage } from "@strand/controller";
import type {
  AddRaftVoterRequest,
  AddRaftVoterResponse__Output,
  AlterConfigsRequest,
  AlterConfigsResponse__Output,
  AlterUserScramCredentialRequest,
  AlterUserScramCredentialResponse__Output,
  ClientStubs,
  CreateAclsRequest,
  CreateAclsResponse__Output,
  CreatePartitionsRequest,
  CreatePartitionsResponse__Output,
  CreateTopicsRequest,
  CreateTopicsResponse__Output,
  DeleteAclsRequest,
  DeleteAclsResponse__Output,
  DeleteTopicsRequest,
  DeleteTopicsResponse__Output,
  DescribeClusterResponse__Output,
  RemoveRaftVoterRequest,
  RemoveRaftVoterResponse__Output,
} from "@strand/protocol";
import type { BrokerMetrics } from "../admin/metrics.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import type { ReplicaManagerApi } from "../replica/types.ts";
import type { Authorizer } from "../security/authorizer.ts";
import type { Authenticator } from "../security/principal.ts";
import type { StreamBounds } from "./stream-limits.ts";

/** A structured logger (pino-compatible). */
export type ServiceLogger = Logger;

/** Writes to the active controller (following NOT_CONTROLLER hints). */
export interface ControllerWrites {
  createTopics(request: CreateTopicsRequest): Promise<CreateTopicsResponse__Output>;
  deleteTopics(request: DeleteTopicsRequest): Promise<DeleteTopicsResponse__Output>;
  alterConfigs(request: AlterConfigsRequest): Promise<AlterConfigsResponse__Output>;
  alterUserScramCredential(
    request: AlterUserScramCredentialRequest,
  ): Promise<AlterUserScramCredentialResponse__Output>;
  createPartitions(request: CreatePartitionsRequest): Promise<CreatePartitionsResponse__Output>;
  /** DescribeCluster on a controller (the active one when known): the quorum's state. */
  describeQuorum(): Promise<DescribeClusterResponse__Output>;
  addRaftVoter(request: AddRaftVoterRequest): Promise<AddRaftVoterResponse__Output>;
  removeRaftVoter(request: RemoveRaftVoterRequest): Promise<RemoveRaftVoterResponse__Output>;
  createAcls(request: CreateAclsRequest): Promise<CreateAclsResponse__Output>;
  deleteAcls(request: DeleteAclsRequest): Promise<DeleteAclsResponse__Output>;
}

/** Cluster defaults applied to topics created without explicit values. */
export interface TopicDefaults {
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly minInsyncReplicas: number;
  /** Wait for a created topic to reach this broker's image, when the request sets none. */
  readonly requestTimeoutMs: number;
}

/** See the module comment. */
export interface ServiceContext {
  /** This broker's id. */
  readonly nodeId: number;
  readonly replicas: ReplicaManagerApi;
  /** The metadata image this broker follows (committed). */
  image(): MetadataImage;
  /** The active controller's id as last seen, or -1. */
  controllerId(): number;
  readonly controller: ControllerWrites;
  /** Client stubs to another broker's client listener, by broker id (null: unknown). */
  peer(brokerId: number): ClientStubs | null;
  readonly metrics: BrokerMetrics;
  readonly logger: ServiceLogger;
  readonly defaults: TopicDefaults;
  /** Resolves once the image's offset reaches `offset` or `timeoutMs` passes. */
  waitForImage(predicate: (image: MetadataImage) => boolean, timeoutMs: number): Promise<boolean>;
  /** Aborted when the node starts shutting down (ends long polls and streams). */
  readonly shutdownSignal: AbortSignal;
  /** The consumer-group coordinator; absent: GroupService answers COORDINATOR_NOT_AVAILABLE. */
  readonly groups?: GroupCoordinator;
  /** Bounds on open Subscribe streams; default {@link DEFAULT_STREAM_BOUNDS}. */
  readonly streamBounds?: StreamBounds;
  /** Who made a call; absent: the transport's identity only (`transportAuthenticator`). */
  readonly authenticator?: Authenticator;
  /** What a principal may do; absent: everything (`authorizer=none`). */
  readonly authorizer?: Authorizer;
}

/** The node's defaults for {@link ServiceContext.streamBounds} (settings subscribe.streams.*). */
export const DEFAULT_STREAM_BOUNDS: StreamBounds = { total: 1000, perConnection: 100 };
