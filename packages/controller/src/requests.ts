/**
 * Controller requests and responses (the in-process form of the later gRPC API), the
 * in-memory broker sessions, and the state the pure handlers read.
 */
import type { ErrorCodeInfo } from "@strand/protocol";
import type {
  CreateAclsRequest,
  CreateAclsResponse,
  DeleteAclsRequest,
  DeleteAclsResponse,
} from "./acls.ts";
import type { MetadataImage, PartitionRegistration } from "./image.ts";
import type { BrokerListener, ConfigResource, MetadataRecord, ScramMechanism } from "./records.ts";
import type {
  BrokerEpoch,
  BrokerId,
  LeaderEpoch,
  MetadataOffset,
  PartitionEpoch,
  TopicId,
} from "./types.ts";

/** Timeouts and limits of the controller. */
export interface ControllerConfig {
  /** How often brokers heartbeat (told to brokers; Kafka's broker.heartbeat.interval.ms). */
  readonly heartbeatIntervalMs: number;
  /** A broker with no heartbeat for longer than this is fenced (broker.session.timeout.ms). */
  readonly sessionTimeoutMs: number;
  /** How often tick() rebalances preferred leaders (leader.imbalance.check.interval). */
  readonly preferredLeaderCheckIntervalMs: number;
  /** Most partitions one topic may have. */
  readonly partitionCountMax: number;
  /** Producer ids per allocated block. */
  readonly producerIdBlockSize: number;
  /**
   * Most partition replicas one broker may hold (max.partitions.per.broker): creations that
   * would place more are refused, which bounds the image and the work of one fence.
   */
  readonly maxReplicasPerBroker: number;
}

/** Kafka's defaults: heartbeat 2 s, session 9 s, imbalance check 5 min. */
export const DEFAULT_CONTROLLER_CONFIG: ControllerConfig = Object.freeze({
  heartbeatIntervalMs: 2_000,
  sessionTimeoutMs: 9_000,
  preferredLeaderCheckIntervalMs: 300_000,
  partitionCountMax: 10_000,
  producerIdBlockSize: 1_000,
  maxReplicasPerBroker: 4_000,
});

/** What the active controller remembers (in memory only) about a broker's heartbeats. */
export interface BrokerSession {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
  /** When the last heartbeat (or registration) arrived. */
  readonly lastContactMs: number;
  /** The metadata offset the broker last reported having applied. */
  readonly metadataOffset: MetadataOffset;
  /** During controlled shutdown: the offset the broker must reach before it may stop. */
  readonly shutdownOffset: MetadataOffset | null;
}

/** Sessions by broker id. */
export type BrokerSessions = ReadonlyMap<BrokerId, BrokerSession>;

/** Everything a pure handler reads. */
export interface QuorumControllerState {
  /** The latest image: committed records plus the active controller's pending proposals. */
  readonly image: MetadataImage;
  /** The highest committed metadata offset. */
  readonly committedOffset: MetadataOffset;
  readonly sessions: BrokerSessions;
  readonly config: ControllerConfig;
}

/** What a handler returns: records to propose as one batch, and the response. */
export interface ControllerResult<R> {
  /** One atomic batch (empty: nothing to write). */
  readonly records: readonly MetadataRecord[];
  readonly response: R;
  /** The new sessions, when the handler changed them. */
  readonly sessions?: BrokerSessions;
}

/** Fields every response has. */
export interface ResponseBase {
  readonly errorCode: ErrorCodeInfo;
  /** Why it failed, or null on success. */
  readonly errorMessage: string | null;
}

/** A broker announces itself (at every start, with a fresh incarnation id). */
export interface RegisterBrokerRequest {
  readonly type: "registerBroker";
  readonly brokerId: BrokerId;
  readonly incarnationId: string;
  readonly listeners: readonly BrokerListener[];
  readonly rack: string | null;
}
/** The broker's epoch is the offset of its registration record, filled in on append. */
export interface RegisterBrokerResponse extends ResponseBase {
  readonly brokerEpoch: BrokerEpoch | null;
}

/** A broker's periodic heartbeat. */
export interface BrokerHeartbeatRequest {
  readonly type: "brokerHeartbeat";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
  /** The metadata offset the broker has applied. */
  readonly metadataOffset: MetadataOffset;
  /** The broker asks to be (or stay) fenced, e.g. while it loads its logs. */
  readonly wantFence: boolean;
  /** The broker asks for a controlled shutdown. */
  readonly wantShutdown: boolean;
}
/** What the broker should do next. */
export interface BrokerHeartbeatResponse extends ResponseBase {
  /** The broker's metadata reached its registration offset. */
  readonly isCaughtUp: boolean;
  readonly isFenced: boolean;
  /** The controlled shutdown is complete: the broker may stop. */
  readonly shouldShutdown: boolean;
}

/** Removes a broker from the cluster. */
export interface UnregisterBrokerRequest {
  readonly type: "unregisterBroker";
  readonly brokerId: BrokerId;
}

/** Creates a topic. Either counts (placement chooses) or explicit assignments. */
export interface CreateTopicRequest {
  readonly type: "createTopic";
  readonly name: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
  /** Explicit replicas per partition (then the counts are ignored). */
  readonly assignments?: readonly (readonly BrokerId[])[];
  /** Validate and answer, write nothing. */
  readonly validateOnly?: boolean;
}
/** The created topic. */
export interface CreateTopicResponse extends ResponseBase {
  readonly topicId: TopicId | null;
  readonly assignments: readonly (readonly BrokerId[])[];
}

/**
 * Raises a topic's partition count (Kafka's CreatePartitions); partitions are never removed,
 * so a count at or below the current one is refused (INVALID_PARTITIONS).
 */
export interface CreatePartitionsRequest {
  readonly type: "createPartitions";
  readonly name: string;
  /** The new total partition count. */
  readonly count: number;
  /** Validate and answer, write nothing. */
  readonly validateOnly?: boolean;
}
/** The replicas of the new partitions, the first new partition first. */
export interface CreatePartitionsResponse extends ResponseBase {
  readonly assignments: readonly (readonly BrokerId[])[];
}

/** Deletes a topic by name. */
export interface DeleteTopicRequest {
  readonly type: "deleteTopic";
  readonly name: string;
}
/** The deleted topic's id. */
export interface DeleteTopicResponse extends ResponseBase {
  readonly topicId: TopicId | null;
}

/** A partition leader asks to change the ISR (compare-and-set on the epochs). */
export interface AlterPartitionRequest {
  readonly type: "alterPartition";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
  readonly topicId: TopicId;
  readonly partition: number;
  readonly leaderEpoch: LeaderEpoch;
  readonly partitionEpoch: PartitionEpoch;
  readonly isr: readonly BrokerId[];
}
/** The partition state after the change (or the current one on error, when known). */
export interface AlterPartitionResponse extends ResponseBase {
  readonly partition: PartitionRegistration | null;
}

/** A broker asks for a block of producer ids. */
export interface AllocateProducerIdsRequest {
  readonly type: "allocateProducerIds";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
}
/** The allocated block [firstProducerId, firstProducerId + size). */
export interface AllocateProducerIdsResponse extends ResponseBase {
  readonly firstProducerId: bigint;
  readonly size: number;
}

/** Sets or deletes dynamic configs of one resource. */
export interface AlterConfigsRequest {
  readonly type: "alterConfigs";
  readonly resource: ConfigResource;
  /** value null deletes the key. */
  readonly changes: readonly { readonly key: string; readonly value: string | null }[];
  readonly validateOnly?: boolean;
}

/** Sets (credential non-null) or deletes (null) one user's SCRAM credential. */
export interface AlterUserScramCredentialRequest {
  readonly type: "alterUserScramCredential";
  readonly name: string;
  readonly mechanism: ScramMechanism;
  readonly credential: {
    readonly salt: Uint8Array;
    readonly iterations: number;
    readonly storedKey: Uint8Array;
    readonly serverKey: Uint8Array;
  } | null;
}

/** Sets a feature's finalized level (0 removes it). */
export interface UpdateFeatureRequest {
  readonly type: "updateFeature";
  readonly name: string;
  readonly level: number;
}

/** Moves leadership back to preferred replicas now. */
export interface ElectPreferredLeadersRequest {
  readonly type: "electPreferredLeaders";
}
/** How many partitions moved. */
export interface ElectPreferredLeadersResponse extends ResponseBase {
  readonly moved: number;
}

/** Every request the controller handles. */
export type ControllerRequest =
  | RegisterBrokerRequest
  | BrokerHeartbeatRequest
  | UnregisterBrokerRequest
  | CreateTopicRequest
  | CreatePartitionsRequest
  | DeleteTopicRequest
  | AlterPartitionRequest
  | AllocateProducerIdsRequest
  | AlterConfigsRequest
  | AlterUserScramCredentialRequest
  | UpdateFeatureRequest
  | ElectPreferredLeadersRequest
  | CreateAclsRequest
  | DeleteAclsRequest;

/** The response type of each request type. */
export interface ControllerResponses {
  registerBroker: RegisterBrokerResponse;
  brokerHeartbeat: BrokerHeartbeatResponse;
  unregisterBroker: ResponseBase;
  createTopic: CreateTopicResponse;
  createPartitions: CreatePartitionsResponse;
  deleteTopic: DeleteTopicResponse;
  alterPartition: AlterPartitionResponse;
  allocateProducerIds: AllocateProducerIdsResponse;
  alterConfigs: ResponseBase;
  alterUserScramCredential: ResponseBase;
  updateFeature: ResponseBase;
  electPreferredLeaders: ElectPreferredLeadersResponse;
  createAcls: CreateAclsResponse;
  deleteAcls: DeleteAclsResponse;
}

/** The response to request `R`. */
export type ResponseOf<R extends ControllerRequest> = ControllerResponses[R["type"]];
