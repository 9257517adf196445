/**
 * ConsumerGroupHeartbeat (KIP-848): join (epoch 0), heartbeat (the current epoch), leave
 * (-1), static temporary leave (-2). One heartbeat updates the member's metadata, bumps the
 * group epoch when membership, subscriptions or subscribed topic metadata changed, recomputes
 * the target assignment, and reconciles this member one step.
 */
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import {
  bumpAndAssign,
  cancelMemberTimers,
  reconcileMember,
  removeMember,
  revocationTimerKey,
  sessionTimerKey,
} from "./membership.ts";
import { isSubset, samePartitions } from "./partitions.ts";
import { ASSIGNORS, type AssignorName } from "./records.ts";
import { Scratch } from "./scratch.ts";
import {
  currentOf,
  type GroupState,
  type GroupsState,
  LEAVE_EPOCH,
  LEAVE_STATIC_EPOCH,
  type MemberMetadata,
} from "./state.ts";
import type { TopicsMetadata } from "./topics.ts";
import type {
  GroupConfig,
  GroupResult,
  HeartbeatRequest,
  HeartbeatResponse,
  TimerChange,
} from "./types.ts";

type Result = GroupResult<HeartbeatResponse>;

/** Handles one heartbeat; see the module comment. */
export function heartbeat(
  state: GroupsState,
  req: HeartbeatRequest,
  topics: TopicsMetadata,
  config: GroupConfig,
  nowMs: number,
): Result {
  if (req.serverAssignor !== "" && !ASSIGNORS.includes(req.serverAssignor as AssignorName))
    return refuse(
      req,
      config,
      ErrorCode.UNSUPPORTED_ASSIGNOR,
      `unknown assignor ${req.serverAssignor}; use uniform or range`,
    );
  if (req.memberEpoch === LEAVE_EPOCH || req.memberEpoch === LEAVE_STATIC_EPOCH)
    return leave(state, req, topics, config, nowMs);
  const g = state.groups.get(req.groupId);
  if (req.memberEpoch === 0) return join(state, g, req, topics, config, nowMs);
  return beat(state, g, req, topics, config, nowMs);
}

function refuse(
  req: HeartbeatRequest,
  config: GroupConfig,
  error: ErrorCodeInfo,
  message: string,
): Result {
  return {
    records: [],
    timers: [],
    response: {
      errorCode: error.code,
      errorMessage: message,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      assignment: null,
    },
  };
}

function memberWithInstance(g: GroupState | undefined, instanceId: string): string | null {
  if (g === undefined || instanceId === "") return null;
  for (const [id, m] of g.members) if (m.instanceId === instanceId) return id;
  return null;
}

function join(
  state: GroupsState,
  g: GroupState | undefined,
  req: HeartbeatRequest,
  topics: TopicsMetadata,
  config: GroupConfig,
  nowMs: number,
): Result {
  if (req.subscription === null)
    return refuse(
      req,
      config,
      ErrorCode.INVALID_REQUEST,
      "a joining member must send its subscription",
    );
  const memberId = req.memberId === "" ? req.newMemberId : req.memberId;
  const s = new Scratch(state, req.groupId);
  const staticOwner = memberWithInstance(g, req.instanceId);
  if (staticOwner !== null && staticOwner !== memberId) {
    const old = g === undefined ? undefined : currentOf(g, staticOwner);
    if (old?.memberEpoch !== LEAVE_STATIC_EPOCH)
      return refuse(
        req,
        config,
        ErrorCode.UNRELEASED_INSTANCE_ID,
        `instance id ${req.instanceId} is in use by an active member`,
      );
    const timers = takeOverStatic(s, staticOwner, memberId, req);
    return finish(s, req, memberId, topics, config, nowMs, timers, true);
  }
  const existing = g?.members.get(memberId);
  if (existing === undefined && (g?.members.size ?? 0) >= config.maxGroupSize)
    return refuse(
      req,
      config,
      ErrorCode.GROUP_MAX_SIZE_REACHED,
      `the group has ${config.maxGroupSize} members, the most group.consumer.max.size allows`,
    );
  if (s.group === undefined || s.group.epoch === 0) {
    const assignor = (req.serverAssignor || config.defaultAssignor) as AssignorName;
    s.emit({
      type: "groupMetadata",
      groupId: req.groupId,
      epoch: s.group?.epoch ?? 0,
      assignor,
      topicsFingerprint: s.group?.topicsFingerprint ?? "",
      updatedMs: nowMs,
    });
  }
  // A rejoin (after a fence) starts over: the member dropped everything it owned.
  if (existing !== undefined && s.group?.current.has(memberId))
    s.emit({
      type: "currentAssignment",
      groupId: req.groupId,
      memberId,
      memberEpoch: 0,
      previousMemberEpoch: 0,
      assigned: new Map(),
      pendingRevocation: new Map(),
    });
  return finish(s, req, memberId, topics, config, nowMs, [], true);
}

/** A static member rejoins under a new member id: it takes over the old one's assignment. */
function takeOverStatic(
  s: Scratch,
  oldId: string,
  newId: string,
  req: HeartbeatRequest,
): TimerChange[] {
  const g = s.group;
  if (g === undefined) return [];
  const meta = g.members.get(oldId);
  const target = g.targets.get(oldId);
  const cur = currentOf(g, oldId);
  const groupId = req.groupId;
  s.emit({ type: "currentAssignmentTombstone", groupId, memberId: oldId });
  s.emit({ type: "targetAssignmentTombstone", groupId, memberId: oldId });
  s.emit({ type: "memberMetadataTombstone", groupId, memberId: oldId });
  if (meta !== undefined) s.emit({ type: "memberMetadata", groupId, ...meta, memberId: newId });
  if (target !== undefined)
    s.emit({ type: "targetAssignment", groupId, memberId: newId, partitions: target });
  s.emit({
    type: "currentAssignment",
    groupId,
    memberId: newId,
    memberEpoch: cur.previousMemberEpoch,
    previousMemberEpoch: cur.previousMemberEpoch,
    assigned: cur.assigned,
    pendingRevocation: cur.pendingRevocation,
  });
  return cancelMemberTimers(groupId, oldId);
}

function beat(
  state: GroupsState,
  g: GroupState | undefined,
  req: HeartbeatRequest,
  topics: TopicsMetadata,
  config: GroupConfig,
  nowMs: number,
): Result {
  const member = g?.members.get(req.memberId);
  if (g === undefined || member === undefined) {
    const byInstance = memberWithInstance(g, req.instanceId);
    if (byInstance !== null)
      return refuse(
        req,
        config,
        ErrorCode.FENCED_INSTANCE_ID,
        `instance id ${req.instanceId} now belongs to another member; rejoin with epoch 0`,
      );
    return refuse(
      req,
      config,
      ErrorCode.UNKNOWN_MEMBER_ID,
      `member ${req.memberId} is not in group ${req.groupId}; rejoin with epoch 0`,
    );
  }
  if (member.instanceId !== req.instanceId)
    return refuse(
      req,
      config,
      ErrorCode.FENCED_INSTANCE_ID,
      `member ${req.memberId} has instance id "${member.instanceId}", not "${req.instanceId}"`,
    );
  const cur = currentOf(g, req.memberId);
  if (req.memberEpoch !== cur.memberEpoch) {
    // A lost response: the member may still be at its previous epoch, with no more than it has.
    const lostResponse =
      req.memberEpoch === cur.previousMemberEpoch &&
      cur.memberEpoch !== LEAVE_STATIC_EPOCH &&
      req.owned !== null &&
      isSubset(req.owned, cur.assigned);
    if (!lostResponse)
      return refuse(
        req,
        config,
        ErrorCode.FENCED_MEMBER_EPOCH,
        `member epoch ${req.memberEpoch} is not the current ${cur.memberEpoch}; rejoin with epoch 0`,
      );
  }
  const s = new Scratch(state, req.groupId);
  return finish(s, req, req.memberId, topics, config, nowMs, [], false);
}

/** Records metadata changes, bumps and assigns if needed, reconciles, answers. */
function finish(
  s: Scratch,
  req: HeartbeatRequest,
  memberId: string,
  topics: TopicsMetadata,
  config: GroupConfig,
  nowMs: number,
  timers: TimerChange[],
  joining: boolean,
): Result {
  const before = s.group?.members.get(memberId);
  const updated = mergeMetadata(before, req, memberId, config);
  const subscriptionChanged =
    before === undefined ||
    before.topicRegex !== updated.topicRegex ||
    before.topicNames.join(",") !== updated.topicNames.join(",");
  if (before === undefined || !sameMetadata(before, updated))
    s.emit({ type: "memberMetadata", groupId: req.groupId, ...updated });
  const assignor = req.serverAssignor === "" ? undefined : (req.serverAssignor as AssignorName);
  bumpAndAssign(s, topics, nowMs, subscriptionChanged, assignor);
  const previous = s.group === undefined ? undefined : currentOf(s.group, memberId).assigned;
  reconcileMember(s, memberId, joining ? (req.owned ?? new Map()) : req.owned);
  const g = s.group;
  if (g === undefined) throw new Error("the group vanished while handling a heartbeat");
  const cur = currentOf(g, memberId);
  const changed = previous === undefined || !samePartitions(previous, cur.assigned);
  const ownedDiffers = req.owned !== null && !samePartitions(req.owned, cur.assigned);
  const rebalanceMs = updated.rebalanceTimeoutMs;
  timers.push({
    kind: "schedule",
    key: sessionTimerKey(req.groupId, memberId),
    deadlineMs: nowMs + config.sessionTimeoutMs,
  });
  timers.push(
    cur.pendingRevocation.size > 0
      ? {
          kind: "schedule",
          key: revocationTimerKey(req.groupId, memberId),
          deadlineMs: nowMs + rebalanceMs,
        }
      : { kind: "cancel", key: revocationTimerKey(req.groupId, memberId) },
  );
  return {
    records: s.records,
    timers: keepRevocationDeadline(timers, s, memberId),
    response: {
      errorCode: 0,
      errorMessage: "",
      memberId,
      memberEpoch: cur.memberEpoch,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      assignment: joining || changed || ownedDiffers ? cur.assigned : null,
    },
  };
}

/**
 * The revocation deadline starts when a revocation is first asked for; later heartbeats that
 * still hold the partitions must not push it out, so a repeat of an unchanged pending set
 * does not re-arm the timer.
 */
function keepRevocationDeadline(
  timers: TimerChange[],
  s: Scratch,
  memberId: string,
): TimerChange[] {
  const askedNow = s.records.some(
    (r) =>
      r.type === "currentAssignment" && r.memberId === memberId && r.pendingRevocation.size > 0,
  );
  if (askedNow) return timers;
  const key = revocationTimerKey(s.groupId, memberId);
  return timers.filter((t) => !(t.kind === "schedule" && t.key === key));
}

function mergeMetadata(
  before: MemberMetadata | undefined,
  req: HeartbeatRequest,
  memberId: string,
  config: GroupConfig,
): MemberMetadata {
  const sub = req.subscription;
  return {
    memberId,
    instanceId: req.instanceId,
    rackId: req.rackId,
    clientId: req.clientId,
    clientHost: req.clientHost,
    topicNames: sub === null ? (before?.topicNames ?? []) : [...new Set(sub.topicNames)].sort(),
    topicRegex: sub === null ? (before?.topicRegex ?? "") : sub.topicRegex,
    rebalanceTimeoutMs:
      req.rebalanceTimeoutMs > 0
        ? req.rebalanceTimeoutMs
        : (before?.rebalanceTimeoutMs ?? config.defaultRebalanceTimeoutMs),
  };
}

function sameMetadata(a: MemberMetadata, b: MemberMetadata): boolean {
  return (
    a.instanceId === b.instanceId &&
    a.rackId === b.rackId &&
    a.clientId === b.clientId &&
    a.clientHost === b.clientHost &&
    a.topicRegex === b.topicRegex &&
    a.topicNames.join(",") === b.topicNames.join(",") &&
    a.rebalanceTimeoutMs === b.rebalanceTimeoutMs
  );
}

function leave(
  state: GroupsState,
  req: HeartbeatRequest,
  topics: TopicsMetadata,
  config: GroupConfig,
  nowMs: number,
): Result {
  const g = state.groups.get(req.groupId);
  const member = g?.members.get(req.memberId);
  if (g === undefined || member === undefined)
    return refuse(
      req,
      config,
      ErrorCode.UNKNOWN_MEMBER_ID,
      `member ${req.memberId} is not in group ${req.groupId}`,
    );
  const s = new Scratch(state, req.groupId);
  let timers: TimerChange[];
  if (req.memberEpoch === LEAVE_STATIC_EPOCH && member.instanceId !== "") {
    const cur = currentOf(g, req.memberId);
    s.emit({
      type: "currentAssignment",
      groupId: req.groupId,
      memberId: req.memberId,
      memberEpoch: LEAVE_STATIC_EPOCH,
      previousMemberEpoch:
        cur.memberEpoch === LEAVE_STATIC_EPOCH ? cur.previousMemberEpoch : cur.memberEpoch,
      assigned: cur.assigned,
      pendingRevocation: cur.pendingRevocation,
    });
    timers = [
      {
        kind: "schedule",
        key: sessionTimerKey(req.groupId, req.memberId),
        deadlineMs: nowMs + config.sessionTimeoutMs,
      },
    ];
  } else {
    timers = removeMember(s, req.memberId, topics, nowMs);
  }
  return {
    records: s.records,
    timers,
    response: {
      errorCode: 0,
      errorMessage: "",
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      assignment: null,
    },
  };
}
