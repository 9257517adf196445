/**
 * The group coordinator shell (docs/consumer-groups.md): it owns the pure group state of every
 * `__consumer_offsets` partition this broker leads, loads a partition's groups from its log on
 * becoming its leader (answering COORDINATOR_LOAD_IN_PROGRESS meanwhile) and drops them when
 * leadership moves, runs every request through the pure handlers under the partition's lock,
 * appends the records with acks=all and replays them only once they are committed, and fires
 * the member timers. A group lives on partition murmur2(groupId) mod n (Kafka's murmur2, as
 * the default partitioner: packages/protocol murmur2.ts).
 */
import { randomUUID } from "node:crypto";
import { Mutex } from "@strand/base";
import type { MetadataImage } from "@strand/controller";
import { ErrorCode, encodeRecordBatch, partitionForKey } from "@strand/protocol";
import { encodeGroupRecord } from "../core/groups/codec.ts";
import { expireGroups, onTimer, onTopicsChanged } from "../core/groups/maintenance.ts";
import type { GroupRecord } from "../core/groups/records.ts";
import { emptyGroupsState, type GroupsState, replayAll } from "../core/groups/state.ts";
import type { TopicsMetadata } from "../core/groups/topics.ts";
import type { GroupResult, TimerChange } from "../core/groups/types.ts";
import { refreshLagMetrics } from "./lag.ts";
import { LoadAbandoned, loadOffsetsPartition } from "./load.ts";
import { refreshGroupGauges } from "./metrics.ts";
import {
  CoordinatorError,
  type CoordinatorHintInfo,
  type GroupCoordinatorOptions,
  type GroupEdge,
  NO_HINT,
  OFFSETS_TOPIC,
} from "./types.ts";

/** The groups of one offsets partition this broker leads. */
export class OffsetsPartition {
  readonly index: number;
  readonly leaderEpoch: number;
  readonly state: GroupsState = emptyGroupsState();
  readonly lock = new Mutex();
  readonly timers = new Map<string, number>();
  loaded = false;
  dropped = false;

  constructor(index: number, leaderEpoch: number) {
    this.index = index;
    this.leaderEpoch = leaderEpoch;
  }
}

/** Pause before a failed or abandoned load is tried again. */
const LOAD_RETRY_MS = 200;

const topicsCache = new WeakMap<MetadataImage, TopicsMetadata>();

/** Topic name -> partition count of an image (cached per image). */
export function topicsOf(image: MetadataImage): TopicsMetadata {
  let topics = topicsCache.get(image);
  if (topics === undefined) {
    topics = new Map([...image.topicsByName].map(([name, t]) => [name, t.partitions.size]));
    topicsCache.set(image, topics);
  }
  return topics;
}

/** The client address of broker `id`. */
export function hintFor(image: MetadataImage, id: number | null): CoordinatorHintInfo {
  if (id === null) return NO_HINT;
  const broker = [...image.brokers.values()].find((b) => b.id === id);
  const l = broker?.listeners.find((x) => x.name === "client");
  return { nodeId: id, host: l?.host ?? "", port: l?.port ?? 0 };
}

/** See the module comment. */
export class GroupCoordinator {
  readonly options: GroupCoordinatorOptions;
  readonly #partitions = new Map<number, OffsetsPartition>();
  readonly #clock: () => number;
  readonly #newMemberId: () => string;
  #creating: Promise<void> | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #lastTopics: TopicsMetadata | null = null;
  #lastLagRefresh = 0;
  #lastMaintenance = 0;
  #closed = false;
  #edge: GroupEdge | null;
  #ticking = false;
  #refreshingLag = false;

  constructor(options: GroupCoordinatorOptions) {
    this.options = options;
    this.#edge = options.edge ?? null;
    this.#clock = options.clock ?? Date.now;
    this.#newMemberId = options.newMemberId ?? (() => randomUUID());
  }

  /** Binds the cluster lookups (the gRPC edge is built after the coordinator). */
  bindEdge(edge: GroupEdge): void {
    this.#edge = edge;
  }

  /** The cluster lookups; throws before {@link bindEdge}. */
  get edge(): GroupEdge {
    if (this.#edge === null)
      throw new CoordinatorError(
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        "the group coordinator is starting",
      );
    return this.#edge;
  }

  /** Starts the timer loop. */
  start(): void {
    const tickMs = this.options.tickMs ?? 100;
    this.#timer = setInterval(() => void this.tick(), tickMs);
    this.#timer.unref();
  }

  /** Stops timers and drops every partition. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const p of this.#partitions.values()) this.#drop(p);
  }

  get now(): number {
    return this.#clock();
  }

  /** A fresh member id. */
  newMemberId(): string {
    return this.#newMemberId();
  }

  /** Loaded partitions (tests, ListGroups). */
  get partitions(): readonly OffsetsPartition[] {
    return [...this.#partitions.values()].filter((p) => p.loaded && !p.dropped);
  }

  /** Topic metadata of the current image. */
  topics(): TopicsMetadata {
    return topicsOf(this.options.image());
  }

  /**
   * The metadata image moved: load the offsets partitions this broker now leads (or leads at a
   * new epoch), drop those it no longer leads.
   */
  onMetadata(): void {
    if (this.#closed) return;
    const led = new Map<number, number>();
    for (const s of this.options.replicas.partitionStatuses())
      if (s.topic === OFFSETS_TOPIC && s.role === "leader") led.set(s.partition, s.leaderEpoch);
    for (const p of [...this.#partitions.values()])
      if (led.get(p.index) !== p.leaderEpoch) this.#drop(p);
    for (const [index, epoch] of led)
      if (!this.#partitions.has(index)) this.#startLoad(index, epoch);
  }

  #drop(p: OffsetsPartition): void {
    p.dropped = true;
    p.timers.clear();
    if (this.#partitions.get(p.index) === p) this.#partitions.delete(p.index);
    const metrics = this.options.metrics;
    if (metrics !== undefined)
      for (const groupId of p.state.groups.keys()) refreshGroupGauges(metrics, groupId, undefined);
    this.options.logger.info(
      { partition: p.index },
      "stopped coordinating the groups of an offsets partition",
    );
  }

  #startLoad(index: number, epoch: number): void {
    const p = new OffsetsPartition(index, epoch);
    this.#partitions.set(index, p);
    const started = this.#clock();
    void p.lock
      .run(() =>
        loadOffsetsPartition(
          this.options.replicas,
          index,
          (r) => replayAll(p.state, [r]),
          () => p.dropped || this.#closed,
          this.options.logger,
        ),
      )
      .then((records) => {
        if (p.dropped) return;
        this.#armAfterLoad(p);
        p.loaded = true;
        const seconds = (this.#clock() - started) / 1000;
        this.options.metrics?.loadDurationSeconds.observe(seconds);
        const metrics = this.options.metrics;
        if (metrics !== undefined)
          for (const [id, g] of p.state.groups) refreshGroupGauges(metrics, id, g);
        this.options.logger.info(
          { partition: index, leaderEpoch: epoch, records, groups: p.state.groups.size, seconds },
          "loaded the groups of an offsets partition",
        );
      })
      .catch((error: unknown) => {
        if (error instanceof LoadAbandoned || p.dropped) {
          if (this.#partitions.get(index) === p) this.#partitions.delete(index);
          // Still the leader (a read failed while it was taking over)? Try again shortly,
          // not in a tight loop.
          setTimeout(() => this.onMetadata(), LOAD_RETRY_MS).unref();
          return;
        }
        this.options.logger.error(
          { partition: index, err: String(error) },
          "loading an offsets partition failed; retrying",
        );
        if (this.#partitions.get(index) === p) this.#partitions.delete(index);
        setTimeout(() => this.onMetadata(), LOAD_RETRY_MS * 5).unref();
      });
  }

  /** After a load nobody has heartbeated yet: every member gets a full session (and revocation) timeout. */
  #armAfterLoad(p: OffsetsPartition): void {
    const now = this.#clock();
    for (const g of p.state.groups.values())
      for (const [memberId, m] of g.members) {
        p.timers.set(
          `session\u0000${g.groupId}\u0000${memberId}`,
          now + this.options.config.sessionTimeoutMs,
        );
        if ((g.current.get(memberId)?.pendingRevocation.size ?? 0) > 0)
          p.timers.set(`revocation\u0000${g.groupId}\u0000${memberId}`, now + m.rebalanceTimeoutMs);
      }
  }

  /** The offsets partition of a group, or null while the offsets topic does not exist. */
  partitionOf(groupId: string, image: MetadataImage = this.options.image()): number | null {
    const topic = image.topicsByName.get(OFFSETS_TOPIC);
    if (topic === undefined || topic.partitions.size === 0) return null;
    return partitionForKey(Buffer.from(groupId, "utf8"), topic.partitions.size);
  }

  /** Where a group's coordinator is; creates the offsets topic on first use. */
  find(groupId: string): { error: CoordinatorError | null; hint: CoordinatorHintInfo } {
    const image = this.options.image();
    const index = this.partitionOf(groupId, image);
    if (index === null) {
      this.#ensureTopic();
      return {
        error: new CoordinatorError(
          ErrorCode.COORDINATOR_NOT_AVAILABLE,
          `the offsets topic ${OFFSETS_TOPIC} is being created; retry`,
        ),
        hint: NO_HINT,
      };
    }
    const leader = image.topicsByName.get(OFFSETS_TOPIC)?.partitions.get(index)?.leader ?? null;
    if (leader === null)
      return {
        error: new CoordinatorError(
          ErrorCode.COORDINATOR_NOT_AVAILABLE,
          `${OFFSETS_TOPIC}-${index} has no leader; retry`,
        ),
        hint: NO_HINT,
      };
    return { error: null, hint: hintFor(image, leader) };
  }

  #ensureTopic(): void {
    if (this.#creating !== null || this.#closed) return;
    this.#creating = Promise.resolve()
      .then(() => this.edge.createOffsetsTopic(this.options.offsetsTopic))
      .catch((error: unknown) =>
        this.options.logger.warn(
          { err: String(error) },
          `creating ${OFFSETS_TOPIC} failed; retrying on the next request`,
        ),
      )
      .finally(() => {
        this.#creating = null;
      });
  }

  /** The loaded partition coordinating `groupId`, or a CoordinatorError to answer. */
  route(groupId: string): OffsetsPartition {
    const image = this.options.image();
    const { error, hint } = this.find(groupId);
    if (error !== null) throw error;
    const index = this.partitionOf(groupId, image) ?? -1;
    if (hint.nodeId !== this.options.brokerId)
      throw new CoordinatorError(
        ErrorCode.NOT_COORDINATOR,
        `broker ${this.options.brokerId} does not coordinate group ${groupId}; broker ${hint.nodeId} does`,
        hint,
      );
    const p = this.#partitions.get(index);
    if (p === undefined || !p.loaded || p.dropped)
      throw new CoordinatorError(
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        `broker ${this.options.brokerId} is loading the groups of ${OFFSETS_TOPIC}-${index}; retry`,
        hint,
      );
    return p;
  }

  /**
   * Runs `compute` on the group's partition under its lock: the records are appended (acks=all)
   * and replayed only once committed; on a failed append the partition is reloaded, because the
   * records may still commit later and the in-memory state must follow the log.
   */
  async run<R>(
    groupId: string,
    compute: (state: GroupsState, topics: TopicsMetadata, nowMs: number) => GroupResult<R>,
  ): Promise<R> {
    const p = this.route(groupId);
    return this.#runOn(p, compute);
  }

  async #runOn<R>(
    p: OffsetsPartition,
    compute: (state: GroupsState, topics: TopicsMetadata, nowMs: number) => GroupResult<R>,
  ): Promise<R> {
    return p.lock.run(async () => {
      if (p.dropped || !p.loaded)
        throw new CoordinatorError(
          ErrorCode.NOT_COORDINATOR,
          `broker ${this.options.brokerId} stopped coordinating ${OFFSETS_TOPIC}-${p.index}`,
        );
      const result = compute(p.state, this.topics(), this.#clock());
      if (result.records.length > 0) {
        await this.#append(p, result.records);
        replayAll(p.state, result.records);
        this.#afterWrite(p, result.records);
      }
      applyTimers(p, result.timers);
      return result.response;
    });
  }

  async #append(p: OffsetsPartition, records: readonly GroupRecord[]): Promise<void> {
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(this.#clock()),
      records: records.map((r) => {
        const e = encodeGroupRecord(r);
        return { key: e.key, value: e.value };
      }),
    });
    const [res] = await this.options.replicas.produce(
      { acks: "all", timeoutMs: this.options.appendTimeoutMs },
      [{ topic: OFFSETS_TOPIC, partition: p.index, records: batch }],
    );
    if (res !== undefined && res.errorCode === 0) return;
    const code = res?.errorCode ?? -1;
    const message = res?.errorMessage ?? "no result";
    this.options.logger.warn(
      { partition: p.index, errorCode: code, errorMessage: message },
      "a group write failed; reloading the offsets partition",
    );
    this.#drop(p);
    this.onMetadata();
    throw code === ErrorCode.NOT_LEADER_OR_FOLLOWER.code
      ? new CoordinatorError(
          ErrorCode.NOT_COORDINATOR,
          `${OFFSETS_TOPIC}-${p.index} moved: ${message}`,
          this.#leaderHint(p.index),
        )
      : new CoordinatorError(
          ErrorCode.COORDINATOR_NOT_AVAILABLE,
          `writing to ${OFFSETS_TOPIC}-${p.index} failed (${message}); retry`,
        );
  }

  #leaderHint(index: number): CoordinatorHintInfo {
    const image = this.options.image();
    return hintFor(
      image,
      image.topicsByName.get(OFFSETS_TOPIC)?.partitions.get(index)?.leader ?? null,
    );
  }

  #afterWrite(p: OffsetsPartition, records: readonly GroupRecord[]): void {
    const metrics = this.options.metrics;
    if (metrics === undefined) return;
    const touched = new Set<string>();
    for (const r of records) {
      touched.add(r.groupId);
      if (r.type === "groupMetadata" && r.epoch > 0)
        metrics.rebalancesTotal.inc({ group: r.groupId });
    }
    for (const id of touched) refreshGroupGauges(metrics, id, p.state.groups.get(id));
  }

  /** Fires due timers, and now and then expires groups and follows topic changes. */
  async tick(): Promise<void> {
    if (this.#closed || this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#tick();
    } finally {
      this.#ticking = false;
    }
  }

  async #tick(): Promise<void> {
    const now = this.#clock();
    for (const p of this.partitions) {
      const due = [...p.timers].filter(([, d]) => d <= now).sort((a, b) => a[1] - b[1]);
      for (const [key] of due) {
        p.timers.delete(key);
        await this.#runOn(p, (state, topics, nowMs) => onTimer(state, key, topics, nowMs)).catch(
          (error: unknown) =>
            this.options.logger.warn(
              { key: key.replaceAll("\u0000", "/"), err: String(error) },
              "a group timer failed",
            ),
        );
      }
    }
    await this.#maintain(now);
  }

  async #maintain(now: number): Promise<void> {
    const topics = this.topics();
    const topicsMoved = this.#lastTopics !== topics;
    this.#maybeRefreshLag(now);
    if (!topicsMoved && now - this.#lastMaintenance < 30_000) return;
    this.#lastTopics = topics;
    this.#lastMaintenance = now;
    for (const p of this.partitions) {
      await this.#runOn(p, (state, t, nowMs) => ({
        records: [
          ...onTopicsChanged(state, t, nowMs),
          ...expireGroups(state, this.options.config, nowMs),
        ],
        timers: [],
        response: null,
      })).catch((error: unknown) =>
        this.options.logger.warn(
          { partition: p.index, err: String(error) },
          "group maintenance failed",
        ),
      );
    }
  }

  /** Lag lookups go to other brokers: they run beside the timer loop, never inside it. */
  #maybeRefreshLag(now: number): void {
    const every = this.options.lagRefreshMs ?? 10_000;
    const metrics = this.options.metrics;
    if (
      every <= 0 ||
      this.#refreshingLag ||
      now - this.#lastLagRefresh < every ||
      metrics === undefined
    )
      return;
    this.#lastLagRefresh = now;
    this.#refreshingLag = true;
    void refreshLagMetrics(this, metrics)
      .catch((error: unknown) =>
        this.options.logger.warn({ err: String(error) }, "refreshing group lag metrics failed"),
      )
      .finally(() => {
        this.#refreshingLag = false;
      });
  }
}

function applyTimers(p: OffsetsPartition, timers: readonly TimerChange[]): void {
  if (p.dropped) return;
  for (const t of timers) {
    if (t.kind === "schedule") p.timers.set(t.key, t.deadlineMs);
    else p.timers.delete(t.key);
  }
}
