/**
 * Bounds on open server streams (Subscribe), in total and per client connection. Each open
 * stream holds a long poll, buffers and timers; without a bound, thousands of idle streams
 * grow the heap until broker-to-broker forwarding starves. A stream beyond either bound is
 * refused with RESOURCE_EXHAUSTED at once, before it takes any of that.
 */
import { ResourceExhaustedError } from "./wire.ts";

/** The bounds of {@link StreamLimits}. */
export interface StreamBounds {
  /** Open streams in total. */
  readonly total: number;
  /** Open streams per client connection (keyed by the call's peer address). */
  readonly perConnection: number;
}

/** Counts open streams; see the module comment. */
export class StreamLimits {
  readonly #bounds: StreamBounds;
  readonly #byPeer = new Map<string, number>();
  #open = 0;

  constructor(bounds: StreamBounds) {
    this.#bounds = bounds;
  }

  /** Open streams now. */
  get open(): number {
    return this.#open;
  }

  /**
   * Takes a slot for a stream of connection `peer`; returns its release (idempotent). Throws
   * {@link ResourceExhaustedError} when a bound is reached.
   */
  acquire(method: string, peer: string): () => void {
    const mine = this.#byPeer.get(peer) ?? 0;
    if (mine >= this.#bounds.perConnection)
      throw new ResourceExhaustedError(
        `this connection already has ${mine} open ${method} streams (subscribe.streams.per.connection.max = ${this.#bounds.perConnection}); close one or open another connection`,
      );
    if (this.#open >= this.#bounds.total)
      throw new ResourceExhaustedError(
        `this broker already serves ${this.#open} open ${method} streams (subscribe.streams.max = ${this.#bounds.total}); retry later or use another broker`,
      );
    this.#open++;
    this.#byPeer.set(peer, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#byPeer.get(peer) ?? 1) - 1;
      if (left <= 0) this.#byPeer.delete(peer);
      else this.#byPeer.set(peer, left);
    };
  }
}
