/**
 * Metadata records as a TypeScript discriminated union (the in-memory form of
 * proto/strand/v1/metadata.proto). Records are typed and versioned; a type is never
 * renumbered or reused. Only `replay` (image.ts) turns records into state.
 */
import type { AclEntry } from "./acls.ts";
import type {
  BrokerEpoch,
  BrokerId,
  LeaderEpoch,
  MetadataOffset,
  PartitionEpoch,
  TopicId,
} from "./types.ts";

/** A listener a broker accepts connections on. */
export interface BrokerListener {
  /** Listener name, e.g. "client". */
  readonly name: string;
  /** Host name or address. */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
}

/**
 * A broker registered; it starts fenced. Its broker epoch is the offset of this record, unless
 * `brokerEpoch` says otherwise (snapshots, which also carry the shutdown flag).
 */
export interface RegisterBrokerRecord {
  readonly type: "registerBroker";
  readonly brokerId: BrokerId;
  readonly incarnationId: string;
  readonly listeners: readonly BrokerListener[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly brokerEpoch: BrokerEpoch | null;
  readonly inControlledShutdown: boolean;
}

/** A broker was removed from the cluster. */
export interface UnregisterBrokerRecord {
  readonly type: "unregisterBroker";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
}

/** A broker was fenced; replay also clears its controlled-shutdown flag. */
export interface FenceBrokerRecord {
  readonly type: "fenceBroker";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
}

/** A broker was unfenced. */
export interface UnfenceBrokerRecord {
  readonly type: "unfenceBroker";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
}

/** A broker began a controlled shutdown. */
export interface BrokerControlledShutdownRecord {
  readonly type: "brokerControlledShutdown";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
}

/** A topic was created; its PartitionRecords follow in the same batch. */
export interface TopicRecord {
  readonly type: "topic";
  readonly name: string;
  readonly topicId: TopicId;
}

/** The full state of one partition. `leader` null = no leader (-1 on the wire). */
export interface PartitionRecord {
  readonly type: "partition";
  readonly topicId: TopicId;
  readonly partition: number;
  readonly replicas: readonly BrokerId[];
  readonly isr: readonly BrokerId[];
  readonly leader: BrokerId | null;
  readonly leaderEpoch: LeaderEpoch;
  readonly partitionEpoch: PartitionEpoch;
}

/**
 * A change to one partition. An absent (`undefined`) field does not change; `leader: null`
 * means "no leader". Replay bumps partitionEpoch, and leaderEpoch when `leader` is present.
 */
export interface PartitionChangeRecord {
  readonly type: "partitionChange";
  readonly topicId: TopicId;
  readonly partition: number;
  readonly leader?: BrokerId | null;
  readonly isr?: readonly BrokerId[];
  readonly replicas?: readonly BrokerId[];
}

/** A topic was deleted, with its partitions and configs. */
export interface RemoveTopicRecord {
  readonly type: "removeTopic";
  readonly topicId: TopicId;
}

/** The resource kinds that carry dynamic configuration. */
export type ConfigResourceType = "topic" | "broker" | "cluster";

/** A configured resource: a topic by name, a broker by id in decimal, or the cluster (""). */
export interface ConfigResource {
  readonly type: ConfigResourceType;
  readonly name: string;
}

/** A dynamic configuration was set (`value` a string) or deleted (`value` null). */
export interface ConfigRecord {
  readonly type: "config";
  readonly resource: ConfigResource;
  readonly key: string;
  readonly value: string | null;
}

/** A feature's finalized level was set; level 0 removes it. */
export interface FeatureLevelRecord {
  readonly type: "featureLevel";
  readonly name: string;
  readonly level: number;
}

/** A block of producer ids was handed to a broker. */
export interface ProducerIdsBlockRecord {
  readonly type: "producerIdsBlock";
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
  readonly firstProducerId: bigint;
  readonly size: number;
}

/**
 * The cluster's id, written once by the first active controller of a new cluster (replay
 * keeps the first one: a later one can only come from a bug, and is refused).
 */
export interface ClusterIdRecord {
  readonly type: "clusterId";
  /** 16 random bytes, base64url without padding, as Kafka's cluster ids. */
  readonly clusterId: string;
}

/** The one SCRAM mechanism Strand stores (RFC 7677's family, with SHA-512 as Kafka's). */
export type ScramMechanism = "SCRAM-SHA-512";

/**
 * A user's SCRAM credential was set: what verifies a proof of the password (RFC 5802
 * StoredKey, ServerKey), never the password or the salted password.
 */
export interface UserScramCredentialRecord {
  readonly type: "userScramCredential";
  readonly name: string;
  readonly mechanism: ScramMechanism;
  readonly salt: Uint8Array;
  readonly iterations: number;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

/** A user's SCRAM credential of one mechanism was removed. */
export interface RemoveUserScramCredentialRecord {
  readonly type: "removeUserScramCredential";
  readonly name: string;
  readonly mechanism: ScramMechanism;
}

/** An access control entry was created (acls.ts). */
export interface AccessControlEntryRecord {
  readonly type: "accessControlEntry";
  readonly entry: AclEntry;
}

/** An access control entry was deleted, by id. */
export interface RemoveAccessControlEntryRecord {
  readonly type: "removeAccessControlEntry";
  readonly id: string;
}

/** A record with no effect. */
export interface NoOpRecord {
  readonly type: "noOp";
}

/** Every metadata record. */
export type MetadataRecord =
  | RegisterBrokerRecord
  | UnregisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | BrokerControlledShutdownRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | ConfigRecord
  | FeatureLevelRecord
  | ProducerIdsBlockRecord
  | ClusterIdRecord
  | UserScramCredentialRecord
  | RemoveUserScramCredentialRecord
  | AccessControlEntryRecord
  | RemoveAccessControlEntryRecord
  | NoOpRecord;

/** The `type` tag of a metadata record. */
export type MetadataRecordType = MetadataRecord["type"];

/**
 * The schema version this code writes for each record type (and the newest it reads). Bump a
 * version when a record gains a field whose meaning an older reader would get wrong.
 */
export const RECORD_VERSIONS: Readonly<Record<MetadataRecordType, number>> = Object.freeze({
  registerBroker: 1,
  unregisterBroker: 1,
  fenceBroker: 1,
  unfenceBroker: 1,
  brokerControlledShutdown: 1,
  topic: 1,
  partition: 1,
  partitionChange: 1,
  removeTopic: 1,
  config: 1,
  featureLevel: 1,
  producerIdsBlock: 1,
  clusterId: 1,
  userScramCredential: 1,
  removeUserScramCredential: 1,
  accessControlEntry: 1,
  removeAccessControlEntry: 1,
  noOp: 1,
});

/** Where a batch of records sits in the metadata log. */
export interface MetadataProvenance {
  /** The offset (Raft index) of the batch. */
  readonly offset: MetadataOffset;
  /** The metadata log epoch (Raft term) of the batch. */
  readonly epoch: number;
}
