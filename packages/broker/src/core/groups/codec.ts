/**
 * The on-disk form of group records in `__consumer_offsets` (docs/consumer-groups.md,
 * "Record format"). Key: UTF-8 JSON array `[1, kind, groupId, ...ids]` — one key per thing
 * described, so compaction keeps the last value per key. Value: UTF-8 JSON object with a
 * version field `v` (1), or null for a tombstone. Offsets travel as decimal strings. Decoding
 * validates every field and throws {@link GroupRecordError} on anything else.
 */
import { ASSIGNORS, type AssignorName, type GroupRecord, type TopicPartitions } from "./records.ts";

/** A record key or value that does not decode. */
export class GroupRecordError extends Error {}

const KEY_VERSION = 1;
const VALUE_VERSION = 1;

/** Kind tags of record keys. */
const KIND = {
  group: "g",
  member: "m",
  targetMeta: "tm",
  target: "t",
  current: "c",
  offset: "o",
} as const;

/** A record as key and value bytes (value null = tombstone). */
export interface EncodedGroupRecord {
  readonly key: Buffer;
  readonly value: Buffer | null;
}

function json(x: unknown): Buffer {
  return Buffer.from(JSON.stringify(x), "utf8");
}

function tpToJson(tp: TopicPartitions): [string, number[]][] {
  return [...tp].map(([t, ps]) => [t, [...ps]]);
}

/** Encodes one record. */
export function encodeGroupRecord(r: GroupRecord): EncodedGroupRecord {
  const v = VALUE_VERSION;
  switch (r.type) {
    case "groupMetadata":
      return {
        key: json([KEY_VERSION, KIND.group, r.groupId]),
        value: json({
          v,
          epoch: r.epoch,
          assignor: r.assignor,
          topicsFingerprint: r.topicsFingerprint,
          updatedMs: r.updatedMs,
        }),
      };
    case "groupMetadataTombstone":
      return { key: json([KEY_VERSION, KIND.group, r.groupId]), value: null };
    case "memberMetadata": {
      const { type: _t, groupId, memberId, ...rest } = r;
      return {
        key: json([KEY_VERSION, KIND.member, groupId, memberId]),
        value: json({ v, ...rest }),
      };
    }
    case "memberMetadataTombstone":
      return { key: json([KEY_VERSION, KIND.member, r.groupId, r.memberId]), value: null };
    case "targetAssignmentMetadata":
      return {
        key: json([KEY_VERSION, KIND.targetMeta, r.groupId]),
        value: json({ v, assignmentEpoch: r.assignmentEpoch }),
      };
    case "targetAssignmentMetadataTombstone":
      return { key: json([KEY_VERSION, KIND.targetMeta, r.groupId]), value: null };
    case "targetAssignment":
      return {
        key: json([KEY_VERSION, KIND.target, r.groupId, r.memberId]),
        value: json({ v, partitions: tpToJson(r.partitions) }),
      };
    case "targetAssignmentTombstone":
      return { key: json([KEY_VERSION, KIND.target, r.groupId, r.memberId]), value: null };
    case "currentAssignment":
      return {
        key: json([KEY_VERSION, KIND.current, r.groupId, r.memberId]),
        value: json({
          v,
          memberEpoch: r.memberEpoch,
          previousMemberEpoch: r.previousMemberEpoch,
          assigned: tpToJson(r.assigned),
          pendingRevocation: tpToJson(r.pendingRevocation),
        }),
      };
    case "currentAssignmentTombstone":
      return { key: json([KEY_VERSION, KIND.current, r.groupId, r.memberId]), value: null };
    case "offsetCommit":
      return {
        key: json([KEY_VERSION, KIND.offset, r.groupId, r.topic, r.partition]),
        value: json({
          v,
          offset: r.offset.toString(),
          leaderEpoch: r.leaderEpoch,
          metadata: r.metadata,
          commitTimestampMs: r.commitTimestampMs,
        }),
      };
    case "offsetCommitTombstone":
      return {
        key: json([KEY_VERSION, KIND.offset, r.groupId, r.topic, r.partition]),
        value: null,
      };
  }
}

function fail(message: string): never {
  throw new GroupRecordError(message);
}

function parse(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"),
    );
  } catch {
    return fail(`group record ${what} is not JSON`);
  }
}

function str(x: unknown, what: string): string {
  return typeof x === "string" ? x : fail(`${what} is not a string`);
}

function int(x: unknown, what: string, min = -(2 ** 31), max = 2 ** 53): number {
  return typeof x === "number" && Number.isInteger(x) && x >= min && x <= max
    ? x
    : fail(`${what} is not an integer in range`);
}

function tp(x: unknown, what: string): TopicPartitions {
  if (!Array.isArray(x)) fail(`${what} is not a list`);
  const out = new Map<string, number[]>();
  for (const entry of x) {
    if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1]))
      fail(`${what} entry is malformed`);
    out.set(
      str(entry[0], what),
      (entry[1] as unknown[]).map((p) => int(p, what, 0)),
    );
  }
  return out;
}

/** Decodes one record; throws GroupRecordError when the key or value is malformed. */
export function decodeGroupRecord(key: Uint8Array | null, value: Uint8Array | null): GroupRecord {
  if (key === null) fail("group record without a key");
  const k = parse(key, "key");
  if (!Array.isArray(k) || k[0] !== KEY_VERSION) fail("unknown group record key version");
  const kind = k[1];
  const groupId = str(k[2], "group id");
  const body = value === null ? null : parse(value, "value");
  if (body !== null && (typeof body !== "object" || (body as { v?: unknown }).v !== VALUE_VERSION))
    fail("unknown group record value version");
  const b = (body ?? {}) as Record<string, unknown>;
  switch (kind) {
    case KIND.group: {
      if (body === null) return { type: "groupMetadataTombstone", groupId };
      const assignor = str(b.assignor, "assignor");
      if (!ASSIGNORS.includes(assignor as AssignorName)) fail(`unknown assignor ${assignor}`);
      return {
        type: "groupMetadata",
        groupId,
        epoch: int(b.epoch, "epoch", 0),
        assignor: assignor as AssignorName,
        topicsFingerprint: str(b.topicsFingerprint, "fingerprint"),
        updatedMs: int(b.updatedMs, "updatedMs", 0),
      };
    }
    case KIND.member: {
      const memberId = str(k[3], "member id");
      if (body === null) return { type: "memberMetadataTombstone", groupId, memberId };
      const names = Array.isArray(b.topicNames)
        ? b.topicNames.map((t) => str(t, "topic"))
        : fail("topicNames is not a list");
      return {
        type: "memberMetadata",
        groupId,
        memberId,
        instanceId: str(b.instanceId, "instanceId"),
        rackId: str(b.rackId, "rackId"),
        clientId: str(b.clientId, "clientId"),
        clientHost: str(b.clientHost, "clientHost"),
        topicNames: names,
        topicRegex: str(b.topicRegex, "topicRegex"),
        rebalanceTimeoutMs: int(b.rebalanceTimeoutMs, "rebalanceTimeoutMs", 0),
      };
    }
    case KIND.targetMeta:
      if (body === null) return { type: "targetAssignmentMetadataTombstone", groupId };
      return {
        type: "targetAssignmentMetadata",
        groupId,
        assignmentEpoch: int(b.assignmentEpoch, "assignmentEpoch", 0),
      };
    case KIND.target: {
      const memberId = str(k[3], "member id");
      if (body === null) return { type: "targetAssignmentTombstone", groupId, memberId };
      return {
        type: "targetAssignment",
        groupId,
        memberId,
        partitions: tp(b.partitions, "partitions"),
      };
    }
    case KIND.current: {
      const memberId = str(k[3], "member id");
      if (body === null) return { type: "currentAssignmentTombstone", groupId, memberId };
      return {
        type: "currentAssignment",
        groupId,
        memberId,
        memberEpoch: int(b.memberEpoch, "memberEpoch"),
        previousMemberEpoch: int(b.previousMemberEpoch, "previousMemberEpoch"),
        assigned: tp(b.assigned, "assigned"),
        pendingRevocation: tp(b.pendingRevocation, "pendingRevocation"),
      };
    }
    case KIND.offset: {
      const topic = str(k[3], "topic");
      const partition = int(k[4], "partition", 0);
      if (body === null) return { type: "offsetCommitTombstone", groupId, topic, partition };
      const offset = str(b.offset, "offset");
      if (!/^-?\d{1,19}$/.test(offset)) fail("offset is not a decimal int64");
      return {
        type: "offsetCommit",
        groupId,
        topic,
        partition,
        offset: BigInt(offset),
        leaderEpoch: int(b.leaderEpoch, "leaderEpoch"),
        metadata: str(b.metadata, "metadata"),
        commitTimestampMs: int(b.commitTimestampMs, "commitTimestampMs", 0),
      };
    }
    default:
      return fail(`unknown group record kind ${String(kind)}`);
  }
}
