/**
 * One replication stream from this (follower) broker to one leader broker (Kafka's
 * ReplicaFetcherThread): a loop that builds a ReplicaFetchRequest from every partition's pure
 * `FollowerPartitionState`, sends it on a long-lived bidi stream, and applies each
 * partition's action (append, truncate, HW update, backoff) before sending the next one. The
 * leader long-polls, so an idle stream costs one round trip per `replica.fetch.max.wait.ms`.
 * Requests are incremental (the stream is a KIP-227 fetch session): a partition is sent only
 * when its position changed since the last request on the stream, so an idle partition costs
 * no bytes and no objects per round on either side.
 * On a stream failure every partition is reset and the stream reconnects with a doubling
 * backoff; the leader's address is looked up in the metadata image on every connect.
 */
import type { BrokerId } from "@strand/controller";
import { ErrorCode, errorCodeInfo } from "@strand/protocol";
import type {
  FollowerAction,
  FollowerFetchResponse,
  FollowerPartitionState,
} from "../../core/follower-partition.ts";
import { INTERNAL_LISTENER } from "../options.ts";
import type {
  ReplicaFetchAnswer,
  ReplicaFetchPartitionAnswer,
  ReplicaFetchPartitionQuery,
  ReplicaFetchQuery,
} from "../replica-fetch.ts";
import type {
  FetcherOptions,
  FetcherPartition,
  ReplicaFetchStream,
  ReplicationConnection,
} from "./types.ts";

interface Pending {
  readonly correlationId: string;
  readonly resolve: (response: ReplicaFetchAnswer) => void;
  readonly reject: (error: Error) => void;
}

/** Errors after which the leader may just be behind on metadata: retry after a backoff. */
const RETRY_AFTER_BACKOFF: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER.code,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
  ErrorCode.UNKNOWN_TOPIC_ID.code,
]);

/** The fetch loop towards one leader broker. */
export class ReplicaFetcher {
  /** The leader broker. */
  readonly sourceId: BrokerId;
  readonly #o: FetcherOptions;
  readonly #partitions = new Map<string, FetcherPartition>();
  /** `${topicId}:${partition}` -> partition, to match answers. */
  readonly #byId = new Map<string, FetcherPartition>();
  /** What the leader's session holds for this stream: key -> the position last sent. */
  readonly #session = new Map<string, ReplicaFetchPartitionQuery>();
  /** This round's partitions in the session -> their state (reused round to round). */
  readonly #sent = new Map<string, FollowerPartitionState>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Partitions waiting for metadata that retry anyway at this time. */
  readonly #retryAtMs = new Map<string, number>();
  #connection: ReplicationConnection | null = null;
  #address = "";
  #call: ReplicaFetchStream | null = null;
  #pending: Pending | null = null;
  #correlationId = 0n;
  #failures = 0;
  #wake: (() => void) | null = null;
  #closed = false;
  #loop: Promise<void> = Promise.resolve();

  /** A fetcher for `sourceId`; call start(). */
  constructor(sourceId: BrokerId, options: FetcherOptions) {
    this.sourceId = sourceId;
    this.#o = options;
  }

  /** Partitions fetched. */
  get size(): number {
    return this.#partitions.size;
  }

  /** Starts the loop. */
  start(): void {
    this.#loop = this.#run();
  }

  /** Adds a partition (it is fetched from the next request on). */
  addPartition(partition: FetcherPartition): void {
    const previous = this.#partitions.get(partition.key);
    if (previous !== undefined) this.#byId.delete(idOf(previous));
    this.#partitions.set(partition.key, partition);
    this.#byId.set(idOf(partition), partition);
    this.wake();
  }

  /** Removes a partition; resolves when its in-flight log operation is done. */
  async removePartition(key: string): Promise<void> {
    const previous = this.#partitions.get(key);
    if (previous !== undefined) this.#byId.delete(idOf(previous));
    this.#partitions.delete(key);
    this.#retryAtMs.delete(key);
    await this.#inFlight.get(key);
  }

  /** Ends a wait for work (a partition was added or its leader epoch changed). */
  wake(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Stops the loop and the stream. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#dropStream(new Error("fetcher closed"));
    this.wake();
    await this.#loop;
    this.#connection?.close();
    this.#connection = null;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#cycle();
      } catch (error) {
        if (this.#closed) break;
        this.#failures += 1;
        const backoffMs = Math.min(
          this.#o.backoffMaxMs,
          this.#o.backoffMs * 2 ** Math.min(this.#failures - 1, 16),
        );
        this.#o.logger.warn(
          { leaderId: this.sourceId, err: error, backoffMs, failures: this.#failures },
          "replica fetch stream failed; reconnecting after a backoff",
        );
        this.#dropStream(error instanceof Error ? error : new Error(String(error)));
        await this.#sleep(backoffMs);
      }
    }
  }

  /** One request and its answer, or a wait when no partition is ready. */
  async #cycle(): Promise<void> {
    const built = this.#buildRequest();
    if (built.sent.size === 0 && built.forgotten.length === 0) {
      await this.#sleep(this.#o.backoffMs);
      return;
    }
    try {
      const response = await this.#send(built.entries, built.forgotten);
      if (response.errorCode !== 0) {
        const error = errorCodeInfo(response.errorCode);
        throw new Error(
          `leader ${this.sourceId} refused the fetch: ${error.name} ${response.errorMessage}`,
        );
      }
      this.#failures = 0;
      await this.#handleResponse(built.sent, response);
    } finally {
      // Partitions left "fetching" (no answer, or the stream broke) are ready again.
      for (const state of built.sent.values()) {
        if (state.status === "fetching") state.onLeaderChange(state.leaderId, state.leaderEpoch);
      }
    }
  }

  #buildRequest(): {
    entries: ReplicaFetchPartitionQuery[];
    forgotten: { topic: string; partition: number }[];
    sent: Map<string, FollowerPartitionState>;
  } {
    const nowMs = this.#o.clock();
    const entries: ReplicaFetchPartitionQuery[] = [];
    const sent = this.#sent;
    sent.clear();
    // No stream: the next request opens one, and with it an empty session at the leader.
    if (this.#call === null) this.#session.clear();
    for (const p of this.#partitions.values()) {
      const state = p.follower();
      if (state === null) continue;
      const retryAt = this.#retryAtMs.get(p.key);
      if (retryAt !== undefined && retryAt <= nowMs) {
        this.#retryAtMs.delete(p.key);
        if (state.status === "awaitingMetadata")
          state.onLeaderChange(state.leaderId, state.leaderEpoch);
      }
      if (!state.beginFetch(nowMs)) continue;
      sent.set(p.key, state);
      const known = this.#session.get(p.key);
      if (
        known !== undefined &&
        known.topicId === p.topicId &&
        known.fetchOffset === state.fetchOffset &&
        known.lastFetchedEpoch === state.lastFetchedEpoch &&
        known.currentLeaderEpoch === state.leaderEpoch &&
        known.logStartOffset === state.logStartOffset
      )
        continue;
      const entry = {
        topicId: p.topicId,
        topic: p.topic,
        partition: p.partition,
        fetchOffset: state.fetchOffset,
        lastFetchedEpoch: state.lastFetchedEpoch,
        currentLeaderEpoch: state.leaderEpoch,
        logStartOffset: state.logStartOffset,
        partitionMaxBytes: this.#o.partitionMaxBytes,
      };
      this.#session.set(p.key, entry);
      entries.push(entry);
    }
    // A partition not fetched this round (removed, backing off, awaiting metadata) leaves the
    // session, so the leader stops counting its old position as fetched.
    const forgotten: { topic: string; partition: number }[] = [];
    for (const [key, entry] of this.#session) {
      if (sent.has(key)) continue;
      this.#session.delete(key);
      forgotten.push({ topic: entry.topic, partition: entry.partition });
    }
    return { entries, forgotten, sent };
  }

  #send(
    entries: ReplicaFetchPartitionQuery[],
    forgotten: { topic: string; partition: number }[],
  ): Promise<ReplicaFetchAnswer> {
    const call = this.#ensureStream();
    this.#correlationId += 1n;
    const correlationId = this.#correlationId.toString();
    const query: ReplicaFetchQuery = {
      correlationId,
      replicaId: this.#o.brokerId,
      brokerEpoch: BigInt(this.#o.brokerEpoch()),
      maxWaitMs: this.#o.maxWaitMs,
      minBytes: 1,
      maxBytes: this.#o.responseMaxBytes,
      partitions: entries,
      incremental: true,
      forgotten,
    };
    return new Promise((resolve, reject) => {
      const timeoutMs = this.#o.maxWaitMs + this.#o.responseTimeoutMs;
      const timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      const done =
        <T>(fn: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          this.#pending = null;
          fn(value);
        };
      this.#pending = { correlationId, resolve: done(resolve), reject: done(reject) };
      call.send(query);
    });
  }

  #ensureStream(): ReplicaFetchStream {
    if (this.#call !== null) return this.#call;
    const address = this.#leaderAddress();
    if (this.#connection === null || address !== this.#address) {
      this.#connection?.close();
      this.#connection = this.#o.transport.connect(address, this.#o.responseMaxBytes + 1024 * 1024);
      this.#address = address;
    }
    const call = this.#connection.openStream({
      onAnswer: (answer) => {
        const pending = this.#pending;
        if (pending !== null && pending.correlationId === answer.correlationId)
          pending.resolve(answer);
      },
      onError: (error) => this.#dropStream(error),
      onEnd: () => this.#dropStream(new Error(`leader ${this.sourceId} ended the stream`)),
    });
    this.#call = call;
    return call;
  }

  #leaderAddress(): string {
    const broker = this.#o.image().brokers.get(this.sourceId);
    const listener = broker?.listeners.find((l) => l.name === INTERNAL_LISTENER);
    if (listener === undefined)
      throw new Error(`broker ${this.sourceId} has no ${INTERNAL_LISTENER} listener`);
    return `${listener.host}:${listener.port}`;
  }

  #dropStream(error: Error): void {
    const call = this.#call;
    this.#call = null;
    call?.cancel();
    this.#pending?.reject(error);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      timer.unref();
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #handleResponse(
    sent: Map<string, FollowerPartitionState>,
    response: ReplicaFetchAnswer,
  ): Promise<void> {
    const work: Promise<void>[] = [];
    for (const result of response.partitions) {
      const p = this.#byId.get(`${result.topicId}:${result.partition}`);
      const state = p === undefined ? undefined : sent.get(p.key);
      if (p === undefined || state === undefined || p.follower() !== state) continue;
      const action = state.onFetchResponse(toFollowerResponse(result), this.#o.clock());
      const task = this.#apply(p, state, action, result);
      this.#inFlight.set(p.key, task);
      work.push(
        task.finally(() => {
          if (this.#inFlight.get(p.key) === task) this.#inFlight.delete(p.key);
        }),
      );
    }
    await Promise.all(work);
  }

  async #apply(
    p: FetcherPartition,
    state: FollowerPartitionState,
    action: FollowerAction,
    result: ReplicaFetchPartitionAnswer,
  ): Promise<void> {
    try {
      await this.#applyAction(p, state, action);
      const leaderEnd = result.logEndOffset;
      if (leaderEnd !== undefined && leaderEnd >= 0n) {
        const lag = Math.max(0, Number(leaderEnd - p.log.logEndOffset));
        const metrics = this.#o.metrics;
        metrics?.followerLag.set(p.key, lag);
        if (metrics?.partitionLabels === true)
          metrics.replicationLagOffsets.set(
            { topic: p.topic, partition: String(p.partition) },
            lag,
          );
      }
    } catch (error) {
      this.#o.logger.warn(
        {
          topic: p.topic,
          partition: p.partition,
          leaderId: this.sourceId,
          action: action.kind,
          err: error,
        },
        "applying a replica fetch answer failed; refetching after a backoff",
      );
      p.resetFollower();
      this.#retryAtMs.set(p.key, this.#o.clock() + this.#o.backoffMs);
    }
  }

  async #applyAction(
    p: FetcherPartition,
    state: FollowerPartitionState,
    action: FollowerAction,
  ): Promise<void> {
    const position = () => ({ logEndOffset: p.log.logEndOffset, latestEpoch: p.log.latestEpoch() });
    switch (action.kind) {
      case "append": {
        const bytes = Buffer.isBuffer(action.records)
          ? action.records
          : Buffer.from(action.records);
        const appended = await p.log.append(bytes, {
          assignOffsets: false,
          leaderEpoch: state.leaderEpoch,
        });
        p.onAppended(bytes, appended.firstOffset);
        this.#o.metrics?.replicationInBytesTotal.inc(bytes.length);
        p.onHighWatermark(state.onAppended(position()));
        return;
      }
      case "truncate":
        await p.log.truncateTo(action.offset);
        state.onTruncated(position());
        p.onHighWatermark(state.highWatermark);
        return;
      case "truncateFullyAndStartAt":
        await p.log.truncateFullyAndStartAt(action.offset);
        state.onTruncated({ ...position(), logStartOffset: action.offset });
        p.onHighWatermark(state.highWatermark);
        return;
      case "updateHighWatermark":
        p.onHighWatermark(action.highWatermark);
        return;
      case "awaitMetadata":
        // The leader may only be behind on metadata (Kafka retries these after a backoff);
        // a fenced epoch really waits for new metadata.
        if (RETRY_AFTER_BACKOFF.has(action.error.code)) {
          this.#retryAtMs.set(p.key, this.#o.clock() + this.#o.backoffMs);
        }
        return;
      case "backoff":
      case "stale":
        return;
    }
  }
}

function idOf(p: FetcherPartition): string {
  return `${p.topicId}:${p.partition}`;
}

/** A partition's answer as the pure follower state takes it (absent offsets get defaults). */
function toFollowerResponse(result: ReplicaFetchPartitionAnswer): FollowerFetchResponse {
  return {
    error: errorCodeInfo(result.errorCode),
    highWatermark: result.highWatermark ?? 0n,
    logStartOffset: result.logStartOffset ?? 0n,
    logEndOffset: result.logEndOffset ?? -1n,
    records: result.records ?? Buffer.alloc(0),
    divergingEpoch: result.divergingEpoch ?? null,
  };
}
