/**
 * The metadata image: an immutable view of the cluster metadata at one offset of the metadata
 * log, and the delta that builds the next image from records (Kafka's MetadataImage and
 * MetadataDelta). Only {@link MetadataDelta.replay} changes state, in an exhaustive switch;
 * `apply()` freezes the result into a new image that shares unchanged maps and entries with
 * the previous one.
 *
 * Cost: a delta copies each map it touches once (a topic's partition map, a broker's replica
 * index entry), not once per record, so replaying a batch costs O(records + touched maps):
 * a 10,000-partition CreateTopic is one copy-free pass, not 10,000 copies of a growing map.
 */
import { assert } from "@strand/base";
import type { AclEntry } from "./acls.ts";
import type {
  BrokerControlledShutdownRecord,
  BrokerListener,
  ConfigResource,
  FenceBrokerRecord,
  MetadataProvenance,
  MetadataRecord,
  PartitionChangeRecord,
  RegisterBrokerRecord,
  ScramMechanism,
  UnfenceBrokerRecord,
} from "./records.ts";
import {
  type BrokerEpoch,
  type BrokerId,
  brokerEpoch,
  type LeaderEpoch,
  leaderEpoch,
  type MetadataOffset,
  metadataOffset,
  type PartitionEpoch,
  partitionEpoch,
  type TopicId,
} from "./types.ts";

/** A registered broker. */
export interface BrokerRegistration {
  readonly id: BrokerId;
  /** Offset of the broker's RegisterBroker record. */
  readonly epoch: BrokerEpoch;
  readonly incarnationId: string;
  readonly listeners: readonly BrokerListener[];
  readonly rack: string | null;
  /** A fenced broker leads nothing and joins no ISR. */
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

/** One partition's replica assignment and leadership. */
export interface PartitionRegistration {
  readonly topicId: TopicId;
  readonly partition: number;
  /** Preference order: the first replica is the preferred leader. */
  readonly replicas: readonly BrokerId[];
  readonly isr: readonly BrokerId[];
  /** The leader, or null when the partition is offline. */
  readonly leader: BrokerId | null;
  readonly leaderEpoch: LeaderEpoch;
  readonly partitionEpoch: PartitionEpoch;
}

/** A topic and its partitions. */
export interface TopicImage {
  readonly id: TopicId;
  readonly name: string;
  readonly partitions: ReadonlyMap<number, PartitionRegistration>;
}

/** The cluster metadata at one offset of the metadata log. Never mutated. */
export interface MetadataImage {
  /** Offset of the last batch applied (0: empty image). */
  readonly offset: MetadataOffset;
  /** Metadata log epoch (Raft term) of the last batch applied. */
  readonly epoch: number;
  readonly brokers: ReadonlyMap<BrokerId, BrokerRegistration>;
  readonly topicsById: ReadonlyMap<TopicId, TopicImage>;
  readonly topicsByName: ReadonlyMap<string, TopicImage>;
  /** Dynamic configs by {@link configResourceKey}, then key -> value. */
  readonly configs: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Access control entries by id (acls.ts); a new map whenever an ACL changes. */
  readonly acls: ReadonlyMap<string, AclEntry>;
  /** Finalized feature levels. */
  readonly features: ReadonlyMap<string, number>;
  /** The last block of producer ids handed out, if any. */
  readonly lastProducerIdsBlock: ProducerIdsBlock | null;
  /** The first producer id of the next block to hand out. */
  readonly nextProducerId: bigint;
  /** The cluster's id; null until the first active controller has written it. */
  readonly clusterId: string | null;
  /** SCRAM users: name -> mechanism -> credential (a user without credentials is absent). */
  readonly users: ReadonlyMap<string, ReadonlyMap<ScramMechanism, ScramCredential>>;
  /**
   * Index: broker id -> the partitions that list it as a replica (which covers ISR and leader),
   * by {@link partitionKey}. Elections for a leaving broker read this instead of every partition.
   */
  readonly partitionsByBroker: ReadonlyMap<BrokerId, ReadonlyMap<string, TopicIdPartition>>;
}

/** A user's SCRAM credential of one mechanism (RFC 5802 StoredKey and ServerKey). */
export interface ScramCredential {
  readonly mechanism: ScramMechanism;
  readonly salt: Uint8Array;
  readonly iterations: number;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

/** A block of producer ids handed to a broker. */
export interface ProducerIdsBlock {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: BrokerEpoch;
  readonly firstProducerId: bigint;
  readonly size: number;
}

/** The first id after a block (0 when no block was handed out). */
export function nextProducerId(block: ProducerIdsBlock | null): bigint {
  return block === null ? 0n : block.firstProducerId + BigInt(block.size);
}

/** The image before any record. */
export const EMPTY_IMAGE: MetadataImage = Object.freeze({
  offset: metadataOffset(0),
  epoch: 0,
  brokers: new Map(),
  topicsById: new Map(),
  topicsByName: new Map(),
  configs: new Map(),
  acls: new Map(),
  features: new Map(),
  lastProducerIdsBlock: null,
  nextProducerId: 0n,
  clusterId: null,
  users: new Map(),
  partitionsByBroker: new Map(),
});

/** The key of a partition in {@link MetadataImage.partitionsByBroker}: `topicId:partition`. */
export function partitionKey(topicId: TopicId, partition: number): string {
  return `${topicId}:${partition}`;
}

/** The map key of a config resource: `topic/orders`, `broker/3`, `cluster/`. */
export function configResourceKey(resource: ConfigResource): string {
  return `${resource.type}/${resource.name}`;
}

/** A partition identified by topic id and number. */
export interface TopicIdPartition {
  readonly topicId: TopicId;
  readonly partition: number;
}

/**
 * The changes of one or more record batches on top of a base image. Records go in through
 * {@link replay}; {@link apply} returns the new image. The change sets tell brokers what
 * moved (see {@link localChanges}).
 */
export class MetadataDelta {
  /** The image the changes apply to. */
  readonly base: MetadataImage;
  /** Brokers registered, changed or removed. */
  readonly changedBrokers = new Set<BrokerId>();
  /** Topics created (by id). */
  readonly createdTopics = new Set<TopicId>();
  /** Topics removed, with their last state. */
  readonly deletedTopics = new Map<TopicId, TopicImage>();
  /** Partitions created or changed, per topic id. */
  readonly changedPartitions = new Map<TopicId, Set<number>>();
  /** Config resources changed, by {@link configResourceKey}. */
  readonly changedConfigs = new Set<string>();
  /** Features changed. */
  readonly changedFeatures = new Set<string>();
  /** Users whose SCRAM credentials were set or removed. */
  readonly changedUsers = new Set<string>();

  #offset: MetadataOffset;
  #epoch: number;
  #brokers: Map<BrokerId, BrokerRegistration> | null = null;
  #topics: Map<TopicId, TopicImage> | null = null;
  #names: Map<string, TopicImage> | null = null;
  #configs: Map<string, ReadonlyMap<string, string>> | null = null;
  #acls: Map<string, AclEntry> | null = null;
  #features: Map<string, number> | null = null;
  #users: Map<string, ReadonlyMap<ScramMechanism, ScramCredential>> | null = null;
  #lastProducerIdsBlock: ProducerIdsBlock | null;
  #clusterId: string | null;
  /** Partition maps this delta owns (copied or created here): written in place, not copied. */
  readonly #ownedPartitions = new Map<TopicId, Map<number, PartitionRegistration>>();
  #byBroker: Map<BrokerId, ReadonlyMap<string, TopicIdPartition>> | null = null;
  /** Index entries this delta owns. */
  readonly #ownedByBroker = new Map<BrokerId, Map<string, TopicIdPartition>>();
  /** Set by {@link apply}: the maps now belong to an image that readers hold. */
  #applied = false;

  constructor(base: MetadataImage) {
    this.base = base;
    this.#clusterId = base.clusterId;
    this.#offset = base.offset;
    this.#epoch = base.epoch;
    this.#lastProducerIdsBlock = base.lastProducerIdsBlock;
  }

  #nextProducerId(): bigint {
    return nextProducerId(this.#lastProducerIdsBlock);
  }

  /** Applies one record that sits at `offset` in the metadata log. */
  replay(record: MetadataRecord, offset: MetadataOffset): void {
    assert(!this.#applied, "replay after apply(): the image's maps would change under readers");
    assert(offset >= this.#offset, `replay at offset ${offset} before ${this.#offset}`);
    this.#offset = offset;
    switch (record.type) {
      case "registerBroker":
        this.#registerBroker(record, record.brokerEpoch ?? brokerEpoch(offset));
        break;
      case "unregisterBroker":
        this.#broker(record.brokerId, record.brokerEpoch);
        this.#brokersW().delete(record.brokerId);
        this.changedBrokers.add(record.brokerId);
        break;
      case "fenceBroker":
      case "unfenceBroker":
      case "brokerControlledShutdown":
        this.#changeBroker(record);
        break;
      case "topic":
        this.#createTopic(record.topicId, record.name);
        break;
      case "partition": {
        const { type: _, ...rest } = record;
        this.#putPartition(Object.freeze({ ...rest }));
        break;
      }
      case "partitionChange":
        this.#changePartition(record);
        break;
      case "removeTopic":
        this.#removeTopic(record.topicId);
        break;
      case "config":
        this.#setConfig(record.resource, record.key, record.value);
        break;
      case "featureLevel":
        this.#features ??= new Map(this.base.features);
        if (record.level === 0) this.#features.delete(record.name);
        else this.#features.set(record.name, record.level);
        this.changedFeatures.add(record.name);
        break;
      case "producerIdsBlock": {
        // Ids are never handed out twice; a snapshot's block may start after a gap.
        assert(record.firstProducerId >= this.#nextProducerId(), "producer id block reused ids");
        assert(record.size > 0, "empty producer id block");
        const { type: _, ...block } = record;
        this.#lastProducerIdsBlock = Object.freeze(block);
        break;
      }
      case "clusterId":
        // Written once per cluster: a second, different id would split the cluster's identity.
        assert(
          this.#clusterId === null || this.#clusterId === record.clusterId,
          `cluster id ${record.clusterId} would replace ${this.#clusterId}`,
        );
        this.#clusterId = record.clusterId;
        break;
      case "userScramCredential": {
        const { type: _, name, ...credential } = record;
        this.#setScram(name, record.mechanism, Object.freeze(credential));
        break;
      }
      case "removeUserScramCredential":
        this.#setScram(record.name, record.mechanism, null);
        break;
      case "accessControlEntry":
        this.#acls ??= new Map(this.base.acls);
        this.#acls.set(record.entry.id, Object.freeze({ ...record.entry }));
        break;
      case "removeAccessControlEntry":
        this.#acls ??= new Map(this.base.acls);
        assert(this.#acls.delete(record.id), `ACL ${record.id} does not exist`);
        break;
      case "noOp":
        break;
      default:
        unreachable(record);
    }
  }

  /** A (re-)registration: each incarnation gets a larger epoch than the one it replaces. */
  #registerBroker(record: RegisterBrokerRecord, epoch: BrokerEpoch): void {
    const old = this.broker(record.brokerId);
    assert(
      old === undefined || epoch > old.epoch,
      `broker ${record.brokerId} epoch ${epoch} does not follow ${old?.epoch}`,
    );
    this.#putBroker({
      id: record.brokerId,
      epoch,
      incarnationId: record.incarnationId,
      listeners: Object.freeze(record.listeners.map((l) => Object.freeze({ ...l }))),
      rack: record.rack,
      fenced: record.fenced,
      inControlledShutdown: record.inControlledShutdown,
    });
  }

  #changeBroker(
    record: FenceBrokerRecord | UnfenceBrokerRecord | BrokerControlledShutdownRecord,
  ): void {
    const b = this.#broker(record.brokerId, record.brokerEpoch);
    if (record.type === "fenceBroker") {
      this.#putBroker({ ...b, fenced: true, inControlledShutdown: false });
    } else if (record.type === "unfenceBroker") {
      this.#putBroker({ ...b, fenced: false });
    } else {
      this.#putBroker({ ...b, inControlledShutdown: true });
    }
  }

  /** Applies a whole batch that sits at `provenance.offset`. */
  replayBatch(records: readonly MetadataRecord[], provenance: MetadataProvenance): void {
    for (const record of records) this.replay(record, provenance.offset);
    this.#offset = provenance.offset;
    this.#epoch = provenance.epoch;
  }

  /** The current state of a broker (base plus changes so far). */
  broker(id: BrokerId): BrokerRegistration | undefined {
    return (this.#brokers ?? this.base.brokers).get(id);
  }

  /** The current state of a topic (base plus changes so far). */
  topic(id: TopicId): TopicImage | undefined {
    return (this.#topics ?? this.base.topicsById).get(id);
  }

  /** The new image: the base with every replayed change. */
  apply(): MetadataImage {
    this.#applied = true;
    return Object.freeze({
      offset: this.#offset,
      epoch: this.#epoch,
      brokers: this.#brokers ?? this.base.brokers,
      topicsById: this.#topics ?? this.base.topicsById,
      topicsByName: this.#names ?? this.base.topicsByName,
      configs: this.#configs ?? this.base.configs,
      acls: this.#acls ?? this.base.acls,
      features: this.#features ?? this.base.features,
      lastProducerIdsBlock: this.#lastProducerIdsBlock,
      nextProducerId: this.#nextProducerId(),
      clusterId: this.#clusterId,
      users: this.#users ?? this.base.users,
      partitionsByBroker: this.#byBroker ?? this.base.partitionsByBroker,
    });
  }

  #brokersW(): Map<BrokerId, BrokerRegistration> {
    this.#brokers ??= new Map(this.base.brokers);
    return this.#brokers;
  }

  #broker(id: BrokerId, epoch: BrokerEpoch): BrokerRegistration {
    const b = this.broker(id);
    assert(b !== undefined, `broker ${id} is not registered`);
    assert(b.epoch === epoch, `broker ${id} epoch ${epoch} is not the registered ${b.epoch}`);
    return b;
  }

  #putBroker(b: BrokerRegistration): void {
    this.#brokersW().set(b.id, Object.freeze(b));
    this.changedBrokers.add(b.id);
  }

  #topicsW(): [Map<TopicId, TopicImage>, Map<string, TopicImage>] {
    this.#topics ??= new Map(this.base.topicsById);
    this.#names ??= new Map(this.base.topicsByName);
    return [this.#topics, this.#names];
  }

  #createTopic(id: TopicId, name: string): void {
    const [byId, byName] = this.#topicsW();
    assert(!byId.has(id), `topic id ${id} already exists`);
    assert(!byName.has(name), `topic ${name} already exists`);
    const partitions = new Map<number, PartitionRegistration>();
    this.#ownedPartitions.set(id, partitions);
    const topic: TopicImage = Object.freeze({ id, name, partitions });
    byId.set(id, topic);
    byName.set(name, topic);
    this.createdTopics.add(id);
  }

  #removeTopic(id: TopicId): void {
    const [byId, byName] = this.#topicsW();
    const topic = byId.get(id);
    assert(topic !== undefined, `removing unknown topic ${id}`);
    byId.delete(id);
    byName.delete(topic.name);
    for (const p of topic.partitions.values()) this.#unindex(p, p.replicas);
    this.#ownedPartitions.delete(id);
    this.changedPartitions.delete(id);
    if (this.createdTopics.delete(id)) return;
    this.deletedTopics.set(id, topic);
    const key = configResourceKey({ type: "topic", name: topic.name });
    if ((this.#configs ?? this.base.configs).has(key)) {
      this.#configs ??= new Map(this.base.configs);
      this.#configs.delete(key);
      this.changedConfigs.add(key);
    }
  }

  #putPartition(p: PartitionRegistration): void {
    const topic = this.topic(p.topicId);
    assert(topic !== undefined, `partition of unknown topic ${p.topicId}`);
    assert(
      p.isr.every((b) => p.replicas.includes(b)),
      "ISR outside the replicas",
    );
    assert(p.leader === null || p.isr.includes(p.leader), "leader outside the ISR");
    const prev = topic.partitions.get(p.partition);
    assert(
      prev === undefined ||
        (p.leaderEpoch >= prev.leaderEpoch && p.partitionEpoch > prev.partitionEpoch),
      `partition ${p.topicId}:${p.partition} epochs went backwards`,
    );
    this.#partitionsW(topic).set(p.partition, p);
    this.#index(p, prev?.replicas ?? []);
    const changed = this.changedPartitions.get(topic.id) ?? new Set<number>();
    this.changedPartitions.set(topic.id, changed.add(p.partition));
  }

  /** The topic's partition map, copied (with a new topic entry) the first time it is written. */
  #partitionsW(topic: TopicImage): Map<number, PartitionRegistration> {
    let partitions = this.#ownedPartitions.get(topic.id);
    if (partitions !== undefined) return partitions;
    partitions = new Map(topic.partitions);
    this.#ownedPartitions.set(topic.id, partitions);
    const next: TopicImage = Object.freeze({ ...topic, partitions });
    const [byId, byName] = this.#topicsW();
    byId.set(topic.id, next);
    byName.set(topic.name, next);
    return partitions;
  }

  /** The broker's index entry, copied the first time this delta writes it. */
  #brokerIndexW(id: BrokerId): Map<string, TopicIdPartition> {
    let entry = this.#ownedByBroker.get(id);
    if (entry !== undefined) return entry;
    this.#byBroker ??= new Map(this.base.partitionsByBroker);
    entry = new Map(this.#byBroker.get(id));
    this.#ownedByBroker.set(id, entry);
    this.#byBroker.set(id, entry);
    return entry;
  }

  /** Moves `p` in the index from its previous replicas to its current ones. */
  #index(p: PartitionRegistration, previous: readonly BrokerId[]): void {
    if (previous === p.replicas) return;
    this.#unindex(
      p,
      previous.filter((b) => !p.replicas.includes(b)),
    );
    const key = partitionKey(p.topicId, p.partition);
    for (const b of p.replicas) {
      if (previous.includes(b)) continue;
      this.#brokerIndexW(b).set(key, Object.freeze({ topicId: p.topicId, partition: p.partition }));
    }
  }

  #unindex(p: TopicIdPartition, brokers: readonly BrokerId[]): void {
    const key = partitionKey(p.topicId, p.partition);
    for (const b of brokers) {
      const entry = this.#brokerIndexW(b);
      entry.delete(key);
      if (entry.size === 0) {
        this.#byBroker?.delete(b);
        this.#ownedByBroker.delete(b);
      }
    }
  }

  #changePartition(record: PartitionChangeRecord): void {
    const p = this.topic(record.topicId)?.partitions.get(record.partition);
    assert(p !== undefined, `change of unknown partition ${record.topicId}:${record.partition}`);
    const leaderChanged = record.leader !== undefined;
    this.#putPartition({
      ...p,
      replicas: record.replicas ?? p.replicas,
      isr: record.isr ?? p.isr,
      leader: leaderChanged ? (record.leader ?? null) : p.leader,
      leaderEpoch: leaderChanged ? leaderEpoch(p.leaderEpoch + 1) : p.leaderEpoch,
      partitionEpoch: partitionEpoch(p.partitionEpoch + 1),
    });
  }

  /** Sets (or with null removes) one credential; a user left with none disappears. */
  #setScram(name: string, mechanism: ScramMechanism, credential: ScramCredential | null): void {
    this.#users ??= new Map(this.base.users);
    const credentials = new Map(this.#users.get(name));
    if (credential === null) credentials.delete(mechanism);
    else credentials.set(mechanism, credential);
    if (credentials.size === 0) this.#users.delete(name);
    else this.#users.set(name, credentials);
    this.changedUsers.add(name);
  }

  #setConfig(resource: ConfigResource, key: string, value: string | null): void {
    const rk = configResourceKey(resource);
    this.#configs ??= new Map(this.base.configs);
    const entries = new Map(this.#configs.get(rk));
    if (value === null) entries.delete(key);
    else entries.set(key, value);
    if (entries.size === 0) this.#configs.delete(rk);
    else this.#configs.set(rk, entries);
    this.changedConfigs.add(rk);
  }
}

function unreachable(record: never): never {
  throw new Error(`unknown metadata record ${JSON.stringify(record)}`);
}

/** Replays one record at `offset` and returns the new image (the base is unchanged). */
export function replay(
  image: MetadataImage,
  record: MetadataRecord,
  offset: MetadataOffset,
): MetadataImage {
  const delta = new MetadataDelta(image);
  delta.replay(record, offset);
  return delta.apply();
}

/** Replays a batch and returns the new image with the delta that describes the change. */
export function applyBatch(
  image: MetadataImage,
  records: readonly MetadataRecord[],
  provenance: MetadataProvenance,
): { readonly image: MetadataImage; readonly delta: MetadataDelta } {
  const delta = new MetadataDelta(image);
  delta.replayBatch(records, provenance);
  return { image: delta.apply(), delta };
}
