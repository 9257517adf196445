/**
 * GroupService, the consumer-group edge (proto/strand/v1/group.proto): validates every field,
 * translates protobuf to the coordinator's types and back, and turns a CoordinatorError into
 * the response's error code plus a coordinator hint. Group-level refusals are error codes in
 * the response; malformed requests are INVALID_ARGUMENT.
 */
import { type AclOperation, CLUSTER_RESOURCE_NAME } from "@strand/controller";
import type {
  ConsumerGroupHeartbeatRequest__Output,
  ConsumerGroupHeartbeatResponse,
  CoordinatorHint,
  DescribeGroupsRequest__Output,
  DescribeGroupsResponse,
  GroupDescription,
  GroupServiceHandlers,
  GroupTopicPartitions,
  GroupTopicPartitions__Output,
  OffsetCommitRequest__Output,
  OffsetCommitResponse,
  OffsetFetchRequest__Output,
  OffsetFetchResponse,
  OffsetResetSpec__Output,
  ResetOffsetsRequest__Output,
  ResetOffsetsResponse,
} from "@strand/protocol";
import {
  ErrorCode,
  type ErrorCodeInfo,
  InvalidArgumentError,
  int32Field,
  int64Field,
  listField,
  STRING_LENGTH_MAX,
  stringField,
  topicField,
  totalItemsField,
} from "@strand/protocol";
import {
  deleteGroup,
  listGroups,
  planReset,
  type ResetSpec,
  resetRecords,
  resetTargets,
} from "../core/groups/admin.ts";
import { heartbeat } from "../core/groups/heartbeat.ts";
import { commitOffsets, fetchOffsets } from "../core/groups/offsets.ts";
import { fromKeys, keyOf } from "../core/groups/partitions.ts";
import type { TopicPartitions } from "../core/groups/records.ts";
import { type GroupsState, groupStateName } from "../core/groups/state.ts";
import { compileSubscriptionRegex, type TopicsMetadata } from "../core/groups/topics.ts";
import type { HeartbeatRequest, Subscription } from "../core/groups/types.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { groupLag, publishGroupLag } from "../groups/lag.ts";
import { CoordinatorError, type CoordinatorHintInfo, NO_HINT } from "../groups/types.ts";
import {
  type CallAccess,
  callAccess,
  deniedMessage,
  deniedTopics,
  requireTopics,
} from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { unaryHandler } from "./instrument.ts";

/** Longest group, member, instance, rack and client id. */
export const GROUP_ID_LENGTH_MAX = 255;
/** Longest subscription regex. */
export const TOPIC_REGEX_LENGTH_MAX = 1000;
/** Longest commit metadata (Kafka's offset.metadata.max.bytes). */
export const COMMIT_METADATA_LENGTH_MAX = 4096;
/** Groups one request may name. */
export const GROUPS_PER_REQUEST_MAX = 1000;
const REBALANCE_TIMEOUT_MS_MAX = 30 * 60_000;

function hintToWire(h: CoordinatorHintInfo): CoordinatorHint {
  return { nodeId: h.nodeId, host: h.host, port: h.port };
}

/** Error code, message and hint of a refusal; rethrows anything else. */
function refusal(error: unknown): {
  errorCode: number;
  errorMessage: string;
  coordinator: CoordinatorHint;
} {
  if (error instanceof CoordinatorError)
    return {
      errorCode: error.error.code,
      errorMessage: error.message,
      coordinator: hintToWire(error.hint),
    };
  throw error;
}

/** null when the group id is acceptable, else the INVALID_GROUP_ID refusal. */
function groupIdProblem(groupId: string): { errorCode: number; errorMessage: string } | null {
  if (groupId.length > 0 && groupId.length <= GROUP_ID_LENGTH_MAX) return null;
  return {
    errorCode: ErrorCode.INVALID_GROUP_ID.code,
    errorMessage: `group id must be 1 to ${GROUP_ID_LENGTH_MAX} characters`,
  };
}

function shortString(v: unknown, field: string, max = GROUP_ID_LENGTH_MAX): string {
  const s = stringField(v, field);
  if (s.length > max) throw new InvalidArgumentError(`${field} is longer than ${max} characters`);
  return s;
}

/** Validated topic partitions (sorted, deduplicated). */
export function parsePartitions(
  list: readonly GroupTopicPartitions__Output[],
  field: string,
): TopicPartitions {
  const topics = listField(list, field);
  totalItemsField(topics, (t) => t.partitions, `${field}[].partitions`);
  const keys: string[] = [];
  topics.forEach((t, i) => {
    const topic = topicField(t.topic, `${field}[${i}].topic`);
    for (const [k, p] of listField(t.partitions, `${field}[${i}].partitions`).entries())
      keys.push(keyOf(topic, int32Field(p, `${field}[${i}].partitions[${k}]`)));
  });
  const tp = fromKeys(keys);
  // A topic named without partitions still counts (reset: "all partitions of the topic").
  const withEmpty = new Map(tp);
  for (const [i, t] of topics.entries())
    if (
      !withEmpty.has(t.topic) &&
      listField(t.partitions, `${field}[${i}].partitions`).length === 0
    )
      withEmpty.set(t.topic, []);
  return withEmpty;
}

function toWirePartitions(tp: TopicPartitions): GroupTopicPartitions[] {
  return [...tp].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
}

function parseSubscription(
  s: ConsumerGroupHeartbeatRequest__Output["subscription"],
): Subscription | null {
  if (s === undefined || s === null) return null;
  const topicNames = listField(s.topicNames, "subscription.topic_names").map((t, i) =>
    topicField(t, `subscription.topic_names[${i}]`),
  );
  const topicRegex = shortString(s.topicRegex, "subscription.topic_regex", TOPIC_REGEX_LENGTH_MAX);
  if (topicRegex !== "" && topicNames.length > 0)
    throw new InvalidArgumentError("subscription has both topic_names and topic_regex; send one");
  if (topicRegex !== "") {
    try {
      compileSubscriptionRegex(topicRegex);
    } catch (error) {
      throw new InvalidArgumentError(
        `subscription.topic_regex does not compile: ${(error as Error).message}`,
      );
    }
  }
  return { topicNames, topicRegex };
}

/** Validates a heartbeat (INVALID_ARGUMENT on malformed fields). */
export function parseHeartbeat(
  req: ConsumerGroupHeartbeatRequest__Output,
  clientHost: string,
): Omit<HeartbeatRequest, "newMemberId"> {
  const memberEpoch = int32Field(req.memberEpoch, "member_epoch", -2);
  const memberId = shortString(req.memberId, "member_id");
  if (memberEpoch !== 0 && memberId === "")
    throw new InvalidArgumentError("member_id is required unless member_epoch is 0");
  return {
    groupId: shortString(req.groupId, "group_id", STRING_LENGTH_MAX),
    memberId,
    memberEpoch,
    instanceId: shortString(req.instanceId, "instance_id"),
    rackId: shortString(req.rackId, "rack_id"),
    rebalanceTimeoutMs: int32Field(
      req.rebalanceTimeoutMs,
      "rebalance_timeout_ms",
      0,
      REBALANCE_TIMEOUT_MS_MAX,
    ),
    subscription: parseSubscription(req.subscription),
    serverAssignor: shortString(req.serverAssignor, "server_assignor"),
    owned:
      req.owned === undefined || req.owned === null
        ? null
        : parsePartitions(req.owned.topics, "owned.topics"),
    clientId: shortString(req.clientId, "client_id"),
    clientHost,
  };
}

async function handleHeartbeat(
  groups: GroupCoordinator,
  req: ConsumerGroupHeartbeatRequest__Output,
  peer: string,
): Promise<ConsumerGroupHeartbeatResponse> {
  const parsed = parseHeartbeat(req, peer);
  const base = {
    memberId: parsed.memberId,
    memberEpoch: parsed.memberEpoch,
    heartbeatIntervalMs: groups.options.config.heartbeatIntervalMs,
    coordinator: hintToWire(NO_HINT),
  };
  const bad = groupIdProblem(parsed.groupId);
  if (bad !== null) return { ...base, ...bad };
  try {
    const newMemberId = groups.newMemberId();
    const r = await groups.run(parsed.groupId, (state, topics, nowMs) =>
      heartbeat(state, { ...parsed, newMemberId }, topics, groups.options.config, nowMs),
    );
    return {
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      memberId: r.memberId,
      memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      ...(r.assignment === null ? {} : { assignment: { topics: toWirePartitions(r.assignment) } }),
      coordinator: hintToWire(groups.find(parsed.groupId).hint),
    };
  } catch (error) {
    return { ...base, ...refusal(error) };
  }
}

function parseCommit(req: OffsetCommitRequest__Output) {
  const topics = listField(req.topics, "topics");
  totalItemsField(topics, (t) => t.partitions, "topics[].partitions");
  const partitions = topics.flatMap((t, i) => {
    const topic = topicField(t.topic, `topics[${i}].topic`);
    return listField(t.partitions, `topics[${i}].partitions`).map((p, k) => {
      const where = `topics[${i}].partitions[${k}]`;
      return {
        topic,
        partition: int32Field(p.partition, `${where}.partition`),
        offset: int64Field(p.committedOffset, `${where}.committed_offset`, 0n),
        leaderEpoch: int32Field(p.committedLeaderEpoch, `${where}.committed_leader_epoch`, -1),
        metadata: shortString(p.metadata, `${where}.metadata`, COMMIT_METADATA_LENGTH_MAX),
      };
    });
  });
  return {
    groupId: shortString(req.groupId, "group_id", STRING_LENGTH_MAX),
    memberId: shortString(req.memberId, "member_id"),
    memberEpoch: int32Field(req.memberEpoch, "member_epoch", -1),
    partitions,
  };
}

async function handleCommit(
  groups: GroupCoordinator,
  req: OffsetCommitRequest__Output,
  access: CallAccess,
): Promise<OffsetCommitResponse> {
  const all = parseCommit(req);
  const bad = groupIdProblem(all.groupId);
  if (bad !== null) return { ...bad, topics: [], coordinator: hintToWire(NO_HINT) };
  const refused = groupDenial(access, "read", all.groupId);
  if (refused !== null) return { ...refused, topics: [], coordinator: hintToWire(NO_HINT) };
  // A partition of a topic the caller may not READ fails alone (Kafka's OffsetCommit).
  const denied = deniedTopics(access, "read", all.partitions);
  const parsed = { ...all, partitions: all.partitions.filter((_, i) => !denied.has(i)) };
  try {
    const r =
      parsed.partitions.length === 0 && denied.size > 0
        ? { errorCode: 0, errorMessage: "", partitions: [] }
        : await groups.run(parsed.groupId, (state, topics, nowMs) =>
            commitOffsets(state, parsed, topics, nowMs),
          );
    const byTopic = new Map<
      string,
      { partition: number; errorCode: number; errorMessage: string }[]
    >();
    const refusedItems = [...denied].map(([i, e]) => ({ ...all.partitions[i]!, ...e }));
    for (const p of [...r.partitions, ...refusedItems])
      byTopic.set(p.topic, [
        ...(byTopic.get(p.topic) ?? []),
        { partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage },
      ]);
    return {
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      coordinator: hintToWire(NO_HINT),
    };
  } catch (error) {
    return { ...refusal(error), topics: [] };
  }
}

/** Reads the group's coordinator state under its lock, writing nothing. */
function readGroups<R>(
  groups: GroupCoordinator,
  groupId: string,
  read: (state: GroupsState, topics: TopicsMetadata) => R,
): Promise<R> {
  return groups.run(groupId, (state, topics) => ({
    records: [],
    timers: [],
    response: read(state, topics),
  }));
}

async function handleFetch(
  groups: GroupCoordinator,
  req: OffsetFetchRequest__Output,
  access: CallAccess,
): Promise<OffsetFetchResponse> {
  const groupId = shortString(req.groupId, "group_id", STRING_LENGTH_MAX);
  const wanted = parsePartitions(req.topics, "topics");
  const bad = groupIdProblem(groupId);
  if (bad !== null) return { ...bad, topics: [], coordinator: hintToWire(NO_HINT) };
  const refused = groupDenial(access, "describe", groupId);
  if (refused !== null) return { ...refused, topics: [], coordinator: hintToWire(NO_HINT) };
  try {
    const list =
      wanted.size === 0
        ? null
        : [...wanted].flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    const offsets = await readGroups(groups, groupId, (state) =>
      fetchOffsets(state, groupId, list),
    );
    const byTopic = new Map<string, OffsetFetchResponse["topics"] & object>();
    // Offsets of topics the caller may not DESCRIBE are left out (Kafka's OffsetFetch).
    for (const o of offsets) {
      if (!access.visible("describe", "topic", o.topic)) continue;
      const entry = {
        partition: o.partition,
        committedOffset: String(o.offset),
        committedLeaderEpoch: o.leaderEpoch,
        metadata: o.metadata,
        errorCode: 0,
        errorMessage: "",
      };
      byTopic.set(o.topic, [
        ...(byTopic.get(o.topic) ?? []),
        { topic: o.topic, partitions: [entry] },
      ]);
    }
    const topics = [...byTopic].map(([topic, parts]) => ({
      topic,
      partitions: parts.flatMap((p) => p.partitions ?? []),
    }));
    return { errorCode: 0, errorMessage: "", topics, coordinator: hintToWire(NO_HINT) };
  } catch (error) {
    return { ...refusal(error), topics: [] };
  }
}

function groupIds(list: readonly string[], field: string): string[] {
  const ids = listField(list, field, 0, GROUPS_PER_REQUEST_MAX).map((g, i) =>
    shortString(g, `${field}[${i}]`, STRING_LENGTH_MAX),
  );
  return [...new Set(ids)];
}

async function describeOne(
  groups: GroupCoordinator,
  groupId: string,
  includeLag: boolean,
): Promise<GroupDescription> {
  const bad = groupIdProblem(groupId);
  if (bad !== null) return { groupId, ...bad, state: "dead" };
  try {
    const g = await readGroups(groups, groupId, (state) => state.groups.get(groupId));
    if (g === undefined)
      return {
        groupId,
        errorCode: 0,
        errorMessage: "",
        state: "dead",
        coordinatorId: groups.options.brokerId,
      };
    const lags = await groupLag(groups, g, includeLag);
    // Describe and the metrics agree: a describe with lag refreshes the group's lag gauges.
    if (includeLag && groups.options.metrics !== undefined)
      await publishGroupLag(groups, groups.options.metrics, groupId, lags);
    return {
      groupId,
      errorCode: 0,
      errorMessage: "",
      state: groupStateName(g),
      groupEpoch: g.epoch,
      assignmentEpoch: g.assignmentEpoch,
      assignor: g.assignor,
      coordinatorId: groups.options.brokerId,
      members: [...g.members.values()].map((m) => {
        const cur = g.current.get(m.memberId);
        return {
          memberId: m.memberId,
          instanceId: m.instanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberEpoch: cur?.memberEpoch ?? 0,
          subscription: { topicNames: [...m.topicNames], topicRegex: m.topicRegex },
          assignment: toWirePartitions(cur?.assigned ?? new Map()),
          targetAssignment: toWirePartitions(g.targets.get(m.memberId) ?? new Map()),
        };
      }),
      offsets: lags.map((l) => ({
        topic: l.topic,
        partition: l.partition,
        committedOffset: String(l.committedOffset),
        logEndOffset: String(l.logEndOffset),
        lag: String(l.lag),
        ownerMemberId: l.ownerMemberId,
      })),
    };
  } catch (error) {
    const r = refusal(error);
    return {
      groupId,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      state: "",
      coordinatorId: r.coordinator.nodeId ?? -1,
    };
  }
}

function parseSpec(spec: OffsetResetSpec__Output | null | undefined): ResetSpec {
  switch (spec?.to) {
    case "earliest":
      return { kind: "earliest" };
    case "latest":
      return { kind: "latest" };
    case "timestampMs":
      return {
        kind: "timestamp",
        timestampMs: int64Field(spec.timestampMs, "spec.timestamp_ms", 0n),
      };
    case "offset":
      return { kind: "offset", offset: int64Field(spec.offset, "spec.offset", 0n) };
    case "shiftBy":
      return { kind: "shift", by: int64Field(spec.shiftBy, "spec.shift_by") };
    default:
      throw new InvalidArgumentError(
        "spec must set one of earliest, latest, timestamp_ms, offset, shift_by",
      );
  }
}

async function handleReset(
  groups: GroupCoordinator,
  req: ResetOffsetsRequest__Output,
  access: CallAccess,
): Promise<ResetOffsetsResponse> {
  const groupId = shortString(req.groupId, "group_id", STRING_LENGTH_MAX);
  const requested = parsePartitions(req.topics, "topics");
  const spec = parseSpec(req.spec);
  const bad = groupIdProblem(groupId);
  if (bad !== null)
    return { ...bad, partitions: [], executed: false, coordinator: hintToWire(NO_HINT) };
  // Resetting is committing: READ on the group and on every topic it touches.
  const refused = groupDenial(access, "read", groupId);
  if (refused !== null)
    return { ...refused, partitions: [], executed: false, coordinator: hintToWire(NO_HINT) };
  try {
    const targets = await readGroups(groups, groupId, (state, topics) =>
      resetTargets(state, groupId, requested, topics),
    );
    requireTopics(access, "read", targets);
    const bounds = await lookupBounds(groups, targets, spec);
    const execute = req.execute === true;
    const plan = await groups.run(groupId, (state, _topics, nowMs) => {
      const p = planReset(state, groupId, spec, bounds);
      const records = execute && p.error === null ? resetRecords(groupId, p.entries, nowMs) : [];
      return { records, timers: [], response: p };
    });
    if (plan.error !== null)
      return { ...plan.error, partitions: [], executed: false, coordinator: hintToWire(NO_HINT) };
    return {
      errorCode: 0,
      errorMessage: "",
      executed: execute,
      partitions: plan.entries.map((e) => ({
        topic: e.topic,
        partition: e.partition,
        previousOffset: String(e.previousOffset),
        newOffset: String(e.newOffset),
        errorCode: e.errorCode,
        errorMessage: e.errorMessage,
      })),
      coordinator: hintToWire(NO_HINT),
    };
  } catch (error) {
    return { ...refusal(error), partitions: [], executed: false };
  }
}

async function lookupBounds(
  groups: GroupCoordinator,
  targets: readonly { topic: string; partition: number }[],
  spec: ResetSpec,
) {
  const lookup = (items: Parameters<typeof groups.edge.lookupOffsets>[0]) =>
    groups.edge.lookupOffsets(items);
  const [starts, ends, stamps] = await Promise.all([
    lookup(targets.map((t) => ({ ...t, spec: "earliest" as const }))),
    lookup(targets.map((t) => ({ ...t, spec: "latest" as const }))),
    spec.kind === "timestamp"
      ? lookup(targets.map((t) => ({ ...t, spec: { timestamp: spec.timestampMs } })))
      : Promise.resolve([]),
  ]);
  return targets.map((t, i) => {
    const failed = [starts[i], ends[i], stamps[i]].find(
      (r) => r !== undefined && r.errorCode !== 0,
    );
    return {
      ...t,
      logStartOffset: starts[i]?.offset ?? -1n,
      logEndOffset: ends[i]?.offset ?? -1n,
      timestampOffset: stamps[i]?.offset ?? -1n,
      error:
        failed === undefined
          ? null
          : { errorCode: failed.errorCode, errorMessage: failed.errorMessage },
    };
  });
}

function unavailable(): never {
  throw new CoordinatorError(
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
    "this broker runs no group coordinator",
  );
}

/** The GroupService handlers. */
export function groupServiceHandlers(ctx: ServiceContext): GroupServiceHandlers {
  const coord = (): GroupCoordinator => ctx.groups ?? unavailable();
  const code = (r: { errorCode?: number }) => codeLabel(r.errorCode ?? 0);
  return {
    FindCoordinator: unaryHandler(ctx, "FindCoordinator", async (call) => {
      const ids = groupIds(call.request.groupIds, "group_ids");
      const access = await callAccess(ctx, call);
      return {
        results: ids.map((groupId) => {
          const bad = groupIdProblem(groupId);
          if (bad !== null) return { groupId, ...bad, coordinator: hintToWire(NO_HINT) };
          const groups = ctx.groups;
          if (groups === undefined)
            return {
              groupId,
              ...refusal(
                new CoordinatorError(
                  ErrorCode.COORDINATOR_NOT_AVAILABLE,
                  "no group coordinator on this broker",
                ),
              ),
            };
          const refused = groupDenial(access, "describe", groupId);
          if (refused !== null) return { groupId, ...refused, coordinator: hintToWire(NO_HINT) };
          const { error, hint } = groups.find(groupId);
          return error === null
            ? { groupId, errorCode: 0, errorMessage: "", coordinator: hintToWire(hint) }
            : { groupId, ...refusal(error) };
        }),
      };
    }),
    ConsumerGroupHeartbeat: unaryHandler(
      ctx,
      "ConsumerGroupHeartbeat",
      async (call) => {
        const access = await callAccess(ctx, call);
        const refused = groupDenial(access, "read", call.request.groupId ?? "");
        if (refused !== null)
          return { ...heartbeatBase(call.request), ...refused, heartbeatIntervalMs: 0 };
        return handleHeartbeat(coord(), call.request, hostOf(call.getPeer()));
      },
      code,
    ),
    OffsetCommit: unaryHandler(
      ctx,
      "OffsetCommit",
      async (call) => handleCommit(coord(), call.request, await callAccess(ctx, call)),
      code,
    ),
    OffsetFetch: unaryHandler(
      ctx,
      "OffsetFetch",
      async (call) => handleFetch(coord(), call.request, await callAccess(ctx, call)),
      code,
    ),
    ListGroups: unaryHandler(ctx, "ListGroups", async (call) => {
      const states = listField(call.request.statesFilter, "states_filter").map((s, i) =>
        shortString(s, `states_filter[${i}]`).toLowerCase(),
      );
      const groups = ctx.groups;
      if (groups === undefined) return { errorCode: 0, errorMessage: "", groups: [] };
      // DESCRIBE on the cluster lists every group; else only the groups the caller may describe.
      const access = await callAccess(ctx, call);
      const all = access.visible("describe", "cluster", CLUSTER_RESOURCE_NAME);
      const listed = groups.partitions
        .flatMap((p) => listGroups(p.state, states))
        .filter((g) => all || access.visible("describe", "group", g.groupId));
      return {
        errorCode: 0,
        errorMessage: "",
        groups: listed.map((g) => ({
          groupId: g.groupId,
          state: g.state,
          members: g.members,
          coordinatorId: groups.options.brokerId,
        })),
      };
    }),
    DescribeGroups: unaryHandler(
      ctx,
      "DescribeGroups",
      async (call): Promise<DescribeGroupsResponse> => {
        const ids = groupIds(call.request.groupIds, "group_ids");
        const req: DescribeGroupsRequest__Output = call.request;
        const access = await callAccess(ctx, call);
        return {
          groups: await Promise.all(
            ids.map((id) => {
              const refused = groupDenial(access, "describe", id);
              if (refused !== null) return { groupId: id, ...refused, state: "" };
              return describeOne(coord(), id, req.includeLag === true);
            }),
          ),
        };
      },
    ),
    DeleteGroups: unaryHandler(ctx, "DeleteGroups", async (call) => {
      const ids = groupIds(call.request.groupIds, "group_ids");
      const access = await callAccess(ctx, call);
      const results = await Promise.all(
        ids.map(async (groupId) => {
          const bad = groupIdProblem(groupId);
          if (bad !== null) return { groupId, ...bad };
          const refused = groupDenial(access, "delete", groupId);
          if (refused !== null) return { groupId, ...refused };
          try {
            const r = await coord().run(groupId, (state) => deleteGroup(state, groupId));
            return { groupId, ...r };
          } catch (error) {
            const { errorCode, errorMessage } = refusal(error);
            return { groupId, errorCode, errorMessage };
          }
        }),
      );
      return { results };
    }),
    ResetOffsets: unaryHandler(
      ctx,
      "ResetOffsets",
      async (call) => handleReset(coord(), call.request, await callAccess(ctx, call)),
      code,
    ),
  };
}

/** GROUP_AUTHORIZATION_FAILED when the caller may not do `operation` on the group, else null. */
function groupDenial(
  access: CallAccess,
  operation: AclOperation,
  groupId: string,
): { errorCode: number; errorMessage: string } | null {
  if (access.allowed(operation, "group", groupId)) return null;
  return {
    errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED.code,
    errorMessage: deniedMessage(access.principal, operation, "group", groupId),
  };
}

/** The echo fields of a heartbeat answer that carries only an error. */
function heartbeatBase(req: ConsumerGroupHeartbeatRequest__Output) {
  return {
    memberId: typeof req.memberId === "string" ? req.memberId : "",
    memberEpoch: typeof req.memberEpoch === "number" ? req.memberEpoch : 0,
    coordinator: hintToWire(NO_HINT),
  };
}

function codeLabel(code: number): string {
  const info = Object.values(ErrorCode).find((e: ErrorCodeInfo) => e.code === code);
  return info?.name ?? "UNKNOWN";
}

/** "ipv4:127.0.0.1:5000" -> "127.0.0.1". */
function hostOf(peer: string): string {
  const at = peer.lastIndexOf(":");
  const host = at > 0 ? peer.slice(0, at) : peer;
  return host
    .replace(/^ipv[46]:/, "")
    .replace(/^\[|\]$/g, "")
    .slice(0, GROUP_ID_LENGTH_MAX);
}
