/**
 * Conversion between core {@link Message}s and the generated `strand.v1.RaftMessage` proto
 * objects. int64 values travel as decimal strings (proto-loader `longs: String`) and become
 * numbers here only after a range check. Every incoming message is validated completely,
 * because the core asserts its invariants and a malformed message must be dropped, never
 * reach an assertion.
 */
import type { RaftEntry, RaftMessage, RaftReplicaKey, RaftSnapshotMeta } from "@strand/protocol";
import type { Entry, Message, ReplicaKey, SnapshotMeta } from "../core/types.ts";
import { directoryId, index, nodeId, RAFT_NUMBER_MAX, term } from "../core/types.ts";
import { DIRECTORY_ID_BYTES_MAX, VOTERS_MAX } from "../driver/codec.ts";

/** Most entries one append message may carry. */
export const WIRE_ENTRIES_MAX = 65_536;
const INT32_MAX = 2 ** 31 - 1;
const DIGITS = /^(0|[1-9]\d{0,15})$/;

/** Thrown by {@link messageFromWire} for a message that must be dropped. */
export class InvalidMessageError extends Error {
  override readonly name = "InvalidMessageError";
}

function fail(what: string): never {
  throw new InvalidMessageError(what);
}

// ---------------------------------------------------------------------- outgoing

function keyToWire(k: ReplicaKey): RaftReplicaKey {
  return { nodeId: k.id, directoryId: k.dir };
}

function metaToWire(m: SnapshotMeta): RaftSnapshotMeta {
  return { index: m.index, term: m.term, voters: m.voters.map(keyToWire) };
}

function entryToWire(e: Entry): RaftEntry {
  const base = { term: e.term, index: e.index };
  if (e.type === "normal") return { ...base, type: "RAFT_ENTRY_TYPE_NORMAL", data: e.data };
  if (e.type === "noop") return { ...base, type: "RAFT_ENTRY_TYPE_NOOP" };
  return { ...base, type: "RAFT_ENTRY_TYPE_CONFIG", voters: e.voters.map(keyToWire) };
}

/** Converts a core message to its proto form. */
export function messageToWire(m: Message): RaftMessage {
  const head = {
    from: m.from,
    fromDirectoryId: m.fromDir,
    to: m.to,
    toDirectoryId: m.toDir ?? "",
    term: m.term,
  };
  switch (m.type) {
    case "preVote":
      return { ...head, preVote: { lastIndex: m.lastIndex, lastTerm: m.lastTerm } };
    case "vote":
      return {
        ...head,
        vote: { lastIndex: m.lastIndex, lastTerm: m.lastTerm, transfer: m.transfer },
      };
    case "preVoteResponse":
      return { ...head, preVoteResponse: { granted: m.granted } };
    case "voteResponse":
      return { ...head, voteResponse: { granted: m.granted } };
    case "append":
      return {
        ...head,
        append: {
          prevIndex: m.prevIndex,
          prevTerm: m.prevTerm,
          entries: m.entries.map(entryToWire),
          commit: m.commit,
        },
      };
    case "appendResponse": {
      const { success, matchIndex, rejectedIndex, conflictIndex, conflictTerm } = m;
      return {
        ...head,
        appendResponse: { success, matchIndex, rejectedIndex, conflictIndex, conflictTerm },
      };
    }
    case "heartbeat":
      return { ...head, heartbeat: { commit: m.commit } };
    case "heartbeatResponse":
      return { ...head, heartbeatResponse: {} };
    case "snapshot":
      return {
        ...head,
        snapshot: { meta: metaToWire(m.meta), offset: m.offset, data: m.data, done: m.done },
      };
    case "snapshotResponse": {
      const { snapshotIndex, nextOffset, installed, matchIndex } = m;
      return { ...head, snapshotResponse: { snapshotIndex, nextOffset, installed, matchIndex } };
    }
    case "timeoutNow":
      return { ...head, timeoutNow: {} };
  }
}

/** Rough encoded size of a message, for batching (data bytes plus a per-item overhead). */
export function wireBytesEstimate(m: Message): number {
  if (m.type === "append") {
    let n = 64;
    for (const e of m.entries)
      n +=
        32 + (e.type === "normal" ? e.data.length : e.type === "config" ? 48 * e.voters.length : 0);
    return n;
  }
  if (m.type === "snapshot") return 64 + m.data.length + 48 * m.meta.voters.length;
  return 64;
}

// ---------------------------------------------------------------------- incoming

/**
 * Reads an int64 (string or number) as an integer in [0, {@link RAFT_NUMBER_MAX}]: every term,
 * index and offset a message carries, so sums the core forms from them stay exact.
 */
export function int64FromWire(v: unknown, what: string): number {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v) && v >= 0 && v <= RAFT_NUMBER_MAX) return v;
    fail(`${what}: ${v} is not an integer in 0..2^48`);
  }
  if (typeof v !== "string" || !DIGITS.test(v))
    fail(`${what}: ${String(v)} is not a non-negative integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n > RAFT_NUMBER_MAX) fail(`${what}: ${v} is beyond 2^48`);
  return n;
}

function nodeIdFromWire(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > INT32_MAX)
    fail(`${what}: bad node id ${String(v)}`);
  return v;
}

function dirFromWire(v: unknown, what: string, emptyOk: boolean): string {
  if (typeof v !== "string" || v.length > DIRECTORY_ID_BYTES_MAX) fail(`${what}: bad directory id`);
  if (v.length === 0 && !emptyOk) fail(`${what}: empty directory id`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") fail(`${what}: not a boolean`);
  return v;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what}: not bytes`);
  return new Uint8Array(v); // a copy: never pin the whole received buffer
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null) fail(`${what}: missing`);
  return v as Record<string, unknown>;
}

function votersFromWire(v: unknown, what: string): ReplicaKey[] {
  if (!Array.isArray(v) || v.length > VOTERS_MAX) fail(`${what}: bad voter list`);
  return v.map((raw, k) => {
    const o = obj(raw, `${what}[${k}]`);
    return {
      id: nodeId(nodeIdFromWire(o.nodeId, what)),
      dir: directoryId(dirFromWire(o.directoryId, what, false)),
    };
  });
}

function entryFromWire(raw: unknown, expectedIndex: number, termMax: number): Entry {
  const o = obj(raw, "entry");
  const i = index(int64FromWire(o.index, "entry.index"));
  const t = term(int64FromWire(o.term, "entry.term"));
  if (i !== expectedIndex) fail(`entry index ${i}, expected ${expectedIndex}`);
  if (t <= 0 || t > termMax) fail(`entry ${i}: term ${t} outside 1..${termMax}`);
  switch (o.type) {
    case "RAFT_ENTRY_TYPE_NORMAL":
      return { type: "normal", index: i, term: t, data: bytes(o.data, "entry.data") };
    case "RAFT_ENTRY_TYPE_NOOP":
      return { type: "noop", index: i, term: t };
    case "RAFT_ENTRY_TYPE_CONFIG": {
      const voters = votersFromWire(o.voters, "entry.voters");
      if (voters.length === 0) fail(`entry ${i}: empty voter set`);
      return { type: "config", index: i, term: t, voters };
    }
    default:
      return fail(`entry ${i}: unknown type ${String(o.type)}`);
  }
}

function entriesFromWire(v: unknown, prevIndex: number, termMax: number): Entry[] {
  if (!Array.isArray(v) || v.length > WIRE_ENTRIES_MAX) fail("append.entries: bad list");
  const out: Entry[] = [];
  for (const raw of v) {
    const e = entryFromWire(raw, prevIndex + out.length + 1, termMax);
    if (out.length > 0 && e.term < out[out.length - 1]!.term)
      fail(`entry ${e.index}: term goes back`);
    out.push(e);
  }
  return out;
}

function metaFromWire(v: unknown): SnapshotMeta {
  const o = obj(v, "snapshot.meta");
  const voters = votersFromWire(o.voters, "snapshot.meta.voters");
  if (voters.length === 0) fail("snapshot.meta: empty voter set");
  return {
    index: index(int64FromWire(o.index, "meta.index")),
    term: term(int64FromWire(o.term, "meta.term")),
    voters,
  };
}

/**
 * Validates and converts one incoming proto message. Throws {@link InvalidMessageError} on
 * an unknown body, a missing or mistyped field, a negative or out-of-range number, or entries
 * out of order; the caller drops the message and logs.
 */
export function messageFromWire(raw: unknown): Message {
  const w = obj(raw, "message");
  const head = {
    from: nodeId(nodeIdFromWire(w.from, "from")),
    fromDir: directoryId(dirFromWire(w.fromDirectoryId, "fromDirectoryId", false)),
    to: nodeId(nodeIdFromWire(w.to, "to")),
    toDir: null as ReturnType<typeof directoryId> | null,
    term: term(int64FromWire(w.term, "term")),
  };
  const toDir = dirFromWire(w.toDirectoryId, "toDirectoryId", true);
  head.toDir = toDir === "" ? null : directoryId(toDir);
  if (typeof w.body !== "string") fail("no body");
  const body = obj(w[w.body], w.body);
  return bodyFromWire(w.body, body, head);
}

type Head = Pick<Message, "from" | "fromDir" | "to" | "toDir" | "term">;

function bodyFromWire(kind: string, b: Record<string, unknown>, head: Head): Message {
  const idx = (k: string) => index(int64FromWire(b[k], `${kind}.${k}`));
  const trm = (k: string) => term(int64FromWire(b[k], `${kind}.${k}`));
  switch (kind) {
    case "preVote":
      return { ...head, type: "preVote", lastIndex: idx("lastIndex"), lastTerm: trm("lastTerm") };
    case "vote":
      return {
        ...head,
        type: "vote",
        lastIndex: idx("lastIndex"),
        lastTerm: trm("lastTerm"),
        transfer: bool(b.transfer, "vote.transfer"),
      };
    case "preVoteResponse":
    case "voteResponse":
      return { ...head, type: kind, granted: bool(b.granted, `${kind}.granted`) };
    case "append": {
      const prevIndex = idx("prevIndex");
      const entries = entriesFromWire(b.entries, prevIndex, head.term);
      return {
        ...head,
        type: "append",
        prevIndex,
        prevTerm: trm("prevTerm"),
        entries,
        commit: idx("commit"),
      };
    }
    case "appendResponse":
      return {
        ...head,
        type: "appendResponse",
        success: bool(b.success, "appendResponse.success"),
        matchIndex: idx("matchIndex"),
        rejectedIndex: idx("rejectedIndex"),
        conflictIndex: idx("conflictIndex"),
        conflictTerm: trm("conflictTerm"),
      };
    case "heartbeat":
      return { ...head, type: "heartbeat", commit: idx("commit") };
    case "heartbeatResponse":
      return { ...head, type: "heartbeatResponse" };
    case "snapshot":
      return snapshotFromWire(b, head);
    case "snapshotResponse":
      return {
        ...head,
        type: "snapshotResponse",
        snapshotIndex: idx("snapshotIndex"),
        nextOffset: int64FromWire(b.nextOffset, "snapshotResponse.nextOffset"),
        installed: bool(b.installed, "snapshotResponse.installed"),
        matchIndex: idx("matchIndex"),
      };
    case "timeoutNow":
      return { ...head, type: "timeoutNow" };
    default:
      return fail(`unknown message body ${kind}`);
  }
}

function snapshotFromWire(b: Record<string, unknown>, head: Head): Message {
  const meta = metaFromWire(b.meta);
  const offset = int64FromWire(b.offset, "snapshot.offset");
  const data = bytes(b.data, "snapshot.data");
  return { ...head, type: "snapshot", meta, offset, data, done: bool(b.done, "snapshot.done") };
}
