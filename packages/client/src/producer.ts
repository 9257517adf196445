/**
 * The producer: send() partitions each message (explicit, murmur2 of the key, or sticky),
 * appends it to its partition's batch (accumulator.ts) and resolves once every record of the
 * send has an offset. A sender drains ready batches to partition leaders: per broker at most
 * `maxInFlightRequests` Produce requests, per partition at most `maxInFlightPerPartition`
 * (ready batches of a partition ride together in one request).
 *
 * Pipelining (Kafka's max.in.flight.requests.per.connection <= 5 with idempotence): batches
 * are numbered (sequence) when first encoded, and the broker appends a producer's batch only
 * when its sequence follows the last one it appended, so requests in flight together can
 * never reorder the log; the broker remembers a producer's last 5 batches per partition, so
 * at most the first {@link SEQUENCE_WINDOW} unsettled batches of a partition are ever sent,
 * and a resend of any of them is recognised as a duplicate. A request that fails, or comes
 * back OUT_OF_ORDER_SEQUENCE_NUMBER because an earlier batch is not in yet, marks the
 * partition for a resend: nothing more goes out until its other requests end, then every
 * unsettled batch is sent again from the head, in order, one request at a time until one
 * succeeds. Sends settle in partition order: a batch acknowledged before an earlier one waits
 * ("done") for it. Without a producer id there is no sequence check, so one request at a time.
 * Errors follow the routing rules (routing.ts): NOT_LEADER_OR_FOLLOWER with a hint retries at
 * the new leader at once; other retriable errors back off and refresh metadata; a batch that
 * has not succeeded `deliveryTimeoutMs` after its first record fails with TimeoutError, even
 * while a request for it is in flight. UNKNOWN_TOPIC_OR_PARTITION refreshes metadata once and
 * fails the batch with UnknownTopicError when the topic (or partition) is really gone.
 *
 * Failover: a leader that is paused or cut off answers nothing, so waiting out the request
 * deadline would keep its partitions unavailable long after the cluster elected a new leader.
 * The leader probe (`leaderProbeMs`, `#probe`) asks another broker for metadata while a
 * request waits or a partition backs off, and moves a partition whose leader changed to the
 * new leader at once; gRPC keepalive (grpc.ts) notices a dead connection in a second or two.
 *
 * Scheduling: after every drain the sender arms one timer for the earliest moment something
 * becomes due (a linger ending, a backoff ending, a delivery deadline), so no retry or
 * deadline depends on other traffic to be noticed.
 *
 * Idempotence: batches carry producerId, producerEpoch and a per-partition baseSequence once
 * the producer has an identity (`ProducerIdentity`), which it asks a broker for once
 * (ProduceService.InitProducerId, `initProducerId` below). A broker that answers UNIMPLEMENTED
 * leaves the identity null and batches go out with -1 (non-idempotent); see docs/client.md.
 */

import * as grpc from "@grpc/grpc-js";
import { assert, onAbort, sleep } from "@strand/base";
import type { InitProducerIdResponse__Output, ProduceResponse__Output } from "@strand/protocol";
import {
  type CompressionName,
  ErrorCode,
  encodeRecordBatch,
  partitionForKey,
  type RecordHeader,
} from "@strand/protocol";
import {
  Accumulator,
  BATCH_RECORDS_MAX,
  type BatchEntry,
  type PartitionQueue,
  PendingSend,
  ProducerBatch,
  RECORD_OVERHEAD_BYTES,
  StickyPartitioner,
} from "./accumulator.ts";
import type { ClientContext } from "./context.ts";
import {
  abortedError,
  errorForCode,
  StrandClientError,
  TimeoutError,
  unknownTopicError,
} from "./errors.ts";
import { unary } from "./grpc.ts";
import type { CachedTopic } from "./metadata.ts";
import { streamOrUnary } from "./request-stream.ts";
import { anySignal, backoffMs } from "./retry.ts";
import { IMMEDIATE_HOPS_MAX, refreshQuietly } from "./routing.ts";
import type { Acks, HeaderValue, Message, MessageHeaders, RecordMetadata } from "./types.ts";

/** Producer settings; every field has a default (docs/client.md lists them). */
export interface ProducerOptions {
  /** Default acks of sends (default "all"). */
  readonly acks?: Acks;
  /** Close a batch at this many bytes (default 16384, Kafka's batch.size). */
  readonly batchSize?: number;
  /** Wait this long for more records before sending a batch that is not full (default 5). */
  readonly lingerMs?: number;
  /** Produce requests in flight per broker (default 5). */
  readonly maxInFlightRequests?: number;
  /**
   * Produce requests in flight per partition with idempotence (default 5, at most 5: the
   * broker remembers 5 batches per producer; 1 waits for each answer before sending more).
   * Without a producer id it is always 1; see docs/client.md.
   */
  readonly maxInFlightPerPartition?: number;
  /**
   * When more batches of a partition wait than may be in flight (5), they are merged into
   * batches of up to this many bytes as they leave (default the larger of batchSize and
   * 262144). A merge the leader refuses as MESSAGE_TOO_LARGE is split; see docs/client.md.
   */
  readonly backlogBatchSize?: number;
  /** Compression of batches (default "none"). */
  readonly compression?: CompressionName;
  /** Ask the cluster for a producer id and sequence batches (default true; see docs). */
  readonly idempotent?: boolean;
  /** Largest Produce request, in bytes (default 1048576, Kafka's max.request.size). */
  readonly maxRequestBytes?: number;
  /** Bytes of records buffered before send() waits (default 32 MiB, Kafka's buffer.memory). */
  readonly bufferMemoryBytes?: number;
  /** Overrides the client's deliveryTimeoutMs for this producer. */
  readonly deliveryTimeoutMs?: number;
  /**
   * How long a Produce request may go unanswered, or a partition wait in backoff, before the
   * producer asks another broker whether the partition's leader moved (default 500). When it
   * did, the request is given up and its batches go to the new leader at once; see docs/client.md.
   */
  readonly leaderProbeMs?: number;
}

/** What send() takes. */
export interface ProducerRecord {
  /** The topic. */
  readonly topic: string;
  /** The messages, in order. */
  readonly messages: readonly Message[];
  /** Overrides the producer's acks. */
  readonly acks?: Acks;
  /** Stops waiting; records not yet in a request are dropped. */
  readonly signal?: AbortSignal;
}

/** A producer id and epoch from the cluster (idempotence). */
export interface ProducerIdentity {
  /** The producer id. */
  readonly producerId: bigint;
  /** The producer epoch. */
  readonly producerEpoch: number;
}

const ACKS_WIRE = { all: "ACKS_ALL", leader: "ACKS_LEADER", none: "ACKS_NONE" } as const;
/**
 * Requests larger than this go unary, not on the ProduceStream: a message over a listener's
 * limit fails the whole stream, and every listener takes at least 16 MiB.
 */
const STREAM_REQUEST_BYTES_MAX = 4 * 1024 * 1024;
/** Slack over the broker's produce timeout before the client gives up on a request. */
const REQUEST_SLACK_MS = 5_000;
const SEQUENCE_MAX = 2 ** 31 - 1;
/**
 * Unsettled batches of a partition that may have been sent: the broker's memory of a
 * producer's batches (BATCHES_PER_PRODUCER_MAX), so any resend is known as a duplicate.
 */
export const SEQUENCE_WINDOW = 5;
/** Deadline of one probe Metadata call, at least (a stopped broker must not hold the probe). */
const PROBE_CALL_MS_MIN = 1_000;

/** One partition's batches in a Produce request. */
interface RequestPart {
  readonly q: PartitionQueue;
  readonly batches: ProducerBatch[];
  /**
   * Earlier batches of the partition were unsettled when it left: the leader may see it
   * first and answer OUT_OF_ORDER_SEQUENCE_NUMBER, which then only means "send again".
   */
  readonly behind: boolean;
}

/** A Produce request in flight, for the leader probe. */
interface Outstanding {
  readonly address: string;
  readonly startedMs: number;
  readonly parts: readonly RequestPart[];
  readonly abort: AbortController;
  /** Partitions whose leader moved (set when the probe gives the request up). */
  moved: ReadonlySet<PartitionQueue>;
}

interface Resolved {
  readonly acks: Acks;
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  readonly maxInFlightRequests: number;
  readonly maxInFlightPerPartition: number;
  readonly backlogBatchSize: number;
  readonly compression: CompressionName;
  readonly idempotent: boolean;
  readonly maxRequestBytes: number;
  readonly bufferMemoryBytes: number;
  readonly deliveryTimeoutMs: number;
  readonly leaderProbeMs: number;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`);
  return v;
}

function inFlightPerPartition(value: number | undefined): number {
  const v = positiveInt(value, SEQUENCE_WINDOW, "maxInFlightPerPartition");
  if (v > SEQUENCE_WINDOW)
    throw new RangeError(`maxInFlightPerPartition must be at most ${SEQUENCE_WINDOW}`);
  return v;
}

/** Fills in defaults; throws RangeError on a bad value. */
export function producerDefaults(options: ProducerOptions, ctx: ClientContext): Resolved {
  const acks = options.acks ?? "all";
  if (!(acks in ACKS_WIRE)) throw new RangeError(`acks must be "all", "leader" or "none"`);
  return {
    acks,
    batchSizeBytes: positiveInt(options.batchSize, 16_384, "batchSize"),
    lingerMs: positiveInt(options.lingerMs, 5, "lingerMs", 0),
    maxInFlightRequests: positiveInt(options.maxInFlightRequests, 5, "maxInFlightRequests"),
    maxInFlightPerPartition: inFlightPerPartition(options.maxInFlightPerPartition),
    backlogBatchSize: positiveInt(
      options.backlogBatchSize,
      Math.max(options.batchSize ?? 16_384, 262_144),
      "backlogBatchSize",
    ),
    compression: options.compression ?? "none",
    idempotent: options.idempotent ?? true,
    maxRequestBytes: positiveInt(options.maxRequestBytes, 1_048_576, "maxRequestBytes"),
    bufferMemoryBytes: positiveInt(
      options.bufferMemoryBytes,
      32 * 1024 * 1024,
      "bufferMemoryBytes",
    ),
    deliveryTimeoutMs: positiveInt(
      options.deliveryTimeoutMs,
      ctx.deliveryTimeoutMs,
      "deliveryTimeoutMs",
    ),
    leaderProbeMs: positiveInt(options.leaderProbeMs, 500, "leaderProbeMs", 10),
  };
}

const encoder = new TextEncoder();

function bytesOf(v: Uint8Array | string | null | undefined): Uint8Array | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? encoder.encode(v) : v;
}

/** Shared by every record without headers (never mutated): one array less per record. */
const NO_HEADERS: RecordHeader[] = [];

/** Message headers -> record headers, in order. */
export function toRecordHeaders(headers: MessageHeaders | undefined): RecordHeader[] {
  if (headers === undefined) return NO_HEADERS;
  if (Array.isArray(headers))
    return headers.map((h: { key: string; value: HeaderValue }) => ({
      key: h.key,
      value: bytesOf(h.value),
    }));
  const out: RecordHeader[] = [];
  for (const [key, value] of Object.entries(
    headers as Readonly<Record<string, HeaderValue | readonly HeaderValue[]>>,
  )) {
    const values: readonly HeaderValue[] = Array.isArray(value) ? value : [value as HeaderValue];
    for (const v of values) out.push({ key, value: bytesOf(v) });
  }
  return out;
}

function entrySize(
  key: Uint8Array | null,
  value: Uint8Array | null,
  headers: RecordHeader[],
): number {
  let bytes = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  for (const h of headers) bytes += 2 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return bytes;
}

/** A producer; get one from `strand.producer(options)`. */
export class Producer {
  readonly #ctx: ClientContext;
  readonly #options: Resolved;
  readonly #accumulator: Accumulator;
  readonly #partitioner: StickyPartitioner;
  readonly #inFlight = new Map<string, number>();
  readonly #unsettled = new Set<PendingSend>();
  readonly #sequences = new Map<string, number>();
  readonly #spaceWaiters: (() => void)[] = [];
  #identity: ProducerIdentity | null = null;
  #identityReady: Promise<void> | null = null;
  /** InitProducerId answered (an identity, or null from a broker without idempotence). */
  #identityKnown = false;
  /** Sends waiting for the identity or the topic's metadata (the fast path waits behind them). */
  #preparing = 0;
  readonly #onSettled = (pending: PendingSend) => {
    this.#unsettled.delete(pending);
  };
  #bufferedBytes = 0;
  #flushing = 0;
  #drainScheduled = false;
  #wakeAtMs: number | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #requests = new Set<Outstanding>();
  #probeTimer: NodeJS.Timeout | null = null;
  #probing = false;

  /** @internal Use `strand.producer(options)`. */
  constructor(ctx: ClientContext, options: ProducerOptions = {}) {
    this.#ctx = ctx;
    this.#options = producerDefaults(options, ctx);
    this.#accumulator = new Accumulator({ batchSizeBytes: this.#options.batchSizeBytes });
    this.#partitioner = new StickyPartitioner(ctx.random);
    // One listener fails every unsettled send when the client closes: a listener per send on
    // this shared signal made each send O(pending) (EventTarget scans its listeners on add).
    ctx.closed.addEventListener(
      "abort",
      () => {
        for (const pending of this.#unsettled)
          pending.fail(abortedError("send()", ctx.closed.reason));
        for (const request of this.#requests) request.abort.abort(ctx.closed.reason);
      },
      { once: true },
    );
  }

  /** True when batches carry a producer id (idempotent appends). */
  get idempotent(): boolean {
    return this.#identity !== null;
  }

  /**
   * Sends messages to a topic; resolves with each record's partition and offset, in message
   * order. Rejects with a typed error (a StrandClientError) when a record cannot be
   * delivered within deliveryTimeoutMs, on a non-retriable error, or when aborted.
   */
  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    try {
      if (this.#closed) throw abortedError("send() after close()");
      if (record.messages.length === 0) return Promise.resolve([]);
      const signal =
        record.signal === undefined
          ? this.#ctx.closed
          : (anySignal(record.signal, this.#ctx.closed) as AbortSignal);
      if (signal.aborted) throw abortedError("send()", signal.reason);
      // The fast path (identity known, topic cached, no earlier send still preparing: it
      // must not be overtaken) appends at once; see the module comment on cheap sends.
      const topic = this.#preparing === 0 ? this.#readyTopic(record.topic) : null;
      if (topic !== null) return this.#enqueue(record, topic, signal);
      return this.#prepareAndEnqueue(record, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The topic's metadata when a send can skip every await (identity and topic known). */
  #readyTopic(name: string): CachedTopic | null {
    if (this.#options.idempotent && !this.#identityKnown) return null;
    const topic = this.#ctx.metadata.topic(name);
    return topic !== undefined && topic.partitions.length > 0 ? topic : null;
  }

  /** The slow path of send(): waits for the producer id and the topic's metadata first. */
  async #prepareAndEnqueue(record: ProducerRecord, signal: AbortSignal): Promise<RecordMetadata[]> {
    let topic: CachedTopic;
    this.#preparing++;
    try {
      await this.#ensureIdentity();
      topic = await this.#ctx.metadata.ensureTopic(record.topic, signal);
    } finally {
      this.#preparing--;
    }
    return this.#enqueue(record, topic, signal);
  }

  /** Appends a send's records (synchronously while the buffer has room) and wakes the sender. */
  #enqueue(
    record: ProducerRecord,
    topic: CachedTopic,
    signal: AbortSignal,
  ): Promise<RecordMetadata[]> {
    const acks = ACKS_WIRE[record.acks ?? this.#options.acks];
    const pending = new PendingSend(record.messages.length, this.#onSettled);
    this.#unsettled.add(pending);
    // Only a caller's own signal needs a per-send listener; the client's close is covered by
    // the one listener set up in the constructor.
    // Through onAbort, not a listener: one signal may serve many sends (see @strand/base abort.ts).
    if (record.signal !== undefined && !signal.aborted)
      pending.detach = onAbort(signal, () => pending.fail(abortedError("send()", signal.reason)));
    // The signal may have fired while identity or metadata were awaited: an abort event that
    // already happened is never delivered to a listener added later.
    if (signal.aborted) pending.fail(abortedError("send()", signal.reason));
    try {
      const messages = record.messages;
      for (let index = 0; index < messages.length; index++) {
        const entry = this.#entry(messages[index]!, pending, index);
        // The fast path stays synchronous so one send's records stay together in a batch.
        if (!this.#tryReserve(entry.bytes)) {
          void this.#enqueueWaiting(record, topic, acks, signal, pending, entry);
          return pending.promise;
        }
        if (!this.#appendEntry(record, topic, acks, pending, entry)) break;
      }
    } catch (error) {
      pending.fail(error);
    }
    this.#wake();
    return pending.promise;
  }

  /** The rest of #enqueue once the buffer is full: waits for room record by record. */
  async #enqueueWaiting(
    record: ProducerRecord,
    topic: CachedTopic,
    acks: string,
    signal: AbortSignal,
    pending: PendingSend,
    first: BatchEntry,
  ): Promise<void> {
    try {
      for (let index = first.index; index < record.messages.length; index++) {
        const entry =
          index === first.index ? first : this.#entry(record.messages[index]!, pending, index);
        if (!this.#tryReserve(entry.bytes)) await this.#reserve(entry.bytes, signal);
        if (!this.#appendEntry(record, topic, acks, pending, entry)) break;
      }
    } catch (error) {
      pending.fail(error);
    }
    this.#wake();
  }

  /** Appends one reserved entry; false (and the bytes released) when the send settled. */
  #appendEntry(
    record: ProducerRecord,
    topic: CachedTopic,
    acks: string,
    pending: PendingSend,
    entry: BatchEntry,
  ): boolean {
    let appended = false;
    try {
      if (!pending.settled) {
        const message = record.messages[entry.index]!;
        const n = topic.partitions.length;
        const partition = this.#choosePartition(record.topic, message, entry, n);
        const batch = this.#accumulator.append(record.topic, partition, acks, entry, Date.now());
        // KIP-480: a keyless record that filled the sticky partition's batch moves it on.
        if (batch.closed && message.partition === undefined && entry.record.key === null)
          this.#partitioner.next(record.topic, n);
        if (batch.entries.length === 1 && this.#options.lingerMs > 0)
          this.#wakeIn(this.#options.lingerMs);
        appended = true;
      }
    } finally {
      if (!appended) this.#release(entry.bytes);
    }
    return appended;
  }

  #entry(message: Message, pending: PendingSend, index: number): BatchEntry {
    const key = bytesOf(message.key);
    const value = bytesOf(message.value);
    const headers = toRecordHeaders(message.headers);
    const timestamp = BigInt(message.timestamp ?? Date.now());
    return {
      record: { key, value, headers },
      timestamp,
      bytes: entrySize(key, value, headers),
      pending,
      index,
    };
  }

  #choosePartition(topic: string, message: Message, entry: BatchEntry, n: number): number {
    if (message.partition !== undefined) {
      if (!Number.isInteger(message.partition) || message.partition < 0 || message.partition >= n)
        throw errorForCode(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
          `topic ${topic} has ${n} partitions; partition ${message.partition} does not exist`,
          { topic, partition: message.partition },
        );
      return message.partition;
    }
    if (entry.record.key !== null) return partitionForKey(entry.record.key, n);
    let p = this.#partitioner.current(topic, n);
    if (this.#accumulator.wouldOverflow(topic, p, entry.bytes)) {
      const full = this.#accumulator.openBatch(topic, p);
      if (full !== undefined) full.closed = true;
      p = this.#partitioner.next(topic, n);
    }
    return p;
  }

  #tryReserve(bytes: number): boolean {
    const fits =
      this.#bufferedBytes === 0 || this.#bufferedBytes + bytes <= this.#options.bufferMemoryBytes;
    if (fits) this.#bufferedBytes += bytes;
    return fits;
  }

  /** Waits until `bytes` fit in the buffer (bufferMemoryBytes). */
  async #reserve(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + this.#options.deliveryTimeoutMs;
    for (let round = 0; round < 1_000_000; round++) {
      if (this.#tryReserve(bytes)) return;
      if (signal?.aborted === true) throw abortedError("send()", signal.reason);
      if (Date.now() > deadline)
        throw new TimeoutError(
          `the producer buffer stayed full for ${this.#options.deliveryTimeoutMs} ms`,
          {
            code: ErrorCode.REQUEST_TIMED_OUT,
            retriable: true,
          },
        );
      await new Promise<void>((resolve) => {
        this.#spaceWaiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
  }

  #release(bytes: number): void {
    this.#bufferedBytes -= bytes;
    assert(this.#bufferedBytes >= 0, "buffered bytes never go negative");
    for (const w of this.#spaceWaiters.splice(0)) w();
  }

  /** Looks for a producer id once (idempotence); see the module comment. */
  #ensureIdentity(): Promise<void> {
    if (!this.#options.idempotent) return Promise.resolve();
    this.#identityReady ??= initProducerId(
      this.#ctx,
      Date.now() + this.#options.deliveryTimeoutMs,
    ).then(
      (identity) => {
        this.#identity = identity;
        this.#identityKnown = true;
      },
      (error: unknown) => {
        this.#identityReady = null; // the next send asks again
        throw error;
      },
    );
    return this.#identityReady;
  }

  /** Sends everything buffered now and waits for it (successes and failures alike). */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      this.#wake();
      await Promise.allSettled([...this.#unsettled].map((p) => p.promise));
    } finally {
      this.#flushing--;
    }
  }

  /** Flushes, then refuses further sends. Does not close the client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
  }

  /** Wakes the sender in `ms` unless a wake-up is already due by then. */
  #wakeIn(ms: number): void {
    this.#wakeAt(Date.now() + Math.max(1, ms));
  }

  /**
   * Arms the one wake-up timer for `atMs` unless it already fires by then. Safe because every
   * drain re-arms it for the next due time: an earlier timer only means an extra drain.
   */
  #wakeAt(atMs: number): void {
    if (this.#wakeAtMs !== null && this.#wakeAtMs <= atMs) return;
    this.#disarm();
    this.#wakeAtMs = atMs;
    // Not unref'd: a script that only awaits send() must not exit while its batch lingers.
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeAtMs = null;
        this.#wakeTimer = null;
        this.#wake();
      },
      Math.max(1, atMs - Date.now()),
    );
  }

  #disarm(): void {
    if (this.#wakeTimer !== null) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = null;
    this.#wakeAtMs = null;
  }

  #wake(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  /**
   * Sends ready batches to their leaders within the in-flight limits, fails sends past their
   * delivery deadline, then arms the timer for the next due time (see the module comment).
   */
  #drain(): void {
    const now = Date.now();
    const ready = new Map<string, PartitionQueue[]>();
    for (const q of this.#accumulator.queues.values()) {
      this.#expireSends(q, now);
      if (q.batches.length === 0 || q.retryAtMs > now) continue;
      if (q.requests === 0) this.#dropSettledAndExpired(q, now);
      if (this.#sendable(q, now) < 0) continue;
      const leader = this.#ctx.metadata.leader(q.topic, q.partition);
      if (leader === null) {
        this.#backoff(q, errorForCode(ErrorCode.LEADER_NOT_AVAILABLE.code, "", q));
        continue;
      }
      q.sentTo = { leaderId: leader.leaderId, leaderEpoch: leader.leaderEpoch };
      const queues = ready.get(leader.address);
      if (queues === undefined) ready.set(leader.address, [q]);
      else queues.push(q);
    }
    for (const [address, queues] of ready) this.#sendTo(address, queues, now);
    // The same `now` as the decisions above: a head skipped because its linger had not ended
    // at `now` must get that linger end as a due time, even if the clock has passed it since
    // (otherwise it would wait for its delivery deadline).
    this.#armNextWake(now);
  }

  /**
   * Fails the sends of every batch past its delivery deadline, in flight or not. A batch in
   * flight stays queued until its request ends (ordering and the byte budget depend on it);
   * only its sends settle now, as Kafka expires in-flight batches.
   */
  #expireSends(q: PartitionQueue, now: number): void {
    for (const batch of q.batches) {
      // Batches of a partition are in creation order: the first young one ends the scan.
      if (now - batch.createdMs < this.#options.deliveryTimeoutMs) return;
      if (batch.entries.every((e) => e.pending.settled)) continue;
      const error = this.#expired(batch, batch.state === "sending");
      for (const e of batch.entries) e.pending.fail(error);
    }
  }

  /** The earliest time something is due: a linger or backoff ending, a delivery deadline. */
  #nextDueMs(now: number): number | null {
    let due = Number.POSITIVE_INFINITY;
    for (const q of this.#accumulator.queues.values()) {
      const live = q.batches.find((b) => b.entries.some((e) => !e.pending.settled));
      if (live === undefined) continue;
      due = Math.min(due, live.createdMs + this.#options.deliveryTimeoutMs);
      // A ready batch that did not leave waits for an in-flight slot: a request's end wakes it.
      const next = q.batches.find((b) => b.state === "queued");
      if (next === undefined) continue;
      const lingerEndMs = next.createdMs + this.#options.lingerMs;
      if (q.retryAtMs > now) due = Math.min(due, q.retryAtMs);
      else if (lingerEndMs > now) due = Math.min(due, lingerEndMs);
    }
    return Number.isFinite(due) ? due : null;
  }

  #armNextWake(now: number): void {
    const due = this.#nextDueMs(now);
    if (due === null) {
      // Nothing pending: a leftover timer would only keep the process alive.
      this.#disarm();
      return;
    }
    this.#wakeAt(Math.max(due, Date.now() + 1));
  }

  /** Drops head batches whose sends all settled (aborted) and fails expired ones. */
  #dropSettledAndExpired(q: PartitionQueue, now: number): void {
    for (let i = 0; i < 100_000 && q.batches.length > 0; i++) {
      const head = q.batches[0]!;
      if (head.encoded === null && head.entries.every((e) => e.pending.settled)) {
        q.batches.shift();
        this.#release(head.bytes);
        continue;
      }
      if (now - head.createdMs > this.#options.deliveryTimeoutMs) {
        q.batches.shift();
        this.#failBatch(head, this.#expired(head));
        continue;
      }
      return;
    }
  }

  #expired(batch: ProducerBatch, inFlight = false): TimeoutError {
    const last =
      batch.lastError instanceof Error
        ? `: last error ${batch.lastError.message}`
        : inFlight
          ? ": its request got no answer in time"
          : "";
    return new TimeoutError(
      `records for ${batch.topic}-${batch.partition} were not delivered within deliveryTimeoutMs ${this.#options.deliveryTimeoutMs}${last}`,
      {
        code: ErrorCode.REQUEST_TIMED_OUT,
        retriable: true,
        topic: batch.topic,
        partition: batch.partition,
        cause: batch.lastError ?? undefined,
      },
    );
  }

  /**
   * The index of the partition's next batch to send now, or -1: none is queued, the in-flight
   * or sequence window is full, a resend waits for requests to end, or the batch still
   * lingers. Timers may fire a little before Date.now() says a linger has passed: the next
   * due time (#nextDueMs) covers it.
   */
  #sendable(q: PartitionQueue, now: number): number {
    if (q.resend && q.requests > 0) return -1;
    if (q.requests >= this.#partitionLimit(q)) return -1;
    const i = q.batches.findIndex((b) => b.state === "queued");
    if (i < 0 || (this.#identity !== null && i >= SEQUENCE_WINDOW)) return -1;
    const batch = q.batches[i]!;
    const lingered = batch.createdMs + this.#options.lingerMs - now <= 0;
    if (batch.closed || lingered || this.#flushing > 0 || i < q.batches.length - 1) return i;
    return -1;
  }

  /** Requests of `q` allowed in flight: several only with sequence numbers (idempotence). */
  #partitionLimit(q: PartitionQueue): number {
    if (this.#identity === null || q.careful) return 1;
    return this.#options.maxInFlightPerPartition;
  }

  /**
   * Sends requests to one broker while it has in-flight room and some partition has a batch
   * to send; a partition appears once per request, and may get several requests (pipelining).
   */
  #sendTo(address: string, queues: PartitionQueue[], now: number): void {
    for (let guard = 0; guard < 10_000; guard++) {
      if ((this.#inFlight.get(address) ?? 0) >= this.#options.maxInFlightRequests) return;
      const parts: RequestPart[] = [];
      let acks: string | null = null;
      let bytes = 0;
      for (const q of queues) {
        const i = this.#sendable(q, now);
        if (i < 0 || parts.some((p) => p.q === q)) continue;
        const batchAcks = q.batches[i]!.acks;
        if (acks !== null && batchAcks !== acks) continue;
        const taken = this.#take(
          q,
          i,
          batchAcks,
          this.#options.maxRequestBytes - bytes,
          acks === null,
        );
        if (taken.length === 0) continue;
        acks = batchAcks;
        for (const b of taken) bytes += b.encoded!.length;
        parts.push({ q, batches: taken, behind: i > 0 });
      }
      if (parts.length === 0 || acks === null) return;
      this.#inFlight.set(address, (this.#inFlight.get(address) ?? 0) + 1);
      for (const p of parts) {
        p.q.requests++;
        for (const b of p.batches) b.state = "sending";
      }
      void this.#produce(address, acks, parts);
    }
  }

  /**
   * Takes a partition's queued batches from index `from` with `acks`, up to `budget` bytes
   * (one at least if `first`) and within the sequence window.
   */
  #take(
    q: PartitionQueue,
    from: number,
    acks: string,
    budget: number,
    first: boolean,
  ): ProducerBatch[] {
    const taken: ProducerBatch[] = [];
    let used = 0;
    const windowed = this.#identity !== null;
    for (
      let i = from;
      i < (windowed ? Math.min(q.batches.length, SEQUENCE_WINDOW) : q.batches.length);
      i++
    ) {
      const batch = q.batches[i]!;
      if (batch.acks !== acks || batch.state !== "queued") break;
      if (batch.encoded === null && batch.entries.every((e) => e.pending.settled)) break;
      if (windowed && batch.encoded === null) this.#coalesce(q, i);
      const encoded = this.#encode(batch);
      if (used + encoded.length > budget && !(first && taken.length === 0)) break;
      used += encoded.length;
      batch.closed = true;
      taken.push(batch);
      if (q.oneBatch) break;
    }
    return taken;
  }

  /**
   * When more batches of a partition wait than the sequence window lets out, merges the
   * queued, not yet encoded batches after `q.batches[i]` into it, up to `backlogBatchSize`
   * bytes: the window counts batches, so bigger batches keep a backlogged partition's
   * throughput (5 x 16 KiB per round trip would cap it). The merged batch keeps the first
   * one's creation time (its delivery deadline).
   */
  #coalesce(q: PartitionQueue, i: number): void {
    const batch = q.batches[i]!;
    const cap = Math.min(this.#options.backlogBatchSize, q.mergeCapBytes);
    if (batch.split) return;
    while (q.batches.length > SEQUENCE_WINDOW && i + 1 < q.batches.length) {
      const next = q.batches[i + 1]!;
      if (next.state !== "queued" || next.encoded !== null || next.acks !== batch.acks) return;
      if (next.split) return;
      if (batch.bytes + next.bytes > cap) return;
      if (batch.entries.length + next.entries.length > BATCH_RECORDS_MAX) return;
      for (const e of next.entries) batch.entries.push(e);
      batch.bytes += next.bytes;
      q.batches.splice(i + 1, 1);
    }
  }

  /** Encodes a batch once (retries resend the same bytes, sequence included). */
  #encode(batch: ProducerBatch): Buffer {
    if (batch.encoded !== null) return batch.encoded;
    batch.closed = true;
    batch.sent = batch.entries.filter((e) => !e.pending.settled);
    assert(batch.sent.length > 0, "an encoded batch has records");
    const baseTimestamp = batch.sent[0]!.timestamp;
    const identity = this.#identity;
    let baseSequence = -1;
    if (identity !== null) {
      const key = `${batch.topic}\u0000${batch.partition}`;
      baseSequence = this.#sequences.get(key) ?? 0;
      this.#sequences.set(key, (baseSequence + batch.sent.length) % (SEQUENCE_MAX + 1));
    }
    batch.baseSequence = baseSequence;
    batch.encoded = encodeRecordBatch({
      baseTimestamp,
      compression: this.#options.compression,
      producerId: identity?.producerId ?? -1n,
      producerEpoch: identity?.producerEpoch ?? -1,
      baseSequence,
      records: batch.sent.map((e) => ({
        ...e.record,
        timestampDelta: e.timestamp - baseTimestamp,
      })),
    });
    return batch.encoded;
  }

  async #produce(address: string, acks: string, parts: RequestPart[]): Promise<void> {
    const byTopic = new Map<string, { partition: number; records: Buffer }[]>();
    let bytes = 0;
    for (const { q, batches } of parts) {
      const list = byTopic.get(q.topic) ?? [];
      const records = Buffer.concat(batches.map((b) => b.encoded!));
      bytes += records.length;
      list.push({ partition: q.partition, records });
      byTopic.set(q.topic, list);
    }
    const timeoutMs = this.#ctx.requestTimeoutMs;
    const request: Outstanding = {
      address,
      startedMs: Date.now(),
      parts,
      abort: new AbortController(),
      moved: new Set(),
    };
    this.#requests.add(request);
    this.#armProbe();
    try {
      const body = {
        acks: acks as (typeof ACKS_WIRE)[Acks],
        timeoutMs,
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      };
      const callOptions = {
        address,
        method: "Produce",
        timeoutMs: timeoutMs + REQUEST_SLACK_MS,
        // Its own signal, not one combined with ctx.closed: close() aborts every request
        // from the one listener above.
        signal: request.abort.signal,
      };
      const connection = this.#ctx.pool.get(address);
      // A request over STREAM_REQUEST_BYTES_MAX goes unary (see there).
      const response = await streamOrUnary(
        bytes <= STREAM_REQUEST_BYTES_MAX ? connection.produceStream : null,
        body,
        (r, o, cb) => connection.produce.Produce(r, o, cb),
        callOptions,
      );
      for (const part of parts) this.#onResult(part, acks, response);
    } catch (error) {
      if (request.abort.signal.aborted && !this.#ctx.closed.aborted)
        this.#onAbandoned(request, request.abort.signal.reason as StrandClientError);
      else for (const part of parts) this.#onFailure(part.q, part.batches, error);
    } finally {
      this.#requests.delete(request);
      this.#inFlight.set(address, (this.#inFlight.get(address) ?? 1) - 1);
      this.#wake();
    }
  }

  /**
   * The probe gave `request` up because a leader moved: partitions that moved retry at the
   * new leader at once (same batches, same sequence numbers: a copy the old leader did write
   * comes back DUPLICATE with its offset); the others retry after backoff as on a timeout.
   */
  #onAbandoned(request: Outstanding, error: StrandClientError): void {
    for (const { q, batches } of request.parts) {
      if (!request.moved.has(q)) {
        this.#onFailure(q, batches, error);
        continue;
      }
      for (const b of batches) b.lastError = error;
      q.resend = true;
      q.retryAtMs = 0;
      q.attempts = 0;
      q.hops = 0;
      this.#requestEnded(q);
    }
  }

  /** Arms the probe timer (one per producer) unless it is armed or a probe runs. */
  #armProbe(): void {
    if (this.#probeTimer !== null || this.#probing || this.#ctx.closed.aborted) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = null;
      void this.#probe();
    }, this.#options.leaderProbeMs);
    // Requests and backoff timers keep the process alive; the probe only watches them.
    this.#probeTimer.unref();
  }

  /**
   * The leader probe: when a request has gone unanswered, or a partition has waited in
   * backoff, for `leaderProbeMs`, asks another broker for the partitions' metadata; where the
   * leader moved (another broker or a newer epoch than the request went to), the request is
   * given up and the partition retries at the new leader now, instead of waiting out the
   * request deadline or the backoff. Repeats every `leaderProbeMs` while anything waits.
   */
  async #probe(): Promise<void> {
    const now = Date.now();
    const probeMs = this.#options.leaderProbeMs;
    const stuck = [...this.#requests].filter((r) => now - r.startedMs >= probeMs);
    const waiting = [...this.#accumulator.queues.values()].filter(
      (q) => q.requests === 0 && q.retryAtMs > now && q.batches.length > 0 && q.sentTo !== null,
    );
    if (stuck.length === 0 && waiting.length === 0) {
      if (this.#requests.size > 0) this.#armProbe();
      return;
    }
    this.#probing = true;
    try {
      const avoid = new Set(stuck.map((r) => r.address));
      for (const q of waiting) {
        const address = this.#ctx.metadata.brokers.get(q.sentTo!.leaderId);
        if (address !== undefined) avoid.add(address);
      }
      const topics = new Set([
        ...stuck.flatMap((r) => r.parts.map((p) => p.q.topic)),
        ...waiting.map((q) => q.topic),
      ]);
      await this.#ctx.metadata.probe(
        [...topics],
        avoid,
        Math.min(this.#ctx.requestTimeoutMs, Math.max(PROBE_CALL_MS_MIN, 2 * probeMs)),
      );
      this.#afterProbe(stuck, waiting);
    } catch (error) {
      this.#ctx.logger.debug({ err: String(error) }, "leader probe failed");
    } finally {
      this.#probing = false;
      if (this.#requests.size > 0 || waiting.length > 0) this.#armProbe();
    }
  }

  /** Gives up requests and ends backoffs whose partitions' leader moved. */
  #afterProbe(stuck: readonly Outstanding[], waiting: readonly PartitionQueue[]): void {
    for (const r of stuck) {
      if (!this.#requests.has(r)) continue;
      const moved = new Set(r.parts.filter((p) => this.#leaderMoved(p.q)).map((p) => p.q));
      if (moved.size === 0) continue;
      r.moved = moved;
      const [first] = moved;
      this.#ctx.logger.info(
        { broker: r.address, topic: first!.topic, partition: first!.partition },
        "leader moved while a produce request waited: retrying at the new leader",
      );
      r.abort.abort(
        errorForCode(
          ErrorCode.NOT_LEADER_OR_FOLLOWER.code,
          `the leader moved while a request to ${r.address} got no answer`,
          first!,
        ),
      );
    }
    let woken = false;
    for (const q of waiting) {
      if (q.requests > 0 || q.retryAtMs <= Date.now() || !this.#leaderMoved(q)) continue;
      q.retryAtMs = 0;
      q.attempts = 0;
      woken = true;
      this.#ctx.logger.info(
        { topic: q.topic, partition: q.partition },
        "leader moved while a partition backed off: retrying at the new leader",
      );
    }
    if (woken) this.#wake();
  }

  /** True when metadata names a leader other than (or newer than) the one `q` last went to. */
  #leaderMoved(q: PartitionQueue): boolean {
    const now = this.#ctx.metadata.leader(q.topic, q.partition);
    const sent = q.sentTo;
    if (now === null || sent === null) return false;
    return now.leaderId !== sent.leaderId || now.leaderEpoch > sent.leaderEpoch;
  }

  #onResult(part: RequestPart, acks: string, response: ProduceResponse__Output): void {
    const { q, batches } = part;
    if (acks === ACKS_WIRE.none) {
      this.#complete(q, batches, []);
      return;
    }
    const result = response.topics
      .find((t) => t.topic === q.topic)
      ?.partitions.find((p) => p.partition === q.partition);
    if (result === undefined) {
      this.#onFailure(
        q,
        batches,
        errorForCode(-1, "the broker sent no result for this partition", q),
      );
      return;
    }
    if (result.errorCode === 0) {
      const sizes = batches.map((b) => b.sent.length);
      const bases = batchBaseOffsets(result.batchBaseOffsets, result.baseOffset, sizes);
      if (bases.counted && result.batchBaseOffsets.length > 0)
        this.#ctx.logger.warn(
          { topic: q.topic, partition: q.partition, batches: batches.length },
          "the broker answered a different number of batch offsets than batches sent; counting from the base offset",
        );
      this.#complete(q, batches, bases.offsets);
      return;
    }
    const error = errorForCode(result.errorCode, result.errorMessage, q);
    if (result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code) {
      void this.#confirmTopic(q, batches, error);
      return;
    }
    if (
      result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER.code &&
      q.hops < IMMEDIATE_HOPS_MAX &&
      this.#ctx.metadata.applyHint(q.topic, q.partition, result.leaderHint)
    ) {
      // Retry at the hinted leader at once: same batches, back at the head, in order. The
      // partition's other requests went to the same old leader: one hop for all of them.
      if (!q.resend) q.hops++;
      for (const b of batches) b.lastError = error;
      q.resend = true;
      this.#requestEnded(q);
      return;
    }
    if (
      result.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER.code &&
      (q.resend || part.behind)
    ) {
      // An earlier batch of the partition failed or reached the leader later: send again,
      // in order (its answer may even have come back first, so look at how it was sent).
      for (const b of batches) b.lastError = error;
      q.resend = true;
      this.#requestEnded(q);
      return;
    }
    if (result.errorCode === ErrorCode.MESSAGE_TOO_LARGE.code && this.#markTooLarge(q, batches)) {
      for (const b of batches) b.lastError = error;
      q.resend = true;
      this.#requestEnded(q);
      return;
    }
    this.#onFailure(q, batches, error);
  }

  /**
   * The leader refused a request of `q` as MESSAGE_TOO_LARGE (it validates every batch before
   * appending any, so none of them is in the log). Several batches are sent again one per
   * request, to find the oversized one; a batch of several records is split at the
   * partition's next resend, and later merges stay below half its size, as Kafka's producer
   * splits an oversized batch. False for a lone single-record batch: a record above
   * max.message.bytes fails its send.
   */
  #markTooLarge(q: PartitionQueue, batches: readonly ProducerBatch[]): boolean {
    if (batches.length > 1) {
      q.oneBatch = true;
      return true;
    }
    const splittable = batches.filter((b) => b.sent.length > 1);
    if (splittable.length === 0) return false;
    for (const b of splittable) {
      q.tooLarge.add(b);
      q.mergeCapBytes = Math.min(q.mergeCapBytes, Math.floor((b.encoded?.length ?? b.bytes) / 2));
    }
    const first = batches[0]!;
    if (first.baseSequence >= 0) this.#resequenceFrom(q, first, first.baseSequence);
    return true;
  }

  /**
   * Batches of `q` from `from` on must be encoded again from `sequence` (see
   * PartitionQueue.resequence); the earliest such point wins.
   */
  #resequenceFrom(q: PartitionQueue, from: ProducerBatch, sequence: number): void {
    const known = q.resequence === null ? -1 : q.batches.indexOf(q.resequence.from);
    if (known >= 0 && known <= q.batches.indexOf(from)) return;
    q.resequence = { from, sequence };
  }

  /**
   * At a resend (no request of `q` in flight): encodes again, from their new first sequence,
   * the batches that followed a refused one, and splits the ones refused as too large. None of
   * them is in the log: the leader appended nothing of a refused request, and a later sequence
   * cannot follow a missing one.
   */
  #repairSequences(q: PartitionQueue): void {
    const restart = q.resequence;
    q.resequence = null;
    const from = restart === null ? -1 : q.batches.indexOf(restart.from);
    if (restart !== null && from >= 0) {
      for (const batch of q.batches.slice(from)) {
        assert(batch.state !== "done", "no batch after a refused one is in the log");
        batch.encoded = null;
        batch.sent = [];
        batch.baseSequence = -1;
      }
      this.#sequences.set(`${q.topic}\u0000${q.partition}`, restart.sequence);
    }
    for (let i = q.batches.length - 1; i >= 0; i--) {
      const batch = q.batches[i]!;
      if (q.tooLarge.has(batch) && batch.entries.length > 1) {
        assert(batch.encoded === null || this.#identity === null, "a split batch is re-encoded");
        q.batches.splice(i, 1, ...halves(batch));
      }
    }
    q.tooLarge.clear();
  }

  /**
   * A leader said UNKNOWN_TOPIC_OR_PARTITION: refresh metadata once; if it agrees the topic
   * or partition is gone, fail the batches with UnknownTopicError now, else (a leader that
   * lags a create) retry after backoff. The partition stays in flight meanwhile, so nothing
   * overtakes these batches.
   */
  async #confirmTopic(
    q: PartitionQueue,
    batches: ProducerBatch[],
    error: StrandClientError,
  ): Promise<void> {
    try {
      await refreshQuietly(this.#ctx, [q.topic], undefined);
      const known = this.#ctx.metadata.topic(q.topic)?.partitions[q.partition] !== undefined;
      this.#onFailure(q, batches, known ? error : unknownTopicError(q.topic, q.partition));
    } finally {
      this.#wake();
    }
  }

  /**
   * Records `batches` as acknowledged (`baseOffsets[i]` is batch i's first offset, -1n:
   * unknown) and settles the partition's acknowledged head, in order.
   */
  #complete(q: PartitionQueue, batches: ProducerBatch[], baseOffsets: readonly bigint[]): void {
    batches.forEach((batch, i) => {
      assert(q.batches.includes(batch), "a completed batch is still queued");
      batch.state = "done";
      batch.baseOffset = baseOffsets[i] ?? -1n;
    });
    q.attempts = 0;
    q.hops = 0;
    q.careful = false;
    q.oneBatch = false;
    // Settled first: a resend due at the request's end must not send acknowledged batches.
    this.#settleDone(q);
    this.#requestEnded(q);
  }

  /** Settles the partition's acknowledged ("done") head batches, in order. */
  #settleDone(q: PartitionQueue): void {
    let settled = 0;
    while (settled < q.batches.length && q.batches[settled]!.state === "done") settled++;
    for (const batch of q.batches.splice(0, settled)) {
      const base = batch.baseOffset;
      batch.sent.forEach((e, j) => {
        const offset = base >= 0n ? base + BigInt(j) : -1n;
        e.pending.complete(e.index, { topic: q.topic, partition: q.partition, offset });
      });
      this.#release(batch.bytes);
    }
  }

  /**
   * One request of `q` ended (its outcome recorded). When it was the last one and a resend
   * is due, every unsettled batch is queued again, in order, for one careful request.
   */
  #requestEnded(q: PartitionQueue): void {
    q.requests--;
    assert(q.requests >= 0, "a partition's requests never go negative");
    if (q.requests > 0 || !q.resend) return;
    q.resend = false;
    q.careful = true;
    if (q.tooLarge.size > 0 || q.resequence !== null) this.#repairSequences(q);
    for (const b of q.batches) b.state = "queued";
  }

  #onFailure(q: PartitionQueue, batches: ProducerBatch[], error: unknown): void {
    if (error instanceof StrandClientError && error.retriable && !this.#ctx.closed.aborted) {
      for (const b of batches) b.lastError = error;
      q.resend = true;
      this.#backoff(q, error);
      this.#requestEnded(q);
      return;
    }
    const failed = new Set(batches);
    const first = q.batches.findIndex((b) => failed.has(b));
    for (let i = q.batches.length - 1; i >= 0; i--)
      if (failed.has(q.batches[i]!)) q.batches.splice(i, 1);
    if (first >= 0 && notAppended(error)) this.#skipSequences(q, first, batches[0]!.baseSequence);
    for (const b of batches) this.#failBatch(b, error);
    this.#settleDone(q);
    this.#requestEnded(q);
  }

  /**
   * Batches the leader refused without appending them have failed their sends (a record it
   * will never take): the batches after them, from index `next`, get their sequences back,
   * as Kafka's idempotent producer adjusts sequences after a failed batch. Ones not yet
   * encoded just take the freed numbers; encoded ones are encoded again at a resend.
   */
  #skipSequences(q: PartitionQueue, next: number, sequence: number): void {
    if (sequence < 0) return;
    const later = q.batches[next];
    if (later === undefined || later.encoded === null) {
      this.#sequences.set(`${q.topic}\u0000${q.partition}`, sequence);
      return;
    }
    this.#resequenceFrom(q, later, sequence);
    q.resend = true;
  }

  /** Schedules a retry of the partition after backoff and refreshes its metadata. */
  #backoff(q: PartitionQueue, error: StrandClientError): void {
    const wait = backoffMs(q.attempts++, this.#ctx.retry, this.#ctx.random);
    q.hops = 0;
    q.retryAtMs = Date.now() + wait;
    for (const b of q.batches) b.lastError ??= error;
    this.#ctx.logger.debug(
      { topic: q.topic, partition: q.partition, waitMs: wait, err: error.message },
      "produce retry",
    );
    // The refresh is a probe too: a leader that moved meanwhile ends the backoff at once.
    void refreshQuietly(this.#ctx, [q.topic], undefined).then(() => this.#afterProbe([], [q]));
    this.#armProbe();
    this.#wakeAt(q.retryAtMs);
  }

  #failBatch(batch: ProducerBatch, error: unknown): void {
    for (const e of batch.entries) e.pending.fail(error);
    this.#release(batch.bytes);
  }
}

/**
 * Asks any broker for a producer id (ProduceService.InitProducerId), retrying retriable
 * failures until the delivery timeout. A broker that does not implement the RPC (gRPC
 * UNIMPLEMENTED) gets null: the producer then runs without idempotence and says so in the log.
 */
export async function initProducerId(
  ctx: ClientContext,
  deadlineMs: number,
): Promise<ProducerIdentity | null> {
  for (let attempt = 0; attempt < 10_000; attempt++) {
    try {
      if (ctx.metadata.brokers.size === 0) await ctx.metadata.refresh([], ctx.closed);
      const addresses = [...ctx.metadata.brokers.values()];
      const address = addresses[attempt % Math.max(1, addresses.length)] ?? "";
      const stub = ctx.pool.get(address).produce;
      const r = await unary<InitProducerIdResponse__Output>(
        (o, cb) => stub.InitProducerId({}, o, cb),
        {
          address,
          method: "InitProducerId",
          timeoutMs: ctx.requestTimeoutMs,
          signal: ctx.closed,
        },
      );
      if (r.errorCode !== 0) throw errorForCode(r.errorCode, r.errorMessage);
      const identity = { producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch };
      assert(identity.producerId >= 0n && identity.producerEpoch >= 0, "a valid producer id");
      ctx.logger.info(
        { producerId: String(identity.producerId), producerEpoch: identity.producerEpoch },
        "idempotent producer",
      );
      return identity;
    } catch (error) {
      const cause = (error as { cause?: { code?: number } }).cause;
      if (cause?.code === grpc.status.UNIMPLEMENTED)
        return noIdempotence(ctx, "the broker does not implement InitProducerId");
      if (!(error instanceof StrandClientError) || !error.retriable) throw error;
      const wait = backoffMs(attempt, ctx.retry, ctx.random);
      if (Date.now() + wait > deadlineMs) throw error;
      await sleep(wait, ctx.closed);
    }
  }
  throw new StrandClientError("InitProducerId did not succeed");
}

/**
 * Leader answers that refuse a produce in validation, before anything is appended: the
 * batches' sequence numbers were never used.
 */
const NOT_APPENDED_CODES: ReadonlySet<number> = new Set([
  ErrorCode.MESSAGE_TOO_LARGE.code,
  ErrorCode.CORRUPT_MESSAGE.code,
  ErrorCode.INVALID_RECORD.code,
  ErrorCode.INVALID_TIMESTAMP.code,
  ErrorCode.UNSUPPORTED_COMPRESSION_TYPE.code,
  ErrorCode.TOPIC_AUTHORIZATION_FAILED.code,
]);

function notAppended(error: unknown): boolean {
  return error instanceof StrandClientError && NOT_APPENDED_CODES.has(error.code.code);
}

/** A batch's records in two batches of its partition, acks and creation time, in order. */
function halves(batch: ProducerBatch): ProducerBatch[] {
  const mid = Math.ceil(batch.entries.length / 2);
  let firstBytes = 0;
  for (const e of batch.entries.slice(0, mid)) firstBytes += e.bytes;
  return [batch.entries.slice(0, mid), batch.entries.slice(mid)].map((entries, k) => {
    const half = new ProducerBatch(batch.topic, batch.partition, batch.acks, batch.createdMs);
    for (const e of entries) half.entries.push(e);
    // The two keep the whole batch's memory reservation between them (released when settled).
    half.bytes = k === 0 ? firstBytes : batch.bytes - firstBytes;
    half.closed = true;
    half.split = true;
    half.lastError = batch.lastError;
    return half;
  });
}

function noIdempotence(ctx: ClientContext, why: string): null {
  ctx.logger.warn({ why }, "the producer runs without idempotence (retries may duplicate records)");
  return null;
}

/**
 * The first offset of each batch of a successful produce. A broker answers one base offset
 * per batch (`batch_base_offsets`): a retried duplicate keeps its original offset while the
 * batches after it land at the log end, behind other producers' records, so counting up from
 * `base_offset` would report offsets that hold someone else's records. Only an older broker,
 * which sends no per-batch offsets, is counted from `base_offset` (`counted`); so is an answer
 * whose count does not match the batches sent.
 */
export function batchBaseOffsets(
  perBatch: readonly string[] | undefined,
  baseOffset: string,
  recordCounts: readonly number[],
): { offsets: bigint[]; counted: boolean } {
  if (perBatch !== undefined && perBatch.length === recordCounts.length)
    return { offsets: perBatch.map((o) => BigInt(o)), counted: false };
  const offsets: bigint[] = [];
  let next = BigInt(baseOffset);
  for (const count of recordCounts) {
    offsets.push(next < 0n ? -1n : next);
    if (next >= 0n) next += BigInt(count);
  }
  return { offsets, counted: true };
}
