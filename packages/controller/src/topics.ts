/**
 * Topic and config handlers: createTopic (name rules, placement, configs), deleteTopic,
 * alterConfigs, updateFeature. Pure: they read the state and return records + a response.
 */

import { createHash } from "node:crypto";
import { assert } from "@strand/base";
import { ErrorCode, murmur2 } from "@strand/protocol";
import { fail, OK } from "./brokers.ts";
import { replicaCapacityError } from "./capacity.ts";
import { electOfflinePartitions, eligibleIn } from "./election.ts";
import { applyBatch, type BrokerRegistration, type MetadataImage } from "./image.ts";
import { placeReplicas } from "./placement.ts";
import type { ConfigRecord, MetadataRecord } from "./records.ts";
import type {
  AlterConfigsRequest,
  ControllerResult,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicRequest,
  CreateTopicResponse,
  DeleteTopicRequest,
  DeleteTopicResponse,
  QuorumControllerState,
  ResponseBase,
  UpdateFeatureRequest,
} from "./requests.ts";
import {
  type BrokerId,
  leaderEpoch,
  partitionEpoch,
  type TopicId,
  topicId as toTopicId,
} from "./types.ts";
import { collisionName, configError, topicNameError } from "./validation.ts";

/**
 * A topic id derived from the cluster id, the name and the position in the metadata log:
 * deterministic (a replayed simulation creates the same ids), unique within the cluster since
 * the log offset only grows, and different between clusters (a topic created at the same
 * offset of two clusters would otherwise get the same id — Kafka's ids are unique across
 * clusters, and tools that mirror between clusters rely on it).
 */
export function deriveTopicId(name: string, image: MetadataImage): TopicId {
  const cluster = image.clusterId ?? "";
  const h = createHash("sha256")
    .update(`${cluster}/${image.epoch}/${image.offset}/${name}`)
    .digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // uuid version 8 (custom)
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = h.subarray(0, 16).toString("hex");
  return toTopicId(
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  );
}

function failCreate(
  code: typeof ErrorCode.NONE,
  msg: string,
): ControllerResult<CreateTopicResponse> {
  return { records: [], response: { ...fail(code, msg), topicId: null, assignments: [] } };
}

function checkAssignments(
  image: MetadataImage,
  assignments: readonly (readonly BrokerId[])[],
): string | null {
  if (assignments.length === 0) return "no partitions in the assignment";
  const rf = assignments[0]!.length;
  for (const [p, replicas] of assignments.entries()) {
    if (replicas.length === 0 || replicas.length !== rf)
      return `partition ${p} has ${replicas.length} replicas, not ${rf}`;
    if (new Set(replicas).size !== replicas.length) return `partition ${p} repeats a broker`;
    const unknown = replicas.find((b) => !image.brokers.has(b));
    if (unknown !== undefined) return `partition ${p} names unregistered broker ${unknown}`;
  }
  return null;
}

function chooseAssignments(
  state: QuorumControllerState,
  req: CreateTopicRequest,
): { assignments: readonly (readonly BrokerId[])[] } | ControllerResult<CreateTopicResponse> {
  if (req.assignments !== undefined) {
    const problem = checkAssignments(state.image, req.assignments);
    if (problem !== null) return failCreate(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
    return { assignments: req.assignments };
  }
  const max = state.config.partitionCountMax;
  if (!Number.isInteger(req.partitionCount) || req.partitionCount < 1 || req.partitionCount > max) {
    return failCreate(
      ErrorCode.INVALID_PARTITIONS,
      `partition count ${req.partitionCount} is not in 1..${max}`,
    );
  }
  const eligible = eligibleIn(state.image, new Set());
  const brokers = [...state.image.brokers.values()].filter((b) => eligible(b.id));
  const rf = req.replicationFactor;
  if (!Number.isInteger(rf) || rf < 1 || rf > brokers.length) {
    const msg = `replication factor ${rf} is not in 1..${brokers.length} (the live brokers)`;
    return failCreate(ErrorCode.INVALID_REPLICATION_FACTOR, msg);
  }
  return { assignments: placeForTopic(req.name, brokers, req.partitionCount, rf) };
}

/** Placement seeded by the topic name, so added partitions continue the creation's pattern. */
function placeForTopic(
  name: string,
  brokers: readonly BrokerRegistration[],
  partitionCount: number,
  replicationFactor: number,
): BrokerId[][] {
  const hash = murmur2(Buffer.from(name)) & 0x7fffffff;
  return placeReplicas({
    brokers,
    partitionCount,
    replicationFactor,
    startIndex: hash,
    shiftSeed: hash >>> 8,
  });
}

/** Creates a topic: a TopicRecord, one PartitionRecord per partition, and its configs. */
export function createTopic(
  state: QuorumControllerState,
  req: CreateTopicRequest,
): ControllerResult<CreateTopicResponse> {
  const nameProblem = topicNameError(req.name);
  if (nameProblem !== null) return failCreate(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  if (state.image.topicsByName.has(req.name)) {
    return failCreate(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${req.name} already exists`);
  }
  const clash = [...state.image.topicsByName.keys()].find(
    (n) => collisionName(n) === collisionName(req.name),
  );
  if (clash !== undefined) {
    return failCreate(
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      `topic ${req.name} collides with ${clash}`,
    );
  }
  const configs = Object.entries(req.configs ?? {});
  for (const [key, value] of configs) {
    const problem = configError("topic", key, value);
    if (problem !== null) return failCreate(ErrorCode.INVALID_CONFIG, problem);
  }
  const chosen = chooseAssignments(state, req);
  if ("response" in chosen) return chosen;
  const full = replicaCapacityError(
    state.image,
    chosen.assignments,
    state.config.maxReplicasPerBroker,
  );
  if (full !== null) return failCreate(ErrorCode.INVALID_PARTITIONS, full);
  const id = deriveTopicId(req.name, state.image);
  assert(!state.image.topicsById.has(id), `derived topic id ${id} is taken`);
  const response = { ...OK, topicId: id, assignments: chosen.assignments };
  if (req.validateOnly === true) return { records: [], response };
  const records: MetadataRecord[] = [
    { type: "topic", name: req.name, topicId: id },
    ...newPartitionRecords(state.image, id, 0, chosen.assignments),
  ];
  for (const [key, value] of configs) {
    records.push({ type: "config", resource: { type: "topic", name: req.name }, key, value });
  }
  return { records, response };
}

/**
 * PartitionRecords for partitions `first`, `first + 1`, ... with the given replicas: the ISR
 * is the eligible replicas (the first replica when none is), the leader the first eligible.
 */
function newPartitionRecords(
  image: MetadataImage,
  topicId: TopicId,
  first: number,
  assignments: readonly (readonly BrokerId[])[],
): MetadataRecord[] {
  const eligible = eligibleIn(image, new Set());
  return assignments.map((replicas, k) => {
    const partition = first + k;
    const isr = replicas.filter(eligible);
    // Placement or the checked request assignment: at least one replica, each broker once.
    assert(
      replicas.length > 0 && new Set(replicas).size === replicas.length,
      `partition ${partition} replicas ${replicas}`,
    );
    return {
      type: "partition",
      topicId,
      partition,
      replicas,
      isr: isr.length > 0 ? isr : replicas.slice(0, 1),
      leader: isr[0] ?? null,
      leaderEpoch: leaderEpoch(0),
      partitionEpoch: partitionEpoch(0),
    };
  });
}

function failPartitions(
  code: typeof ErrorCode.NONE,
  msg: string,
): ControllerResult<CreatePartitionsResponse> {
  return { records: [], response: { ...fail(code, msg), assignments: [] } };
}

/**
 * Raises a topic's partition count (Kafka's CreatePartitions): the new partitions are placed
 * as if the topic had been created with the new count (same name-seeded, rack-aware
 * placement over the live brokers, the topic's replication factor) and written as
 * PartitionRecords in one batch. A count at or below the current one is INVALID_PARTITIONS.
 */
export function createPartitions(
  state: QuorumControllerState,
  req: CreatePartitionsRequest,
): ControllerResult<CreatePartitionsResponse> {
  const topic = state.image.topicsByName.get(req.name);
  if (topic === undefined)
    return failPartitions(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${req.name} does not exist`);
  const current = topic.partitions.size;
  const max = state.config.partitionCountMax;
  if (!Number.isInteger(req.count) || req.count <= current || req.count > max) {
    const msg = `topic ${req.name} has ${current} partition(s); the new count ${req.count} must be in ${current + 1}..${max} (partitions are never removed)`;
    return failPartitions(ErrorCode.INVALID_PARTITIONS, msg);
  }
  // Partition numbers are dense (created 0..n-1, only ever appended): the next is `current`.
  assert(topic.partitions.has(current - 1) && !topic.partitions.has(current), "sparse partitions");
  const rf = topic.partitions.get(0)?.replicas.length ?? 1;
  const eligible = eligibleIn(state.image, new Set());
  const brokers = [...state.image.brokers.values()].filter((b) => eligible(b.id));
  if (rf > brokers.length) {
    const msg = `topic ${req.name} has replication factor ${rf} but only ${brokers.length} broker(s) are live`;
    return failPartitions(ErrorCode.INVALID_REPLICATION_FACTOR, msg);
  }
  const assignments = placeForTopic(req.name, brokers, req.count, rf).slice(current);
  assert(assignments.length === req.count - current, "one assignment per new partition");
  const full = replicaCapacityError(state.image, assignments, state.config.maxReplicasPerBroker);
  if (full !== null) return failPartitions(ErrorCode.INVALID_PARTITIONS, full);
  const response = { ...OK, assignments };
  if (req.validateOnly === true) return { records: [], response };
  return { records: newPartitionRecords(state.image, topic.id, current, assignments), response };
}

/** Deletes a topic by name: one RemoveTopic record (its partitions and configs go with it). */
export function deleteTopic(
  state: QuorumControllerState,
  req: DeleteTopicRequest,
): ControllerResult<DeleteTopicResponse> {
  const topic = state.image.topicsByName.get(req.name);
  if (topic === undefined) {
    const msg = `topic ${req.name} does not exist`;
    return {
      records: [],
      response: { ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, msg), topicId: null },
    };
  }
  return {
    records: [{ type: "removeTopic", topicId: topic.id }],
    response: { ...OK, topicId: topic.id },
  };
}

function resourceError(
  state: QuorumControllerState,
  req: AlterConfigsRequest,
): ResponseBase | null {
  const { type, name } = req.resource;
  if (type === "topic" && !state.image.topicsByName.has(name)) {
    return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
  }
  if (type === "broker" && !/^\d+$/.test(name)) {
    return fail(
      ErrorCode.INVALID_REQUEST,
      `broker resource name ${JSON.stringify(name)} is not a node id`,
    );
  }
  if (type === "cluster" && name !== "") {
    return fail(ErrorCode.INVALID_REQUEST, "the cluster resource has an empty name");
  }
  return null;
}

/**
 * Sets or deletes configs of one resource. Enabling unclean election elects leaders for the
 * leaderless partitions it now allows, in the same batch.
 */
export function alterConfigs(
  state: QuorumControllerState,
  req: AlterConfigsRequest,
): ControllerResult<ResponseBase> {
  const bad = resourceError(state, req);
  if (bad !== null) return { records: [], response: bad };
  const records: ConfigRecord[] = [];
  for (const { key, value } of req.changes) {
    const problem = configError(req.resource.type, key, value);
    if (problem !== null) return { records: [], response: fail(ErrorCode.INVALID_CONFIG, problem) };
    records.push({ type: "config", resource: req.resource, key, value });
  }
  if (req.validateOnly === true || records.length === 0) return { records: [], response: OK };
  const after = applyBatch(state.image, records, state.image).image;
  const elections = electOfflinePartitions(after, eligibleIn(after, new Set()));
  return { records: [...records, ...elections], response: OK };
}

/** Sets a feature's finalized level (0 removes it). */
export function updateFeature(
  _state: QuorumControllerState,
  req: UpdateFeatureRequest,
): ControllerResult<ResponseBase> {
  if (req.name.length === 0 || !Number.isInteger(req.level) || req.level < 0 || req.level > 32767) {
    const msg = `feature ${JSON.stringify(req.name)} level ${req.level} is not a name with a level in 0..32767`;
    return { records: [], response: fail(ErrorCode.INVALID_REQUEST, msg) };
  }
  return { records: [{ type: "featureLevel", name: req.name, level: req.level }], response: OK };
}
