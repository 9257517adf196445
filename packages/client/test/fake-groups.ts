// A tiny in-process GroupService for the client's unit tests, served by every broker of a
// FakeCluster. It is not the real coordinator (packages/broker) but keeps the KIP-848 rules the
// client relies on: members join with epoch 0 and get an id; the target assignment spreads the
// subscribed partitions round-robin over the members (sorted by id); a member is given only
// target partitions no other member still reports owning, so ownership never overlaps; stale
// epochs are fenced; commits are checked against the member epoch (STALE_MEMBER_EPOCH when
// older, FENCED when newer or unknown); standalone commits are accepted only in an empty group.
// Only `coordinatorId` answers group calls; other brokers answer NOT_COORDINATOR with a hint.
// Tests script failures with `heartbeatErrors` / `commitErrors` (codes answered once each, in
// order) and read every call from `log`.
import type * as grpc from "@grpc/grpc-js";
import { strandGrpc } from "@strand/protocol";
import type { FakeCluster } from "./fake-cluster.ts";

export interface FakeMember {
  id: string;
  epoch: number;
  instanceId: string;
  topics: string[];
  owned: Set<string>;
  /** What the member was last told it may own. */
  sent: string | null;
  lastSeen: number;
}

export interface FakeGroup {
  epoch: number;
  members: Map<string, FakeMember>;
  offsets: Map<string, bigint>;
}

/** One logged call. */
export interface LoggedCall {
  readonly at: number;
  readonly broker: number;
  readonly method: string;
  // biome-ignore lint/suspicious/noExplicitAny: the raw request, for assertions
  readonly request: any;
  // biome-ignore lint/suspicious/noExplicitAny: the raw answer, for assertions
  readonly response: any;
}

const key = (topic: string, partition: number) => `${topic}-${partition}`;
const NONE = { errorCode: 0, errorMessage: "" };

export class FakeGroups {
  readonly cluster: FakeCluster;
  /** The broker that coordinates every group; -1: none (COORDINATOR_NOT_AVAILABLE). */
  coordinatorId = 1;
  heartbeatIntervalMs = 50;
  sessionTimeoutMs = 5_000;
  readonly groups = new Map<string, FakeGroup>();
  readonly log: LoggedCall[] = [];
  /** Codes answered to the next heartbeats, one each. */
  readonly heartbeatErrors: number[] = [];
  /** Codes answered to the next commits, one each. */
  readonly commitErrors: number[] = [];
  #nextMember = 1;

  constructor(cluster: FakeCluster) {
    this.cluster = cluster;
  }

  /** Installs the service on every broker of `cluster` (pass to FakeCluster.start). */
  static install(): {
    hook: (server: grpc.Server, broker: number, cluster: FakeCluster) => void;
    groups: () => FakeGroups;
  } {
    let groups: FakeGroups | null = null;
    return {
      hook: (server, broker, cluster) => {
        groups ??= new FakeGroups(cluster);
        const g = groups;
        const unary =
          // biome-ignore lint/suspicious/noExplicitAny: untyped requests of a test double
            (method: string, fn: (req: any) => any) =>
            // biome-ignore lint/suspicious/noExplicitAny: untyped requests of a test double
            (call: any, cb: grpc.sendUnaryData<any>) => {
              const response = fn(call.request);
              g.log.push({ at: Date.now(), broker, method, request: call.request, response });
              cb(null, response);
            };
        server.addService(strandGrpc().strand.v1.GroupService.service, {
          FindCoordinator: unary("FindCoordinator", (r) => g.findCoordinator(r)),
          ConsumerGroupHeartbeat: unary("Heartbeat", (r) => g.routed(broker, () => g.heartbeat(r))),
          OffsetCommit: unary("OffsetCommit", (r) => g.routed(broker, () => g.commit(r))),
          OffsetFetch: unary("OffsetFetch", (r) => g.routed(broker, () => g.fetch(r))),
          ListGroups: unary("ListGroups", () => g.list(broker)),
          DescribeGroups: unary("DescribeGroups", (r) => g.describe(broker, r)),
          DeleteGroups: unary("DeleteGroups", (r) => g.remove(broker, r)),
          ResetOffsets: unary("ResetOffsets", (r) => g.routed(broker, () => g.reset(r))),
        });
      },
      groups: () => {
        if (groups === null) throw new Error("start the cluster first");
        return groups;
      },
    };
  }

  hint() {
    if (this.coordinatorId < 0) return { nodeId: -1, host: "", port: 0 };
    return {
      nodeId: this.coordinatorId,
      host: "127.0.0.1",
      port: this.cluster.ports[this.coordinatorId - 1]!,
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  findCoordinator(req: any) {
    return {
      results: req.groupIds.map((groupId: string) =>
        this.coordinatorId < 0
          ? { groupId, errorCode: 15, errorMessage: "no leader", coordinator: this.hint() }
          : { groupId, ...NONE, coordinator: this.hint() },
      ),
    };
  }

  /** Answers NOT_COORDINATOR with a hint unless `broker` coordinates. */
  routed(broker: number, answer: () => object) {
    if (broker !== this.coordinatorId)
      return { errorCode: 16, errorMessage: "not the coordinator", coordinator: this.hint() };
    return answer();
  }

  group(id: string): FakeGroup {
    let g = this.groups.get(id);
    if (g === undefined) {
      g = { epoch: 0, members: new Map(), offsets: new Map() };
      this.groups.set(id, g);
    }
    return g;
  }

  /** The round-robin target of `member`. */
  target(g: FakeGroup, member: FakeMember): Set<string> {
    const ids = [...g.members.keys()].sort();
    const topics = [...new Set([...g.members.values()].flatMap((m) => m.topics))].sort();
    const all = topics.flatMap((t) =>
      Array.from({ length: this.cluster.topics.get(t)?.length ?? 0 }, (_, p) => key(t, p)),
    );
    return new Set(all.filter((_, i) => ids[i % ids.length] === member.id));
  }

  expire(g: FakeGroup): void {
    const now = Date.now();
    for (const [id, m] of g.members)
      if (now - m.lastSeen > this.sessionTimeoutMs) {
        g.members.delete(id);
        g.epoch++;
      }
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  heartbeat(req: any) {
    const scripted = this.heartbeatErrors.shift();
    if (scripted === 110 || scripted === 25) {
      // A fenced member is out of the group, as the coordinator removes it.
      const g = this.group(req.groupId);
      if (g.members.delete(req.memberId)) g.epoch++;
    }
    if (scripted !== undefined)
      return {
        errorCode: scripted,
        errorMessage: `scripted ${scripted}`,
        coordinator: this.hint(),
      };
    const g = this.group(req.groupId);
    this.expire(g);
    let m: FakeMember | undefined;
    if (req.memberEpoch === 0) {
      const id = req.memberId || `member-${this.#nextMember++}`;
      m = {
        id,
        epoch: 0,
        instanceId: req.instanceId,
        topics: [],
        owned: new Set(),
        sent: null,
        lastSeen: 0,
      };
      g.members.set(id, m);
      g.epoch++;
    } else {
      m = g.members.get(req.memberId);
      if (m === undefined) return { errorCode: 25, errorMessage: "unknown member" };
      if (req.memberEpoch < 0) {
        g.members.delete(m.id);
        g.epoch++;
        return { ...NONE, memberId: m.id, memberEpoch: req.memberEpoch, heartbeatIntervalMs: 0 };
      }
      if (req.memberEpoch !== m.epoch) return { errorCode: 110, errorMessage: "fenced" };
    }
    m.lastSeen = Date.now();
    if (req.subscription) {
      const regex = req.subscription.topicRegex as string;
      const anchored = new RegExp(`^(?:${regex})$`);
      m.topics = regex
        ? [...this.cluster.topics.keys()].filter((t) => anchored.test(t))
        : [...req.subscription.topicNames];
    }
    if (req.owned)
      m.owned = new Set(
        req.owned.topics.flatMap((t: { topic: string; partitions: number[] }) =>
          t.partitions.map((p) => key(t.topic, p)),
        ),
      );
    // Only partitions no other member still owns: revocation is acknowledged first.
    const others = new Set(
      [...g.members.values()].filter((o) => o !== m).flatMap((o) => [...o.owned]),
    );
    const allowed = [...this.target(g, m)].filter((k) => !others.has(k)).sort();
    const text = allowed.join(",");
    let assignment: object | null = null;
    if (text !== m.sent || m.epoch === 0) {
      m.sent = text;
      m.epoch = Math.max(m.epoch + 1, g.epoch);
      const byTopic = new Map<string, number[]>();
      for (const k of allowed) {
        const at = k.lastIndexOf("-");
        const t = k.slice(0, at);
        byTopic.set(t, [...(byTopic.get(t) ?? []), Number(k.slice(at + 1))]);
      }
      assignment = { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) };
    }
    return {
      ...NONE,
      memberId: m.id,
      memberEpoch: m.epoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      ...(assignment === null ? {} : { assignment }),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  commit(req: any) {
    const scripted = this.commitErrors.shift();
    if (scripted !== undefined)
      return { errorCode: scripted, errorMessage: `scripted ${scripted}`, topics: [] };
    const g = this.group(req.groupId);
    if (req.memberId === "") {
      if (g.members.size > 0)
        return { errorCode: 25, errorMessage: "group has members", topics: [] };
    } else {
      const m = g.members.get(req.memberId);
      if (m === undefined) return { errorCode: 25, errorMessage: "unknown member", topics: [] };
      if (req.memberEpoch < m.epoch) return { errorCode: 113, errorMessage: "stale", topics: [] };
      if (req.memberEpoch > m.epoch) return { errorCode: 110, errorMessage: "fenced", topics: [] };
    }
    for (const t of req.topics)
      for (const p of t.partitions)
        g.offsets.set(key(t.topic, p.partition), BigInt(p.committedOffset));
    return {
      ...NONE,
      topics: req.topics.map((t: { topic: string; partitions: { partition: number }[] }) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({ partition: p.partition, ...NONE })),
      })),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  fetch(req: any) {
    const g = this.group(req.groupId);
    return {
      ...NONE,
      topics: req.topics.map((t: { topic: string; partitions: number[] }) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({
          partition: p,
          committedOffset: String(g.offsets.get(key(t.topic, p)) ?? -1n),
          committedLeaderEpoch: -1,
          metadata: "",
          ...NONE,
        })),
      })),
    };
  }

  list(broker: number) {
    if (broker !== this.coordinatorId) return { ...NONE, groups: [] };
    return {
      ...NONE,
      groups: [...this.groups].map(([groupId, g]) => ({
        groupId,
        state: g.members.size === 0 ? "empty" : "stable",
        members: g.members.size,
        coordinatorId: broker,
      })),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  describe(broker: number, req: any) {
    return {
      groups: req.groupIds.map((groupId: string) => {
        if (broker !== this.coordinatorId) return { groupId, errorCode: 16, errorMessage: "not" };
        const g = this.groups.get(groupId);
        if (g === undefined) return { groupId, errorCode: 69, errorMessage: "no such group" };
        const owner = (k: string) => [...g.members.values()].find((m) => m.owned.has(k))?.id ?? "";
        return {
          groupId,
          ...NONE,
          state: g.members.size === 0 ? "empty" : "stable",
          groupEpoch: g.epoch,
          assignmentEpoch: g.epoch,
          assignor: "uniform",
          coordinatorId: broker,
          members: [...g.members.values()].map((m) => ({
            memberId: m.id,
            instanceId: m.instanceId,
            clientId: "c",
            clientHost: "/127.0.0.1",
            memberEpoch: m.epoch,
            subscription: { topicNames: m.topics, topicRegex: "" },
            assignment: [],
            targetAssignment: [],
          })),
          offsets: [...g.offsets].map(([k, committed]) => {
            const at = k.lastIndexOf("-");
            const topic = k.slice(0, at);
            const partition = Number(k.slice(at + 1));
            const end = this.cluster.topics.get(topic)?.[partition]?.next ?? -1n;
            return {
              topic,
              partition,
              committedOffset: String(committed),
              logEndOffset: String(end),
              lag: String(req.includeLag ? end - committed : -1n),
              ownerMemberId: owner(k),
            };
          }),
        };
      }),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  remove(broker: number, req: any) {
    return {
      results: req.groupIds.map((groupId: string) => {
        if (broker !== this.coordinatorId) return { groupId, errorCode: 16, errorMessage: "not" };
        const g = this.groups.get(groupId);
        if (g === undefined) return { groupId, errorCode: 69, errorMessage: "no such group" };
        if (g.members.size > 0) return { groupId, errorCode: 68, errorMessage: "has members" };
        this.groups.delete(groupId);
        return { groupId, ...NONE };
      }),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  reset(req: any) {
    const g = this.groups.get(req.groupId);
    if (g === undefined) return { errorCode: 69, errorMessage: "no such group", partitions: [] };
    if (g.members.size > 0) return { errorCode: 68, errorMessage: "has members", partitions: [] };
    const partitions = [...g.offsets].map(([k, previous]) => {
      const at = k.lastIndexOf("-");
      const topic = k.slice(0, at);
      const partition = Number(k.slice(at + 1));
      const end = this.cluster.topics.get(topic)?.[partition]?.next ?? 0n;
      const spec = req.spec;
      let next = previous;
      if (spec.to === "earliest") next = 0n;
      else if (spec.to === "latest") next = end;
      else if (spec.to === "offset") next = BigInt(spec.offset);
      else if (spec.to === "shiftBy") next = previous + BigInt(spec.shiftBy);
      next = next < 0n ? 0n : next > end ? end : next;
      return {
        topic,
        partition,
        previousOffset: String(previous),
        newOffset: String(next),
        ...NONE,
      };
    });
    if (req.execute)
      for (const p of partitions) g.offsets.set(key(p.topic, p.partition), BigInt(p.newOffset));
    return { ...NONE, partitions, executed: req.execute };
  }
}
