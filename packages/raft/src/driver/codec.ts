/**
 * Byte layouts of the Raft storage files (all integers big-endian; u64 values are indexes and
 * terms, checked to be safe JS integers on read):
 *
 * Log file `log` = header, then records back to back.
 *   header (28 bytes): u32 magic "SRLG" | u16 version (1) | u16 zero | u64 baseIndex |
 *                      u64 baseTerm | u32 crc32c(bytes 0..24)
 *     (baseIndex, baseTerm) is the entry just before the first record: the compaction point.
 *   record:  u32 bodyBytes | u32 crc32c(body) | body
 *   body:    u8 type (1 normal, 2 noop, 3 config) | u64 index | u64 term | payload
 *     normal payload: the data bytes (the rest of the body)
 *     noop payload:   empty
 *     config payload: voters
 *   voters:  u32 count | count x (u32 nodeId | u16 dirBytes | dir utf-8)
 *
 * Snapshot file `snapshot-<term 20 digits>-<index 20 digits>.bin` = header, voters, data.
 *   header (44 bytes): u32 magic "SRSN" | u16 version (1) | u16 zero | u64 index | u64 term |
 *                      u32 votersBytes | u64 dataBytes | u32 crc32c(voters ++ data) |
 *                      u32 crc32c(bytes 0..40)
 */

import { assert } from "@strand/base";
import { crc32c } from "@strand/protocol";
import type { Entry, Index, ReplicaKey, SnapshotMeta, Term } from "../core/types.ts";
import { directoryId, index, nodeId, term } from "../core/types.ts";

/** "SRLG": Strand Raft LoG. */
export const LOG_MAGIC = 0x53524c47;
/** "SRSN": Strand Raft SNapshot. */
export const SNAPSHOT_MAGIC = 0x5352534e;
/** Version of both layouts. */
export const FORMAT_VERSION = 1;
/** Size of the log file header. */
export const LOG_HEADER_BYTES = 28;
/** Size of a record's frame (length + crc) before its body. */
export const RECORD_FRAME_BYTES = 8;
/** Size of the fixed part of a record body (type, index, term). */
export const RECORD_BODY_FIXED_BYTES = 17;
/** Size of the snapshot file header. */
export const SNAPSHOT_HEADER_BYTES = 44;
/** Longest directory id accepted (a uuid is 36). */
export const DIRECTORY_ID_BYTES_MAX = 128;
/** Most voters a configuration may hold. */
export const VOTERS_MAX = 1024;
/** Largest encoded voter list. */
export const VOTERS_BYTES_MAX = 4 + VOTERS_MAX * (6 + DIRECTORY_ID_BYTES_MAX);

const TYPE_CODE = { normal: 1, noop: 2, config: 3 } as const;
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Thrown by decoders on malformed bytes; callers turn it into truncation or a storage error. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new DecodeError(what);
}

function readU64(view: DataView, at: number): number {
  const v = view.getBigUint64(at);
  check(v <= BigInt(Number.MAX_SAFE_INTEGER), `u64 at ${at} beyond 2^53`);
  return Number(v);
}

/** Byte size of an encoded voter list. */
function votersBytes(voters: readonly ReplicaKey[]): number {
  let n = 4;
  for (const v of voters) n += 6 + enc.encode(v.dir).length;
  return n;
}

function writeVoters(
  view: DataView,
  bytes: Uint8Array,
  at: number,
  voters: readonly ReplicaKey[],
): number {
  assert(voters.length <= VOTERS_MAX, `${voters.length} voters above ${VOTERS_MAX}`);
  view.setUint32(at, voters.length);
  let p = at + 4;
  for (const v of voters) {
    const dir = enc.encode(v.dir);
    assert(dir.length <= DIRECTORY_ID_BYTES_MAX, `directory id too long: ${v.dir}`);
    view.setUint32(p, v.id);
    view.setUint16(p + 4, dir.length);
    bytes.set(dir, p + 6);
    p += 6 + dir.length;
  }
  return p;
}

/** Decodes a voter list occupying exactly bytes [at, end). */
function readVoters(bytes: Uint8Array, at: number, end: number): ReplicaKey[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  check(end - at >= 4, "voters: no count");
  const count = view.getUint32(at);
  check(count <= VOTERS_MAX && count * 6 <= end - at - 4, `voters: bad count ${count}`);
  const voters: ReplicaKey[] = [];
  let p = at + 4;
  for (let k = 0; k < count; k++) {
    check(end - p >= 6, "voters: truncated voter");
    const id = view.getUint32(p);
    const dirLen = view.getUint16(p + 4);
    check(id > 0 && dirLen > 0 && dirLen <= DIRECTORY_ID_BYTES_MAX, "voters: bad voter");
    check(end - p - 6 >= dirLen, "voters: truncated directory id");
    voters.push({
      id: nodeId(id),
      dir: directoryId(dec.decode(bytes.subarray(p + 6, p + 6 + dirLen))),
    });
    p += 6 + dirLen;
  }
  check(p === end, "voters: trailing bytes");
  return voters;
}

/** Encodes the log file header for compaction point (baseIndex, baseTerm). */
export function encodeLogHeader(baseIndex: Index, baseTerm: Term): Uint8Array {
  const out = new Uint8Array(LOG_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, LOG_MAGIC);
  view.setUint16(4, FORMAT_VERSION);
  view.setBigUint64(8, BigInt(baseIndex));
  view.setBigUint64(16, BigInt(baseTerm));
  view.setUint32(24, crc32c(out.subarray(0, 24)));
  return out;
}

/** Decodes a log file header; throws {@link DecodeError} when it is not one. */
export function decodeLogHeader(bytes: Uint8Array): { baseIndex: Index; baseTerm: Term } {
  check(bytes.length >= LOG_HEADER_BYTES, "log header truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, LOG_HEADER_BYTES);
  check(view.getUint32(0) === LOG_MAGIC, "not a raft log file (magic)");
  check(view.getUint16(4) === FORMAT_VERSION, `unknown log version ${view.getUint16(4)}`);
  check(view.getUint32(24) === crc32c(bytes.subarray(0, 24)), "log header crc mismatch");
  return { baseIndex: index(readU64(view, 8)), baseTerm: term(readU64(view, 16)) };
}

/** Encoded size of one record (frame + body). */
export function recordBytes(e: Entry): number {
  const payload =
    e.type === "normal" ? e.data.length : e.type === "config" ? votersBytes(e.voters) : 0;
  return RECORD_FRAME_BYTES + RECORD_BODY_FIXED_BYTES + payload;
}

/** Encodes `entries` as consecutive records into one buffer. */
export function encodeRecords(entries: readonly Entry[]): Uint8Array {
  let total = 0;
  for (const e of entries) total += recordBytes(e);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const e of entries) {
    const size = recordBytes(e);
    const body = p + RECORD_FRAME_BYTES;
    view.setUint8(body, TYPE_CODE[e.type]);
    view.setBigUint64(body + 1, BigInt(e.index));
    view.setBigUint64(body + 9, BigInt(e.term));
    const payloadAt = body + RECORD_BODY_FIXED_BYTES;
    if (e.type === "normal") out.set(e.data, payloadAt);
    else if (e.type === "config") writeVoters(view, out, payloadAt, e.voters);
    view.setUint32(p, size - RECORD_FRAME_BYTES);
    view.setUint32(p + 4, crc32c(out.subarray(body, p + size)));
    p += size;
  }
  assert(p === total, "record sizes disagree");
  return out;
}

/** Outcome of reading one record at a position of the log buffer. */
export type RecordRead =
  | { readonly ok: true; readonly entry: Entry; readonly bytes: number }
  | { readonly ok: false; readonly why: string };

/**
 * Reads the record at `at` of `buf`. The length is checked against `entryBytesMax` and the
 * bytes left in the buffer before anything is sliced or copied.
 */
export function readRecord(buf: Uint8Array, at: number, entryBytesMax: number): RecordRead {
  const left = buf.length - at;
  if (left < RECORD_FRAME_BYTES) return { ok: false, why: `torn frame (${left} bytes)` };
  const view = new DataView(buf.buffer, buf.byteOffset + at, left);
  const bodyBytes = view.getUint32(0);
  if (bodyBytes < RECORD_BODY_FIXED_BYTES || bodyBytes > entryBytesMax) {
    return { ok: false, why: `bad record length ${bodyBytes}` };
  }
  if (bodyBytes > left - RECORD_FRAME_BYTES) {
    return { ok: false, why: `torn record: ${bodyBytes} bytes declared, ${left - 8} left` };
  }
  const body = buf.subarray(at + RECORD_FRAME_BYTES, at + RECORD_FRAME_BYTES + bodyBytes);
  if (crc32c(body) !== view.getUint32(4)) return { ok: false, why: "record crc mismatch" };
  try {
    return { ok: true, entry: decodeBody(body), bytes: RECORD_FRAME_BYTES + bodyBytes };
  } catch (error) {
    if (error instanceof DecodeError) return { ok: false, why: error.message };
    throw error;
  }
}

function decodeBody(body: Uint8Array): Entry {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const type = view.getUint8(0);
  const i = index(readU64(view, 1));
  const t = term(readU64(view, 9));
  check(i > 0 && t > 0, `entry ${i}@${t}: index and term must be positive`);
  const payload = RECORD_BODY_FIXED_BYTES;
  if (type === TYPE_CODE.normal)
    return { type: "normal", index: i, term: t, data: new Uint8Array(body.subarray(payload)) };
  if (type === TYPE_CODE.noop) {
    check(body.length === payload, "noop with payload");
    return { type: "noop", index: i, term: t };
  }
  check(type === TYPE_CODE.config, `unknown entry type ${type}`);
  return { type: "config", index: i, term: t, voters: readVoters(body, payload, body.length) };
}

/** Encodes a snapshot file as [header, voters, data] (data is not copied). */
export function encodeSnapshotFile(meta: SnapshotMeta, data: Uint8Array): Uint8Array[] {
  const vb = new Uint8Array(votersBytes(meta.voters));
  writeVoters(new DataView(vb.buffer), vb, 0, meta.voters);
  const header = new Uint8Array(SNAPSHOT_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, SNAPSHOT_MAGIC);
  view.setUint16(4, FORMAT_VERSION);
  view.setBigUint64(8, BigInt(meta.index));
  view.setBigUint64(16, BigInt(meta.term));
  view.setUint32(24, vb.length);
  view.setBigUint64(28, BigInt(data.length));
  view.setUint32(36, crc32c(data, crc32c(vb)));
  view.setUint32(40, crc32c(header.subarray(0, 40)));
  return [header, vb, data];
}

/** Decodes a whole snapshot file; every length is checked against the buffer first. */
export function decodeSnapshotFile(buf: Uint8Array): { meta: SnapshotMeta; data: Uint8Array } {
  check(buf.length >= SNAPSHOT_HEADER_BYTES, "snapshot header truncated");
  const view = new DataView(buf.buffer, buf.byteOffset, SNAPSHOT_HEADER_BYTES);
  check(view.getUint32(0) === SNAPSHOT_MAGIC, "not a snapshot file (magic)");
  check(view.getUint16(4) === FORMAT_VERSION, `unknown snapshot version ${view.getUint16(4)}`);
  check(view.getUint32(40) === crc32c(buf.subarray(0, 40)), "snapshot header crc mismatch");
  const vLen = view.getUint32(24);
  const dLen = readU64(view, 28);
  check(SNAPSHOT_HEADER_BYTES + vLen + dLen === buf.length, "snapshot lengths disagree with size");
  const body = buf.subarray(SNAPSHOT_HEADER_BYTES);
  check(crc32c(body) === view.getUint32(36), "snapshot body crc mismatch");
  const voters = readVoters(body, 0, vLen);
  const meta = { index: index(readU64(view, 8)), term: term(readU64(view, 16)), voters };
  return { meta, data: new Uint8Array(body.subarray(vLen)) };
}
