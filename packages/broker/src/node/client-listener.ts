/**
 * The client listener's TCP edge: the node accepts connections itself and hands each one to
 * grpc-js (`Server.createConnectionInjector`), so it can refuse connections before they cost
 * more than a descriptor — grpc-js's own `bindAsync` has no hook for that. A connection is
 * closed as it is accepted when the listener already holds `connections.max`, or its client
 * address already holds `connections.per.peer.max`; a connection that sends no byte within
 * `connections.handshake.timeout.ms` is closed (an idle socket that never speaks HTTP/2 is
 * invisible to grpc-js's idle timeout). docs/operations.md "Limits".
 */
import { createServer, type Server as NetServer, type Socket } from "node:net";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "@strand/base";

/** What the listener admits. */
export interface ConnectionLimits {
  /** `connections.max`: open connections at once. */
  readonly total: number;
  /** `connections.per.peer.max`: open connections of one client address. */
  readonly perPeer: number;
  /** `connections.handshake.timeout.ms`: the longest wait for a new connection's first byte. */
  readonly handshakeTimeoutMs: number;
}

/** How often a refusal is logged at most (the rest are counted into the next line). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** A bound client listener; see the module comment. */
export class ClientListener {
  readonly port: number;
  readonly #net: NetServer;
  readonly #injector: grpc.ConnectionInjector;
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly #byPeer = new Map<string, number>();
  readonly #sockets = new Set<Socket>();
  #refusedSinceLog = 0;
  #lastRefusalLogMs = 0;

  private constructor(
    net: NetServer,
    injector: grpc.ConnectionInjector,
    limits: ConnectionLimits,
    logger: Logger,
  ) {
    this.#net = net;
    this.#injector = injector;
    this.#limits = limits;
    this.#logger = logger;
    const address = net.address();
    this.port = typeof address === "object" && address !== null ? address.port : 0;
  }

  /** Listens on `host:port` (port 0: any free port) and serves `server`'s services there. */
  static listen(
    server: grpc.Server,
    credentials: grpc.ServerCredentials,
    host: string,
    port: number,
    limits: ConnectionLimits,
    logger: Logger,
  ): Promise<ClientListener> {
    const injector = server.createConnectionInjector(credentials);
    const net = createServer({ noDelay: true, pauseOnConnect: true });
    return new Promise((resolve, reject) => {
      net.once("error", (error) => {
        injector.destroy();
        reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`));
      });
      net.listen({ host, port }, () => {
        const listener = new ClientListener(net, injector, limits, logger);
        net.on("connection", (socket) => listener.#accept(socket));
        net.on("error", (error) => logger.warn({ err: error.message }, "client listener error"));
        resolve(listener);
      });
    });
  }

  /** Open connections now, and of the busiest client address. */
  stats(): { readonly open: number; readonly busiestPeer: number } {
    return { open: this.#sockets.size, busiestPeer: Math.max(0, ...this.#byPeer.values()) };
  }

  /** Stops accepting connections; open ones are drained by the gRPC server's shutdown. */
  stopAccepting(): void {
    this.#net.close();
  }

  /** Stops accepting and destroys every open connection. */
  close(): void {
    this.#net.close();
    this.#injector.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }

  #accept(socket: Socket): void {
    const peer = socket.remoteAddress ?? "unknown";
    const ofPeer = this.#byPeer.get(peer) ?? 0;
    if (this.#sockets.size >= this.#limits.total || ofPeer >= this.#limits.perPeer) {
      this.#refuse(socket, peer, ofPeer);
      return;
    }
    this.#sockets.add(socket);
    this.#byPeer.set(peer, ofPeer + 1);
    socket.once("close", () => this.#forget(socket, peer));
    socket.on("error", () => {});
    // The socket goes to grpc-js only once its first bytes are buffered (the HTTP/2 session
    // takes them over); one that has sent nothing by the deadline holds a descriptor for
    // nothing and is closed. After the handover only the HTTP/2 session can close it.
    const silent = setTimeout(() => socket.destroy(), this.#limits.handshakeTimeoutMs);
    silent.unref();
    socket.once("close", () => clearTimeout(silent));
    socket.once("readable", () => {
      clearTimeout(silent);
      if (!socket.destroyed) this.#injector.injectConnection(socket);
    });
  }

  #forget(socket: Socket, peer: string): void {
    this.#sockets.delete(socket);
    const left = (this.#byPeer.get(peer) ?? 1) - 1;
    if (left <= 0) this.#byPeer.delete(peer);
    else this.#byPeer.set(peer, left);
  }

  #refuse(socket: Socket, peer: string, ofPeer: number): void {
    socket.destroy();
    this.#refusedSinceLog++;
    const now = Date.now();
    if (now - this.#lastRefusalLogMs < REFUSAL_LOG_INTERVAL_MS) return;
    this.#logger.warn(
      {
        peer,
        peerConnections: ofPeer,
        openConnections: this.#sockets.size,
        refused: this.#refusedSinceLog,
        limits: this.#limits,
      },
      "client connections refused: connections.max or connections.per.peer.max reached",
    );
    this.#refusedSinceLog = 0;
    this.#lastRefusalLogMs = now;
  }
}
