// A test harness around the pure group core: it applies handler results the way the shell
// does (replay the records, keep the timers) and simulates members that obey their answers.

import { isDeepStrictEqual } from "node:util";
import { heartbeat } from "../../src/core/groups/heartbeat.ts";
import { onTimer } from "../../src/core/groups/maintenance.ts";
import {
  type CommitRequest,
  type CommitResponse,
  commitOffsets,
} from "../../src/core/groups/offsets.ts";
import { fromKeys, keysOf } from "../../src/core/groups/partitions.ts";
import type { GroupRecord, TopicPartitions } from "../../src/core/groups/records.ts";
import { emptyGroupsState, type GroupsState, replayAll } from "../../src/core/groups/state.ts";
import type { TopicsMetadata } from "../../src/core/groups/topics.ts";
import type {
  GroupResult,
  HeartbeatRequest,
  HeartbeatResponse,
} from "../../src/core/groups/types.ts";
import { DEFAULT_GROUP_CONFIG, type GroupConfig } from "../../src/core/groups/types.ts";

export const GROUP = "g1";

/** tp("a", 0, 1) -> Map { a: [0, 1] }. */
export function tp(...spec: (string | number)[]): TopicPartitions {
  const keys: string[] = [];
  let topic = "";
  for (const x of spec) {
    if (typeof x === "string") topic = x;
    else keys.push(`${topic}\u0000${x}`);
  }
  return fromKeys(keys);
}

/** A coordinator: state, timers, topics, clock. */
export class Coordinator {
  state: GroupsState = emptyGroupsState();
  readonly timers = new Map<string, number>();
  readonly log: GroupRecord[] = [];
  topics: TopicsMetadata;
  nowMs = 1_000;
  config: GroupConfig;
  #ids = 0;

  constructor(topics: TopicsMetadata, config: Partial<GroupConfig> = {}) {
    this.topics = topics;
    this.config = { ...DEFAULT_GROUP_CONFIG, ...config };
  }

  apply<R>(result: GroupResult<R>): R {
    replayAll(this.state, result.records);
    this.log.push(...result.records);
    for (const t of result.timers) {
      if (t.kind === "schedule") this.timers.set(t.key, t.deadlineMs);
      else this.timers.delete(t.key);
    }
    return result.response;
  }

  heartbeat(
    req: Partial<HeartbeatRequest> & { memberId: string; memberEpoch: number },
  ): HeartbeatResponse {
    const full: HeartbeatRequest = {
      groupId: GROUP,
      instanceId: "",
      rackId: "",
      rebalanceTimeoutMs: 0,
      subscription: null,
      serverAssignor: "",
      owned: null,
      clientId: "c",
      clientHost: "h",
      newMemberId: `m${++this.#ids}`,
      ...req,
    };
    return this.apply(
      this.pure(() => heartbeat(this.state, full, this.topics, this.config, this.nowMs)),
    );
  }

  /** OffsetCommit for the group (memberId "" and epoch -1: a standalone commit). */
  commit(req: Omit<CommitRequest, "groupId">): CommitResponse {
    const full = { groupId: GROUP, ...req };
    return this.apply(this.pure(() => commitOffsets(this.state, full, this.topics, this.nowMs)));
  }

  /** Runs a handler and throws if it changed the state (only replay may). */
  pure<R>(handler: () => GroupResult<R>): GroupResult<R> {
    const before = structuredClone(this.state);
    const result = handler();
    if (!isDeepStrictEqual(before, this.state)) throw new Error("a handler mutated the state");
    return result;
  }

  /** Advances the clock and fires due timers in deadline order. */
  advance(ms: number): void {
    this.nowMs += ms;
    for (;;) {
      const due = [...this.timers].filter(([, d]) => d <= this.nowMs).sort((a, b) => a[1] - b[1]);
      const first = due[0];
      if (first === undefined) return;
      this.timers.delete(first[0]);
      const key = first[0];
      this.apply(this.pure(() => onTimer(this.state, key, this.topics, this.nowMs)));
    }
  }

  /** Replays the whole log into a fresh state (what a new coordinator does). */
  reload(): GroupsState {
    const fresh = emptyGroupsState();
    replayAll(fresh, this.log);
    return fresh;
  }
}

/** A member that obeys its answers: it owns exactly its last assignment. */
export class SimMember {
  memberId = "";
  epoch = 0;
  owned: TopicPartitions = new Map();
  alive = true;
  readonly c: Coordinator;
  readonly topics: readonly string[];
  readonly instanceId: string;

  constructor(c: Coordinator, topics: readonly string[], instanceId = "") {
    this.c = c;
    this.topics = topics;
    this.instanceId = instanceId;
  }

  beat(): HeartbeatResponse {
    const r = this.c.heartbeat({
      memberId: this.memberId,
      memberEpoch: this.epoch,
      instanceId: this.instanceId,
      subscription: this.epoch === 0 ? { topicNames: this.topics, topicRegex: "" } : null,
      owned: this.owned,
    });
    if (r.errorCode === 0) {
      this.memberId = r.memberId;
      this.epoch = r.memberEpoch;
      if (r.assignment !== null) this.owned = r.assignment;
    } else if (r.errorCode === 110 || r.errorCode === 25) {
      // Fenced or unknown: give up everything and rejoin.
      this.owned = new Map();
      this.epoch = 0;
    }
    return r;
  }

  leave(): HeartbeatResponse {
    this.alive = false;
    const r = this.c.heartbeat({
      memberId: this.memberId,
      memberEpoch: -1,
      instanceId: this.instanceId,
    });
    this.owned = new Map();
    return r;
  }
}

/** Throws when a partition is owned by two members (their own view). */
export function assertExclusive(members: readonly SimMember[]): void {
  const seen = new Map<string, string>();
  for (const m of members) {
    if (!m.alive) continue;
    for (const k of keysOf(m.owned)) {
      const other = seen.get(k);
      if (other !== undefined)
        throw new Error(`${k.replace("\u0000", "/")} owned by ${other} and ${m.memberId}`);
      seen.set(k, m.memberId);
    }
  }
}

/** Heartbeats every live member `rounds` times. */
export function settle(members: readonly SimMember[], rounds = 6): void {
  for (let i = 0; i < rounds; i++) {
    for (const m of members) if (m.alive) m.beat();
    assertExclusive(members);
  }
}
