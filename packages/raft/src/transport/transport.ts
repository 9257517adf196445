/**
 * The transport the driver sends Raft messages through (hashicorp/raft's `Transport`, reduced
 * to etcd's one-way model): `send` is fire-and-forget, responses come back as messages of
 * their own through `onReceive`. Raft tolerates loss, duplication and reordering, so a
 * transport drops rather than queues without bound.
 */
import type { Message } from "../core/types.ts";

/** Called with each batch of messages that arrived for this node. */
export type ReceiveHandler = (messages: readonly Message[]) => void;

/** Moves Raft messages between nodes. */
export interface Transport {
  /** Queues messages for delivery to their `to` nodes; never blocks, may drop. */
  send(messages: readonly Message[]): void;
  /** Sets the handler for incoming messages (one handler; a later call replaces it). */
  onReceive(handler: ReceiveHandler): void;
  /** Stops sending and receiving; resolves when connections are closed. */
  close(): Promise<void>;
}
