/**
 * The controller shell: holds the committed image, the active controller's latest image
 * (committed + proposed, not yet committed batches), the broker sessions and the table of
 * pending responses. It binds the pure handlers to an injected {@link MetadataLog}:
 *
 * - `handle(request, nowMs)` (active only): computes records + response against the latest
 *   image, appends the records as one batch, replays them into the latest image, and returns
 *   a promise that resolves when the batch commits (or at once with NOT_CONTROLLER);
 * - `apply(records, provenance)` (every node): replays one committed batch into the committed
 *   image and completes pending responses up to that offset;
 * - `tick(nowMs)`: session expiry (FenceBroker + leader moves in one batch) and the periodic
 *   preferred-leader rebalance.
 *
 * The Raft driver calls `activate` when this node becomes leader (after applying every
 * committed entry) and `deactivate` when it stops being leader.
 */

import { type Logger, noopLogger } from "@strand/base";
import { ErrorCode } from "@strand/protocol";
import { expireSessions } from "./brokers.ts";
import { handleRequest } from "./handle.ts";
import { applyBatch, EMPTY_IMAGE, type MetadataDelta, type MetadataImage } from "./image.ts";
import { electPreferredLeaders } from "./partitions.ts";
import type { MetadataProvenance, MetadataRecord } from "./records.ts";
import {
  type BrokerSessions,
  type ControllerConfig,
  type ControllerRequest,
  type ControllerResult,
  DEFAULT_CONTROLLER_CONFIG,
  type QuorumControllerState,
  type ResponseOf,
} from "./requests.ts";
import { loadSnapshot } from "./snapshot.ts";
import type { MetadataOffset } from "./types.ts";

/** Where the active controller writes: the Raft leader's log. */
export interface MetadataLog {
  /**
   * Appends one atomic batch and returns the offset it will have when committed, or null
   * when this node is not (or no longer) the leader. Must not call back into the controller.
   */
  append(records: readonly MetadataRecord[], nowMs: number): MetadataOffset | null;
}

/** Options of {@link Controller}. */
export interface ControllerOptions {
  readonly log: MetadataLog;
  readonly logger?: Logger;
  readonly config?: Partial<ControllerConfig>;
}

interface Pending {
  readonly offset: MetadataOffset;
  readonly complete: (ok: boolean) => void;
}

/** Bound on responses waiting for a commit: back-pressure instead of unbounded memory. */
export const PENDING_REQUESTS_MAX = 10_000;

/** The controller state machine bound to a metadata log. See the module comment. */
export class Controller {
  readonly config: ControllerConfig;
  readonly #log: MetadataLog;
  readonly #logger: Logger;
  #committed: MetadataImage = EMPTY_IMAGE;
  #latest: MetadataImage = EMPTY_IMAGE;
  #sessions: BrokerSessions = new Map();
  #active = false;
  #pending: Pending[] = [];
  #lastRebalanceMs: number | null = null;

  constructor(options: ControllerOptions) {
    this.#log = options.log;
    this.#logger = options.logger ?? noopLogger;
    this.config = Object.freeze({ ...DEFAULT_CONTROLLER_CONFIG, ...options.config });
  }

  /** The image of the committed metadata log. */
  get image(): MetadataImage {
    return this.#committed;
  }

  /** The committed image plus this active controller's uncommitted proposals. */
  get latestImage(): MetadataImage {
    return this.#latest;
  }

  /** True while this node is the active controller. */
  get isActive(): boolean {
    return this.#active;
  }

  /** The broker sessions (active controller only). */
  get sessions(): BrokerSessions {
    return this.#sessions;
  }

  #state(): QuorumControllerState {
    return {
      image: this.#latest,
      committedOffset: this.#committed.offset,
      sessions: this.#sessions,
      config: this.config,
    };
  }

  /** Becomes the active controller; every broker gets a fresh session from nowMs. */
  activate(nowMs: number): void {
    this.#active = true;
    this.#latest = this.#committed;
    this.#sessions = new Map();
    this.#sessions = expireSessions(this.#state(), nowMs).sessions ?? new Map();
    this.#lastRebalanceMs = nowMs;
    this.#logger.info({ offset: this.#committed.offset }, "became the active controller");
  }

  /** Stops being the active controller: pending requests fail with NOT_CONTROLLER. */
  deactivate(): void {
    if (this.#active)
      this.#logger.info({ pending: this.#pending.length }, "no longer the active controller");
    this.#active = false;
    this.#latest = this.#committed;
    this.#sessions = new Map();
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.complete(false);
  }

  /** Handles a request; the promise resolves once its records (if any) are committed. */
  handle<R extends ControllerRequest>(request: R, nowMs: number): Promise<ResponseOf<R>> {
    const notController = notControllerResponse(request) as ResponseOf<R>;
    if (!this.#active) return Promise.resolve(notController);
    const result = handleRequest(this.#state(), request, nowMs) as ControllerResult<ResponseOf<R>>;
    if (result.sessions !== undefined) this.#sessions = result.sessions;
    if (result.records.length === 0) {
      // Wait for earlier proposals the answer may depend on (read-your-writes).
      return this.#whenCommitted(this.#latest.offset, result.response, notController);
    }
    const offset = this.#propose(result.records, nowMs);
    if (offset === null) return Promise.resolve(notController);
    let response = result.response;
    if (request.type === "registerBroker") {
      response = {
        ...response,
        brokerEpoch: this.#latest.brokers.get(request.brokerId)?.epoch ?? null,
      };
    }
    return this.#whenCommitted(offset, response, notController);
  }

  /** Periodic work: fences expired sessions, rebalances preferred leaders on its interval. */
  tick(nowMs: number): void {
    if (!this.#active) return;
    const expiry = expireSessions(this.#state(), nowMs);
    this.#sessions = expiry.sessions ?? this.#sessions;
    if (expiry.records.length > 0) {
      this.#logger.warn({ brokers: expiry.response.fenced }, "broker sessions expired: fencing");
      this.#propose(expiry.records, nowMs);
    }
    const interval = this.config.preferredLeaderCheckIntervalMs;
    if (this.#lastRebalanceMs !== null && nowMs - this.#lastRebalanceMs >= interval) {
      this.#lastRebalanceMs = nowMs;
      const rebalance = electPreferredLeaders(this.#state());
      if (rebalance.records.length > 0) this.#propose(rebalance.records, nowMs);
    }
  }

  #propose(records: readonly MetadataRecord[], nowMs: number): MetadataOffset | null {
    const offset = this.#log.append(records, nowMs);
    if (offset === null) {
      this.deactivate();
      return null;
    }
    this.#latest = applyBatch(this.#latest, records, { offset, epoch: this.#latest.epoch }).image;
    return offset;
  }

  #whenCommitted<T>(offset: MetadataOffset, ok: T, failed: T): Promise<T> {
    if (offset <= this.#committed.offset) return Promise.resolve(ok);
    if (this.#pending.length >= PENDING_REQUESTS_MAX) return Promise.resolve(failed);
    return new Promise<T>((resolve) => {
      this.#pending.push({ offset, complete: (done) => resolve(done ? ok : failed) });
    });
  }

  /** Replays one committed batch (every node, in log order); returns the delta. */
  apply(records: readonly MetadataRecord[], provenance: MetadataProvenance): MetadataDelta {
    const { image, delta } = applyBatch(this.#committed, records, provenance);
    this.#committed = image;
    if (!this.#active || image.offset >= this.#latest.offset) this.#latest = image;
    const done = this.#pending.filter((p) => p.offset <= image.offset);
    this.#pending = this.#pending.filter((p) => p.offset > image.offset);
    for (const p of done) p.complete(true);
    return delta;
  }

  /** Replaces the committed image with a snapshot (a standby catching up, or a restart). */
  loadSnapshot(records: readonly MetadataRecord[], provenance: MetadataProvenance): void {
    this.deactivate();
    this.#committed = loadSnapshot(records, provenance);
    this.#latest = this.#committed;
  }
}

function notControllerResponse(request: ControllerRequest): object {
  const base = {
    errorCode: ErrorCode.NOT_CONTROLLER,
    errorMessage: "this node is not the active controller",
  };
  switch (request.type) {
    case "registerBroker":
      return { ...base, brokerEpoch: null };
    case "brokerHeartbeat":
      return { ...base, isCaughtUp: false, isFenced: true, shouldShutdown: false };
    case "createTopic":
      return { ...base, topicId: null, assignments: [] };
    case "createPartitions":
      return { ...base, assignments: [] };
    case "deleteTopic":
      return { ...base, topicId: null };
    case "alterPartition":
      return { ...base, partition: null };
    case "allocateProducerIds":
      return { ...base, firstProducerId: -1n, size: 0 };
    case "electPreferredLeaders":
      return { ...base, moved: 0 };
    // Without these the service answered INTERNAL ("reading 'map'") instead of NOT_CONTROLLER
    // to an ACL change that reached a controller just deposed.
    case "createAcls":
      return { ...base, ids: [] };
    case "deleteAcls":
      return { ...base, removed: [] };
    default:
      return base;
  }
}
