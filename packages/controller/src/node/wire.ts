/**
 * Conversion between the ControllerService proto objects (proto-loader form: int64 as decimal
 * strings, enums as names) and the controller's typed requests and responses. Every incoming
 * field is checked here, before a branded constructor (which asserts) sees it: bad input
 * becomes an {@link InvalidArgumentError} (gRPC INVALID_ARGUMENT), never a crash.
 */
import type { ErrorCodeInfo } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { AllocateProducerIdsRequest__Output } from "@strand/protocol/gen/strand/v1/AllocateProducerIdsRequest.ts";
import type { AlterConfigsRequest__Output } from "@strand/protocol/gen/strand/v1/AlterConfigsRequest.ts";
import type { AlterPartitionRequest__Output } from "@strand/protocol/gen/strand/v1/AlterPartitionRequest.ts";
import type { BrokerEndpoint } from "@strand/protocol/gen/strand/v1/BrokerEndpoint.ts";
import type { BrokerHeartbeatRequest__Output } from "@strand/protocol/gen/strand/v1/BrokerHeartbeatRequest.ts";
import type { ControllerError } from "@strand/protocol/gen/strand/v1/ControllerError.ts";
import type { CreatableTopic__Output } from "@strand/protocol/gen/strand/v1/CreatableTopic.ts";
import type { PartitionState } from "@strand/protocol/gen/strand/v1/PartitionState.ts";
import type { RegisterBrokerRequest__Output } from "@strand/protocol/gen/strand/v1/RegisterBrokerRequest.ts";
import type { PartitionRegistration } from "../image.ts";
import type { BrokerListener, ConfigResourceType } from "../records.ts";
import type {
  AllocateProducerIdsRequest,
  AlterConfigsRequest,
  AlterPartitionRequest,
  BrokerHeartbeatRequest,
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

/** A request field is malformed; answered with gRPC INVALID_ARGUMENT and this message. */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
}

/** Most items (topics, names, config changes, listeners, ISR members) in one request. */
export const REQUEST_ITEMS_MAX = 1_000;
/** Longest string field accepted (names, hosts, incarnation ids, config values). */
export const STRING_BYTES_MAX = 4_096;
const INT32_MAX = 2 ** 31 - 1;
const DIGITS = /^(0|[1-9]\d{0,15})$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function bad(what: string): never {
  throw new InvalidArgumentError(what);
}

function int32(v: unknown, what: string, min = 0): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > INT32_MAX)
    bad(`${what} must be an integer in ${min}..${INT32_MAX}, got ${String(v)}`);
  return v;
}

/** A non-negative int64 (decimal string or number) that fits a JS safe integer. */
export function int64(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v !== "string" || !DIGITS.test(v) || !Number.isSafeInteger(Number(v)))
    bad(`${what} must be a non-negative integer below 2^53, got ${String(v)}`);
  return Number(v);
}

export function str(v: unknown, what: string, allowEmpty = false): string {
  if (typeof v !== "string" || (!allowEmpty && v.length === 0) || v.length > STRING_BYTES_MAX)
    bad(
      `${what} must be a ${allowEmpty ? "" : "non-empty "}string of at most ${STRING_BYTES_MAX} characters`,
    );
  return v;
}

export function list<T>(v: unknown, what: string): readonly T[] {
  if (!Array.isArray(v)) bad(`${what} must be a list`);
  if (v.length > REQUEST_ITEMS_MAX)
    bad(`${what} has ${v.length} items; at most ${REQUEST_ITEMS_MAX}`);
  return v as T[];
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
  if (entries.length > REQUEST_ITEMS_MAX) bad(`topic ${name}: too many configs`);
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
