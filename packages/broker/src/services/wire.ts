/**
 * The service edge: Strand error text, leader hints, and the mapping of in-process failures to
 * gRPC status codes (docs/design.md §6). The field validators and their one `InvalidArgumentError`
 * are the wire module's (`@strand/protocol`, docs/errors.md "Request limits").
 */
import * as grpc from "@grpc/grpc-js";
import type { LeaderHint as WireLeaderHint } from "@strand/protocol";
import {
  type ErrorCodeInfo,
  errorCodeInfo,
  InvalidArgumentError,
  RETRY_AFTER_HEADER,
} from "@strand/protocol";
import type { LeaderHint, PartitionError } from "../replica/types.ts";
import { PermissionDeniedError, UnauthenticatedError } from "../security/principal.ts";

/** What an UNAVAILABLE answer tells clients to wait before retrying. */
export const RETRY_AFTER_MS = 200;

/** Nothing can serve the request right now (no leader at all): UNAVAILABLE with retry info. */
export class UnavailableError extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs = RETRY_AFTER_MS) {
    super(message);
    this.name = "UnavailableError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** A bound on server resources is reached (open streams, descriptors): RESOURCE_EXHAUSTED. */
export class ResourceExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResourceExhaustedError";
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
  if (error instanceof ResourceExhaustedError)
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: error.message, metadata };
  if (error instanceof UnauthenticatedError)
    return { code: grpc.status.UNAUTHENTICATED, details: error.message, metadata };
  if (error instanceof PermissionDeniedError)
    return { code: grpc.status.PERMISSION_DENIED, details: error.message, metadata };
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: grpc.status.INTERNAL,
    details: `internal error: ${message}; check the broker log and report it`,
    metadata,
  };
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
