/**
 * Role changes from committed metadata (Kafka's `ReplicaManager.applyDelta`): `localChanges`
 * says which partitions this broker now leads, follows or must delete. Becoming leader:
 * stop fetching, record the new epoch in the log (`assignLeaderEpoch`), start a
 * `LeaderPartitionState` from the image's ISR and epochs with HW = min(log end, checkpointed
 * HW). Becoming follower: answer the leader's waiters, start a `FollowerPartitionState` and
 * hand it to the fetcher of the new leader. A new partition epoch under the same leader epoch
 * only updates the ISR.
 */

import { AssertionFailure, forEachConcurrently } from "@strand/base";
import {
  type BrokerId,
  localChanges,
  type MetadataDelta,
  type MetadataImage,
  type PartitionRegistration,
} from "@strand/controller";
import type { Log } from "@strand/storage";
import { FollowerPartitionState } from "../core/follower-partition.ts";
import { LeaderPartitionState } from "../core/leader-partition.ts";
import type { ReplicationConfig } from "../core/types.ts";
import { idKey, type ReplicaContext } from "./context.ts";
import { onHighWatermarkAdvanced, releaseLeaderWaiters } from "./events.ts";
import type { ReplicaFetcherManager } from "./follower/fetcher-manager.ts";
import type { FetcherPartition } from "./follower/types.ts";
import { updateGauges } from "./leader/isr.ts";
import { Partition, partitionKey } from "./partition.ts";
import { topicIntConfig, topicLogOverrides, topicsWithChangedConfigs } from "./topic-config.ts";

/**
 * Role changes in flight at once: enough to keep the libuv thread pool (4 threads) and the
 * disk's journal busy with the fsyncs of new logs, few enough that one delta cannot flood
 * the pool ahead of produce and fetch I/O.
 */
const ROLE_CHANGE_CONCURRENCY = 16;

/** Applies one committed delta to the local replicas. */
export async function applyDelta(
  ctx: ReplicaContext,
  fetchers: ReplicaFetcherManager,
  delta: MetadataDelta,
  image: MetadataImage,
): Promise<void> {
  const changes = localChanges(delta, image, ctx.brokerId);
  const guarded = async (reg: PartitionRegistration, step: () => Promise<void>) => {
    try {
      await step();
      // Back to the event loop between changes: a delta of thousands of role changes must not
      // hold Raft heartbeats, votes and fetch answers behind a run of microtasks.
      await yieldToEventLoop();
    } catch (error) {
      // A log that went offline or refused the epoch: this replica stays as it was; the
      // others still apply. Broken invariants (AssertionFailure) propagate.
      if (error instanceof AssertionFailure) throw error;
      ctx.logger.error(
        { topicId: reg.topicId, partition: reg.partition, err: error },
        "role change failed",
      );
    }
  };
  // Partitions are independent (each change holds its partition's lock), and a change is
  // mostly fsyncs of its own files: run them side by side. Deletions first, so a same-named
  // replica of a deleted topic id is gone before its successor is created.
  await forEachConcurrently(changes.deleted, ROLE_CHANGE_CONCURRENCY, (reg) =>
    guarded(reg, () => deleteReplica(ctx, fetchers, reg)),
  );
  await forEachConcurrently(changes.leaders, ROLE_CHANGE_CONCURRENCY, (reg) =>
    guarded(reg, () => becomeLeader(ctx, fetchers, image, reg)),
  );
  await forEachConcurrently(changes.followers, ROLE_CHANGE_CONCURRENCY, (reg) =>
    guarded(reg, () => becomeFollower(ctx, fetchers, image, reg)),
  );
  await applyConfigChanges(ctx, delta, image);
  updateGauges(ctx);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function deleteReplica(
  ctx: ReplicaContext,
  fetchers: ReplicaFetcherManager,
  reg: PartitionRegistration,
): Promise<void> {
  const p = ctx.partitionsById.get(idKey(reg.topicId, reg.partition));
  if (p === undefined) return;
  await fetchers.removePartition(p.key);
  await p.lock.run(async () => {
    if (p.leader !== null) releaseLeaderWaiters(ctx, p);
    ctx.partitions.delete(p.key);
    ctx.partitionsById.delete(idKey(p.topicId, p.partition));
    forgetFollowerLag(ctx, p);
    await ctx.logManager.deleteLog(p.topic, p.partition);
    ctx.logger.info({ topic: p.topic, partition: p.partition }, "deleted replica");
  });
}

/** The local replica of `reg`, creating its log; a same-named replica of another topic id goes. */
async function replicaOf(
  ctx: ReplicaContext,
  fetchers: ReplicaFetcherManager,
  image: MetadataImage,
  reg: PartitionRegistration,
): Promise<Partition | null> {
  const topic = image.topicsById.get(reg.topicId)?.name;
  if (topic === undefined) return null;
  const key = partitionKey(topic, reg.partition);
  const existing = ctx.partitions.get(key);
  if (existing !== undefined && existing.topicId === reg.topicId) return existing;
  if (existing !== undefined) {
    await deleteReplica(ctx, fetchers, { ...reg, topicId: existing.topicId });
  }
  const overrides = logOverrides(ctx, image, topic);
  const log = await ctx.logManager.getOrCreateLog(topic, reg.partition, overrides);
  // A log found on disk at startup was opened with the node defaults only.
  await ctx.logManager.reconfigureLog(log, overrides);
  const p = new Partition({
    topic,
    partition: reg.partition,
    topicId: reg.topicId,
    log,
    role: { kind: "follower", state: null },
    leaderEpoch: reg.leaderEpoch,
    partitionEpoch: reg.partitionEpoch,
    logger: ctx.logger,
  });
  const checkpoint = await ctx.checkpoint;
  p.followerHighWatermark = checkpoint.get(key) ?? 0n;
  ctx.partitions.set(key, p);
  ctx.partitionsById.set(idKey(reg.topicId, reg.partition), p);
  return p;
}

function logOverrides(ctx: ReplicaContext, image: MetadataImage, topic: string) {
  const overrides = topicLogOverrides(image, topic);
  return { ...overrides, maxMessageBytes: overrides.maxMessageBytes ?? ctx.config.messageMaxBytes };
}

/**
 * Re-applies the settings of topics whose config (or the cluster default) the delta changed
 * to their local replicas, leaders and followers alike, without a restart: the log settings
 * to the log, min.insync.replicas to the leader state.
 */
async function applyConfigChanges(
  ctx: ReplicaContext,
  delta: MetadataDelta,
  image: MetadataImage,
): Promise<void> {
  const changed = topicsWithChangedConfigs(delta);
  if (changed !== "all" && changed.size === 0) return;
  for (const p of ctx.partitions.values()) {
    if (changed !== "all" && !changed.has(p.topic)) continue;
    try {
      await ctx.logManager.reconfigureLog(p.log, logOverrides(ctx, image, p.topic));
      const minIsr = replicationConfig(ctx, image, p.topic).minInsyncReplicas;
      if (p.leader?.setMinInsyncReplicas(minIsr)) onHighWatermarkAdvanced(ctx, p);
    } catch (error) {
      if (error instanceof AssertionFailure) throw error;
      // The log is offline or refused a value: it keeps its old settings, others still apply.
      ctx.logger.error(
        { topic: p.topic, partition: p.partition, err: error },
        "applying topic config failed",
      );
    }
  }
}

function replicationConfig(
  ctx: ReplicaContext,
  image: MetadataImage,
  topic: string,
): ReplicationConfig {
  return {
    replicaLagTimeMaxMs: ctx.config.replicaLagTimeMaxMs,
    minInsyncReplicas:
      topicIntConfig(image, topic, "min.insync.replicas") ?? ctx.config.minInsyncReplicas,
    replicaFetchBackoffMs: ctx.config.replicaFetchBackoffMs,
  };
}

function clampHighWatermark(hw: bigint, log: Log): bigint {
  const end = log.logEndOffset;
  const start = log.logStartOffset;
  let capped = hw < end ? hw : end;
  if (capped < start) capped = start;
  return capped;
}

async function becomeLeader(
  ctx: ReplicaContext,
  fetchers: ReplicaFetcherManager,
  image: MetadataImage,
  reg: PartitionRegistration,
): Promise<void> {
  const p = await replicaOf(ctx, fetchers, image, reg);
  if (p === null) return;
  const knownIsr = p.isr;
  p.replicas = reg.replicas;
  p.isr = reg.isr;
  const current = p.leader;
  if (current !== null && current.leaderEpoch === reg.leaderEpoch) {
    const advanced = current.onPartitionUpdate(reg);
    p.partitionEpoch = current.partitionEpoch;
    if (advanced) onHighWatermarkAdvanced(ctx, p);
    return;
  }
  if (
    !reg.isr.includes(ctx.brokerId) ||
    (current !== null && current.leaderEpoch > reg.leaderEpoch)
  ) {
    ctx.logger.error(
      { topic: p.topic, partition: p.partition, isr: reg.isr, epoch: reg.leaderEpoch },
      "refusing an inconsistent leadership",
    );
    return;
  }
  await fetchers.removePartition(p.key);
  await p.lock.run(async () => {
    const hw = clampHighWatermark(p.highWatermark, p.log);
    await p.log.assignLeaderEpoch(reg.leaderEpoch);
    const end = p.log.logEndOffset;
    const state = new LeaderPartitionState({
      localBrokerId: ctx.brokerId,
      replicas: reg.replicas,
      isr: reg.isr,
      leaderEpoch: reg.leaderEpoch,
      partitionEpoch: reg.partitionEpoch,
      leaderEpochStartOffset: end,
      logEndOffset: end,
      highWatermark: hw,
      endOffsetForEpoch: (epoch) => p.log.endOffsetForEpoch(epoch),
      config: replicationConfig(ctx, image, p.topic),
      isReplicaEligible: (id) => isEligible(ctx.deps.image(), id),
      nowMs: ctx.clock(),
    });
    p.role = { kind: "leader", state };
    countElection(ctx, p, knownIsr);
    // Producer state from the replicated log; the first idempotent produce waits for it.
    p.producers.invalidate();
    p.producers.syncInBackground();
    p.leaderId = ctx.brokerId;
    p.leaderEpoch = reg.leaderEpoch;
    p.partitionEpoch = reg.partitionEpoch;
    ctx.logger.info(
      {
        topic: p.topic,
        partition: p.partition,
        epoch: reg.leaderEpoch,
        isr: reg.isr,
        hw: hw.toString(),
      },
      "became leader",
    );
    if (state.onLeaderAppend(end)) onHighWatermarkAdvanced(ctx, p);
  });
}

/**
 * Counts a leadership taken; unclean when the ISR this replica last knew (empty for a replica
 * just created here) did not hold it: only an unclean election elects outside the ISR.
 */
function countElection(ctx: ReplicaContext, p: Partition, knownIsr: readonly BrokerId[]): void {
  forgetFollowerLag(ctx, p);
  ctx.metrics?.leaderElectionsTotal.inc();
  if (knownIsr.length > 0 && !knownIsr.includes(ctx.brokerId))
    ctx.metrics?.uncleanLeaderElectionsTotal.inc();
}

/** A replica that stops following (leads or goes) no longer reports a lag. */
function forgetFollowerLag(ctx: ReplicaContext, p: Partition): void {
  ctx.metrics?.followerLag.delete(p.key);
  ctx.metrics?.replicationLagOffsets.remove({ topic: p.topic, partition: String(p.partition) });
}

function isEligible(image: MetadataImage, id: BrokerId): boolean {
  const b = image.brokers.get(id);
  return b !== undefined && !b.fenced && !b.inControlledShutdown;
}

async function becomeFollower(
  ctx: ReplicaContext,
  fetchers: ReplicaFetcherManager,
  image: MetadataImage,
  reg: PartitionRegistration,
): Promise<void> {
  const p = await replicaOf(ctx, fetchers, image, reg);
  if (p === null) return;
  p.replicas = reg.replicas;
  p.isr = reg.isr;
  p.partitionEpoch = reg.partitionEpoch;
  const follower = p.follower;
  if (
    follower !== null &&
    reg.leader === follower.leaderId &&
    reg.leaderEpoch >= follower.leaderEpoch
  ) {
    if (reg.leaderEpoch > follower.leaderEpoch) {
      follower.onLeaderChange(reg.leader, reg.leaderEpoch);
      fetchers.wake(p.key);
    }
    p.leaderEpoch = reg.leaderEpoch;
    return;
  }
  if (p.role.kind === "follower" && p.role.state === null && reg.leader === null) return;
  await fetchers.removePartition(p.key);
  await p.lock.run(async () => {
    const wasLeader = p.leader;
    if (wasLeader !== null) {
      p.followerHighWatermark = wasLeader.highWatermark;
      releaseLeaderWaiters(ctx, p);
    } else {
      p.followerHighWatermark = p.highWatermark;
    }
    p.leaderId = reg.leader;
    p.leaderEpoch = reg.leaderEpoch;
    p.producers.invalidate(); // the log may be truncated to the new leader's
    const state = reg.leader === null ? null : newFollowerState(ctx, image, p, reg.leader);
    p.role = { kind: "follower", state };
    ctx.logger.info(
      { topic: p.topic, partition: p.partition, leaderId: reg.leader, epoch: reg.leaderEpoch },
      "became follower",
    );
  });
  if (reg.leader !== null) fetchers.addPartition(reg.leader, fetcherPartition(ctx, p));
}

function newFollowerState(
  ctx: ReplicaContext,
  image: MetadataImage,
  p: Partition,
  leaderId: BrokerId,
): FollowerPartitionState {
  return new FollowerPartitionState({
    leaderId,
    leaderEpoch: p.leaderEpoch,
    logEndOffset: p.log.logEndOffset,
    latestEpoch: p.log.latestEpoch(),
    logStartOffset: p.log.logStartOffset,
    highWatermark: clampHighWatermark(p.followerHighWatermark, p.log),
    endOffsetForEpoch: (epoch) => p.log.endOffsetForEpoch(epoch),
    config: replicationConfig(ctx, image, p.topic),
  });
}

/** The fetcher's view of a followed partition. */
function fetcherPartition(ctx: ReplicaContext, p: Partition): FetcherPartition {
  return {
    key: p.key,
    topic: p.topic,
    topicId: p.topicId,
    partition: p.partition,
    log: p.log,
    follower: () => p.follower,
    resetFollower: () => {
      if (p.role.kind !== "follower" || p.leaderId === null) return null;
      const state = newFollowerState(ctx, ctx.deps.image(), p, p.leaderId);
      p.role = { kind: "follower", state };
      return state;
    },
    onHighWatermark: (hw) => {
      p.followerHighWatermark = hw;
      // A no-op while the state is in step with the log (onAppended keeps it so); after a
      // truncation or a missed append it re-reads the log from the last verified batch.
      p.producers.syncInBackground();
    },
    // Producer state from the bytes just replicated: re-reading them from the log cost four
    // reads per replicated batch (see docs/benchmarks.md, Cluster).
    onAppended: (records, firstOffset) => p.producers.onLeaderAppend(records, firstOffset),
  };
}
