/**
 * The in-memory twin of the gRPC transport, for tests: a network of node ids whose links can
 * be cut. Delivery is asynchronous (a macrotask per batch) and in order per link, like a TCP
 * connection; messages to a closed, absent or cut-off node are dropped.
 */
import { assert } from "@strand/base";
import type { Message, NodeId } from "../core/types.ts";
import type { ReceiveHandler, Transport } from "./transport.ts";

/** A set of in-memory transports that can reach each other. */
export class InMemoryNetwork {
  private readonly endpoints = new Map<NodeId, InMemoryTransport>();
  private readonly cut = new Set<string>();
  /** Messages delivered (for tests). */
  deliveredMessages = 0;
  /** Messages dropped because of a cut link or a missing node (for tests). */
  droppedMessages = 0;

  /** Creates the transport of node `id`, replacing a closed one (a restarted node). */
  transport(id: NodeId): InMemoryTransport {
    const old = this.endpoints.get(id);
    assert(old === undefined || old.closed, `node ${id} already has an open transport`);
    const t = new InMemoryTransport(this, id);
    this.endpoints.set(id, t);
    return t;
  }

  /** Cuts every link to and from `id`. */
  isolate(id: NodeId): void {
    for (const other of this.endpoints.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** Delivers a batch from `from` (called by the transports). */
  route(from: NodeId, messages: readonly Message[]): void {
    const byTo = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byTo.get(m.to) ?? [];
      list.push(m);
      byTo.set(m.to, list);
    }
    for (const [to, batch] of byTo) {
      setImmediate(() => {
        const target = this.endpoints.get(to);
        if (target === undefined || target.closed || this.cut.has(`${from}>${to}`)) {
          this.droppedMessages += batch.length;
          return;
        }
        this.deliveredMessages += batch.length;
        target.deliver(batch);
      });
    }
  }
}

/** One node's endpoint on an {@link InMemoryNetwork}. */
export class InMemoryTransport implements Transport {
  readonly id: NodeId;
  private readonly network: InMemoryNetwork;
  private handler: ReceiveHandler | null = null;
  /** True after close. */
  closed = false;

  constructor(network: InMemoryNetwork, id: NodeId) {
    this.network = network;
    this.id = id;
  }

  send(messages: readonly Message[]): void {
    if (this.closed || messages.length === 0) return;
    this.network.route(this.id, messages);
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  /** Hands a batch to the handler (called by the network). */
  deliver(messages: readonly Message[]): void {
    if (!this.closed) this.handler?.(messages);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
  }
}
