/**
 * A file descriptor budget for the client listener. Every client connection costs a
 * descriptor, and so do Raft, the metadata log and every partition log; when a crowd of
 * clients takes the last one, the next Raft or log write fails and the node exits. So the
 * client listener refuses new calls with RESOURCE_EXHAUSTED while descriptors in use exceed
 * the process limit minus a reserve kept for Raft and storage: the node turns clients away
 * before it fails a write. (grpc-js has no hook to refuse a connection itself; refusing its
 * calls makes well-behaved clients back off, and the idle timeout then closes them.)
 *
 * Linux only (/proc/self/fd, /proc/self/limits); elsewhere, or with an unlimited limit, the
 * budget never refuses. The count is refreshed in the background at most once a second, so a
 * call never waits for it.
 */
import { readdir, readFile } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";

/** Where the budget reads the descriptor count and the limit (injectable for tests). */
export interface DescriptorSource {
  /** Descriptors this process has open now. */
  count(): Promise<number>;
  /** The soft limit on open descriptors, or null when unlimited or unknown. */
  limit(): Promise<number | null>;
}

/** The process's own counts from /proc. */
export const procDescriptors: DescriptorSource = {
  count: async () => (await readdir("/proc/self/fd")).length,
  limit: async () => {
    const text = await readFile("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
    return soft === undefined || soft === "unlimited" ? null : Number(soft);
  },
};

/** See the module comment. */
export class DescriptorBudget {
  readonly #source: DescriptorSource;
  readonly #reserve: number;
  readonly #refreshMs: number;
  #count = 0;
  #limit: number | null = null;
  #refreshedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | null = null;

  constructor(reserve: number, source: DescriptorSource = procDescriptors, refreshMs = 1_000) {
    this.#reserve = reserve;
    this.#source = source;
    this.#refreshMs = refreshMs;
  }

  /** Re-reads the count and the limit (errors leave the budget open: never refuse blindly). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        this.#limit = await this.#source.limit();
        this.#count = await this.#source.count();
      } catch {
        this.#limit = null;
      } finally {
        this.#refreshedAt = Date.now();
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** Why a new call must be refused now, or null; starts a background refresh when stale. */
  refusal(): string | null {
    if (Date.now() - this.#refreshedAt >= this.#refreshMs) void this.refresh();
    if (this.#reserve <= 0 || this.#limit === null) return null;
    const allowed = this.#limit - this.#reserve;
    if (this.#count <= allowed) return null;
    return `this broker has ${this.#count} of its ${this.#limit} file descriptors open and keeps the last ${this.#reserve} for Raft and storage (file.descriptors.reserve); close idle connections or retry later`;
  }

  /** A server interceptor that refuses calls per {@link refusal}. */
  interceptor(): grpc.ServerInterceptor {
    return (_method, next) => {
      const why = this.refusal();
      if (why === null) return new grpc.ServerInterceptingCall(next);
      let refused = false;
      const call: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(next, {
        start: (startNext) => {
          startNext({
            onReceiveMetadata: (_metadata, _pass) => {
              refused = true;
              call.sendStatus({
                code: grpc.status.RESOURCE_EXHAUSTED,
                details: why,
                metadata: new grpc.Metadata(),
              });
            },
            onReceiveMessage: (message, pass) => {
              if (!refused) pass(message);
            },
            onReceiveHalfClose: (pass) => {
              if (!refused) pass();
            },
          });
        },
      });
      return call;
    };
  }
}
