/**
 * Quorum bookkeeping the Raft driver does not expose yet: each voter's match index as the
 * leader sees it. {@link ObservedTransport} wraps the node's transport and records the match
 * index carried by every successful append / snapshot answer it receives (the same numbers
 * the leader's Progress tracker uses). Answers from an older term are ignored.
 */
import type { Message, NodeId, ReceiveHandler, Transport } from "@strand/raft";

/** A transport that also reports what it receives to an observer. */
export class ObservedTransport implements Transport {
  readonly #inner: Transport;
  readonly #matchByNode = new Map<NodeId, { term: number; index: number }>();

  constructor(inner: Transport) {
    this.#inner = inner;
  }

  send(messages: readonly Message[]): void {
    this.#inner.send(messages);
  }

  onReceive(handler: ReceiveHandler): void {
    this.#inner.onReceive((messages) => {
      for (const m of messages) this.#observe(m);
      handler(messages);
    });
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** The last match index `node` reported in `term`, or null when unknown. */
  matchIndex(node: NodeId, term: number): number | null {
    const m = this.#matchByNode.get(node);
    return m !== undefined && m.term === term ? m.index : null;
  }

  #observe(m: Message): void {
    let index: number | null = null;
    if (m.type === "appendResponse" && m.success) index = m.matchIndex;
    if (m.type === "snapshotResponse" && m.installed) index = m.matchIndex;
    if (index === null) return;
    const prev = this.#matchByNode.get(m.from);
    if (prev === undefined || prev.term < m.term || (prev.term === m.term && prev.index < index))
      this.#matchByNode.set(m.from, { term: m.term, index });
  }
}
