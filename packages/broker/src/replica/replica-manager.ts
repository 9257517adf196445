/**
 * The broker's data plane (Kafka's ReplicaManager): one `Partition` per local replica, made
 * leader or follower by committed metadata; produce, consumer fetch and ListOffsets on the
 * leader; the leader side of replication (`replicaFetchLeader`, served by the gRPC edge) and
 * the follower side (a `ReplicaFetcherManager`); ISR maintenance through the controller; a
 * high-watermark checkpoint per data dir. The work lives in small modules over a shared `ReplicaContext`.
 *
 * Timers: one deadline timer for every purgatory, one periodic ISR check, one periodic HW
 * checkpoint; all unref'd and stopped by close().
 */
import { Mutex, noopLogger } from "@strand/base";
import type { MetadataDelta, MetadataImage } from "@strand/controller";
import { brokerId as toBrokerId } from "@strand/controller";
import { ErrorCode } from "@strand/protocol";
import { AcksAllPurgatory, DelayedFetchPurgatory } from "../core/purgatory.ts";
import { ProducerIdManager, ProducerIdsUnavailableError } from "../producer/producer-id-manager.ts";
import type { ReplicaContext } from "./context.ts";
import { DeadlineTimer } from "./deadline-timer.ts";
import { notLeaderError, partitionError } from "./errors.ts";
import { expireWaiters, releaseLeaderWaiters } from "./events.ts";
import { ReplicaFetcherManager } from "./follower/fetcher-manager.ts";
import { type HighWatermarks, readHighWatermarks, writeHighWatermarks } from "./hw-checkpoint.ts";
import { fetch } from "./leader/fetch.ts";
import { checkIsr } from "./leader/isr.ts";
import { answerReplicaFetch } from "./leader/leader-fetch.ts";
import { produce } from "./leader/produce.ts";
import {
  type ReplicaManagerConfig,
  type ReplicaManagerOptions,
  resolveReplicaConfig,
} from "./options.ts";
import { partitionKey } from "./partition.ts";
import {
  expireProducers,
  type ProducerStateSettings,
  resolveProducerStateSettings,
} from "./producer-expiration.ts";
import type { EndableStream, ReplicaFetchLeader } from "./replica-fetch.ts";
import { applyDelta } from "./transitions.ts";
import type {
  FetchOptions,
  FetchPartition,
  FetchPartitionResult,
  InitProducerIdResult,
  ListOffsetsResult,
  OffsetSpec,
  PartitionStatus,
  ProduceOptions,
  ProducePartition,
  ProducePartitionResult,
  ReplicaManagerApi,
} from "./types.ts";

/** The broker's replica manager. */
export class ReplicaManager implements ReplicaManagerApi {
  /** Resolved settings. */
  readonly config: ReplicaManagerConfig;
  readonly #ctx: ReplicaContext;
  readonly #fetchers: ReplicaFetcherManager;
  readonly #streams = new Set<EndableStream>();
  readonly #metadata = new Mutex();
  readonly #intervals: ReturnType<typeof setInterval>[] = [];
  #checkpointing: Promise<void> = Promise.resolve();
  readonly #producerIds: ProducerIdManager | null;
  #closing: Promise<void> | null = null;

  /** Starts empty; replicas appear with `applyMetadata`. Reads the HW checkpoint in the background. */
  constructor(options: ReplicaManagerOptions & ProducerStateSettings) {
    const config = resolveReplicaConfig(options.config);
    const clock = options.clock ?? (() => Date.now());
    const logger = options.logger ?? noopLogger;
    const dataDir = options.logManager.dataDir;
    const checkpoint = readHighWatermarks(dataDir).catch((error: unknown): HighWatermarks => {
      logger.warn({ dataDir, err: error }, "unreadable HW checkpoint; starting HWs from 0");
      return new Map();
    });
    const ctx: ReplicaContext = {
      brokerId: toBrokerId(options.deps.brokerId),
      deps: options.deps,
      config,
      logManager: options.logManager,
      logger,
      metrics: options.metrics ?? null,
      clock,
      partitions: new Map(),
      partitionsById: new Map(),
      acks: new AcksAllPurgatory({ waitersMax: config.produceWaitersMax }),
      consumerFetches: new DelayedFetchPurgatory({ waitersMax: config.fetchWaitersMax }),
      replicaFetches: new DelayedFetchPurgatory({ waitersMax: config.replicaFetchWaitersMax }),
      timer: new DeadlineTimer(clock, (nowMs) => expireWaiters(ctx, nowMs)),
      checkpoint,
      closed: false,
    };
    this.config = config;
    this.#ctx = ctx;
    this.#fetchers = new ReplicaFetcherManager({
      brokerId: ctx.brokerId,
      brokerEpoch: () => options.deps.brokerEpoch(),
      image: () => options.deps.image(),
      logger,
      metrics: ctx.metrics,
      clock,
      maxWaitMs: config.replicaFetchMaxWaitMs,
      partitionMaxBytes: config.replicaFetchPartitionMaxBytes,
      responseMaxBytes: config.replicaFetchResponseMaxBytes,
      responseTimeoutMs: config.replicaFetchResponseTimeoutMs,
      backoffMs: config.replicaFetchBackoffMs,
      backoffMaxMs: config.replicaFetchBackoffMaxMs,
      transport: options.replicationTransport,
    });
    this.#every(config.isrCheckIntervalMs, () => checkIsr(ctx));
    this.#every(
      config.highWatermarkCheckpointIntervalMs,
      () => void this.checkpointHighWatermarks(),
    );
    this.#producerIds = this.#startProducerState(options);
  }

  /** Idle producer ids expire periodically; InitProducerId needs `deps.allocateProducerIds`. */
  #startProducerState(
    options: ReplicaManagerOptions & ProducerStateSettings,
  ): ProducerIdManager | null {
    const ctx = this.#ctx;
    const settings = resolveProducerStateSettings(options);
    this.#every(settings.producerIdExpirationCheckIntervalMs, () =>
      expireProducers(
        ctx.partitions.values(),
        ctx.clock(),
        settings.producerIdExpirationMs,
        ctx.logger,
      ),
    );
    const allocate = options.deps.allocateProducerIds;
    if (allocate === undefined) return null;
    return new ProducerIdManager(() =>
      allocate({ brokerId: options.deps.brokerId, brokerEpoch: options.deps.brokerEpoch() }),
    );
  }

  #every(intervalMs: number, task: () => void): void {
    const timer = setInterval(task, intervalMs);
    timer.unref();
    this.#intervals.push(timer);
  }

  /** The leader side of replication, for the ReplicationService handlers of the internal server. */
  replicaFetchLeader(): ReplicaFetchLeader {
    const ctx = this.#ctx;
    const streams = this.#streams;
    return {
      get closed() {
        return ctx.closed;
      },
      logger: ctx.logger,
      answer: (query, isOpen, session) => answerReplicaFetch(ctx, query, isOpen, session),
      track: (stream) => {
        streams.add(stream);
        return () => streams.delete(stream);
      },
    };
  }

  /** Leaders this broker fetches from now (tests, health). */
  fetcherSourceIds(): number[] {
    return this.#fetchers.sourceIds;
  }

  /** {@inheritDoc ReplicaManagerApi.produce} */
  produce(
    options: ProduceOptions,
    partitions: readonly ProducePartition[],
  ): Promise<ProducePartitionResult[]> {
    return produce(this.#ctx, options, partitions);
  }

  /** {@inheritDoc ReplicaManagerApi.initProducerId} */
  initProducerId(): Promise<InitProducerIdResult> {
    if (this.#producerIds === null) {
      const error = new ProducerIdsUnavailableError(
        "this broker was built without a controller connection for producer ids",
      );
      return Promise.reject(error);
    }
    return this.#producerIds.initProducerId();
  }

  /** {@inheritDoc ReplicaManagerApi.fetch} */
  fetch(
    options: FetchOptions,
    partitions: readonly FetchPartition[],
  ): Promise<FetchPartitionResult[]> {
    return fetch(this.#ctx, options, partitions);
  }

  /** Earliest = log start, latest = HW, by timestamp = first batch at or after it below the HW. */
  async listOffsets(
    topic: string,
    partition: number,
    spec: OffsetSpec,
  ): Promise<ListOffsetsResult> {
    const ctx = this.#ctx;
    const p = ctx.partitions.get(partitionKey(topic, partition));
    const state = p?.leader ?? null;
    if (p === undefined || state === null) {
      return {
        ...notLeaderError(ctx.deps.image(), topic, partition, ctx.brokerId),
        offset: -1n,
        timestamp: -1n,
        leaderEpoch: -1,
      };
    }
    const ok = { errorCode: 0, errorMessage: "", leaderEpoch: state.leaderEpoch, timestamp: -1n };
    if (spec === "earliest") return { ...ok, offset: p.log.logStartOffset };
    if (spec === "latest") return { ...ok, offset: state.highWatermark };
    try {
      const found = await p.log.offsetForTimestamp(spec.timestamp);
      if (found === undefined || found.offset >= state.highWatermark) return { ...ok, offset: -1n };
      const epoch =
        p.log.epochEntries().findLast((e) => e.startOffset <= found.offset)?.epoch ?? -1;
      return { ...ok, offset: found.offset, timestamp: found.timestamp, leaderEpoch: epoch };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        ...partitionError(ErrorCode.KAFKA_STORAGE_ERROR, message),
        offset: -1n,
        timestamp: -1n,
        leaderEpoch: -1,
      };
    }
  }

  /** Applies deltas one at a time, in call order. */
  applyMetadata(delta: MetadataDelta, image: MetadataImage): Promise<void> {
    return this.#metadata.run(async () => {
      if (this.#ctx.closed) return;
      await applyDelta(this.#ctx, this.#fetchers, delta, image);
    });
  }

  /** {@inheritDoc ReplicaManagerApi.partitionStatuses} */
  partitionStatuses(): readonly PartitionStatus[] {
    return [...this.#ctx.partitions.values()].map((p) => p.status());
  }

  /**
   * The high watermark of a local replica, or undefined when this broker holds none: the log
   * cleaner's bound (it never cleans records a new leader might still truncate).
   */
  highWatermark(topic: string, partition: number): bigint | undefined {
    return this.#ctx.partitions.get(partitionKey(topic, partition))?.highWatermark;
  }

  /** Writes every replica's HW to the data dir's checkpoint (also periodic and on close). */
  checkpointHighWatermarks(): Promise<void> {
    const ctx = this.#ctx;
    const entries = [...ctx.partitions.values()].map((p) => ({
      topic: p.topic,
      partition: p.partition,
      highWatermark: p.highWatermark,
    }));
    this.#checkpointing = this.#checkpointing
      .then(() => writeHighWatermarks(ctx.logManager.dataDir, entries))
      .catch((error: unknown) =>
        ctx.logger.error({ err: error }, "writing the HW checkpoint failed"),
      );
    return this.#checkpointing;
  }

  /** Stops fetchers and streams, answers every waiter, writes the HW checkpoint, closes the logs. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const ctx = this.#ctx;
    await this.#metadata.run(async () => {
      ctx.closed = true;
    });
    for (const timer of this.#intervals) clearInterval(timer);
    ctx.timer.close();
    await this.#fetchers.close();
    for (const p of ctx.partitions.values()) releaseLeaderWaiters(ctx, p);
    for (const call of this.#streams) call.end();
    this.#streams.clear();
    // Let in-flight appends finish before the checkpoint and the logs close.
    await Promise.all([...ctx.partitions.values()].map((p) => p.lock.run(async () => {})));
    await this.checkpointHighWatermarks();
    await ctx.logManager.close();
  }
}
