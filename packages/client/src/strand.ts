/**
 * The client root: `new Strand({ brokers })` holds the connection pool and the metadata
 * cache that its admin, producers and consumers share; close() stops them all.
 */
import { assert, type ChildLogger as Logger, noopLogger as silentLogger } from "@strand/base";
import type { TlsClientOptions } from "@strand/protocol";
import { Admin } from "./admin.ts";
import { type ClientAuth, checkAuth } from "./auth.ts";
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import type { ClientContext } from "./context.ts";
import { ConnectionPool } from "./grpc.ts";
import { MetadataCache } from "./metadata.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import { checkRetryOptions, DEFAULT_RETRY, type RetryOptions } from "./retry.ts";

/** Client settings; only `brokers` is required (docs/client.md lists the defaults). */
export interface StrandOptions {
  /** Bootstrap brokers' client addresses, "host:port"; any one is enough. */
  readonly brokers: readonly string[];
  /** A name for this client in logs (default "strand-client"). */
  readonly clientId?: string;
  /** Where the SDK logs (pino-compatible); default silent. */
  readonly logger?: Logger;
  /** Deadline of one request, in milliseconds (default 30000, Kafka's request.timeout.ms). */
  readonly requestTimeoutMs?: number;
  /** Backoff between retries (default 100 ms doubling to 1000 ms, +-20% jitter). */
  readonly retry?: Partial<RetryOptions>;
  /** Longest a record may take to be acknowledged, retries included (default 120000). */
  readonly deliveryTimeoutMs?: number;
  /**
   * TLS to the brokers' client listeners: `{ ca, cert, key }` as PEM (`ca` default the
   * system's roots; `cert` + `key` for listeners that require a client certificate), or
   * `true` for TLS with the system's roots. Default plaintext (docs/security.md).
   */
  readonly tls?: TlsClientOptions | boolean;
  /**
   * Credentials (docs/security.md): `{ scram: { username, password } }` or `{ token }` (a JWT,
   * or a function returning a fresh one). Needs `tls`: credentials never travel in plaintext.
   */
  readonly auth?: ClientAuth;
}

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/;

/** Checks "host:port" strings; throws RangeError naming the bad one. */
export function checkBrokers(brokers: readonly string[]): string[] {
  if (!Array.isArray(brokers) || brokers.length === 0)
    throw new RangeError('brokers must list at least one "host:port"');
  return brokers.map((b) => {
    const m = ADDRESS.exec(b);
    const port = m === null ? 0 : Number(m[2]);
    if (port < 1 || port > 65_535)
      throw new RangeError(`broker address ${JSON.stringify(b)} is not "host:port"`);
    return b;
  });
}

/** A Strand client: `.admin()`, `.producer()`, `.consumer()`, `close()`. */
export class Strand {
  readonly #ctx: ClientContext;
  readonly #pool: ConnectionPool;
  readonly #closing = new AbortController();
  readonly #producers = new Set<Producer>();
  readonly #consumers = new Set<Consumer>();

  /** Creates a client; nothing connects until the first request. */
  constructor(options: StrandOptions) {
    const bootstrap = checkBrokers(options.brokers);
    checkAuth(options.auth, options.tls);
    this.#pool = new ConnectionPool(options.tls, options.auth);
    const retry = checkRetryOptions({ ...DEFAULT_RETRY, ...options.retry });
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 120_000;
    for (const [name, v] of [
      ["requestTimeoutMs", requestTimeoutMs],
      ["deliveryTimeoutMs", deliveryTimeoutMs],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`);
    const clientId = options.clientId ?? "strand-client";
    const logger = (options.logger ?? silentLogger).child({ clientId });
    const random = Math.random;
    this.#ctx = {
      clientId,
      pool: this.#pool,
      logger,
      requestTimeoutMs,
      retry,
      deliveryTimeoutMs,
      random,
      closed: this.#closing.signal,
      metadata: new MetadataCache({
        bootstrap,
        pool: this.#pool,
        requestTimeoutMs,
        topicWaitMs: requestTimeoutMs,
        retry,
        random,
        logger: logger.child({ component: "metadata" }),
      }),
    };
  }

  /** An admin client (cheap: it shares this client's connections). */
  admin(): Admin {
    this.#checkOpen();
    return new Admin(this.#ctx);
  }

  /** A producer; close() it (or this client) to flush. */
  producer(options: ProducerOptions = {}): Producer {
    this.#checkOpen();
    const producer = new Producer(
      { ...this.#ctx, logger: this.#ctx.logger.child({ component: "producer" }) },
      options,
    );
    this.#producers.add(producer);
    return producer;
  }

  /**
   * A consumer: with `groupId`, subscribe() makes it a consumer-group member; otherwise (or
   * with assign()) it reads the partitions it is given. close() it (or this client) to leave.
   */
  consumer(options: ConsumerOptions = {}): Consumer {
    this.#checkOpen();
    const consumer = new Consumer(
      { ...this.#ctx, logger: this.#ctx.logger.child({ component: "consumer" }) },
      options,
    );
    this.#consumers.add(consumer);
    return consumer;
  }

  /** Connections currently open (one per broker address used). */
  get connectionCount(): number {
    return this.#pool.size;
  }

  #checkOpen(): void {
    assert(!this.#closing.signal.aborted, "the client is closed");
  }

  /**
   * Flushes producers, stops consumers, then aborts whatever is still waiting and closes
   * every connection. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    await Promise.allSettled([...this.#producers].map((p) => p.close()));
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    this.#closing.abort();
    this.#pool.close();
  }
}
