/**
 * The metadata cache: brokers (id -> client address) and topics (partitions with leader,
 * leader epoch, replicas, ISR), bootstrapped from any broker. Answers are merged, never
 * regressed: an answer older than the metadata offset already held is ignored, and a
 * partition's leader only moves to an equal or newer leader epoch, so a NOT_LEADER hint
 * applied a moment ago is not undone by a lagging broker's image. Concurrent refreshes of
 * the same topics share one request.
 */

import { assert, type Logger, sleep } from "@strand/base";
import type {
  LeaderHint__Output,
  MetadataResponse__Output,
  TopicMetadata__Output,
} from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import { ConnectionError, errorForCode, StrandClientError, unknownTopicError } from "./errors.ts";
import { type ConnectionPool, unary } from "./grpc.ts";
import { backoffMs, type RetryOptions } from "./retry.ts";

/** One partition as the cache knows it. */
export interface CachedPartition {
  /** The partition number. */
  readonly partition: number;
  /** The leader's broker id, or -1 when none. */
  leaderId: number;
  /** The leader epoch. */
  leaderEpoch: number;
  /** Assigned replicas, preferred leader first. */
  readonly replicas: readonly number[];
  /** In-sync replicas. */
  readonly isr: readonly number[];
  /** Assigned replicas that are fenced or unregistered. */
  readonly offlineReplicas: readonly number[];
}

/** One topic as the cache knows it. */
export interface CachedTopic {
  /** The topic name. */
  readonly name: string;
  /** The topic id. */
  readonly topicId: string;
  /** Partitions by number (index = partition). */
  readonly partitions: CachedPartition[];
}

/** A partition's leader and its client address. */
export interface LeaderInfo {
  /** The leader's broker id. */
  readonly leaderId: number;
  /** The leader epoch. */
  readonly leaderEpoch: number;
  /** The leader's client address (host:port). */
  readonly address: string;
}

/** What the cache needs. */
export interface MetadataCacheOptions {
  /** Bootstrap addresses (host:port). */
  readonly bootstrap: readonly string[];
  /** Where connections come from. */
  readonly pool: ConnectionPool;
  /** The deadline of one Metadata call, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** How long ensureTopic waits for a topic this client just created, in milliseconds. */
  readonly topicWaitMs: number;
  /** Backoff while waiting. */
  readonly retry: RetryOptions;
  /** Random in [0, 1), for jitter and broker choice. */
  readonly random: () => number;
  /** Log sink. */
  readonly logger: Logger;
}

/** Cluster metadata as the client last learned it. */
export class MetadataCache {
  readonly #options: MetadataCacheOptions;
  readonly #brokers = new Map<number, string>();
  readonly #topics = new Map<string, CachedTopic>();
  readonly #refreshing = new Map<string, Promise<void>>();
  readonly #ensuring = new Map<string, Promise<CachedTopic>>();
  /** Topics this client created: name -> until when (Date.now ms) they may be propagating. */
  readonly #created = new Map<string, number>();
  #offset = -1n;
  #controllerId = -1;

  constructor(options: MetadataCacheOptions) {
    assert(options.bootstrap.length > 0, "at least one bootstrap broker");
    this.#options = options;
  }

  /** The live brokers: id -> client address. */
  get brokers(): ReadonlyMap<number, string> {
    return this.#brokers;
  }

  /** The active controller's id, or -1. */
  get controllerId(): number {
    return this.#controllerId;
  }

  /** The cached topic, if any. */
  topic(name: string): CachedTopic | undefined {
    return this.#topics.get(name);
  }

  /** The partition's leader with its address, or null when unknown. */
  leader(topic: string, partition: number): LeaderInfo | null {
    const p = this.#topics.get(topic)?.partitions[partition];
    if (p === undefined || p.leaderId < 0) return null;
    const address = this.#brokers.get(p.leaderId);
    return address === undefined
      ? null
      : { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, address };
  }

  /**
   * Applies a NOT_LEADER_OR_FOLLOWER leader hint. True when the cache now names a leader at
   * the hinted address (the caller retries there at once); false when the hint is empty or
   * older than what the cache holds.
   */
  applyHint(topic: string, partition: number, hint: LeaderHint__Output | null): boolean {
    if (hint === null || hint.leaderId < 0 || hint.host === "" || hint.port <= 0) return false;
    const p = this.#topics.get(topic)?.partitions[partition];
    if (p === undefined || hint.leaderEpoch < p.leaderEpoch) return false;
    const address = `${hint.host}:${hint.port}`;
    const changed = p.leaderId !== hint.leaderId || this.#brokers.get(hint.leaderId) !== address;
    p.leaderId = hint.leaderId;
    p.leaderEpoch = hint.leaderEpoch;
    this.#brokers.set(hint.leaderId, address);
    if (changed)
      this.#options.logger.info(
        { topic, partition, leaderId: hint.leaderId, leaderEpoch: hint.leaderEpoch },
        "leader moved (hint)",
      );
    return true;
  }

  /** Forgets a partition's leader so the next use refreshes metadata. */
  invalidateLeader(topic: string, partition: number): void {
    const p = this.#topics.get(topic)?.partitions[partition];
    if (p !== undefined) p.leaderId = -1;
  }

  /** Refreshes `topics` (every topic when null); concurrent calls share one request. */
  refresh(topics: readonly string[] | null, signal?: AbortSignal): Promise<void> {
    const key = topics === null ? "\u0000all" : [...new Set(topics)].sort().join("\u0000");
    let pending = this.#refreshing.get(key);
    if (pending === undefined) {
      pending = this.#fetchAndApply(topics, signal).finally(() => this.#refreshing.delete(key));
      this.#refreshing.set(key, pending);
    }
    return pending;
  }

  async #fetchAndApply(topics: readonly string[] | null, signal?: AbortSignal): Promise<void> {
    const response = await this.request(topics, signal);
    this.apply(response);
  }

  /**
   * Refreshes `topics` asking brokers not in `avoid` first, each with a deadline of
   * `timeoutMs`. For the producer's leader probe: the broker a request hangs on is likely
   * the one that would hang this question too, and a shared refresh could be stuck on it for
   * a whole request timeout.
   */
  async probe(
    topics: readonly string[],
    avoid: ReadonlySet<string>,
    timeoutMs: number,
  ): Promise<void> {
    this.apply(await this.request(topics, undefined, { avoid, timeoutMs }));
  }

  /**
   * Asks brokers in turn (known ones first, then bootstrap) until one answers; addresses in
   * `avoid` go last, and `timeoutMs` overrides the request timeout of each call.
   */
  async request(
    topics: readonly string[] | null,
    signal?: AbortSignal,
    how: { readonly avoid?: ReadonlySet<string>; readonly timeoutMs?: number } = {},
  ): Promise<MetadataResponse__Output> {
    const all = this.#candidates();
    const avoid = how.avoid ?? new Set<string>();
    const candidates = [...all.filter((a) => !avoid.has(a)), ...all.filter((a) => avoid.has(a))];
    const timeoutMs = how.timeoutMs ?? this.#options.requestTimeoutMs;
    let last: unknown = null;
    for (const address of candidates) {
      const connection = this.#options.pool.get(address);
      try {
        return await unary<MetadataResponse__Output>(
          (o, cb) =>
            connection.metadata.Metadata(
              topics === null ? { allTopics: true } : { topics: [...topics] },
              o,
              cb,
            ),
          { address, method: "Metadata", timeoutMs, signal },
        );
      } catch (error) {
        if (error instanceof StrandClientError && !error.retriable) throw error;
        last = error;
        this.#options.logger.debug({ broker: address, err: String(error) }, "metadata failed");
      }
    }
    throw new ConnectionError(
      `no broker answered Metadata (tried ${candidates.join(", ")}); check the brokers are up and the addresses are right`,
      { code: { code: 13, name: "NETWORK_EXCEPTION" }, retriable: true, cause: last },
    );
  }

  #candidates(): string[] {
    const known = [...new Set(this.#brokers.values())];
    // Start at a random known broker so clients spread their metadata load.
    const start = known.length === 0 ? 0 : Math.floor(this.#options.random() * known.length);
    const rotated = [...known.slice(start), ...known.slice(0, start)];
    const all = [...rotated, ...this.#options.bootstrap.filter((b) => !rotated.includes(b))];
    return all.slice(0, 64);
  }

  /** Merges a Metadata answer (see the module comment). */
  apply(response: MetadataResponse__Output): void {
    const offset = BigInt(response.metadataOffset);
    if (offset < this.#offset) return;
    this.#offset = offset;
    this.#controllerId = response.controllerId;
    if (response.brokers.length > 0) {
      this.#brokers.clear();
      for (const b of response.brokers) this.#brokers.set(b.brokerId, `${b.host}:${b.port}`);
    }
    for (const t of response.topics) this.#applyTopic(t);
  }

  #applyTopic(t: TopicMetadata__Output): void {
    if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code) {
      this.#topics.delete(t.name);
      return;
    }
    if (t.errorCode !== 0) return;
    const old = this.#topics.get(t.name);
    const sameTopic = old !== undefined && old.topicId === t.topicId;
    const partitions = [...t.partitions]
      .sort((a, b) => a.partition - b.partition)
      .map((p, index): CachedPartition => {
        assert(p.partition === index, `${t.name} partitions must be numbered from 0`);
        const before = sameTopic ? old.partitions[index] : undefined;
        const keepOld = before !== undefined && before.leaderEpoch > p.leaderEpoch;
        return {
          partition: p.partition,
          leaderId: keepOld ? before.leaderId : p.leaderId,
          leaderEpoch: keepOld ? before.leaderEpoch : p.leaderEpoch,
          replicas: [...p.replicas],
          isr: [...p.isr],
          offlineReplicas: [...p.offlineReplicas],
        };
      });
    this.#topics.set(t.name, { name: t.name, topicId: t.topicId, partitions });
  }

  /**
   * Notes that this client created `names`: ensureTopic waits up to `topicWaitMs` for them
   * to reach the broker it asks, instead of failing fast.
   */
  expectTopics(names: readonly string[]): void {
    const until = Date.now() + this.#options.topicWaitMs;
    for (const name of names) this.#created.set(name, until);
    for (const [name, at] of this.#created) if (at < Date.now()) this.#created.delete(name);
  }

  /**
   * The topic's metadata, refreshed when not cached. A topic that does not exist fails with
   * a non-retriable UnknownTopicError after the lookup and one refresh (a broker may lag a
   * create by a moment), as Kafka clients do; a topic this client created (expectTopics) is
   * waited for with backoff for `topicWaitMs`.
   */
  ensureTopic(name: string, signal?: AbortSignal): Promise<CachedTopic> {
    const cached = this.#topics.get(name);
    if (cached !== undefined && cached.partitions.length > 0) return Promise.resolve(cached);
    // Concurrent callers share one lookup, so their continuations run in call order.
    let pending = this.#ensuring.get(name);
    if (pending === undefined) {
      pending = this.#lookUpTopic(name, signal).finally(() => this.#ensuring.delete(name));
      this.#ensuring.set(name, pending);
    }
    return pending;
  }

  async #lookUpTopic(name: string, signal?: AbortSignal): Promise<CachedTopic> {
    const deadline = Date.now() + this.#options.topicWaitMs;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const cached = this.#topics.get(name);
      if (cached !== undefined && cached.partitions.length > 0) return cached;
      const response = await this.request([name], signal);
      this.apply(response);
      const t = response.topics.find((x) => x.name === name);
      if (t !== undefined && t.errorCode !== 0 && t.errorCode !== 3)
        throw errorForCode(t.errorCode, t.errorMessage, { topic: name });
      const found = this.#topics.get(name);
      if (found !== undefined && found.partitions.length > 0) return found;
      if (attempt >= 1 && (this.#created.get(name) ?? 0) < Date.now()) break;
      const wait = backoffMs(attempt, this.#options.retry, this.#options.random);
      if (Date.now() + wait > deadline) break;
      await sleep(wait, signal);
    }
    throw unknownTopicError(name);
  }
}
