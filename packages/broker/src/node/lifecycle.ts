/**
 * The broker's lifecycle with the controller (Kafka's BrokerLifecycleManager): register
 * (client + internal listeners, a random incarnation id per process start), heartbeat every
 * `broker.heartbeat.interval.ms` with the applied metadata offset (the controller unfences the
 * broker once it has caught up), re-register when the registration went stale, and on
 * shutdown heartbeat `want_shutdown` until the controller says the broker may stop.
 */
import { randomUUID } from "node:crypto";
import { assert } from "@strand/base";
import type { BrokerHeartbeatResponse__Output } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { HostPort } from "../config/index.ts";
import type { ServiceLogger } from "../services/context.ts";
import type { ControllerRouter } from "./controllers.ts";

/** Options of {@link BrokerLifecycle}. */
export interface BrokerLifecycleOptions {
  readonly brokerId: number;
  readonly client: HostPort;
  readonly internal: HostPort;
  readonly router: ControllerRouter;
  /** The metadata offset this broker has applied. */
  readonly appliedOffset: () => number;
  readonly heartbeatIntervalMs: number;
  readonly logger: ServiceLogger;
}

/** Where the broker stands with the controller. */
export interface LifecycleState {
  readonly registered: boolean;
  readonly brokerEpoch: number;
  readonly fenced: boolean;
  readonly caughtUp: boolean;
}

/** See the module comment. */
export class BrokerLifecycle {
  /** This process's incarnation id (a new uuid per start). */
  readonly incarnationId = randomUUID();
  readonly #o: BrokerLifecycleOptions;
  #state: LifecycleState = { registered: false, brokerEpoch: -1, fenced: true, caughtUp: false };
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #closed = false;
  #wantShutdown = false;
  #wantFence = false;
  #shutdownDone: (() => void) | null = null;
  #lastContactMs = 0;

  constructor(o: BrokerLifecycleOptions) {
    assert(o.heartbeatIntervalMs > 0, "heartbeat interval must be positive");
    this.#o = o;
  }

  /** Current state (readiness reads it). */
  get state(): LifecycleState {
    return this.#state;
  }

  /** The epoch of the current registration (-1 before the first). */
  get brokerEpoch(): number {
    return this.#state.brokerEpoch;
  }

  /** Starts registering and heartbeating. */
  start(): void {
    this.#timer = setInterval(() => void this.#tick(), this.#o.heartbeatIntervalMs);
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      if (!this.#state.registered) await this.#register();
      else await this.#heartbeat();
    } catch (error) {
      this.#o.logger.warn(
        { err: String(error) },
        this.#state.registered ? "heartbeat failed" : "registration failed",
      );
    } finally {
      this.#busy = false;
    }
  }

  async #register(): Promise<void> {
    const o = this.#o;
    const r = await o.router.registerBroker({
      brokerId: o.brokerId,
      incarnationId: this.incarnationId,
      listeners: [
        { name: "client", host: o.client.host, port: o.client.port },
        { name: "internal", host: o.internal.host, port: o.internal.port },
      ],
    });
    const code = r.error?.code ?? 0;
    if (code !== 0) {
      // NOT_CONTROLLER is the normal answer while the quorum forms (no leader elected yet):
      // only a real refusal is worth a warning.
      const log = code === ErrorCode.NOT_CONTROLLER.code ? o.logger.debug : o.logger.warn;
      log.call(
        o.logger,
        { code: r.error?.name, message: r.error?.message },
        "registration refused; retrying",
      );
      return;
    }
    const epoch = Number(r.brokerEpoch);
    assert(
      Number.isSafeInteger(epoch) && epoch >= 0,
      "broker epoch must be a non-negative integer",
    );
    this.#state = { registered: true, brokerEpoch: epoch, fenced: true, caughtUp: false };
    o.logger.info(
      { brokerEpoch: epoch, incarnationId: this.incarnationId },
      "registered with the controller",
    );
    await this.#heartbeat();
  }

  async #heartbeat(): Promise<void> {
    const o = this.#o;
    const r = await o.router.brokerHeartbeat({
      brokerId: o.brokerId,
      brokerEpoch: String(this.#state.brokerEpoch),
      metadataOffset: String(o.appliedOffset()),
      wantShutdown: this.#wantShutdown,
      wantFence: this.#wantFence,
    });
    this.#onHeartbeat(r);
  }

  #onHeartbeat(r: BrokerHeartbeatResponse__Output): void {
    const code = r.error?.code ?? 0;
    if (
      code === ErrorCode.STALE_BROKER_EPOCH.code ||
      code === ErrorCode.BROKER_ID_NOT_REGISTERED.code
    ) {
      this.#o.logger.warn({ code: r.error?.name }, "registration is stale; registering again");
      this.#state = { registered: false, brokerEpoch: -1, fenced: true, caughtUp: false };
      return;
    }
    if (code !== 0) {
      // NOT_CONTROLLER: the controller moved (an election, the cluster stopping); the router
      // follows the hint, so it is routine, not a warning.
      const l = this.#o.logger;
      const log = code === ErrorCode.NOT_CONTROLLER.code ? l.debug : l.warn;
      log.call(l, { code: r.error?.name, message: r.error?.message }, "heartbeat refused");
      return;
    }
    this.#lastContactMs = Date.now();
    const was = this.#state;
    this.#state = { ...was, fenced: r.isFenced, caughtUp: r.isCaughtUp };
    if (was.fenced !== r.isFenced && !this.#wantShutdown)
      this.#o.logger.info(
        { brokerEpoch: was.brokerEpoch },
        r.isFenced ? "fenced by the controller" : "unfenced: serving",
      );
    if (this.#wantShutdown && r.shouldShutdown) this.#shutdownDone?.();
  }

  /**
   * Controlled shutdown: heartbeats want_shutdown until the controller answers
   * should_shutdown (leadership moved away), or `timeoutMs` passes, or no controller has
   * answered for `unreachableMs` (the quorum is gone). Resolves true when the controller
   * agreed.
   */
  async controlledShutdown(timeoutMs: number, unreachableMs: number): Promise<boolean> {
    if (!this.#state.registered || this.#closed) return false;
    this.#wantShutdown = true;
    this.#lastContactMs = Date.now();
    const agreed = new Promise<boolean>((resolve) => {
      this.#shutdownDone = () => resolve(true);
    });
    const fast = setInterval(() => void this.#tick(), Math.min(100, this.#o.heartbeatIntervalMs));
    const deadline = Date.now() + timeoutMs;
    const gaveUp = new Promise<boolean>((resolve) => {
      const check = setInterval(() => {
        if (Date.now() >= deadline || Date.now() - this.#lastContactMs >= unreachableMs) {
          clearInterval(check);
          resolve(false);
        }
      }, 50);
      void agreed.then(() => clearInterval(check));
    });
    void this.#tick();
    const result = await Promise.race([agreed, gaveUp]);
    clearInterval(fast);
    return result;
  }

  /**
   * Asks the controller to fence this broker from now on (every heartbeat carries
   * want_fence): it moves this broker's leadership to other ISR members and stops electing it.
   * Used when the log dir went offline: the process keeps running (metadata, forwarding, the
   * admin listener explain why) but must not lead or follow from a dir it cannot write.
   */
  requestFence(reason: string): void {
    if (this.#wantFence) return;
    this.#wantFence = true;
    this.#o.logger.error({ reason }, "asking the controller to fence this broker");
    void this.#tick();
  }

  /** Stops heartbeating. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
