/**
 * Byte layout: one Raft entry of the metadata log holds one protobuf `strand.v1.MetadataRecordBatch`
 * (proto/strand/v1/metadata.proto): `repeated MetadataRecord records = 1`, each record being
 * `{ uint32 version = 1; oneof record { ...body = 10..40 } }`. int64 fields (broker epochs,
 * producer ids) travel as protobuf int64 and become numbers / bigints here, at the boundary.
 *
 * encode -> fromObject -> encode; decode -> decode -> toObject(longs: String) -> typed union,
 * validated on the way in (branded constructors assert ranges; unknown versions are refused).
 */

import type {
  AccessControlEntryRecord__Output,
  MetadataRecord__Output,
  MetadataRecordBatch__Output,
  PartitionChangeRecord__Output,
} from "@strand/protocol";
import { ErrorCode, protoDescriptor, StrandError } from "@strand/protocol";
import protobuf from "protobufjs";
import { type AclEntry, AclValidationError, aclId, validBinding } from "./acls.ts";
import {
  type ConfigResourceType,
  type MetadataRecord,
  type MetadataRecordType,
  type PartitionChangeRecord,
  RECORD_VERSIONS,
  type ScramMechanism,
} from "./records.ts";
import {
  type BrokerId,
  brokerEpoch,
  brokerId,
  leaderEpoch,
  NO_LEADER_WIRE,
  partitionEpoch,
  topicId,
} from "./types.ts";

// int64 precision: protocol's wire module installs `long` into protobufjs (imported above).
const root = protobuf.Root.fromJSON(protoDescriptor);
const BatchType = root.lookupType("strand.v1.MetadataRecordBatch");
const RecordType = root.lookupType("strand.v1.MetadataRecord");

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

/** A metadata record that cannot be decoded (unknown type, newer version, missing body). */
export class MetadataRecordError extends StrandError {
  constructor(message: string, code = ErrorCode.INVALID_RECORD) {
    super(code, message);
  }
}

const RESOURCE_TO_WIRE: Readonly<Record<ConfigResourceType, string>> = {
  topic: "CONFIG_RESOURCE_TYPE_TOPIC",
  broker: "CONFIG_RESOURCE_TYPE_BROKER",
  cluster: "CONFIG_RESOURCE_TYPE_CLUSTER",
};

function leaderToWire(leader: BrokerId | null): number {
  return leader ?? NO_LEADER_WIRE;
}

function leaderFromWire(leader: number): BrokerId | null {
  return leader === NO_LEADER_WIRE ? null : brokerId(leader);
}

/** The protobuf body (plain object) of one record, keyed by its oneof field name. */
function bodyToWire(record: MetadataRecord): object {
  switch (record.type) {
    case "registerBroker":
      return {
        brokerId: record.brokerId,
        incarnationId: record.incarnationId,
        listeners: record.listeners.map((l) => ({ ...l })),
        ...(record.rack === null ? {} : { rack: record.rack }),
        fenced: record.fenced,
        ...(record.brokerEpoch === null ? {} : { brokerEpoch: String(record.brokerEpoch) }),
        inControlledShutdown: record.inControlledShutdown,
      };
    case "unregisterBroker":
    case "fenceBroker":
    case "unfenceBroker":
    case "brokerControlledShutdown":
      return { brokerId: record.brokerId, brokerEpoch: String(record.brokerEpoch) };
    case "topic":
      return { name: record.name, topicId: record.topicId };
    case "partition":
      return { ...record, type: undefined, leader: leaderToWire(record.leader) };
    case "partitionChange":
      return {
        topicId: record.topicId,
        partition: record.partition,
        ...(record.leader === undefined ? {} : { leader: leaderToWire(record.leader) }),
        ...(record.isr === undefined ? {} : { isr: { ids: record.isr } }),
        ...(record.replicas === undefined ? {} : { replicas: { ids: record.replicas } }),
      };
    case "removeTopic":
      return { topicId: record.topicId };
    case "config":
      return {
        resourceType: RESOURCE_TO_WIRE[record.resource.type],
        resourceName: record.resource.name,
        key: record.key,
        ...(record.value === null ? {} : { value: record.value }),
      };
    case "featureLevel":
      return { name: record.name, level: record.level };
    case "producerIdsBlock":
      return {
        brokerId: record.brokerId,
        brokerEpoch: String(record.brokerEpoch),
        firstProducerId: record.firstProducerId.toString(),
        size: record.size,
      };
    case "clusterId":
      return { clusterId: record.clusterId };
    case "userScramCredential":
      return {
        name: record.name,
        mechanism: record.mechanism,
        salt: Buffer.from(record.salt),
        iterations: record.iterations,
        storedKey: Buffer.from(record.storedKey),
        serverKey: Buffer.from(record.serverKey),
      };
    case "removeUserScramCredential":
      return { name: record.name, mechanism: record.mechanism };
    case "accessControlEntry":
      return { ...record.entry };
    case "removeAccessControlEntry":
      return { id: record.id };
    case "noOp":
      return {};
  }
}

/** The protobuf envelope (plain object) of one record. */
export function recordToWire(record: MetadataRecord): object {
  return { version: RECORD_VERSIONS[record.type], [record.type]: bodyToWire(record) };
}

/** Encodes one atomic batch of records: the payload of one metadata log entry. */
export function encodeMetadataBatch(records: readonly MetadataRecord[]): Uint8Array {
  const message = BatchType.fromObject({ records: records.map(recordToWire) });
  return BatchType.encode(message).finish();
}

/** Decodes one metadata log entry into its records; throws {@link MetadataRecordError}. */
export function decodeMetadataBatch(bytes: Uint8Array): MetadataRecord[] {
  let decoded: MetadataRecordBatch__Output;
  try {
    decoded = BatchType.toObject(BatchType.decode(bytes), TO_OBJECT) as MetadataRecordBatch__Output;
  } catch (cause) {
    throw new MetadataRecordError(`undecodable metadata batch: ${String(cause)}`);
  }
  return decoded.records.map(recordFromWire);
}

/** Encodes a single record (used by tests and tools; the log stores batches). */
export function encodeMetadataRecord(record: MetadataRecord): Uint8Array {
  return RecordType.encode(RecordType.fromObject(recordToWire(record))).finish();
}

/** Decodes a single record encoded by {@link encodeMetadataRecord}. */
export function decodeMetadataRecord(bytes: Uint8Array): MetadataRecord {
  return recordFromWire(RecordType.toObject(RecordType.decode(bytes), TO_OBJECT));
}

function changeFromWire(body: PartitionChangeRecord__Output): PartitionChangeRecord {
  return {
    type: "partitionChange",
    topicId: topicId(body.topicId),
    partition: body.partition,
    ...(body.leader === undefined ? {} : { leader: leaderFromWire(body.leader) }),
    ...(body.isr === null ? {} : { isr: body.isr.ids.map(brokerId) }),
    ...(body.replicas === null ? {} : { replicas: body.replicas.ids.map(brokerId) }),
  };
}

function resourceFromWire(wire: string): ConfigResourceType {
  for (const [type, name] of Object.entries(RESOURCE_TO_WIRE)) {
    if (name === wire) return type as ConfigResourceType;
  }
  throw new MetadataRecordError(`unknown config resource type ${wire}`);
}

function mechanismFromWire(wire: string): ScramMechanism {
  if (wire !== "SCRAM-SHA-512") throw new MetadataRecordError(`unknown SCRAM mechanism ${wire}`);
  return wire;
}

const ACL_ID = /^[0-9a-f]{24}$/;

function aclIdFromWire(id: string): string {
  if (!ACL_ID.test(id)) throw new MetadataRecordError(`ACL id "${id}" is not 24 hex digits`);
  return id;
}

/** An ACL record body, validated like a client's request (a bad one is a bad log). */
function aclFromWire(b: AccessControlEntryRecord__Output): AclEntry {
  try {
    const binding = validBinding(b);
    const id = aclIdFromWire(b.id);
    if (id !== aclId(binding)) throw new AclValidationError(`id ${id} does not match its fields`);
    return { id, ...binding };
  } catch (cause) {
    throw new MetadataRecordError(`invalid ACL record: ${(cause as Error).message}`);
  }
}

/** Converts a decoded protobuf envelope into a typed record. */
function recordFromWire(wire: object): MetadataRecord {
  const envelope = wire as MetadataRecord__Output;
  const type = envelope.record as MetadataRecordType | undefined;
  if (type === undefined || !(type in RECORD_VERSIONS)) {
    throw new MetadataRecordError("metadata record without a known body");
  }
  if (envelope.version > RECORD_VERSIONS[type]) {
    throw new MetadataRecordError(
      `${type} record version ${envelope.version} is newer than ${RECORD_VERSIONS[type]}`,
      ErrorCode.UNSUPPORTED_VERSION,
    );
  }
  return bodyFromWire(envelope, type);
}

function bodyFromWire(e: MetadataRecord__Output, type: MetadataRecordType): MetadataRecord {
  switch (type) {
    case "registerBroker": {
      const b = e.registerBroker!;
      return {
        type,
        brokerId: brokerId(b.brokerId),
        incarnationId: b.incarnationId,
        listeners: b.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })),
        rack: b.rack ?? null,
        fenced: b.fenced,
        brokerEpoch: b.brokerEpoch === undefined ? null : brokerEpoch(Number(b.brokerEpoch)),
        inControlledShutdown: b.inControlledShutdown,
      };
    }
    case "unregisterBroker":
    case "fenceBroker":
    case "unfenceBroker":
    case "brokerControlledShutdown": {
      const b = e[type]!;
      return {
        type,
        brokerId: brokerId(b.brokerId),
        brokerEpoch: brokerEpoch(Number(b.brokerEpoch)),
      };
    }
    case "topic":
      return { type, name: e.topic!.name, topicId: topicId(e.topic!.topicId) };
    case "partition": {
      const b = e.partition!;
      return {
        type,
        topicId: topicId(b.topicId),
        partition: b.partition,
        replicas: b.replicas.map(brokerId),
        isr: b.isr.map(brokerId),
        leader: leaderFromWire(b.leader),
        leaderEpoch: leaderEpoch(b.leaderEpoch),
        partitionEpoch: partitionEpoch(b.partitionEpoch),
      };
    }
    case "partitionChange":
      return changeFromWire(e.partitionChange!);
    case "removeTopic":
      return { type, topicId: topicId(e.removeTopic!.topicId) };
    case "config": {
      const b = e.config!;
      const resource = { type: resourceFromWire(b.resourceType), name: b.resourceName };
      return { type, resource, key: b.key, value: b.value ?? null };
    }
    case "featureLevel":
      return { type, name: e.featureLevel!.name, level: e.featureLevel!.level };
    case "producerIdsBlock": {
      const b = e.producerIdsBlock!;
      return {
        type,
        brokerId: brokerId(b.brokerId),
        brokerEpoch: brokerEpoch(Number(b.brokerEpoch)),
        firstProducerId: BigInt(b.firstProducerId),
        size: b.size,
      };
    }
    case "clusterId":
      return { type, clusterId: e.clusterId!.clusterId };
    case "userScramCredential": {
      const b = e.userScramCredential!;
      return {
        type,
        name: b.name,
        mechanism: mechanismFromWire(b.mechanism),
        salt: new Uint8Array(b.salt),
        iterations: b.iterations,
        storedKey: new Uint8Array(b.storedKey),
        serverKey: new Uint8Array(b.serverKey),
      };
    }
    case "removeUserScramCredential": {
      const b = e.removeUserScramCredential!;
      return { type, name: b.name, mechanism: mechanismFromWire(b.mechanism) };
    }
    case "accessControlEntry":
      return { type, entry: aclFromWire(e.accessControlEntry!) };
    case "removeAccessControlEntry":
      return { type, id: aclIdFromWire(e.removeAccessControlEntry!.id) };
    case "noOp":
      return { type };
  }
}
