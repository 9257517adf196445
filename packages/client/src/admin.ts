/**
 * The admin client: topics, cluster, configs, offsets and consumer groups (admin-groups.ts). Topic and config writes go to any
 * broker (it forwards them to the active controller); reads come from any broker's metadata
 * image; offsets come from each partition's leader (ListOffsets). Transport failures and
 * retriable codes are retried with backoff until the operation's deadline.
 */

import { sleep } from "@strand/base";
import type {
  AdminServiceAddRaftVoterResponse__Output,
  AdminServiceAlterConfigsResponse__Output,
  AdminServiceAlterUserScramCredentialsRequest,
  AdminServiceAlterUserScramCredentialsResponse__Output,
  AdminServiceCreatePartitionsResponse__Output,
  AdminServiceCreateTopicsResponse__Output,
  AdminServiceDeleteTopicsResponse__Output,
  AdminServiceDescribeClusterResponse__Output,
  AdminServiceDescribeConfigsResponse__Output,
  AdminServiceDescribeQuorumResponse__Output,
  AdminServiceDescribeTopicsResponse__Output,
  AdminServiceDescribeUserScramCredentialsResponse__Output,
  AdminServiceRemoveRaftVoterResponse__Output,
  AdminTopicResult__Output,
} from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import { type Acl, AclAdmin, type AclBinding, type AclFilter } from "./admin-acls.ts";
import {
  GroupAdmin,
  type GroupCallOptions,
  type GroupDescription,
  type ListedGroup,
  type OffsetResetResult,
  type OffsetResetTarget,
  type ResetOffsetsOptions,
} from "./admin-groups.ts";
import { scramUpsertion } from "./auth.ts";
import type { ClientContext } from "./context.ts";
import { ConnectionError, errorForCode, StrandClientError, TimeoutError } from "./errors.ts";
import { type BrokerConnection, unary } from "./grpc.ts";
import { listOffsets } from "./offsets.ts";
import { anySignal, backoffMs } from "./retry.ts";

/** Options every admin call accepts. */
export interface AdminCallOptions {
  /** Cancels the call. */
  readonly signal?: AbortSignal;
  /** Total time to spend, retries included, in milliseconds (default: requestTimeoutMs). */
  readonly timeoutMs?: number;
}

/** A topic to create. */
export interface NewTopic {
  /** The name: 1-249 characters of [a-zA-Z0-9._-], not "." or "..". */
  readonly topic: string;
  /** Partitions; default the cluster's num.partitions. */
  readonly numPartitions?: number;
  /** Replicas per partition; default the cluster's default.replication.factor. */
  readonly replicationFactor?: number;
  /** Explicit replicas per partition (broker ids, preferred leader first). */
  readonly replicaAssignment?: readonly (readonly number[])[];
  /** Topic configs, e.g. `{ "retention.ms": "3600000" }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** A created or deleted topic. */
export interface TopicResult {
  /** The topic name. */
  readonly topic: string;
  /** The topic id. */
  readonly topicId: string;
}

/** One partition of a described topic. */
export interface PartitionDescription {
  /** The partition number. */
  readonly partition: number;
  /** The leader's broker id, or -1. */
  readonly leader: number;
  /** The leader epoch. */
  readonly leaderEpoch: number;
  /** Assigned replicas, preferred leader first. */
  readonly replicas: readonly number[];
  /** In-sync replicas. */
  readonly isr: readonly number[];
  /** Assigned replicas that are offline. */
  readonly offlineReplicas: readonly number[];
  /** The log start offset (-1n when the leader could not be asked). */
  readonly logStartOffset: bigint;
  /** The high watermark (-1n when the leader could not be asked). */
  readonly highWatermark: bigint;
}

/** A described topic. */
export interface TopicDescription {
  /** The topic name. */
  readonly topic: string;
  /** The topic id. */
  readonly topicId: string;
  /** Partitions by number. */
  readonly partitions: readonly PartitionDescription[];
}

/** One broker of the cluster. */
export interface BrokerDescription {
  /** node.id. */
  readonly brokerId: number;
  /** Client listener host. */
  readonly host: string;
  /** Client listener port. */
  readonly port: number;
  /** Rack, if set. */
  readonly rack: string | null;
  /** Whether the broker is fenced. */
  readonly fenced: boolean;
  /** Whether it is shutting down. */
  readonly inControlledShutdown: boolean;
}

/** The cluster. */
export interface ClusterDescription {
  /** The cluster id. */
  readonly clusterId: string;
  /** The active controller's id, or -1. */
  readonly controllerId: number;
  /** Every registered broker. */
  readonly brokers: readonly BrokerDescription[];
}

/** A topic's new partition count, for {@link Admin.createPartitions}. */
export interface NewPartitions {
  /** The topic. */
  readonly topic: string;
  /** The new total partition count: above the current one (partitions are never removed). */
  readonly count: number;
}

/** One voter of the metadata quorum. */
export interface QuorumVoter {
  /** The voter's node id. */
  readonly nodeId: number;
  /** Its storage directory id (a uuid; see docs/operations.md). */
  readonly directoryId: string;
  /** Its internal listener, host:port. */
  readonly address: string;
  /** The highest log index known replicated on it; -1n when the answering node does not know. */
  readonly matchIndex: bigint;
}

/** The metadata quorum (KIP-853 voters). */
export interface QuorumDescription {
  /** The Raft leader (the active controller), or -1 when none is known. */
  readonly leaderId: number;
  /** The current Raft term. */
  readonly term: bigint;
  /** The controller whose view this is. */
  readonly answeredBy: number;
  /** The answering controller's commit index. */
  readonly commitIndex: bigint;
  /** The voters, by node id. */
  readonly voters: readonly QuorumVoter[];
}

/** A voter to add to or remove from the metadata quorum. */
export interface VoterChange {
  /** The voter's node id. */
  readonly nodeId: number;
  /** The voter's storage directory id. */
  readonly directoryId: string;
}

/** A SCRAM user as `listUsers` describes it: never keys. */
export interface UserDescription {
  readonly name: string;
  readonly credentials: readonly { readonly mechanism: string; readonly iterations: number }[];
}

/** A resource that has configs. */
export interface ConfigResource {
  /** The kind of resource. */
  readonly type: "topic" | "broker" | "cluster";
  /** Topic name, broker id in decimal, or "" for the cluster. */
  readonly name: string;
}

/** One effective config value. */
export interface ConfigValue {
  /** The key. */
  readonly key: string;
  /** The effective value. */
  readonly value: string;
  /** Where the value comes from. */
  readonly source: "resource" | "cluster" | "default" | "unknown";
}

/** The configs of one resource. */
export interface ResourceConfigs {
  /** The resource. */
  readonly resource: ConfigResource;
  /** Its effective values. */
  readonly values: readonly ConfigValue[];
}

/** Changes to one resource: a string sets a key, null deletes it. */
export interface ConfigChanges {
  /** The resource. */
  readonly resource: ConfigResource;
  /** Key -> new value, or null to delete. */
  readonly changes: Readonly<Record<string, string | null>>;
}

/** Earliest and latest offsets of one partition. */
export interface PartitionOffsets {
  /** The partition. */
  readonly partition: number;
  /** The log start offset. */
  readonly low: bigint;
  /** The high watermark (the next offset to be committed). */
  readonly high: bigint;
  /** Same as `high` (KafkaJS's field name). */
  readonly offset: bigint;
}

const RESOURCE_TYPES = {
  topic: "ADMIN_CONFIG_RESOURCE_TYPE_TOPIC",
  broker: "ADMIN_CONFIG_RESOURCE_TYPE_BROKER",
  cluster: "ADMIN_CONFIG_RESOURCE_TYPE_CLUSTER",
} as const;
const SOURCES: Record<string, ConfigValue["source"]> = {
  ADMIN_CONFIG_SOURCE_RESOURCE: "resource",
  ADMIN_CONFIG_SOURCE_CLUSTER: "cluster",
  ADMIN_CONFIG_SOURCE_DEFAULT: "default",
};

function throwFirst(
  results: readonly { errorCode: number; errorMessage: string; where: { topic?: string } }[],
): void {
  const bad = results.find((r) => r.errorCode !== 0);
  if (bad !== undefined) throw errorForCode(bad.errorCode, bad.errorMessage, bad.where);
}

/** Cluster administration; get one from `strand.admin()`. */
export class Admin {
  readonly #ctx: ClientContext;
  readonly #groups: GroupAdmin;
  readonly #acls: AclAdmin;

  /** @internal Use `strand.admin()`. */
  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
    this.#groups = new GroupAdmin(ctx);
    this.#acls = new AclAdmin((what, call) =>
      this.#anyBroker(what, (c, signal) => call(c, this.#opts(signal, what, c.address)), {}),
    );
  }

  /**
   * Creates ACLs (docs/security.md); creating one that exists changes nothing. Answers their
   * ids. Needs ALTER on the cluster; a refusal throws AuthorizationError.
   */
  createAcls(acls: readonly AclBinding[]): Promise<string[]> {
    return this.#acls.createAcls(acls);
  }

  /** The ACLs matching `filter` (every ACL by default). Needs DESCRIBE on the cluster. */
  describeAcls(filter: AclFilter = {}): Promise<Acl[]> {
    return this.#acls.describeAcls(filter);
  }

  /** Deletes the ACLs matching any filter; answers what was removed. Needs ALTER on the cluster. */
  deleteAcls(filters: readonly AclFilter[]): Promise<Acl[]> {
    return this.#acls.deleteAcls(filters);
  }

  /** Every consumer group (optionally only in `states`), merged from every broker's list. */
  listGroups(
    options: GroupCallOptions & { readonly states?: readonly string[] } = {},
  ): Promise<ListedGroup[]> {
    return this.#groups.listGroups(options);
  }

  /**
   * Describes consumer groups: state, epochs, members with their assignments, and per
   * partition the committed offset, log end offset, lag and owner (lag unless
   * `includeLag: false`). An unknown group throws GroupNotFoundError.
   */
  describeGroups(
    groupIds: readonly string[],
    options: GroupCallOptions & { readonly includeLag?: boolean } = {},
  ): Promise<GroupDescription[]> {
    return this.#groups.describeGroups(groupIds, options);
  }

  /** Deletes consumer groups and their offsets; a group with members throws GroupNotEmptyError. */
  deleteGroups(groupIds: readonly string[], options: GroupCallOptions = {}): Promise<void> {
    return this.#groups.deleteGroups(groupIds, options);
  }

  /**
   * Moves a group's committed offsets to `to` (earliest, latest, a timestamp, an offset, or a
   * shift by N) for every committed partition or those of `topics`. A dry run (nothing
   * committed, old -> new reported) unless `execute: true`; refused while the group has
   * active members.
   */
  resetOffsets(
    groupId: string,
    to: OffsetResetTarget,
    options: ResetOffsetsOptions = {},
  ): Promise<OffsetResetResult> {
    return this.#groups.resetOffsets(groupId, to, options);
  }

  /** Calls any broker, retrying transport failures with backoff until the deadline. */
  async #anyBroker<T>(
    what: string,
    call: (c: BrokerConnection, signal: AbortSignal | undefined) => Promise<T>,
    options: AdminCallOptions,
  ): Promise<T> {
    const ctx = this.#ctx;
    const signal = anySignal(options.signal, ctx.closed);
    const deadline = Date.now() + (options.timeoutMs ?? ctx.requestTimeoutMs);
    let last: StrandClientError | null = null;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      try {
        if (ctx.metadata.brokers.size === 0) await ctx.metadata.refresh([], signal);
        const addresses = [...ctx.metadata.brokers.values()];
        const address = addresses[attempt % Math.max(1, addresses.length)];
        if (address === undefined)
          throw new ConnectionError("the cluster reports no live broker", { retriable: true });
        return await call(ctx.pool.get(address), signal);
      } catch (error) {
        if (!(error instanceof StrandClientError) || !error.retriable) throw error;
        last = error;
      }
      const wait = backoffMs(attempt, ctx.retry, ctx.random);
      if (Date.now() + wait > deadline) break;
      await sleep(wait, signal);
    }
    throw new TimeoutError(`${what} did not complete in time: ${last?.message ?? "no attempt"}`, {
      code: ErrorCode.REQUEST_TIMED_OUT,
      retriable: true,
      cause: last,
    });
  }

  #opts(signal: AbortSignal | undefined, method: string, address: string) {
    return { address, method, timeoutMs: this.#ctx.requestTimeoutMs, signal };
  }

  /** Creates topics; throws the first topic's error (e.g. TOPIC_ALREADY_EXISTS, code 36). */
  async createTopics(
    topics: readonly NewTopic[],
    options: AdminCallOptions & { readonly validateOnly?: boolean } = {},
  ): Promise<TopicResult[]> {
    const request = {
      validateOnly: options.validateOnly ?? false,
      timeoutMs: this.#ctx.requestTimeoutMs,
      topics: topics.map((t) => ({
        name: t.topic,
        partitionCount: t.numPartitions ?? 0,
        replicationFactor: t.replicationFactor ?? 0,
        assignments: (t.replicaAssignment ?? []).map((ids) => ({ brokerIds: [...ids] })),
        configs: Object.entries(t.configs ?? {}).map(([key, value]) => ({ key, value })),
      })),
    };
    const response = await this.#anyBroker(
      "createTopics",
      (c, signal) =>
        unary<AdminServiceCreateTopicsResponse__Output>(
          (o, cb) => c.admin.CreateTopics(request, o, cb),
          this.#opts(signal, "CreateTopics", c.address),
        ),
      options,
    );
    // Other brokers may learn of the new topics a moment later: producers wait for them.
    if (!request.validateOnly) this.#ctx.metadata.expectTopics(topics.map((t) => t.topic));
    return topicResults(response.topics);
  }

  /** Deletes topics; throws the first topic's error. */
  async deleteTopics(
    topics: readonly string[],
    options: AdminCallOptions = {},
  ): Promise<TopicResult[]> {
    const request = { names: [...topics], timeoutMs: this.#ctx.requestTimeoutMs };
    const response = await this.#anyBroker(
      "deleteTopics",
      (c, signal) =>
        unary<AdminServiceDeleteTopicsResponse__Output>(
          (o, cb) => c.admin.DeleteTopics(request, o, cb),
          this.#opts(signal, "DeleteTopics", c.address),
        ),
      options,
    );
    return topicResults(response.topics);
  }

  /** The names of every topic, sorted. */
  async listTopics(options: AdminCallOptions = {}): Promise<string[]> {
    const response = await this.#anyBroker(
      "listTopics",
      (_c, signal) => this.#ctx.metadata.request(null, signal),
      options,
    );
    this.#ctx.metadata.apply(response);
    return response.topics.map((t) => t.name).sort();
  }

  /** Describes topics (every topic when `topics` is empty or omitted). */
  async describeTopics(
    topics: readonly string[] = [],
    options: AdminCallOptions = {},
  ): Promise<TopicDescription[]> {
    const response = await this.#anyBroker(
      "describeTopics",
      (c, signal) =>
        unary<AdminServiceDescribeTopicsResponse__Output>(
          (o, cb) => c.admin.DescribeTopics({ names: [...topics] }, o, cb),
          this.#opts(signal, "DescribeTopics", c.address),
        ),
      options,
    );
    throwFirst(response.topics.map((t) => ({ ...t, where: { topic: t.name } })));
    const described: TopicDescription[] = [];
    for (const t of response.topics) {
      const offsets = await this.#offsetsOrUnknown(t.name, t.partitions.length, options);
      described.push({
        topic: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: [...p.replicas],
          isr: [...p.isr],
          offlineReplicas: [...p.offlineReplicas],
          logStartOffset: offsets.get(p.partition)?.low ?? -1n,
          highWatermark: offsets.get(p.partition)?.high ?? -1n,
        })),
      });
    }
    return described;
  }

  async #offsetsOrUnknown(
    topic: string,
    partitions: number,
    options: AdminCallOptions,
  ): Promise<Map<number, PartitionOffsets>> {
    if (partitions === 0) return new Map();
    try {
      return new Map((await this.fetchTopicOffsets(topic, options)).map((o) => [o.partition, o]));
    } catch (error) {
      if (!(error instanceof StrandClientError) || !error.retriable) throw error;
      this.#ctx.logger.warn({ topic, err: error.message }, "offsets unavailable for describe");
      return new Map();
    }
  }

  /** The brokers (fenced ones too) and the active controller. */
  async describeCluster(options: AdminCallOptions = {}): Promise<ClusterDescription> {
    const r = await this.#anyBroker(
      "describeCluster",
      (c, signal) =>
        unary<AdminServiceDescribeClusterResponse__Output>(
          (o, cb) => c.admin.DescribeCluster({}, o, cb),
          this.#opts(signal, "DescribeCluster", c.address),
        ),
      options,
    );
    return {
      clusterId: r.clusterId,
      controllerId: r.controllerId,
      brokers: r.brokers.map((b) => ({
        brokerId: b.broker?.brokerId ?? -1,
        host: b.broker?.host ?? "",
        port: b.broker?.port ?? 0,
        rack: b.broker?.rack ?? null,
        fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown,
      })),
    };
  }

  /** Effective configs of resources (only `keys` when given). */
  async describeConfigs(
    resources: readonly ConfigResource[],
    options: AdminCallOptions & { readonly keys?: readonly string[] } = {},
  ): Promise<ResourceConfigs[]> {
    const request = {
      resources: resources.map((r) => ({ type: RESOURCE_TYPES[r.type], name: r.name })),
      keys: [...(options.keys ?? [])],
    };
    const response = await this.#anyBroker(
      "describeConfigs",
      (c, signal) =>
        unary<AdminServiceDescribeConfigsResponse__Output>(
          (o, cb) => c.admin.DescribeConfigs(request, o, cb),
          this.#opts(signal, "DescribeConfigs", c.address),
        ),
      options,
    );
    throwFirst(response.results.map((r, i) => ({ ...r, where: whereOf(resources[i]) })));
    return response.results.map((r, i) => ({
      resource: resources[i]!,
      values: r.values.map((v) => ({
        key: v.key,
        value: v.value,
        source: SOURCES[String(v.source)] ?? "unknown",
      })),
    }));
  }

  /** Sets (string) or deletes (null) configs; throws the first resource's error. */
  async alterConfigs(
    changes: readonly ConfigChanges[],
    options: AdminCallOptions & { readonly validateOnly?: boolean } = {},
  ): Promise<void> {
    const request = {
      validateOnly: options.validateOnly ?? false,
      resources: changes.map((c) => ({
        resource: { type: RESOURCE_TYPES[c.resource.type], name: c.resource.name },
        changes: Object.entries(c.changes).map(([key, value]) =>
          value === null ? { key } : { key, value },
        ),
      })),
    };
    const response = await this.#anyBroker(
      "alterConfigs",
      (c, signal) =>
        unary<AdminServiceAlterConfigsResponse__Output>(
          (o, cb) => c.admin.AlterConfigs(request, o, cb),
          this.#opts(signal, "AlterConfigs", c.address),
        ),
      options,
    );
    throwFirst(response.results.map((r, i) => ({ ...r, where: whereOf(changes[i]?.resource) })));
  }

  /**
   * Raises a topic's partition count (Kafka's CreatePartitions); returns the replicas of the
   * new partitions. A count at or below the current one throws INVALID_PARTITIONS. Records
   * keyed to the old partitions may land elsewhere afterwards (the key hash is modulo the count).
   */
  async createPartitions(
    request: NewPartitions,
    options: AdminCallOptions & { readonly validateOnly?: boolean } = {},
  ): Promise<number[][]> {
    const wire = {
      name: request.topic,
      count: request.count,
      validateOnly: options.validateOnly ?? false,
      timeoutMs: this.#ctx.requestTimeoutMs,
    };
    const r = await this.#anyBroker(
      "createPartitions",
      (c, signal) =>
        unary<AdminServiceCreatePartitionsResponse__Output>(
          (o, cb) => c.admin.CreatePartitions(wire, o, cb),
          this.#opts(signal, "CreatePartitions", c.address),
        ),
      options,
    );
    throwFirst([{ ...r, where: { topic: request.topic } }]);
    // Producers and consumers learn the new count on their next metadata refresh.
    // Best effort: the change is committed; a failed refresh only delays what clients see.
    if (!wire.validateOnly)
      await this.#ctx.metadata.refresh([request.topic], options.signal).catch(() => undefined);
    return r.assignments.map((a) => [...a.brokerIds]);
  }

  /** The metadata quorum's voters, as the active controller (or a voter) sees them. */
  async describeQuorum(options: AdminCallOptions = {}): Promise<QuorumDescription> {
    const r = await this.#anyBroker(
      "describeQuorum",
      (c, signal) =>
        unary<AdminServiceDescribeQuorumResponse__Output>(
          (o, cb) => c.admin.DescribeQuorum({}, o, cb),
          this.#opts(signal, "DescribeQuorum", c.address),
        ),
      options,
    );
    throwFirst([{ ...r, where: {} }]);
    return {
      leaderId: r.leaderId > 0 ? r.leaderId : -1,
      term: BigInt(r.term),
      answeredBy: r.answeredBy,
      commitIndex: BigInt(r.commitIndex),
      voters: r.voters
        .map((v) => ({
          nodeId: v.nodeId,
          directoryId: v.directoryId,
          address: v.address,
          matchIndex: BigInt(v.matchIndex),
        }))
        .sort((a, b) => a.nodeId - b.nodeId),
    };
  }

  /**
   * Adds a voter (KIP-853 AddRaftVoter) reachable at `address` (its internal listener);
   * resolves once the new voter set is committed. docs/operations.md has the replacement flow.
   */
  async addRaftVoter(
    voter: VoterChange & { readonly address: string },
    options: AdminCallOptions = {},
  ): Promise<void> {
    const wire = { nodeId: voter.nodeId, directoryId: voter.directoryId, address: voter.address };
    const r = await this.#anyBroker(
      "addRaftVoter",
      (c, signal) =>
        unary<AdminServiceAddRaftVoterResponse__Output>(
          (o, cb) => c.admin.AddRaftVoter(wire, o, cb),
          this.#opts(signal, "AddRaftVoter", c.address),
        ),
      options,
    );
    throwFirst([{ ...r, where: {} }]);
  }

  /** Removes a voter (KIP-853 RemoveRaftVoter); resolves once the new voter set is committed. */
  async removeRaftVoter(voter: VoterChange, options: AdminCallOptions = {}): Promise<void> {
    const wire = { nodeId: voter.nodeId, directoryId: voter.directoryId };
    const r = await this.#anyBroker(
      "removeRaftVoter",
      (c, signal) =>
        unary<AdminServiceRemoveRaftVoterResponse__Output>(
          (o, cb) => c.admin.RemoveRaftVoter(wire, o, cb),
          this.#opts(signal, "RemoveRaftVoter", c.address),
        ),
      options,
    );
    throwFirst([{ ...r, where: {} }]);
  }

  /**
   * Creates or replaces a SCRAM-SHA-512 user (Kafka's KIP-554). The password is salted and
   * hashed here (`iterations` PBKDF2 rounds, at least 4096); only the salted hash travels, and
   * the broker keeps only what verifies a login. Throws UNACCEPTABLE_CREDENTIAL (93) on a bad
   * name or iteration count.
   */
  async createUser(
    name: string,
    password: string,
    options: AdminCallOptions & { readonly iterations?: number } = {},
  ): Promise<void> {
    const upsertion = scramUpsertion(name, password, options.iterations ?? 8192);
    await this.#alterUsers({ upsertions: [upsertion], deletions: [] }, options);
  }

  /** Deletes a SCRAM user; its sessions end. Throws RESOURCE_NOT_FOUND (91) for an unknown user. */
  async deleteUser(name: string, options: AdminCallOptions = {}): Promise<void> {
    await this.#alterUsers(
      { upsertions: [], deletions: [{ name, mechanism: "SCRAM-SHA-512" }] },
      options,
    );
  }

  /** Every SCRAM user with its mechanisms and iteration counts (never keys), sorted by name. */
  async listUsers(options: AdminCallOptions = {}): Promise<UserDescription[]> {
    const r = await this.#anyBroker(
      "listUsers",
      (c, signal) =>
        unary<AdminServiceDescribeUserScramCredentialsResponse__Output>(
          (o, cb) => c.admin.DescribeUserScramCredentials({ names: [] }, o, cb),
          this.#opts(signal, "DescribeUserScramCredentials", c.address),
        ),
      options,
    );
    return r.users.map((u) => ({
      name: u.name,
      credentials: u.credentials.map((c) => ({ mechanism: c.mechanism, iterations: c.iterations })),
    }));
  }

  async #alterUsers(
    request: AdminServiceAlterUserScramCredentialsRequest,
    options: AdminCallOptions,
  ): Promise<void> {
    const r = await this.#anyBroker(
      "alterUserScramCredentials",
      (c, signal) =>
        unary<AdminServiceAlterUserScramCredentialsResponse__Output>(
          (o, cb) => c.admin.AlterUserScramCredentials(request, o, cb),
          this.#opts(signal, "AlterUserScramCredentials", c.address),
        ),
      options,
    );
    throwFirst(r.results.map((x) => ({ ...x, where: {} })));
  }

  /** Earliest (log start) and latest (high watermark) offsets of every partition. */
  async fetchTopicOffsets(
    topic: string,
    options: AdminCallOptions = {},
  ): Promise<PartitionOffsets[]> {
    const ctx = this.#ctx;
    const signal = anySignal(options.signal, ctx.closed);
    const t = await ctx.metadata.ensureTopic(topic, signal);
    const deadlineMs = Date.now() + (options.timeoutMs ?? ctx.requestTimeoutMs);
    const lookups = t.partitions.flatMap((p) => [
      { topic, partition: p.partition, query: "earliest" as const },
      { topic, partition: p.partition, query: "latest" as const },
    ]);
    // ListOffsets names each partition once per request: one request per query kind.
    const [low, high] = await Promise.all([
      listOffsets(
        ctx,
        lookups.filter((l) => l.query === "earliest"),
        { signal, deadlineMs },
      ),
      listOffsets(
        ctx,
        lookups.filter((l) => l.query === "latest"),
        { signal, deadlineMs },
      ),
    ]);
    return low.map((l, i) => ({
      partition: l.partition,
      low: l.offset,
      high: high[i]!.offset,
      offset: high[i]!.offset,
    }));
  }

  /**
   * Per partition, the first offset whose batch timestamp is >= `timestampMs`; a partition
   * with no such batch answers its high watermark (as KafkaJS does).
   */
  async fetchTopicOffsetsByTimestamp(
    topic: string,
    timestampMs: number | bigint,
    options: AdminCallOptions = {},
  ): Promise<{ partition: number; offset: bigint }[]> {
    const ctx = this.#ctx;
    const signal = anySignal(options.signal, ctx.closed);
    const t = await ctx.metadata.ensureTopic(topic, signal);
    const deadlineMs = Date.now() + (options.timeoutMs ?? ctx.requestTimeoutMs);
    const query = { timestamp: BigInt(timestampMs) };
    const found = await listOffsets(
      ctx,
      t.partitions.map((p) => ({ topic, partition: p.partition, query })),
      { signal, deadlineMs },
    );
    const missing = found.filter((f) => f.offset < 0n);
    const latest =
      missing.length === 0
        ? []
        : await listOffsets(
            ctx,
            missing.map((m) => ({ topic, partition: m.partition, query: "latest" as const })),
            { signal, deadlineMs },
          );
    return found.map((f) => ({
      partition: f.partition,
      offset:
        f.offset >= 0n
          ? f.offset
          : (latest.find((l) => l.partition === f.partition)?.offset ?? -1n),
    }));
  }
}

function whereOf(resource: ConfigResource | undefined): { topic?: string } {
  return resource?.type === "topic" ? { topic: resource.name } : {};
}

function topicResults(results: readonly AdminTopicResult__Output[]): TopicResult[] {
  throwFirst(results.map((r) => ({ ...r, where: { topic: r.name } })));
  return results.map((r) => ({ topic: r.name, topicId: r.topicId }));
}
