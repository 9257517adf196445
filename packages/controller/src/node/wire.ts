/**
 * Conversion between the ControllerService proto objects (proto-loader form: int64 as decimal
 * strings, enums as names) and the controller's typed requests and responses. Every incoming
 * field is checked here, before a branded constructor (which asserts) sees it: bad input
 * becomes an {@link InvalidArgumentError} (gRPC INVALID_ARGUMENT), never a crash.
 */

import type {
  AllocateProducerIdsRequest__Output,
  AlterConfigsRequest__Output,
  AlterPartitionRequest__Output,
  AlterUserScramCredentialRequest__Output,
  BrokerEndpoint,
  BrokerHeartbeatRequest__Output,
  ControllerError,
  CreatableTopic__Output,
  CreatePartitionsTopic__Output,
  ErrorCodeInfo,
  PartitionState,
  RegisterBrokerRequest__Output,
} from "@strand/protocol";
import {
  ErrorCode,
  INTERNAL_REQUEST_ITEMS_MAX,
  InvalidArgumentError,
  int32Field,
  listField,
  stringField,
  uint53Field,
} from "@strand/protocol";
import type { PartitionRegistration } from "../image.ts";
import type { BrokerListener, ConfigResourceType } from "../records.ts";
import type {
  AllocateProducerIdsRequest,
  AlterConfigsRequest,
  AlterPartitionRequest,
  AlterUserScramCredentialRequest,
  BrokerHeartbeatRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  RegisterBrokerRequest,
  ResponseBase,
} from "../requests.ts";
import {
  type BrokerId,
  brokerEpoch,
  brokerId,
  leaderEpoch,
  metadataOffset,
  NO_LEADER_WIRE,
  partitionEpoch,
  topicId,
} from "../types.ts";

export { InvalidArgumentError };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The validators are protocol's (one set, one error type); these bind them to the internal
// listener's limits (docs/errors.md, "Request limits").

function bad(what: string): never {
  throw new InvalidArgumentError(what);
}

const int32 = int32Field;

/** A non-negative int64 (decimal string or number) that fits a JS safe integer. */
export const int64 = uint53Field;

/** A string field of at most STRING_LENGTH_MAX characters; non-empty unless `allowEmpty`. */
export function str(v: unknown, what: string, allowEmpty = false): string {
  return stringField(v, what, allowEmpty ? 0 : 1);
}

/** A list field of at most INTERNAL_REQUEST_ITEMS_MAX items. */
export function list<T>(v: unknown, what: string): readonly T[] {
  return listField(v as readonly T[], what, 0, INTERNAL_REQUEST_ITEMS_MAX);
}

function broker(v: unknown, what: string): BrokerId {
  return brokerId(int32(v, what));
}

function brokerIds(v: unknown, what: string): BrokerId[] {
  return list<unknown>(v, what).map((id, k) => broker(id, `${what}[${k}]`));
}

function listener(l: BrokerEndpoint, k: number): BrokerListener {
  const what = `listeners[${k}]`;
  return {
    name: str(l?.name, `${what}.name`),
    host: str(l?.host, `${what}.host`),
    port: int32(l?.port, `${what}.port`, 1),
  };
}

/** RegisterBroker from the wire. */
export function registerBrokerFromWire(r: RegisterBrokerRequest__Output): RegisterBrokerRequest {
  return {
    type: "registerBroker",
    brokerId: broker(r.brokerId, "broker_id"),
    incarnationId: str(r.incarnationId, "incarnation_id"),
    listeners: list<BrokerEndpoint>(r.listeners, "listeners").map(listener),
    rack: r.rack === undefined || r.rack === "" ? null : str(r.rack, "rack"),
  };
}

/** BrokerHeartbeat from the wire. */
export function heartbeatFromWire(r: BrokerHeartbeatRequest__Output): BrokerHeartbeatRequest {
  return {
    type: "brokerHeartbeat",
    brokerId: broker(r.brokerId, "broker_id"),
    brokerEpoch: brokerEpoch(int64(r.brokerEpoch, "broker_epoch")),
    metadataOffset: metadataOffset(int64(r.metadataOffset, "metadata_offset")),
    wantFence: r.wantFence === true,
    wantShutdown: r.wantShutdown === true,
  };
}

/** One CreatableTopic from the wire (the handler checks names, counts and configs). */
export function createTopicFromWire(
  t: CreatableTopic__Output,
  validateOnly: boolean,
): CreateTopicRequest {
  const name = str(t?.name, "topics[].name");
  const configs: Record<string, string> = {};
  const entries = Object.entries(t.configs ?? {});
  if (entries.length > INTERNAL_REQUEST_ITEMS_MAX) bad(`topic ${name}: too many configs`);
  for (const [key, value] of entries)
    configs[key] = str(value, `topic ${name} config ${key}`, true);
  const assignments = list<{ brokerIds: unknown }>(t.assignments, `topic ${name} assignments`).map(
    (a, p) => brokerIds(a?.brokerIds, `topic ${name} assignments[${p}]`),
  );
  return {
    type: "createTopic",
    name,
    partitionCount: int32(t.partitionCount, `topic ${name} partition_count`),
    replicationFactor: int32(t.replicationFactor, `topic ${name} replication_factor`),
    configs,
    ...(assignments.length > 0 ? { assignments } : {}),
    validateOnly,
  };
}

/** One CreatePartitionsTopic from the wire (the handler checks the count). */
export function createPartitionsFromWire(
  t: CreatePartitionsTopic__Output,
  validateOnly: boolean,
): CreatePartitionsRequest {
  const name = str(t?.name, "topics[].name");
  return {
    type: "createPartitions",
    name,
    count: int32(t.count, `topic ${name} count`),
    validateOnly,
  };
}

/** AlterPartition from the wire. */
export function alterPartitionFromWire(r: AlterPartitionRequest__Output): AlterPartitionRequest {
  const id = str(r.topicId, "topic_id");
  if (!UUID_RE.test(id)) bad(`topic_id must be a lower-case uuid, got ${JSON.stringify(id)}`);
  return {
    type: "alterPartition",
    brokerId: broker(r.brokerId, "broker_id"),
    brokerEpoch: brokerEpoch(int64(r.brokerEpoch, "broker_epoch")),
    topicId: topicId(id),
    partition: int32(r.partition, "partition"),
    leaderEpoch: leaderEpoch(int32(r.leaderEpoch, "leader_epoch")),
    partitionEpoch: partitionEpoch(int32(r.partitionEpoch, "partition_epoch")),
    isr: brokerIds(r.isr, "isr"),
  };
}

/** AllocateProducerIds from the wire. */
export function allocateProducerIdsFromWire(
  r: AllocateProducerIdsRequest__Output,
): AllocateProducerIdsRequest {
  return {
    type: "allocateProducerIds",
    brokerId: broker(r.brokerId, "broker_id"),
    brokerEpoch: brokerEpoch(int64(r.brokerEpoch, "broker_epoch")),
  };
}

const TARGETS: Readonly<Record<string, ConfigResourceType>> = {
  CONFIG_TARGET_TOPIC: "topic",
  CONFIG_TARGET_BROKER: "broker",
  CONFIG_TARGET_CLUSTER: "cluster",
};

/** AlterConfigs from the wire. */
export function alterConfigsFromWire(r: AlterConfigsRequest__Output): AlterConfigsRequest {
  const type = TARGETS[String(r.target)];
  if (type === undefined) bad("target must be CONFIG_TARGET_TOPIC, _BROKER or _CLUSTER");
  const changes = list<{ key: unknown; value?: unknown }>(r.changes, "changes").map((c, k) => ({
    key: str(c?.key, `changes[${k}].key`),
    value:
      c.value === undefined || c.value === null ? null : str(c.value, `changes[${k}].value`, true),
  }));
  return {
    type: "alterConfigs",
    resource: { type, name: str(r.name, "name", true) },
    changes,
    validateOnly: r.validateOnly === true,
  };
}

/**
 * AlterUserScramCredential from the wire. Only the shape is checked here; the credential's
 * rules (name, mechanism, iterations, sizes) are the handler's, answered UNACCEPTABLE_CREDENTIAL.
 */
export function alterUserScramCredentialFromWire(
  r: AlterUserScramCredentialRequest__Output,
): AlterUserScramCredentialRequest {
  const bytes = (v: unknown, what: string): Uint8Array => {
    if (!(v instanceof Uint8Array)) bad(`${what} must be bytes`);
    return new Uint8Array(v);
  };
  return {
    type: "alterUserScramCredential",
    name: str(r.name, "name"),
    mechanism: str(r.mechanism, "mechanism") as AlterUserScramCredentialRequest["mechanism"],
    credential:
      r.delete === true
        ? null
        : {
            salt: bytes(r.salt, "salt"),
            iterations: Number(r.iterations),
            storedKey: bytes(r.storedKey, "stored_key"),
            serverKey: bytes(r.serverKey, "server_key"),
          },
  };
}

/** Where a NOT_CONTROLLER answer sends the caller. */
export interface ControllerHint {
  /** The active controller's id, or null when none is known. */
  readonly id: number | null;
  /** Its internal address, or null. */
  readonly address: string | null;
}

/** The wire error of a response: code, name, and a message that says what to do. */
export function errorToWire(
  code: ErrorCodeInfo,
  message: string | null,
  hint: ControllerHint | null,
): ControllerError {
  if (code.code === ErrorCode.NONE.code) return { code: 0, name: "", message: "" };
  const text = `${message ?? code.name}. ${code.action}`;
  const onNotController = code.code === ErrorCode.NOT_CONTROLLER.code && hint !== null;
  return {
    code: code.code,
    name: code.name,
    message:
      onNotController && hint.address !== null
        ? `${text} Active controller: node ${hint.id} at ${hint.address}.`
        : text,
    controllerId: onNotController ? (hint.id ?? 0) : 0,
    controllerAddress: onNotController ? (hint.address ?? "") : "",
  };
}

/** {@link errorToWire} for a controller response. */
export function responseError(r: ResponseBase, hint: ControllerHint | null): ControllerError {
  return errorToWire(r.errorCode, r.errorMessage, hint);
}

/** A partition's state on the wire. */
export function partitionToWire(p: PartitionRegistration): PartitionState {
  return {
    topicId: p.topicId,
    partition: p.partition,
    replicas: [...p.replicas],
    isr: [...p.isr],
    leader: p.leader ?? NO_LEADER_WIRE,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
  };
}
