/**
 * The consumer: a consumer-group member (`groupId` + `subscribe()`, group-session.ts), or
 * manual `assign` and `seek` (with a `groupId`, positions start at the group's committed
 * offsets and commit() makes standalone commits). Fetching: long-poll fetches straight to
 * each partition's leader (one request per leader at a time, partitions of a leader
 * together), records decoded with decodeRecordBatch and those below the fetch position
 * skipped (a fetch may return a batch that starts earlier). Brokers serve only committed
 * records (below the high watermark). OFFSET_OUT_OF_RANGE follows `autoOffsetReset`;
 * NOT_LEADER_OR_FOLLOWER with a hint refetches at the new leader at once; other retriable
 * errors back off per partition and refresh metadata; a partition whose topic that refresh
 * no longer lists fails with UnknownTopicError. A seek bumps the partition's
 * generation so data fetched for an old position is dropped. A batch that does not decode
 * stops its partition just before it: the records before it are returned, then poll()
 * throws CorruptRecordError until the application seeks past it (it is never refetched in
 * a loop).
 *
 * Prefetch (`prefetch`, default true): when poll() hands batches out, the next fetch of each
 * partition that has nothing buffered starts at once, to leaders with no fetch in flight, so
 * the broker's answer travels while the application processes the batches. Bounded: at most
 * one fetch per leader ahead, each at most `maxBytes`, never for a partition with data
 * buffered. A seek, pause or revocation drops what a prefetch brings (generations).
 */

import { assert, onAbort, sleep } from "@strand/base";
import type { FetchResponse__Output } from "@strand/protocol";
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchHeaderView,
  decodeRecordBatch,
  ErrorCode,
  StrandError,
} from "@strand/protocol";
import type { ClientContext } from "./context.ts";
import { CoordinatorRouter } from "./coordinator.ts";
import {
  AbortedError,
  abortedError,
  CorruptRecordError,
  errorForCode,
  OffsetOutOfRangeError,
  StrandClientError,
  unknownTopicError,
} from "./errors.ts";
import { commitOffsets, fetchCommitted, type OffsetToCommit, STANDALONE } from "./group-offsets.ts";
import { GroupSession, type PartitionHost, type RebalanceListener } from "./group-session.ts";
import type { Subscription } from "./group-state.ts";
import { listOffsets, type OffsetQuery } from "./offsets.ts";
import { streamOrUnary } from "./request-stream.ts";
import { anySignal, backoffMs } from "./retry.ts";
import { refreshQuietly } from "./routing.ts";
import type { ConsumedMessage, ConsumerBatch, TopicPartition } from "./types.ts";

/** Consumer settings; every field has a default (docs/client.md lists them). */
export interface ConsumerOptions {
  /** Where to start when there is no position or it is out of range (default "latest"). */
  readonly autoOffsetReset?: "earliest" | "latest" | "none";
  /** A fetch answers once this many bytes are available (default 1). */
  readonly minBytes?: number;
  /** At most this many bytes per fetch response (default 52428800, Kafka's fetch.max.bytes). */
  readonly maxBytes?: number;
  /** At most this many bytes per partition (default 1048576). */
  readonly maxBytesPerPartition?: number;
  /** Longest wait of a fetch for minBytes, in milliseconds (default 500). */
  readonly maxWaitMs?: number;
  /**
   * Start the next fetch while the application processes the batches poll() returned
   * (default true; at most one fetch ahead per leader; see the module comment).
   */
  readonly prefetch?: boolean;
  /**
   * The consumer group (1-255 characters). With it, subscribe() joins the group, or assign()
   * starts partitions at the group's committed offsets and commit() commits standalone.
   */
  readonly groupId?: string;
  /** Static membership: a stable id per instance (e.g. the pod name); needs groupId. */
  readonly groupInstanceId?: string;
  /** Commit processed offsets every autoCommitIntervalMs, on revocation and on close (default true). */
  readonly autoCommit?: boolean;
  /** The auto-commit interval, in milliseconds (default 5000). */
  readonly autoCommitIntervalMs?: number;
  /**
   * Give the partitions up after this long without a heartbeat answer, in milliseconds
   * (default 45000). Keep it equal to the brokers' group session timeout: by then the
   * coordinator has removed the member and may have moved its partitions.
   */
  readonly sessionTimeoutMs?: number;
  /** How long a revocation may take before the coordinator removes the member (default 300000). */
  readonly rebalanceTimeoutMs?: number;
  /** The server-side assignor: "uniform" (sticky, balanced; the default) or "range". */
  readonly assignor?: "uniform" | "range";
}

/** What subscribe() takes: topic names or one pattern, and optional rebalance callbacks. */
export type SubscribeOptions = (
  | { readonly topics: readonly string[]; readonly pattern?: undefined }
  | { readonly pattern: RegExp; readonly topics?: undefined }
) &
  RebalanceListener;

/** One offset for commit(): the next offset to consume (last processed + 1). */
export interface CommitOffset extends TopicPartition {
  /** The next offset to consume. */
  readonly offset: bigint | number;
  /** Free text stored with the offset. */
  readonly metadata?: string;
}

/** Where seek() moves a partition: an offset, an end, or the first record at a time (ms). */
export type SeekTarget =
  | bigint
  | number
  | "earliest"
  | "latest"
  | { readonly timestamp: number | bigint };

/** What seek() takes. */
export interface SeekOptions extends TopicPartition {
  /** The new position. */
  readonly offset: SeekTarget;
}

/** Arguments of an eachMessage handler. */
export interface EachMessagePayload {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The record. */
  readonly message: ConsumedMessage;
}

/** Arguments of an eachBatch handler. */
export interface EachBatchPayload {
  /** The batch. */
  readonly batch: ConsumerBatch;
}

/** What run() takes: exactly one of eachMessage and eachBatch. */
export interface RunOptions {
  /** Called for every record, in order per partition; awaited. */
  readonly eachMessage?: (payload: EachMessagePayload) => Promise<void> | void;
  /** Called for every fetched batch of a partition; awaited. */
  readonly eachBatch?: (payload: EachBatchPayload) => Promise<void> | void;
  /** Stops run() (it then resolves). */
  readonly signal?: AbortSignal;
}

interface Position {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to fetch; null while a reset is pending. */
  offset: bigint | null;
  /** The pending reset (seek to an end or a timestamp), or null. */
  reset: OffsetQuery | null;
  generation: number;
  paused: boolean;
  fetching: boolean;
  retryAtMs: number;
  attempts: number;
  /** The undecodable batch at `offset`, thrown by poll() until a seek; null when none. */
  corrupt: CorruptRecordError | null;
  /** Look the group's committed offset up before applying `reset`. */
  lookupCommitted: boolean;
  /** The offset after the last record the application processed; null when none. */
  processed: bigint | null;
  /** The offset last committed for this partition by this consumer; null when none. */
  committed: bigint | null;
}

interface Buffered {
  readonly position: Position;
  readonly generation: number;
  readonly batch: ConsumerBatch;
}

/** Checks the group options; throws RangeError naming the bad one. */
function checkGroupOptions(options: ConsumerOptions): void {
  const id = options.groupId;
  if (id !== undefined && (typeof id !== "string" || id.length < 1 || id.length > 255))
    throw new RangeError("groupId must be 1-255 characters");
  if (options.groupInstanceId !== undefined) {
    if (id === undefined) throw new RangeError("groupInstanceId needs a groupId");
    if (options.groupInstanceId.length < 1 || options.groupInstanceId.length > 255)
      throw new RangeError("groupInstanceId must be 1-255 characters");
  }
  for (const name of ["autoCommitIntervalMs", "sessionTimeoutMs", "rebalanceTimeoutMs"] as const) {
    const v = options[name];
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 2_147_483_647))
      throw new RangeError(`${name} must be a positive integer of milliseconds`);
  }
  if (options.assignor !== undefined && !["uniform", "range"].includes(options.assignor))
    throw new RangeError(`assignor must be "uniform" or "range"`);
}

/** The offset after the last record of a batch. */
const afterBatch = (b: ConsumerBatch): bigint => b.messages.at(-1)!.offset + 1n;

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** What {@link decodeFetched} found. */
export interface Fetched {
  /** Records at or after `from`, up to the first batch that does not decode. */
  readonly messages: ConsumedMessage[];
  /** The offset after the last decoded batch (or the corrupt batch's offset); null if none. */
  readonly nextOffset: bigint | null;
  /** The first batch that does not decode, or null. */
  readonly corrupt: {
    readonly offset: bigint;
    readonly nextOffset: bigint;
    readonly cause: unknown;
  } | null;
}

/**
 * Decodes fetched bytes: records at or after `from` and the offset after the last batch.
 * Stops at the first complete batch that does not decode and reports it, so the records
 * before it are not lost and the bad batch is not retried blindly.
 */
export function decodeFetched(records: Buffer, from: bigint): Fetched {
  const messages: ConsumedMessage[] = [];
  let nextOffset: bigint | null = null;
  let position = 0;
  while (records.length - position >= BATCH_LOG_OVERHEAD_BYTES) {
    const view = new BatchHeaderView(records, position);
    if (view.batchLength >= 0 && view.sizeBytes > records.length - position) break; // partial tail
    try {
      view.validate();
      if (!view.isControl && view.lastOffset >= from) decodeInto(messages, records, view, from);
    } catch (cause) {
      return { messages, nextOffset: view.baseOffset, corrupt: corruptAt(view, cause) };
    }
    nextOffset = view.nextOffset;
    position += view.sizeBytes;
  }
  return { messages, nextOffset, corrupt: null };
}

function decodeInto(
  messages: ConsumedMessage[],
  records: Buffer,
  view: BatchHeaderView,
  from: bigint,
): void {
  const batch = decodeRecordBatch(records, { position: view.position, verifyCrc: false });
  for (const r of batch.records) {
    if (r.offset < from) continue;
    messages.push({
      offset: r.offset,
      key: r.key,
      value: r.value,
      headers: r.headers.map((h) => ({ key: h.key, value: h.value })),
      timestamp: r.timestamp,
    });
  }
}

/** Where an undecodable batch is and ends; the end is the header's word when it is there. */
function corruptAt(view: BatchHeaderView, cause: unknown): NonNullable<Fetched["corrupt"]> {
  const offset = view.baseOffset;
  const headerPresent = view.buffer.length - view.position >= BATCH_HEADER_BYTES;
  const stated = headerPresent ? view.nextOffset : offset + 1n;
  return { offset, nextOffset: stated > offset ? stated : offset + 1n, cause };
}

/** A consumer; get one from `strand.consumer(options)`. */
export class Consumer implements AsyncIterable<ConsumerBatch> {
  readonly #ctx: ClientContext;
  readonly #options: Required<
    Pick<
      ConsumerOptions,
      | "autoOffsetReset"
      | "minBytes"
      | "maxBytes"
      | "maxBytesPerPartition"
      | "maxWaitMs"
      | "prefetch"
    >
  >;
  readonly #group: ConsumerOptions;
  readonly #router: CoordinatorRouter | null;
  readonly #positions = new Map<string, Position>();
  readonly #buffer: Buffered[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  /** close() or the client's close: made once, not per poll (see {@link poll}). */
  #stopped: AbortSignal | null = null;
  #session: GroupSession | null = null;
  /** Batches the last poll() returned: processed once the application polls again. */
  #handedOut: Buffered[] = [];
  #wake: (() => void) | null = null;
  #failure: unknown = null;
  #closed = false;

  /** @internal Use `strand.consumer(options)`. */
  constructor(ctx: ClientContext, options: ConsumerOptions = {}) {
    this.#ctx = ctx;
    const reset = options.autoOffsetReset ?? "latest";
    if (!["earliest", "latest", "none"].includes(reset))
      throw new RangeError(`autoOffsetReset must be "earliest", "latest" or "none"`);
    this.#options = {
      autoOffsetReset: reset,
      minBytes: options.minBytes ?? 1,
      maxBytes: options.maxBytes ?? 52_428_800,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      maxWaitMs: options.maxWaitMs ?? 500,
      prefetch: options.prefetch ?? true,
    };
    checkGroupOptions(options);
    this.#group = options;
    this.#router =
      options.groupId === undefined ? null : new CoordinatorRouter(ctx, options.groupId);
  }

  /** The consumer group, or undefined. */
  get groupId(): string | undefined {
    return this.#group.groupId;
  }

  /**
   * Replaces the assignment (manual mode); new partitions start at the group's committed
   * offset when there is a groupId, else (or when none is committed) per autoOffsetReset,
   * until seek(). Not with subscribe().
   */
  assign(partitions: readonly TopicPartition[]): void {
    if (this.#session !== null)
      throw new RangeError("assign() after subscribe(): a consumer uses one or the other");
    const next = new Map<string, Position>();
    for (const tp of partitions) {
      const key = keyOf(tp.topic, tp.partition);
      next.set(key, this.#positions.get(key) ?? this.#newPosition(tp));
    }
    this.#positions.clear();
    for (const [k, v] of next) this.#positions.set(k, v);
    this.#dropBuffered((b) => !this.#positions.has(keyOf(b.batch.topic, b.batch.partition)));
  }

  #newPosition(tp: TopicPartition): Position {
    assert(Number.isInteger(tp.partition) && tp.partition >= 0, "partition must be >= 0");
    const reset = this.#options.autoOffsetReset;
    return {
      topic: tp.topic,
      partition: tp.partition,
      offset: null,
      reset: reset === "none" ? null : reset,
      generation: 0,
      paused: false,
      fetching: false,
      retryAtMs: 0,
      attempts: 0,
      corrupt: null,
      lookupCommitted: this.#router !== null,
      processed: null,
      committed: null,
    };
  }

  /**
   * Joins the consumer group (`groupId` is required) and consumes the partitions its
   * coordinator assigns: of the named topics, or of every topic matching `pattern`. Calling
   * it again changes the subscription. Assignments are applied inside poll() (and so run()
   * and the iterator): revoked partitions are committed (autoCommit) before onRevoked, new
   * ones start at their committed offsets before onAssigned.
   */
  subscribe(options: SubscribeOptions): void {
    if (this.#router === null) throw new RangeError("subscribe() needs the consumer's groupId");
    if (this.#closed) throw new RangeError("the consumer is closed");
    const subscription = subscriptionOf(options);
    if (this.#session !== null) {
      this.#session.subscribe(subscription);
      return;
    }
    if (this.#positions.size > 0)
      throw new RangeError("subscribe() after assign(): a consumer uses one or the other");
    const o = this.#group;
    this.#session = new GroupSession(
      this.#ctx,
      this.#router,
      this.#host(),
      {
        groupId: this.#router.groupId,
        groupInstanceId: o.groupInstanceId,
        rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 300_000,
        assignor: o.assignor,
        clientId: this.#ctx.clientId,
        sessionTimeoutMs: o.sessionTimeoutMs ?? 45_000,
        autoCommit: o.autoCommit ?? true,
        autoCommitIntervalMs: o.autoCommitIntervalMs ?? 5_000,
      },
      subscription,
      options,
    );
    this.#session.start();
  }

  /**
   * Commits offsets to the group: the processed offsets of every owned (or assigned)
   * partition, or the explicit `offsets` (each the next offset to consume). A group member
   * commits with its member id and epoch; a consumer that assigns manually commits
   * standalone. Rejects with FencedMemberError when the member lost its partitions.
   */
  async commit(offsets?: readonly CommitOffset[]): Promise<void> {
    if (this.#router === null) throw new RangeError("commit() needs the consumer's groupId");
    const explicit = offsets?.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: BigInt(o.offset),
      ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
    }));
    if (this.#session !== null) {
      await (explicit === undefined
        ? this.#session.commitProcessed()
        : this.#session.commit(explicit));
      return;
    }
    const list = explicit ?? this.#uncommitted();
    await commitOffsets(this.#router, STANDALONE, list, {
      signal: this.#ctx.closed,
      deadlineMs: Date.now() + this.#ctx.requestTimeoutMs,
    });
    this.#markCommitted(list);
  }

  /** The partitions the group assigned to this member (empty before the first assignment). */
  groupAssignment(): TopicPartition[] {
    return this.#session === null ? [] : [...this.#session.owned];
  }

  #host(): PartitionHost {
    return {
      add: (partitions) => {
        for (const tp of partitions) {
          const key = keyOf(tp.topic, tp.partition);
          if (!this.#positions.has(key)) this.#positions.set(key, this.#newPosition(tp));
        }
        this.#wake?.();
      },
      stop: (partitions) => {
        for (const tp of partitions) {
          const p = this.#positions.get(keyOf(tp.topic, tp.partition));
          if (p === undefined) continue;
          p.paused = true;
          p.generation++;
          this.#dropBuffered((b) => b.position === p);
        }
      },
      remove: (partitions) => {
        for (const tp of partitions) {
          const key = keyOf(tp.topic, tp.partition);
          const p = this.#positions.get(key);
          if (p === undefined) continue;
          p.generation++;
          this.#positions.delete(key);
          this.#dropBuffered((b) => b.position === p);
        }
      },
      uncommitted: (partitions) => this.#uncommitted(partitions),
      committed: (offsets) => this.#markCommitted(offsets),
      wake: () => this.#wake?.(),
    };
  }

  /** Processed offsets not committed yet (of `partitions`, else of every position). */
  #uncommitted(partitions?: readonly TopicPartition[]): OffsetToCommit[] {
    const ps =
      partitions === undefined
        ? [...this.#positions.values()]
        : partitions.flatMap((tp) => this.#positions.get(keyOf(tp.topic, tp.partition)) ?? []);
    return ps
      .filter((p) => p.processed !== null && p.processed !== p.committed)
      .map((p) => ({ topic: p.topic, partition: p.partition, offset: p.processed! }));
  }

  #markCommitted(offsets: readonly OffsetToCommit[]): void {
    for (const o of offsets) {
      const p = this.#positions.get(keyOf(o.topic, o.partition));
      if (p !== undefined) p.committed = o.offset;
    }
  }

  /** Records that the application processed `batch` (up to `upTo`, exclusive, when given). */
  #markProcessed(b: Buffered, upTo: bigint = afterBatch(b.batch)): void {
    const p = b.position;
    if (p.generation !== b.generation || this.#positions.get(keyOf(p.topic, p.partition)) !== p)
      return;
    p.processed = upTo;
  }

  /** The assigned partitions. */
  assignment(): TopicPartition[] {
    return [...this.#positions.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /** Moves an assigned partition's position; data fetched for the old one is dropped. */
  seek(options: SeekOptions): void {
    const p = this.#position(options);
    p.generation++;
    p.attempts = 0;
    p.corrupt = null;
    p.retryAtMs = 0;
    p.lookupCommitted = false;
    const target = options.offset;
    if (typeof target === "bigint" || typeof target === "number") {
      const offset = BigInt(target);
      if (offset < 0n) throw new RangeError(`offset must be >= 0, got ${offset}`);
      p.offset = offset;
      p.reset = null;
    } else {
      p.offset = null;
      p.reset = typeof target === "string" ? target : { timestamp: BigInt(target.timestamp) };
    }
    this.#dropBuffered((b) => b.position === p);
  }

  /** The next offset to be returned for a partition (null while unknown). */
  position(tp: TopicPartition): bigint | null {
    return this.#position(tp).offset;
  }

  /** Stops returning records of these partitions until resume(). */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#position(tp).paused = true;
  }

  /** Resumes paused partitions. */
  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#position(tp).paused = false;
  }

  /** The paused partitions. */
  paused(): TopicPartition[] {
    return [...this.#positions.values()]
      .filter((p) => p.paused)
      .map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  #position(tp: TopicPartition): Position {
    const p = this.#positions.get(keyOf(tp.topic, tp.partition));
    if (p === undefined)
      throw new RangeError(`${tp.topic}-${tp.partition} is not assigned; assign() it first`);
    return p;
  }

  #dropBuffered(drop: (b: Buffered) => boolean): void {
    for (let i = this.#buffer.length - 1; i >= 0; i--)
      if (drop(this.#buffer[i]!)) this.#buffer.splice(i, 1);
  }

  /**
   * One round: starts fetches for every fetchable partition, waits for the first answer (at
   * most about maxWaitMs), and returns the batches ready for unpaused partitions (maybe none).
   */
  async poll(options: { readonly signal?: AbortSignal } = {}): Promise<ConsumerBatch[]> {
    const signal = anySignal(options.signal, this.#stoppedSignal());
    if (signal?.aborted === true) throw abortedError("poll()", signal.reason);
    for (const b of this.#handedOut) this.#markProcessed(b);
    this.#handedOut = [];
    await this.#session?.beforePoll();
    this.#throwFailure();
    if (!this.#hasReady()) {
      this.#throwCorrupt();
      await this.#resolveResets(signal);
      this.#startFetches(signal);
      await this.#waitForAnswer(signal);
      this.#throwFailure();
      if (!this.#hasReady()) this.#throwCorrupt();
    }
    const ready = this.#takeReady();
    if (ready.length > 0 && this.#options.prefetch) this.#prefetch();
    return ready;
  }

  /**
   * Starts the next fetches while the application works (see the module comment). Not tied
   * to poll()'s signal: a poll deadline must not cancel the fetch meant for the next poll.
   */
  #prefetch(): void {
    const busy = new Set<string>();
    for (const p of this.#positions.values()) {
      if (!p.fetching) continue;
      const leader = this.#ctx.metadata.leader(p.topic, p.partition);
      if (leader !== null) busy.add(leader.address);
    }
    const buffered = new Set(this.#buffer.map((b) => b.position));
    this.#startFetches(
      this.#stoppedSignal(),
      (p, address) => !buffered.has(p) && !busy.has(address),
    );
  }

  /**
   * One signal for close() and the client's close, made on first use. A composite signal per
   * poll cost a scavenge-surviving object graph per call (Node's AbortSignal.any holds its
   * sources and listeners through weak references that young-generation GC keeps alive), which
   * made this process's scavenges slow and its latency tail long.
   */
  #stoppedSignal(): AbortSignal {
    this.#stopped ??= AbortSignal.any([this.#stop.signal, this.#ctx.closed]);
    return this.#stopped;
  }

  #throwFailure(): void {
    if (this.#failure === null) return;
    const failure = this.#failure;
    this.#failure = null;
    throw failure;
  }

  #hasReady(): boolean {
    return this.#buffer.some((b) => !b.position.paused);
  }

  #takeReady(): ConsumerBatch[] {
    const out: ConsumerBatch[] = [];
    for (let i = 0; i < this.#buffer.length; ) {
      const b = this.#buffer[i]!;
      if (b.position.paused) {
        i++;
        continue;
      }
      this.#buffer.splice(i, 1);
      if (b.generation !== b.position.generation) continue;
      out.push(b.batch);
      this.#handedOut.push(b);
    }
    return out;
  }

  /** Marks a batch this consumer handed out as processed (the iterator and run() call it). */
  #processedBatch(batch: ConsumerBatch, upTo?: bigint): void {
    const b = this.#handedOut.find((h) => h.batch === batch);
    if (b !== undefined) this.#markProcessed(b, upTo);
  }

  async #waitForAnswer(signal: AbortSignal | undefined): Promise<void> {
    // A group event (new assignment, loss, failure) wakes the wait so the next poll() applies it.
    const woken = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    try {
      if (this.#inFlight.size === 0) {
        const now = Date.now();
        const waits = [...this.#positions.values()]
          .map((p) => p.retryAtMs - now)
          .filter((w) => w > 0);
        const ms = Math.min(this.#options.maxWaitMs, ...waits, this.#options.maxWaitMs);
        await Promise.race([sleep(ms, signal), woken]);
        return;
      }
      let forget = (): void => {};
      const aborted = new Promise<void>((_, reject) => {
        // Through onAbort, not a listener: the signal lives as long as the consumer (abort.ts).
        if (signal !== undefined && !signal.aborted)
          forget = onAbort(signal, () => reject(abortedError("poll()", signal.reason)));
      });
      try {
        await Promise.race([...this.#inFlight, aborted, woken]);
      } finally {
        forget();
        aborted.catch(() => undefined);
      }
    } finally {
      this.#wake = null;
    }
  }

  /** Starts partitions at the group's committed offsets (those without keep their reset). */
  async #resolveCommitted(signal: AbortSignal | undefined): Promise<void> {
    const now = Date.now();
    const due = [...this.#positions.values()].filter(
      (p) => p.lookupCommitted && p.retryAtMs <= now,
    );
    if (due.length === 0 || this.#router === null) return;
    const generations = due.map((p) => p.generation);
    try {
      const found = await fetchCommitted(this.#router, due, {
        signal,
        deadlineMs: Date.now() + this.#ctx.requestTimeoutMs,
      });
      due.forEach((p, i) => {
        if (p.generation !== generations[i] || !p.lookupCommitted) return;
        p.lookupCommitted = false;
        const offset = found.get(keyOf(p.topic, p.partition)) ?? null;
        if (offset === null) return; // nothing committed: autoOffsetReset
        p.offset = offset;
        p.reset = null;
        p.committed = offset;
      });
    } catch (error) {
      if (!(error instanceof StrandClientError) || !error.retriable) throw error;
      for (const p of due)
        p.retryAtMs = Date.now() + backoffMs(p.attempts++, this.#ctx.retry, this.#ctx.random);
    }
  }

  /** Resolves pending resets (earliest, latest, timestamp) with ListOffsets. */
  async #resolveResets(signal: AbortSignal | undefined): Promise<void> {
    await this.#resolveCommitted(signal);
    if ([...this.#positions.values()].some((p) => p.lookupCommitted)) return;
    const now = Date.now();
    const due = [...this.#positions.values()].filter(
      (p) => p.offset === null && p.reset !== null && p.retryAtMs <= now,
    );
    const noPolicy = [...this.#positions.values()].find(
      (p) => p.offset === null && p.reset === null,
    );
    if (noPolicy !== undefined)
      throw new OffsetOutOfRangeError(
        `${noPolicy.topic}-${noPolicy.partition} has no position and autoOffsetReset is "none"; seek() it first`,
        {
          code: ErrorCode.OFFSET_OUT_OF_RANGE,
          topic: noPolicy.topic,
          partition: noPolicy.partition,
        },
      );
    if (due.length === 0) return;
    const generations = due.map((p) => p.generation);
    try {
      const found = await listOffsets(
        this.#ctx,
        due.map((p) => ({ topic: p.topic, partition: p.partition, query: p.reset! })),
        { signal, deadlineMs: Date.now() + this.#ctx.requestTimeoutMs },
      );
      found.forEach((f, i) => {
        const p = due[i]!;
        if (p.generation !== generations[i]) return;
        if (f.offset < 0n) {
          p.reset = "latest"; // no record at or after the timestamp: the end, as Kafka
          return;
        }
        p.offset = f.offset;
        p.reset = null;
      });
    } catch (error) {
      if (!(error instanceof StrandClientError) || !error.retriable) throw error;
      for (const p of due) this.#backoff(p, error);
    }
  }

  #startFetches(
    signal: AbortSignal | undefined,
    wanted: (p: Position, address: string) => boolean = () => true,
  ): void {
    const now = Date.now();
    const byLeader = new Map<string, Position[]>();
    for (const p of this.#positions.values()) {
      if (p.fetching || p.paused || p.offset === null || p.retryAtMs > now) continue;
      if (p.corrupt !== null) continue; // refetching returns the same bytes: wait for a seek
      const leader = this.#ctx.metadata.leader(p.topic, p.partition);
      if (leader !== null && !wanted(p, leader.address)) continue;
      if (leader === null) {
        const error = errorForCode(ErrorCode.LEADER_NOT_AVAILABLE.code, "", p);
        this.#confirmTopic(p, this.#backoff(p, error));
        continue;
      }
      byLeader.set(leader.address, [...(byLeader.get(leader.address) ?? []), p]);
    }
    for (const [address, parts] of byLeader) {
      for (const p of parts) p.fetching = true;
      const job: Promise<void> = this.#fetchFrom(address, parts, signal).finally(() => {
        for (const p of parts) p.fetching = false;
        this.#inFlight.delete(job);
      });
      this.#inFlight.add(job);
    }
  }

  async #fetchFrom(
    address: string,
    parts: Position[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const snapshot = parts.map((p) => ({ p, offset: p.offset!, generation: p.generation }));
    const byTopic = new Map<string, typeof snapshot>();
    for (const s of snapshot) byTopic.set(s.p.topic, [...(byTopic.get(s.p.topic) ?? []), s]);
    let response: FetchResponse__Output;
    try {
      const connection = this.#ctx.pool.get(address);
      response = await streamOrUnary(
        connection.fetchStream,
        {
          maxWaitMs: this.#options.maxWaitMs,
          minBytes: this.#options.minBytes,
          maxBytes: this.#options.maxBytes,
          isolationLevel: "ISOLATION_LEVEL_READ_COMMITTED",
          topics: [...byTopic].map(([topic, list]) => ({
            topic,
            partitions: list.map((s) => {
              const epoch = this.#ctx.metadata.leader(topic, s.p.partition)?.leaderEpoch;
              return {
                partition: s.p.partition,
                fetchOffset: String(s.offset),
                partitionMaxBytes: this.#options.maxBytesPerPartition,
                ...(epoch === undefined ? {} : { currentLeaderEpoch: epoch }),
              };
            }),
          })),
        },
        (r, o, cb) => connection.fetch.Fetch(r, o, cb),
        {
          address,
          method: "Fetch",
          timeoutMs: this.#options.maxWaitMs + this.#ctx.requestTimeoutMs,
          signal,
        },
      );
    } catch (error) {
      if (error instanceof AbortedError) return;
      if (error instanceof StrandClientError && error.retriable) {
        for (const p of parts) this.#backoff(p, error);
        return;
      }
      this.#failure ??= error;
      return;
    }
    for (const s of snapshot) {
      const result = response.topics
        .find((t) => t.topic === s.p.topic)
        ?.partitions.find((x) => x.partition === s.p.partition);
      if (result === undefined || s.p.generation !== s.generation) continue;
      this.#onResult(s.p, s.offset, result);
    }
  }

  #onResult(
    p: Position,
    from: bigint,
    result: FetchResponse__Output["topics"][number]["partitions"][number],
  ): void {
    if (result.errorCode === 0) {
      const { messages, nextOffset, corrupt } = decodeFetched(result.records, from);
      p.attempts = 0;
      if (nextOffset !== null && nextOffset > from) p.offset = nextOffset;
      if (corrupt !== null) p.corrupt = corruptRecordError(p, corrupt);
      if (messages.length > 0) {
        const batch = {
          topic: p.topic,
          partition: p.partition,
          messages,
          highWatermark: BigInt(result.highWatermark),
        };
        this.#buffer.push({ position: p, generation: p.generation, batch });
      }
      return;
    }
    const error = errorForCode(result.errorCode, result.errorMessage, p);
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE.code) {
      const policy = this.#options.autoOffsetReset;
      if (policy === "none") {
        this.#failure ??= error;
        return;
      }
      this.#ctx.logger.warn(
        { topic: p.topic, partition: p.partition, offset: String(from), policy },
        "offset out of range: resetting",
      );
      p.offset = null;
      p.reset = policy;
      return;
    }
    if (
      result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER.code &&
      this.#ctx.metadata.applyHint(p.topic, p.partition, result.leaderHint)
    )
      return;
    if (result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
      this.#confirmTopic(p, this.#backoff(p, error));
    else if (error.retriable) this.#backoff(p, error);
    else this.#failure ??= error;
  }

  /** Throws the undecodable batch of an unpaused partition that has nothing left to return. */
  #throwCorrupt(): void {
    for (const p of this.#positions.values()) {
      if (p.corrupt === null || p.paused || this.#buffer.some((b) => b.position === p)) continue;
      this.#ctx.logger.warn(
        { topic: p.topic, partition: p.partition, offset: String(p.corrupt.offset) },
        "fetched batch does not decode: the partition waits for a seek past it",
      );
      throw p.corrupt;
    }
  }

  /**
   * Once the metadata refresh of a backoff is done, a partition whose topic (or partition)
   * the cluster no longer lists fails the consumer with UnknownTopicError instead of being
   * retried forever.
   */
  #confirmTopic(p: Position, refreshed: Promise<void>): void {
    void refreshed.then(() => {
      if (this.#ctx.metadata.topic(p.topic)?.partitions[p.partition] !== undefined) return;
      if (this.#positions.get(keyOf(p.topic, p.partition)) !== p) return; // unassigned since
      this.#failure ??= unknownTopicError(p.topic, p.partition);
    });
  }

  /** Backs off `p` and refreshes its topic's metadata; resolves when the refresh is done. */
  #backoff(p: Position, error: StrandClientError): Promise<void> {
    const wait = backoffMs(p.attempts++, this.#ctx.retry, this.#ctx.random);
    p.retryAtMs = Date.now() + wait;
    this.#ctx.logger.debug(
      { topic: p.topic, partition: p.partition, waitMs: wait, err: error.message },
      "fetch retry",
    );
    return refreshQuietly(this.#ctx, [p.topic], undefined);
  }

  /** Batches as they arrive, until close() or `signal` (then the iteration ends). */
  batches(
    options: { readonly signal?: AbortSignal } = {},
  ): AsyncGenerator<ConsumerBatch, void, undefined> {
    return this.#rounds(options, true);
  }

  /** poll() in a loop; `markOnResume`: a batch counts as processed when the next is asked for. */
  async *#rounds(
    options: { readonly signal?: AbortSignal },
    markOnResume: boolean,
  ): AsyncGenerator<ConsumerBatch, void, undefined> {
    for (let round = 0; round < Number.MAX_SAFE_INTEGER; round++) {
      let batches: ConsumerBatch[];
      try {
        batches = await this.poll(options);
      } catch (error) {
        if (error instanceof AbortedError) return;
        throw error;
      }
      for (const b of batches) {
        yield b;
        if (markOnResume) this.#processedBatch(b); // the loop asked for more: this one is done
      }
    }
  }

  /** `for await (const batch of consumer)`: {@link batches} without a signal. */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerBatch> {
    return this.batches();
  }

  /**
   * Calls `eachMessage` (or `eachBatch`) for everything fetched, until `signal` fires or the
   * consumer closes (then it resolves). A handler that throws stops run() with its error.
   * A seek() inside a handler skips the rest of that partition's current batch.
   */
  async run(options: RunOptions): Promise<void> {
    const { eachMessage, eachBatch } = options;
    if ((eachMessage === undefined) === (eachBatch === undefined))
      throw new RangeError("run() takes exactly one of eachMessage and eachBatch");
    const rounds = this.#rounds(options.signal ? { signal: options.signal } : {}, false);
    for await (const batch of rounds) {
      if (eachBatch !== undefined) {
        await eachBatch({ batch });
        this.#processedBatch(batch);
        continue;
      }
      const p = this.#positions.get(keyOf(batch.topic, batch.partition));
      const generation = p?.generation;
      for (const message of batch.messages) {
        if (p === undefined || p.generation !== generation || options.signal?.aborted) break;
        await eachMessage!({ topic: batch.topic, partition: batch.partition, message });
        this.#processedBatch(batch, message.offset + 1n);
      }
    }
  }

  /**
   * Stops fetching; pending poll()s and run() end. A group member first commits what was
   * processed (autoCommit), runs onRevoked and leaves the group (a static member keeps its
   * partitions until the session timeout). Does not close the client.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    try {
      await this.#session?.close();
    } finally {
      this.#stop.abort();
      await Promise.allSettled([...this.#inFlight]);
    }
  }
}

/** The subscription subscribe() was given; throws RangeError unless it names exactly one kind. */
function subscriptionOf(options: SubscribeOptions): Subscription {
  if (options.pattern !== undefined) {
    if (!(options.pattern instanceof RegExp)) throw new RangeError("pattern must be a RegExp");
    if (options.topics !== undefined) throw new RangeError("subscribe() takes topics or pattern");
    return { pattern: options.pattern };
  }
  const topics = options.topics;
  if (
    !Array.isArray(topics) ||
    topics.length === 0 ||
    topics.some((t) => typeof t !== "string" || t === "")
  )
    throw new RangeError("subscribe() needs a non-empty list of topic names, or a pattern");
  return { topics: [...new Set(topics)] };
}

/** The typed error for an undecodable batch of `p`, with the wire code its cause names. */
function corruptRecordError(
  p: Position,
  corrupt: NonNullable<Fetched["corrupt"]>,
): CorruptRecordError {
  const code =
    corrupt.cause instanceof StrandError ? corrupt.cause.errorCode : ErrorCode.CORRUPT_MESSAGE;
  return new CorruptRecordError(
    {
      topic: p.topic,
      partition: p.partition,
      offset: corrupt.offset,
      nextOffset: corrupt.nextOffset,
    },
    { code, cause: corrupt.cause },
  );
}
