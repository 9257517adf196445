/**
 * What every part of a client (admin, producers, consumers) shares: connections, the
 * metadata cache, the logger, timing options, and a signal that fires on close().
 */

import type { ChildLogger as Logger } from "@strand/base";
import type { ConnectionPool } from "./grpc.ts";
import type { MetadataCache } from "./metadata.ts";
import type { RetryOptions } from "./retry.ts";

/** Shared state of one {@link Strand} client. */
export interface ClientContext {
  /** Sent to brokers for their logs. */
  readonly clientId: string;
  /** Connections per broker address. */
  readonly pool: ConnectionPool;
  /** The metadata cache. */
  readonly metadata: MetadataCache;
  /** The client's logger. */
  readonly logger: Logger;
  /** Deadline of one request, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** Backoff between retries. */
  readonly retry: RetryOptions;
  /** Upper bound on the time an operation spends retrying, in milliseconds. */
  readonly deliveryTimeoutMs: number;
  /** Random in [0, 1): jitter, sticky partition choice. */
  readonly random: () => number;
  /** Fires when the client closes. */
  readonly closed: AbortSignal;
}
