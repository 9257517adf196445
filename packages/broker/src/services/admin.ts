/**
 * AdminService: topic and config writes are forwarded to the active controller (the node's
 * ControllerWrites follows NOT_CONTROLLER hints) with the cluster defaults filled in
 * (num.partitions; default.replication.factor capped at the registered brokers;
 * min.insync.replicas capped at the replication factor); a create or delete answers once
 * this broker's image shows the change (bounded), so the next request here sees it. Reads
 * (DescribeTopics, DescribeCluster, DescribeConfigs) come from the local image. The quorum
 * calls (DescribeQuorum, AddRaftVoter, RemoveRaftVoter) go to the active controller too, so
 * operators manage voters over the client listener, like every other admin call.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type AclOperation,
  CLUSTER_RESOURCE_NAME,
  type ConfigResource,
  describeConfigs,
  type MetadataImage,
} from "@strand/controller";
import type {
  AdminConfigResource__Output,
  AdminNewTopic__Output,
  AdminServiceAddRaftVoterRequest__Output,
  AdminServiceAddRaftVoterResponse,
  AdminServiceAlterConfigsRequest__Output,
  AdminServiceAlterConfigsResponse,
  AdminServiceCreatePartitionsRequest__Output,
  AdminServiceCreatePartitionsResponse,
  AdminServiceCreateTopicsRequest__Output,
  AdminServiceCreateTopicsResponse,
  AdminServiceDeleteTopicsRequest__Output,
  AdminServiceDeleteTopicsResponse,
  AdminServiceDescribeClusterResponse,
  AdminServiceDescribeConfigsRequest__Output,
  AdminServiceDescribeConfigsResponse,
  AdminServiceDescribeQuorumResponse,
  AdminServiceHandlers,
  AdminServiceRemoveRaftVoterRequest__Output,
  AdminServiceRemoveRaftVoterResponse,
  AdminTopicResult,
  ControllerError__Output,
  CreatableTopic,
} from "@strand/protocol";
import {
  ErrorCode,
  InvalidArgumentError,
  int32Field,
  listField,
  stringField,
  totalItemsField,
  WAIT_MS_MAX,
} from "@strand/protocol";
import {
  type AccessCall,
  type CallAccess,
  callAccess,
  deniedCode,
  deniedMessage,
} from "./access.ts";
import { createAcls, deleteAcls, describeAclsResponse } from "./admin-acls.ts";
import { alterUserScramCredentials, describeUserScramCredentials } from "./admin-users.ts";
import type { ServiceContext, TopicDefaults } from "./context.ts";
import { errorCodeOutcome, type UnaryImpl, unaryHandler } from "./instrument.ts";
import { clientAddress, topicMetadata } from "./metadata.ts";
import { UnavailableError } from "./wire.ts";

const REPLICATION_FACTOR_MAX = 32;

/** The error text of a controller answer, empty on success. */
function errorText(e: ControllerError__Output | null | undefined): {
  code: number;
  message: string;
} {
  if (e === null || e === undefined || e.code === 0) return { code: 0, message: "" };
  return { code: e.code, message: `${e.name}: ${e.message}` };
}

/**
 * Calls the controller for `rpc`, mapping a refusal carried as a gRPC status to the status a
 * client should see: INVALID_ARGUMENT stays INVALID_ARGUMENT (the request is wrong; the
 * controller's reason is kept), an unreachable controller is UNAVAILABLE (retry), and only
 * the unexpected stays INTERNAL. Without this every refusal read "internal error ... report it".
 */
export async function askController<R>(rpc: string, call: () => Promise<R>): Promise<R> {
  try {
    return await call();
  } catch (error) {
    const e = error as Partial<grpc.ServiceError>;
    const reason = e.details ?? (error as Error).message;
    if (e.code === grpc.status.INVALID_ARGUMENT)
      throw new InvalidArgumentError(`the controller refused ${rpc}: ${reason}`);
    if (e.code !== undefined && CONTROLLER_UNREACHABLE.has(e.code))
      throw new UnavailableError(`the controller did not answer ${rpc}: ${reason}; retry shortly`);
    throw error;
  }
}

const CONTROLLER_UNREACHABLE = new Set<number>([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
]);

/** Fills in cluster defaults for one new topic; validates its fields. */
export function withDefaults(
  t: AdminNewTopic__Output,
  i: number,
  defaults: TopicDefaults,
  registeredBrokers: number,
): CreatableTopic {
  const where = `topics[${i}]`;
  const assignments = listField(t.assignments, `${where}.assignments`).map((a, k) => ({
    brokerIds: [...listField(a.brokerIds, `${where}.assignments[${k}].broker_ids`)],
  }));
  const partitionCount = int32Field(t.partitionCount, `${where}.partition_count`);
  const rf = int32Field(
    t.replicationFactor,
    `${where}.replication_factor`,
    0,
    REPLICATION_FACTOR_MAX,
  );
  const replicationFactor =
    rf !== 0 ? rf : Math.max(1, Math.min(defaults.defaultReplicationFactor, registeredBrokers));
  const configs: Record<string, string> = {};
  listField(t.configs, `${where}.configs`).forEach((c, k) => {
    configs[stringField(c.key, `${where}.configs[${k}].key`)] = stringField(
      c.value,
      `${where}.configs[${k}].value`,
    );
  });
  const effectiveRf =
    assignments.length > 0 ? (assignments[0]?.brokerIds.length ?? 1) : replicationFactor;
  configs["min.insync.replicas"] ??= String(
    Math.max(1, Math.min(defaults.minInsyncReplicas, effectiveRf)),
  );
  return {
    name: stringField(t.name, `${where}.name`),
    partitionCount: partitionCount === 0 ? defaults.numPartitions : partitionCount,
    replicationFactor,
    configs,
    assignments,
  };
}

async function createTopics(
  ctx: ServiceContext,
  req: AdminServiceCreateTopicsRequest__Output,
  access: CallAccess,
): Promise<AdminServiceCreateTopicsResponse> {
  const image = ctx.image();
  // Cap the default at the brokers the cluster knows, fenced or not: capping at the live ones
  // would silently create under-replicated topics while a broker restarts. The controller
  // still refuses an RF above the live brokers (INVALID_REPLICATION_FACTOR).
  const registered = image.brokers.size;
  totalItemsField(req.topics, (t) => t.assignments, "topics[].assignments");
  totalItemsField(req.topics, (t) => t.configs, "topics[].configs");
  const topics = listField(req.topics, "topics", 1).map((t, i) =>
    withDefaults(t, i, ctx.defaults, registered),
  );
  // Every partition becomes a metadata record: the request's partitions count in total too.
  totalItemsField(topics, (t) => t.partitionCount, "topics[].partition_count");
  const timeoutMs =
    int32Field(req.timeoutMs, "timeout_ms", 0, WAIT_MS_MAX) || ctx.defaults.requestTimeoutMs;
  // CREATE on the cluster allows any name; else CREATE on the topic (Kafka's rule).
  const mayCreateAll = access.visible("create", "cluster", CLUSTER_RESOURCE_NAME);
  const denied = new Set(
    topics
      .map((t) => t.name ?? "")
      .filter((n) => !mayCreateAll && !access.allowed("create", "topic", n)),
  );
  const permitted = topics.filter((t) => !denied.has(t.name ?? ""));
  const response =
    permitted.length === 0
      ? { error: null, topics: [] }
      : await askController("CreateTopics", () =>
          ctx.controller.createTopics({ topics: permitted, validateOnly: req.validateOnly }),
        );
  const top = errorText(response.error);
  const results: AdminTopicResult[] = topics.map((t) => {
    if (denied.has(t.name ?? "")) return deniedTopic(access, "create", t.name ?? "");
    const r = response.topics.find((x) => x.name === t.name);
    const e = top.code !== 0 ? top : errorText(r?.error);
    return {
      name: t.name ?? "",
      topicId: e.code === 0 ? (r?.topicId ?? "") : "",
      errorCode: e.code,
      errorMessage: e.message,
    };
  });
  const created = results
    .filter((r) => r.errorCode === 0 && !req.validateOnly)
    .map((r) => r.name ?? "");
  if (created.length > 0)
    await ctx.waitForImage((img) => created.every((n) => img.topicsByName.has(n)), timeoutMs);
  return { topics: results };
}

async function deleteTopics(
  ctx: ServiceContext,
  req: AdminServiceDeleteTopicsRequest__Output,
  access: CallAccess,
): Promise<AdminServiceDeleteTopicsResponse> {
  const names = listField(req.names, "names", 1).map((n, i) => stringField(n, `names[${i}]`));
  const timeoutMs =
    int32Field(req.timeoutMs, "timeout_ms", 0, WAIT_MS_MAX) || ctx.defaults.requestTimeoutMs;
  const denied = new Set(names.filter((n) => !access.allowed("delete", "topic", n)));
  const permitted = names.filter((n) => !denied.has(n));
  const response =
    permitted.length === 0
      ? { error: null, topics: [] }
      : await askController("DeleteTopics", () =>
          ctx.controller.deleteTopics({ names: permitted }),
        );
  const top = errorText(response.error);
  const results: AdminTopicResult[] = names.map((name) => {
    if (denied.has(name)) return deniedTopic(access, "delete", name);
    const r = response.topics.find((x) => x.name === name);
    const e = top.code !== 0 ? top : errorText(r?.error);
    return { name, topicId: r?.topicId ?? "", errorCode: e.code, errorMessage: e.message };
  });
  const deleted = results.filter((r) => r.errorCode === 0).map((r) => r.name ?? "");
  if (deleted.length > 0)
    await ctx.waitForImage((img) => deleted.every((n) => !img.topicsByName.has(n)), timeoutMs);
  return { topics: results };
}

async function createPartitions(
  ctx: ServiceContext,
  req: AdminServiceCreatePartitionsRequest__Output,
  access: CallAccess,
): Promise<AdminServiceCreatePartitionsResponse> {
  const name = stringField(req.name, "name");
  const count = int32Field(req.count, "count");
  if (!access.allowed("alter", "topic", name)) {
    const e = deniedTopic(access, "alter", name);
    return { errorCode: e.errorCode, errorMessage: e.errorMessage, assignments: [] };
  }
  const timeoutMs =
    int32Field(req.timeoutMs, "timeout_ms", 0, WAIT_MS_MAX) || ctx.defaults.requestTimeoutMs;
  const response = await ctx.controller.createPartitions({
    topics: [{ name, count }],
    validateOnly: req.validateOnly,
  });
  const top = errorText(response.error);
  const r = response.topics.find((x) => x.name === name);
  const e = top.code !== 0 ? top : errorText(r?.error);
  if (e.code === 0 && !req.validateOnly)
    await ctx.waitForImage(
      (img) => (img.topicsByName.get(name)?.partitions.size ?? 0) >= count,
      timeoutMs,
    );
  return {
    errorCode: e.code,
    errorMessage: e.message,
    assignments:
      e.code === 0 ? (r?.assignments ?? []).map((a) => ({ brokerIds: [...a.brokerIds] })) : [],
  };
}

async function describeQuorum(ctx: ServiceContext): Promise<AdminServiceDescribeQuorumResponse> {
  const r = await ctx.controller.describeQuorum();
  const e = errorText(r.error);
  const q = r.quorum;
  return {
    errorCode: e.code,
    errorMessage: e.message,
    leaderId: q?.leaderId ?? 0,
    term: q?.term ?? "0",
    answeredBy: r.nodeId,
    commitIndex: q?.commitIndex ?? "0",
    voters: (q?.voters ?? []).map((v) => ({
      nodeId: v.nodeId,
      directoryId: v.directoryId,
      address: v.address,
      matchIndex: v.matchIndex,
    })),
  };
}

/** The controller's INVALID_ARGUMENT (a malformed id or address) relayed as the same status. */
async function relayInvalid<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    const e = error as { code?: number; details?: string };
    if (e.code === 3) throw new InvalidArgumentError(e.details ?? String(error)); // INVALID_ARGUMENT
    throw error;
  }
}

async function addRaftVoter(
  ctx: ServiceContext,
  req: AdminServiceAddRaftVoterRequest__Output,
): Promise<AdminServiceAddRaftVoterResponse> {
  // The controller validates the fields (INVALID_ARGUMENT names the bad one).
  const r = await relayInvalid(
    ctx.controller.addRaftVoter({
      nodeId: req.nodeId,
      directoryId: req.directoryId,
      address: req.address,
    }),
  );
  const e = errorText(r.error);
  return { errorCode: e.code, errorMessage: e.message };
}

async function removeRaftVoter(
  ctx: ServiceContext,
  req: AdminServiceRemoveRaftVoterRequest__Output,
): Promise<AdminServiceRemoveRaftVoterResponse> {
  const r = await relayInvalid(
    ctx.controller.removeRaftVoter({ nodeId: req.nodeId, directoryId: req.directoryId }),
  );
  const e = errorText(r.error);
  return { errorCode: e.code, errorMessage: e.message };
}

function describeCluster(ctx: ServiceContext): AdminServiceDescribeClusterResponse {
  const image = ctx.image();
  return {
    clusterId: image.clusterId ?? "",
    controllerId: ctx.controllerId(),
    metadataOffset: String(image.offset),
    brokers: [...image.brokers.values()]
      .sort((a, b) => a.id - b.id)
      .map((b) => {
        const a = clientAddress(image, b.id) ?? { host: "", port: 0 };
        return {
          broker: {
            brokerId: b.id,
            host: a.host,
            port: a.port,
            ...(b.rack === null ? {} : { rack: b.rack }),
          },
          brokerEpoch: String(b.epoch),
          fenced: b.fenced,
          inControlledShutdown: b.inControlledShutdown,
        };
      }),
  };
}

const RESOURCE_TYPES: Record<string, ConfigResource["type"]> = {
  ADMIN_CONFIG_RESOURCE_TYPE_TOPIC: "topic",
  ADMIN_CONFIG_RESOURCE_TYPE_BROKER: "broker",
  ADMIN_CONFIG_RESOURCE_TYPE_CLUSTER: "cluster",
};

function resourceOf(r: AdminConfigResource__Output | null, where: string): ConfigResource {
  const type = r === null ? undefined : RESOURCE_TYPES[String(r.type)];
  if (r === null || type === undefined)
    throw new InvalidArgumentError(`${where}.type must be TOPIC, BROKER or CLUSTER`);
  return { type, name: stringField(r.name, `${where}.name`) };
}

function describeConfigsResponse(
  image: MetadataImage,
  req: AdminServiceDescribeConfigsRequest__Output,
  access: CallAccess,
): AdminServiceDescribeConfigsResponse {
  const keys = new Set(listField(req.keys, "keys").map((k, i) => stringField(k, `keys[${i}]`)));
  const sources = {
    topic: "ADMIN_CONFIG_SOURCE_RESOURCE",
    broker: "ADMIN_CONFIG_SOURCE_RESOURCE",
    cluster: "ADMIN_CONFIG_SOURCE_CLUSTER",
    default: "ADMIN_CONFIG_SOURCE_DEFAULT",
  } as const;
  return {
    results: listField(req.resources, "resources", 1).map((r, i) => {
      const resource = resourceOf(r, `resources[${i}]`);
      const denied = configDenial(access, "describe_configs", resource);
      if (denied !== null) return { resource: r, ...denied, values: [] };
      if (resource.type === "topic" && !image.topicsByName.has(resource.name)) {
        const e = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        return {
          resource: r,
          errorCode: e.code,
          errorMessage: `${e.name}: topic ${resource.name} does not exist; ${e.action}`,
          values: [],
        };
      }
      const values = describeConfigs(image, resource)
        .filter((c) => keys.size === 0 || keys.has(c.key))
        .map((c) => ({ key: c.key, value: c.value, source: sources[c.source] }));
      return { resource: r, errorCode: 0, errorMessage: "", values };
    }),
  };
}

async function alterConfigs(
  ctx: ServiceContext,
  req: AdminServiceAlterConfigsRequest__Output,
  access: CallAccess,
): Promise<AdminServiceAlterConfigsResponse> {
  const targets = {
    topic: "CONFIG_TARGET_TOPIC",
    broker: "CONFIG_TARGET_BROKER",
    cluster: "CONFIG_TARGET_CLUSTER",
  } as const;
  totalItemsField(req.resources, (r) => r.changes, "resources[].changes");
  const parsed = listField(req.resources, "resources", 1).map((r, i) => ({
    wire: r.resource,
    resource: resourceOf(r.resource, `resources[${i}].resource`),
    changes: listField(r.changes, `resources[${i}].changes`, 1).map((c, k) => ({
      key: stringField(c.key, `resources[${i}].changes[${k}].key`),
      ...(c.value === undefined
        ? {}
        : { value: stringField(c.value, `resources[${i}].changes[${k}].value`) }),
    })),
  }));
  const results = [];
  for (const p of parsed) {
    const denied = configDenial(access, "alter_configs", p.resource);
    if (denied !== null) {
      results.push({ resource: p.wire, ...denied });
      continue;
    }
    const response = await askController("AlterConfigs", () =>
      ctx.controller.alterConfigs({
        target: targets[p.resource.type],
        name: p.resource.name,
        changes: p.changes,
        validateOnly: req.validateOnly,
      }),
    );
    const e = errorText(response.error);
    results.push({ resource: p.wire, errorCode: e.code, errorMessage: e.message });
  }
  return { results };
}

/** A topic's result when the caller may not do `operation` on it. */
function deniedTopic(access: CallAccess, operation: AclOperation, name: string): AdminTopicResult {
  const e = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  return {
    name,
    topicId: "",
    errorCode: e.code,
    errorMessage: deniedMessage(access.principal, operation, "topic", name),
  };
}

/**
 * The error of a config resource the caller may not describe or alter, or null: a topic's
 * configs need the operation on the topic, a broker's or the cluster's on the cluster.
 */
function configDenial(
  access: CallAccess,
  operation: "describe_configs" | "alter_configs",
  resource: ConfigResource,
): { errorCode: number; errorMessage: string } | null {
  const type = resource.type === "topic" ? "topic" : "cluster";
  const name = type === "topic" ? resource.name : CLUSTER_RESOURCE_NAME;
  if (access.allowed(operation, type, name)) return null;
  return {
    errorCode: deniedCode(type).code,
    errorMessage: deniedMessage(access.principal, operation, type, name),
  };
}

/** The AdminService handlers; each is counted under the first error code its answer carries. */
export function adminServiceHandlers(ctx: ServiceContext): AdminServiceHandlers {
  const handler = <Req, Res extends Parameters<typeof errorCodeOutcome>[0]>(
    method: string,
    impl: UnaryImpl<Req, Res>,
  ) => unaryHandler(ctx, method, impl, errorCodeOutcome);
  // Cluster-wide calls need one cluster operation, else PERMISSION_DENIED for the whole call.
  const onCluster = async (call: AccessCall, operation: AclOperation): Promise<CallAccess> => {
    const access = await callAccess(ctx, call);
    access.require(operation, "cluster", CLUSTER_RESOURCE_NAME);
    return access;
  };
  return {
    CreateTopics: handler("CreateTopics", async (call) =>
      createTopics(ctx, call.request, await callAccess(ctx, call)),
    ),
    DeleteTopics: handler("DeleteTopics", async (call) =>
      deleteTopics(ctx, call.request, await callAccess(ctx, call)),
    ),
    DescribeTopics: handler("DescribeTopics", async (call) => {
      const names = listField(call.request.names, "names").map((n, i) =>
        stringField(n, `names[${i}]`),
      );
      const access = await callAccess(ctx, call);
      return { topics: topicMetadata(ctx.image(), names.length === 0 ? null : names, access) };
    }),
    // Answers from the local image: no error field to count.
    DescribeCluster: unaryHandler(ctx, "DescribeCluster", async (call) => {
      await onCluster(call, "describe");
      return describeCluster(ctx);
    }),
    DescribeConfigs: handler("DescribeConfigs", async (call) =>
      describeConfigsResponse(ctx.image(), call.request, await callAccess(ctx, call)),
    ),
    AlterConfigs: handler("AlterConfigs", async (call) =>
      alterConfigs(ctx, call.request, await callAccess(ctx, call)),
    ),
    CreatePartitions: handler("CreatePartitions", async (call) =>
      createPartitions(ctx, call.request, await callAccess(ctx, call)),
    ),
    DescribeQuorum: handler("DescribeQuorum", async (call) => {
      await onCluster(call, "describe");
      return describeQuorum(ctx);
    }),
    AddRaftVoter: handler("AddRaftVoter", async (call) => {
      await onCluster(call, "alter");
      return addRaftVoter(ctx, call.request);
    }),
    RemoveRaftVoter: handler("RemoveRaftVoter", async (call) => {
      await onCluster(call, "alter");
      return removeRaftVoter(ctx, call.request);
    }),
    CreateAcls: handler("CreateAcls", async (call) => {
      await onCluster(call, "alter");
      return createAcls(ctx, call.request);
    }),
    DescribeAcls: unaryHandler(ctx, "DescribeAcls", async (call) => {
      await onCluster(call, "describe");
      return describeAclsResponse(ctx.image(), call.request);
    }),
    DeleteAcls: handler("DeleteAcls", async (call) => {
      await onCluster(call, "alter");
      return deleteAcls(ctx, call.request);
    }),
    AlterUserScramCredentials: handler("AlterUserScramCredentials", async (call) => {
      await onCluster(call, "alter");
      return alterUserScramCredentials(ctx, call.request);
    }),
    // Answers from the local image; a missing user is not a failed call.
    DescribeUserScramCredentials: unaryHandler(
      ctx,
      "DescribeUserScramCredentials",
      async (call) => {
        await onCluster(call, "describe");
        return describeUserScramCredentials(ctx.image(), call.request);
      },
    ),
  };
}
