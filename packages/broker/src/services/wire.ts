/**
 * The service edge: input validation (every field checked before it reaches the replica
 * manager), int64 decimal strings converted to bigint with range checks, Strand error text,
 * and the mapping of in-process failures to gRPC status codes (DESIGN.md §6).
 */
import * as grpc from "@grpc/grpc-js";
import { type ErrorCodeInfo, errorCodeInfo } from "@strand/protocol";
import type { LeaderHint as WireLeaderHint } from "@strand/protocol/gen/strand/v1/LeaderHint.ts";
import type { LeaderHint, PartitionError } from "../replica/types.ts";
import { RETRY_AFTER_HEADER } from "./grpc.ts";

/** Most topics or partitions in one request, and most items in any repeated field. */
export const REQUEST_ITEMS_MAX = 10_000;
/** Longest string accepted in a request field, in UTF-16 units. */
export const STRING_LENGTH_MAX = 4_096;
/** Longest wait a client may ask for (fetch max wait, produce timeout). */
export const WAIT_MS_MAX = 5 * 60_000;
/** What an UNAVAILABLE answer tells clients to wait before retrying. */
export const RETRY_AFTER_MS = 200;
const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** A request field is malformed: answered with INVALID_ARGUMENT and this message. */
export class InvalidArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidArgumentError";
  }
}

/** Nothing can serve the request right now (no leader at all): UNAVAILABLE with retry info. */
export class UnavailableError extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs = RETRY_AFTER_MS) {
    super(message);
    this.name = "UnavailableError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** A gRPC error object for a callback or stream: code, details and trailing metadata. */
export interface StatusObject {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata;
}

/** Maps an error thrown while serving to a gRPC status (INTERNAL for the unexpected). */
export function toStatus(error: unknown): StatusObject {
  const metadata = new grpc.Metadata();
  if (error instanceof InvalidArgumentError)
    return { code: grpc.status.INVALID_ARGUMENT, details: error.message, metadata };
  if (error instanceof UnavailableError) {
    metadata.set(RETRY_AFTER_HEADER, String(error.retryAfterMs));
    return { code: grpc.status.UNAVAILABLE, details: error.message, metadata };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: grpc.status.INTERNAL,
    details: `internal error: ${message}; check the broker log and report it`,
    metadata,
  };
}

/** Parses an int64 decimal string into a bigint within [min, max]; names the field if not. */
export function int64Field(text: string, field: string, min = INT64_MIN, max = INT64_MAX): bigint {
  if (typeof text !== "string" || !/^-?\d{1,19}$/.test(text))
    throw new InvalidArgumentError(
      `${field} must be a 64-bit integer, got ${JSON.stringify(text)}`,
    );
  const n = BigInt(text);
  if (n < min || n > max)
    throw new InvalidArgumentError(`${field} must be in [${min}, ${max}], got ${n}`);
  return n;
}

/** Checks an int32 field lies in [min, max]. */
export function int32Field(n: number, field: string, min = 0, max = INT32_MAX): number {
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${field} must be an integer in [${min}, ${max}], got ${n}`);
  return n;
}

/** Checks a repeated field's size. */
export function listField<T>(list: readonly T[], field: string, min = 0): readonly T[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${field} must be a list`);
  if (list.length < min) throw new InvalidArgumentError(`${field} needs at least ${min} item(s)`);
  if (list.length > REQUEST_ITEMS_MAX)
    throw new InvalidArgumentError(
      `${field} has ${list.length} items; at most ${REQUEST_ITEMS_MAX}`,
    );
  return list;
}

/** Checks a topic name: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
export function topicField(name: string, field: string): string {
  if (typeof name !== "string" || !TOPIC_NAME.test(name) || name === "." || name === "..")
    throw new InvalidArgumentError(
      `${field} ${JSON.stringify(String(name).slice(0, 300))} is not a topic name: use 1-249 characters of [a-zA-Z0-9._-], not "." or ".."`,
    );
  return name;
}

/** Checks a free-form string's length. */
export function stringField(text: string, field: string): string {
  if (typeof text !== "string" || text.length > STRING_LENGTH_MAX)
    throw new InvalidArgumentError(
      `${field} must be a string of at most ${STRING_LENGTH_MAX} characters`,
    );
  return text;
}

/** Refuses a (topic, partition) named twice in one request. */
export function noDuplicates(keys: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new InvalidArgumentError(`${what} ${k} appears twice; name each once`);
    seen.add(k);
  }
}

/** A per-partition error with the code table's action appended to `detail`. */
export function partitionError(
  code: ErrorCodeInfo,
  detail: string,
  hint?: LeaderHint,
): PartitionError {
  const errorMessage = `${code.name}: ${detail}; ${code.action}`;
  return hint === undefined
    ? { errorCode: code.code, errorMessage }
    : { errorCode: code.code, errorMessage, leaderHint: hint };
}

/** The name of a Strand error code, for metrics labels. */
export function codeName(code: number): string {
  return errorCodeInfo(code).name;
}

/** Contract leader hint -> wire (null when absent). */
export function hintToWire(hint: LeaderHint | undefined): WireLeaderHint | null {
  if (hint === undefined) return null;
  return {
    leaderId: hint.leaderId,
    leaderEpoch: hint.leaderEpoch,
    host: hint.host,
    port: hint.port,
  };
}

/** Wire leader hint -> contract (undefined when absent or empty). */
export function hintFromWire(
  hint: { leaderId: number; leaderEpoch: number; host: string; port: number } | null | undefined,
): LeaderHint | undefined {
  if (hint === null || hint === undefined || hint.leaderId < 0) return undefined;
  return {
    leaderId: hint.leaderId,
    leaderEpoch: hint.leaderEpoch,
    host: hint.host,
    port: hint.port,
  };
}
