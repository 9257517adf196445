/**
 * The gRPC transport of the internal listener (docs/design.md §2): `strand.v1.RaftService/Step`
 * carries one batch of Raft messages one way; answers come back as their own batches.
 *
 * Client side: one channel per peer (addresses from config, nodeId -> host:port), a bounded
 * queue per peer ({@link DEFAULT_PEER_QUEUE_MESSAGES_MAX}), and at most one Step RPC in flight
 * per peer, so messages stay in order and everything queued meanwhile goes out as the next
 * batch. A full queue drops new messages; a failed RPC drops its batch and the queue (the peer
 * is unreachable and Raft retries by itself on the next heartbeat).
 *
 * Server side: {@link addRaftService} registers RaftService on an existing `grpc.Server`;
 * every incoming message is validated and an invalid one is dropped and logged.
 */

import * as grpc from "@grpc/grpc-js";
import { assert, type Logger, noopLogger } from "@strand/base";
import type { RaftServiceClient, StepRequest__Output, StepResponse } from "@strand/protocol";
import { internalChannelOptions, peerIdentity, strandGrpc } from "@strand/protocol";
import type { Message, NodeId } from "../core/types.ts";
import { LogLimiter } from "../driver/log-limiter.ts";
import type { ReceiveHandler, Transport } from "./transport.ts";
import { InvalidMessageError, messageFromWire, messageToWire, wireBytesEstimate } from "./wire.ts";

/** Default bound of each peer's send queue, in messages. */
export const DEFAULT_PEER_QUEUE_MESSAGES_MAX = 4_096;
/** Default most messages in one Step RPC. */
export const DEFAULT_BATCH_MESSAGES_MAX = 1_024;
/** Default most (estimated) bytes in one Step RPC: below gRPC's 4 MiB receive limit. */
export const DEFAULT_BATCH_BYTES_MAX = 3 * 1024 * 1024;
/** Default deadline of one Step RPC: below the default election timeout (1 s). */
export const DEFAULT_RPC_TIMEOUT_MS = 1_000;
/** Most messages one incoming Step request may carry; the rest are dropped. */
export const INCOMING_BATCH_MESSAGES_MAX = 16_384;

/** Options of a {@link GrpcTransport}. */
export interface GrpcTransportOptions {
  /** This node's id: incoming messages for another node are dropped. */
  readonly nodeId: NodeId;
  /** Peer internal-listener addresses, `host:port` by node id. */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly logger?: Logger;
  /** Channel credentials; default insecure (the internal listener is cluster-private). */
  readonly credentials?: grpc.ChannelCredentials;
  /** Per-peer send queue bound; default {@link DEFAULT_PEER_QUEUE_MESSAGES_MAX}. */
  readonly peerQueueMessagesMax?: number;
  /** Messages per RPC; default {@link DEFAULT_BATCH_MESSAGES_MAX}. */
  readonly batchMessagesMax?: number;
  /** Estimated bytes per RPC; default {@link DEFAULT_BATCH_BYTES_MAX}. */
  readonly batchBytesMax?: number;
  /** Deadline of one RPC; default {@link DEFAULT_RPC_TIMEOUT_MS}. */
  readonly rpcTimeoutMs?: number;
  /** Interval of the "invalid raft message" warning per peer address; default 10 s. */
  readonly invalidLogIntervalMs?: number;
  /** Clock of that rate limit; default `Date.now` (tests inject one). */
  readonly now?: () => number;
}

/** Counters for metrics and tests. */
export interface GrpcTransportStats {
  sentMessages: number;
  sentBatches: number;
  /** Dropped on send: full queue, unknown peer, or a failed RPC. */
  droppedMessages: number;
  receivedMessages: number;
  /** Dropped on receive: failed validation or addressed to another node. */
  invalidMessages: number;
}

interface Peer {
  readonly id: NodeId;
  address: string;
  client: RaftServiceClient | null;
  queue: Message[];
  inFlight: boolean;
  /** Whether the last RPC failed (to log transitions only, not every failure). */
  down: boolean;
}

/** A {@link Transport} over gRPC. */
export class GrpcTransport implements Transport {
  readonly nodeId: NodeId;
  /** Counters (monotonic). */
  readonly stats: GrpcTransportStats = {
    sentMessages: 0,
    sentBatches: 0,
    droppedMessages: 0,
    receivedMessages: 0,
    invalidMessages: 0,
  };
  private readonly logger: Logger;
  private readonly credentials: grpc.ChannelCredentials;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly queueMax: number;
  private readonly batchMessagesMax: number;
  private readonly batchBytesMax: number;
  private readonly rpcTimeoutMs: number;
  private handler: ReceiveHandler | null = null;
  private closed = false;
  private readonly invalidLog: LogLimiter;

  constructor(options: GrpcTransportOptions) {
    this.nodeId = options.nodeId;
    this.logger = options.logger ?? noopLogger;
    this.credentials = options.credentials ?? grpc.credentials.createInsecure();
    this.queueMax = options.peerQueueMessagesMax ?? DEFAULT_PEER_QUEUE_MESSAGES_MAX;
    this.batchMessagesMax = options.batchMessagesMax ?? DEFAULT_BATCH_MESSAGES_MAX;
    this.batchBytesMax = options.batchBytesMax ?? DEFAULT_BATCH_BYTES_MAX;
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.invalidLog = new LogLimiter(options.invalidLogIntervalMs, options.now);
    assert(
      this.queueMax >= 1 && this.batchMessagesMax >= 1 && this.batchBytesMax >= 1,
      "bad limits",
    );
    assert(this.rpcTimeoutMs >= 1, "bad rpcTimeoutMs");
    for (const [id, address] of options.peers) {
      if (id === this.nodeId) continue;
      this.peers.set(id, { id, address, client: null, queue: [], inFlight: false, down: false });
    }
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const touched = new Set<Peer>();
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (peer === undefined || peer.queue.length >= this.queueMax) {
        this.stats.droppedMessages++;
        if (peer === undefined)
          this.logger.debug({ to: m.to }, "raft message for an unknown peer dropped");
        continue;
      }
      peer.queue.push(m);
      touched.add(peer);
    }
    for (const peer of touched) this.flush(peer);
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  /**
   * Adds a peer at run time, or moves an existing one to a new address (a voter added by a
   * configuration change). A moved peer's channel is closed and its queue dropped (Raft
   * resends); the same address again is a no-op. This node's own id is ignored.
   */
  setPeer(id: NodeId, address: string): void {
    assert(address.length > 0, "empty peer address");
    if (this.closed || id === this.nodeId) return;
    const peer = this.peers.get(id);
    if (peer?.address === address) return;
    if (peer === undefined) {
      this.peers.set(id, { id, address, client: null, queue: [], inFlight: false, down: false });
    } else {
      this.stats.droppedMessages += peer.queue.length;
      peer.queue = [];
      peer.client?.close();
      peer.client = null;
      peer.address = address;
    }
    this.logger.info({ peer: id, address }, "raft peer address set");
  }

  /** The address messages to `id` go to, or undefined when `id` is not a known peer. */
  peerAddress(id: NodeId): string | undefined {
    return this.peers.get(id)?.address;
  }

  /**
   * Validates proto messages received by the RaftService and hands the valid ones to the
   * handler. Returns how many were accepted. Never throws on bad input. Invalid messages are
   * counted; the warning is rate-limited per `peer` (the caller's address), one line per
   * interval saying how many more were dropped, so a flood cannot fill the disk with logs.
   * `fromNode`, when given (TLS: the node the caller's certificate names), is the only `from`
   * accepted: a node cannot speak for another voter.
   */
  receiveWire(raw: readonly unknown[], peer = "unknown", fromNode?: number): number {
    if (this.closed) return 0;
    const valid: Message[] = [];
    const n = Math.min(raw.length, INCOMING_BATCH_MESSAGES_MAX);
    this.stats.invalidMessages += raw.length - n;
    let invalid = 0;
    let why = "";
    for (let k = 0; k < n; k++) {
      try {
        const m = messageFromWire(raw[k]);
        if (m.to !== this.nodeId) throw new InvalidMessageError(`addressed to node ${m.to}`);
        if (fromNode !== undefined && m.from !== fromNode)
          throw new InvalidMessageError(
            `from node ${m.from} over a connection whose certificate is node ${fromNode}`,
          );
        valid.push(m);
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error;
        invalid++;
        why ||= error.message;
      }
    }
    this.stats.invalidMessages += invalid;
    if (invalid > 0) this.logInvalid(peer, invalid, why);
    this.stats.receivedMessages += valid.length;
    if (valid.length > 0) this.handler?.(valid);
    return valid.length;
  }

  /** One warning per peer per interval; `count` invalid messages arrived in this request. */
  private logInvalid(peer: string, count: number, why: string): void {
    const suppressed = this.invalidLog.hit(peer, count);
    if (suppressed === null) return;
    const more = suppressed + count - 1;
    this.logger.warn(
      { nodeId: this.nodeId, peer, why, dropped: count, suppressed: more },
      `invalid raft message dropped${more > 0 ? ` (${more} more dropped from this peer)` : ""}`,
    );
  }

  /** Closes every peer channel. The gRPC server belongs to the caller and stays open. */
  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    for (const peer of this.peers.values()) {
      peer.queue = [];
      peer.client?.close();
      peer.client = null;
    }
  }

  /** Sends the peer's queued messages as one RPC unless one is already in flight. */
  private flush(peer: Peer): void {
    if (this.closed || peer.inFlight || peer.queue.length === 0) return;
    const batch = this.takeBatch(peer);
    peer.client ??= new (strandGrpc().strand.v1.RaftService)(
      peer.address,
      this.credentials,
      internalChannelOptions(),
    );
    peer.inFlight = true;
    const deadline = new Date(Date.now() + this.rpcTimeoutMs);
    peer.client.Step({ messages: batch.map(messageToWire) }, { deadline }, (error) => {
      peer.inFlight = false;
      if (error !== null) this.failed(peer, batch.length, error);
      else this.delivered(peer, batch.length);
      this.flush(peer);
    });
  }

  private takeBatch(peer: Peer): Message[] {
    let bytes = 0;
    let count = 0;
    // Always take at least one message, so one oversized message cannot block the queue.
    for (const m of peer.queue) {
      const size = wireBytesEstimate(m);
      if (count > 0 && (count >= this.batchMessagesMax || bytes + size > this.batchBytesMax)) break;
      bytes += size;
      count++;
    }
    return peer.queue.splice(0, count);
  }

  private delivered(peer: Peer, count: number): void {
    this.stats.sentMessages += count;
    this.stats.sentBatches++;
    if (peer.down)
      this.logger.info({ peer: peer.id, address: peer.address }, "raft peer reachable again");
    peer.down = false;
  }

  /** The peer is unreachable or slow: drop this batch and the backlog (Raft will resend). */
  private failed(peer: Peer, count: number, error: grpc.ServiceError): void {
    this.stats.droppedMessages += count + peer.queue.length;
    peer.queue = [];
    if (!peer.down && !this.closed) {
      this.logger.warn(
        { peer: peer.id, address: peer.address, code: error.code, err: error.details },
        "raft peer unreachable; dropping its messages until it answers",
      );
    }
    peer.down = true;
  }
}

/**
 * Registers `strand.v1.RaftService` on `server` (the node's internal listener), delivering to
 * `transport`. The server may already be bound. A request with garbage is answered with the
 * count of accepted messages; it never fails the call nor crashes the node.
 */
export function addRaftService(
  server: grpc.Server,
  transport: GrpcTransport,
  logger: Logger = noopLogger,
): void {
  const service = strandGrpc().strand.v1.RaftService.service;
  const refusals = new LogLimiter();
  server.addService(service, {
    Step(
      call: grpc.ServerUnaryCall<StepRequest__Output, StepResponse>,
      callback: grpc.sendUnaryData<StepResponse>,
    ): void {
      let accepted = 0;
      const peer = peerIdentity(call);
      if (peer.tls && peer.nodeId === null) {
        callback({
          code: grpc.status.PERMISSION_DENIED,
          details:
            "Raft Step: only nodes may send Raft messages; the client certificate names no node",
        });
        return;
      }
      const messages: unknown = call.request?.messages;
      const forged = peer.tls ? forgedSender(messages, peer.nodeId) : null;
      if (forged !== null) {
        // Refused as a whole, not dropped one by one: the caller is a node speaking for
        // another, which its operator must hear about (and the listener counts).
        const host = call.getPeer().replace(/:\d+$/, "");
        const suppressed = refusals.hit(host);
        if (suppressed !== null)
          logger.warn({ peer: host, why: forged, suppressed }, "raft Step refused");
        callback({ code: grpc.status.PERMISSION_DENIED, details: forged });
        return;
      }
      try {
        accepted = transport.receiveWire(
          Array.isArray(messages) ? messages : [],
          call.getPeer(),
          peer.tls ? (peer.nodeId ?? undefined) : undefined,
        );
      } catch (error) {
        logger.error({ err: error }, "raft Step handler failed");
      }
      callback(null, { accepted });
    },
  });
}

/**
 * Why a Step request must be refused because one of its messages claims a sender other than
 * `certNode` (the node the caller's certificate names), or null. Messages without a numeric
 * `from` are left to the validation in `receiveWire`.
 */
function forgedSender(messages: unknown, certNode: number | null): string | null {
  if (!Array.isArray(messages)) return null;
  for (const m of messages as unknown[]) {
    const from = (m as { from?: unknown } | null)?.from;
    if (typeof from !== "number" || from === certNode) continue;
    return `Raft Step: a message from node ${from} refused: the client certificate belongs to node ${certNode}`;
  }
  return null;
}
