/**
 * ControllerNode: one voter of the metadata quorum. It binds a RaftDriver (FileStorage in
 * `<dataDir>/__cluster_metadata`, gRPC transport) to the {@link Controller}:
 *
 * - every committed entry is replayed through `Controller.apply` (MetadataStateMachine), so
 *   every voter keeps the same image;
 * - the Raft leader activates the controller only once it has applied the first entry of its
 *   own term (its no-op): earlier entries commit only then (Kafka's rule); it deactivates on
 *   losing leadership, and pending requests get NOT_CONTROLLER;
 * - `MetadataLog.append` is `driver.propose`, with the offset predicted synchronously: the
 *   active controller is the only proposer in its term, so its entries land at consecutive
 *   indexes after its no-op. A proposal that fails or lands elsewhere deactivates the
 *   controller; it re-activates when everything it proposed is settled and applied;
 * - a timer calls `Controller.tick` (session expiry, rebalance) and, on the active
 *   controller, writes a NoOp record when nothing was written for `noOpIntervalMs`, so
 *   followers see the log move;
 * - one gRPC server on the internal listener hosts RaftService and ControllerService;
 * - voter changes (AddRaftVoter / RemoveRaftVoter, one at a time) are proposed by the active
 *   controller; a new voter's address is committed first as a metadata record that every
 *   node applies and adds to its transport (see voters.ts).
 */

import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { type Logger, noopLogger } from "@strand/base";
import type { DescribeClusterResponse } from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import {
  addRaftService,
  type CoreOptions,
  FileStorage,
  GrpcTransport,
  index,
  type LeaderInfo,
  type NodeId,
  NotRaftLeaderError,
  nodeId,
  ProposalRefusedError,
  RaftDriver,
  type ReplicaKey,
  realScheduler,
  type Scheduler,
  type TimerHandle,
  type VoterChange,
} from "@strand/raft";
import { decodeMetadataBatch, encodeMetadataBatch } from "../codec.ts";
import { Controller } from "../controller.ts";
import type { MetadataImage } from "../image.ts";
import type { MetadataRecord } from "../records.ts";
import type { ControllerConfig } from "../requests.ts";
import { type MetadataOffset, metadataOffset } from "../types.ts";
import { ControllerClient } from "./client.ts";
import {
  ClusterIdMismatchError,
  newClusterId,
  readClusterId,
  writeClusterId,
} from "./cluster-id.ts";
import { bootstrapDirectoryId, type VoterConfig, voterAddress } from "./config.ts";
import { controllerServiceDefinition } from "./grpc.ts";
import { controllerServiceHandlers, type ServiceHost } from "./service.ts";
import { type LoggedBatch, MetadataStateMachine } from "./state-machine.ts";
import {
  endpointRecord,
  VOTER_CHANGE_OK,
  type VoterChangeOutcome,
  type VoterEndpoint,
  voterChangeError,
  voterEndpoints,
} from "./voters.ts";
import type { ControllerHint } from "./wire.ts";

/** Name of the metadata log's directory under the data dir (Kafka's name). */
export const METADATA_LOG_DIR = "__cluster_metadata";
/** Default period of the controller timer (tick, activation checks, no-ops). */
export const DEFAULT_CONTROLLER_TICK_MS = 100;
/** Default idle time after which the active controller writes a NoOp (Kafka: 500 ms). */
export const DEFAULT_NOOP_INTERVAL_MS = 500;

/** Options of {@link ControllerNode.start}. */
export interface ControllerNodeOptions {
  /** This node's id; must be one of `voters` (unless `newDirectory` formats a new dir). */
  readonly nodeId: number;
  /** The node's data directory; the metadata log lives in `<dataDir>/__cluster_metadata`. */
  readonly dataDir: string;
  /** Address the internal listener binds, `host:port` (port 0: any free port). */
  readonly listen: string;
  /** The quorum's voters with their internal addresses. */
  readonly voters: readonly VoterConfig[];
  readonly logger?: Logger;
  /** The clock (`nowMs`) for the controller; default `Date.now`. */
  readonly clock?: () => number;
  /** Timers for Raft ticks and the controller timer; default real, unref'd timers. */
  readonly scheduler?: Scheduler;
  /** Raft tick; default 100 ms (election timeout = electionTicks ticks). */
  readonly tickMs?: number;
  /** Raft core options (electionTicks 10, heartbeatTicks 1 by default). */
  readonly core?: CoreOptions;
  /** Period of the controller timer; default {@link DEFAULT_CONTROLLER_TICK_MS}. */
  readonly controllerTickMs?: number;
  /** Idle time before a NoOp record; default {@link DEFAULT_NOOP_INTERVAL_MS}. */
  readonly noOpIntervalMs?: number;
  /** Take a snapshot every this many entries; default the driver's (10 000). */
  readonly snapshotEveryEntries?: number;
  /** Entries (and served batches) kept behind a snapshot; default 1 000. */
  readonly compactionLagEntries?: number;
  /** Controller timeouts and limits (session timeout, heartbeat interval...). */
  readonly controller?: Partial<ControllerConfig>;
  /**
   * A standby forwards ControllerService writes to the active controller (once) instead of
   * answering NOT_CONTROLLER; default false (callers follow the NOT_CONTROLLER hint).
   */
  readonly forward?: boolean;
  /** Deadline of one Raft Step RPC; default the transport's. */
  readonly raftRpcTimeoutMs?: number;
  /**
   * Credentials of this node's channels to the other voters (Raft, forwarded writes): with
   * TLS, the node certificate and the cluster CA. Default insecure (TLS off).
   */
  readonly channelCredentials?: grpc.ChannelCredentials;
  /**
   * Register RaftService and ControllerService on this caller-owned server (already bound to
   * `port`) instead of creating and binding one: `listen` is then ignored and `close()` leaves
   * the server running (its owner shuts it down). Default: the node creates its own server.
   */
  readonly sharedServer?: { readonly server: grpc.Server; readonly port: number };
  /**
   * What to do when `<dataDir>/__cluster_metadata` is not formatted yet: `"format"` (the
   * default) formats it with the voter's directory id; `"refuse"` throws
   * {@link UnformattedMetadataDirError}, so a voter that lost its disk does not silently come
   * back as its former self (KIP-853's concern; see docs/operations.md).
   */
  readonly formatPolicy?: "format" | "refuse";
  /**
   * On an unformatted metadata dir: format it with a fresh random directory id and without
   * this node in its bootstrap voter set, so it starts as a non-voter that never campaigns
   * until AddRaftVoter adds (nodeId, that id); it still follows the log once added. This is
   * how a controller whose disk was lost is replaced (docs/operations.md). Overrides
   * `formatPolicy: "refuse"`; ignored when the dir is already formatted.
   */
  readonly newDirectory?: boolean;
  /**
   * The cluster id (`cluster.id`, 22 base64url characters). Formatting an empty metadata dir
   * stores it and mixes it into the voters' bootstrap directory ids; a formatted dir with a
   * different stored id is refused ({@link ClusterIdMismatchError}). When omitted, a
   * single-voter formation generates one; a multi-voter one (or `newDirectory`) stores none
   * and derives the legacy ids (the server refuses that: it requires the id of every voter).
   * The first active controller writes the formatted id as the cluster's ClusterIdRecord.
   */
  readonly clusterId?: string;
}

/** Thrown by {@link ControllerNode.start} under `formatPolicy: "refuse"` for an empty dir. */
export class UnformattedMetadataDirError extends Error {
  /** The metadata log directory that has no `meta.json`. */
  readonly dir: string;
  constructor(dir: string) {
    super(`metadata directory ${dir} is not formatted`);
    this.name = "UnformattedMetadataDirError";
    this.dir = dir;
  }
}

/**
 * Thrown by {@link ControllerNode.start} when a formatted metadata log's voter set cannot be
 * this node's quorum: fewer than a majority of its voters are in the configured voters (the
 * node could never reach a quorum and would retry forever), or the log is a standalone quorum
 * of this node while the configuration names other voters (it would lead alone, never join
 * them). Typically a data dir reused across cluster layouts, e.g. `strand server start` on a
 * node dir of `npm start`.
 */
export class VoterSetMismatchError extends Error {
  /** Voter ids of the metadata log's latest configuration. */
  readonly logVoters: readonly number[];
  /** Voter ids of the configuration (`controller.quorum.voters`). */
  readonly configuredVoters: readonly number[];
  constructor(dir: string, logVoters: readonly number[], configuredVoters: readonly number[]) {
    const set = (ids: readonly number[]) => `{${[...ids].sort((a, b) => a - b).join(",")}}`;
    super(
      `metadata log ${dir} belongs to a quorum of voters ${set(logVoters)} but controller.quorum.voters names ${set(configuredVoters)}: ` +
        "this data dir was formatted for another cluster layout; use another data dir (--data.dir) for this one, " +
        "or set controller.quorum.voters to the voters of that cluster",
    );
    this.name = "VoterSetMismatchError";
    this.logVoters = logVoters;
    this.configuredVoters = configuredVoters;
  }
}

/**
 * Throws {@link VoterSetMismatchError} when the log's latest voter set (`logVoters`) cannot
 * be this node's quorum under the configured voters (see the error). Voter changes
 * (AddRaftVoter / RemoveRaftVoter) legitimately leave `controller.quorum.voters` behind the
 * log by one voter or so, hence a majority rule rather than equality.
 */
export function checkVoterSet(
  dir: string,
  self: number,
  logVoters: readonly number[],
  configured: readonly number[],
): void {
  const known = logVoters.filter((id) => configured.includes(id)).length;
  const unreachable = known * 2 <= logVoters.length;
  const aloneInLog = logVoters.length === 1 && logVoters[0] === self && configured.length > 1;
  if (unreachable || aloneInLog) throw new VoterSetMismatchError(dir, logVoters, configured);
}

/** The voter ids of the storage's latest configuration (the snapshot's, then the log's). */
function latestVoterIds(storage: FileStorage): number[] {
  let voters = storage.snapshot().meta.voters;
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  if (last >= first)
    for (const e of storage.entries(first, index(last + 1), Number.MAX_SAFE_INTEGER))
      if (e.type === "config") voters = e.voters;
  return [...new Set(voters.map((v) => v.id as number))];
}

/** True when the metadata log directory under `dataDir` has been formatted (has meta.json). */
export async function metadataDirFormatted(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, METADATA_LOG_DIR, "meta.json"));
    return true;
  } catch {
    return false;
  }
}

/** See the module comment. Create with {@link ControllerNode.start}. */
export class ControllerNode {
  /** This node's id. */
  readonly id: NodeId;
  /** The controller state machine (image, sessions, handle). */
  readonly controller: Controller;
  /** The internal listener's bound port. */
  readonly port: number;
  readonly #o: ControllerNodeOptions;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #machine: MetadataStateMachine;
  readonly #server: grpc.Server;
  readonly #ownsServer: boolean;
  readonly #grpc: GrpcTransport;
  /** Voter addresses: configuration first, then those committed by AddRaftVoter. */
  readonly #addresses: Map<number, string>;
  /** The image configs the addresses were last synced from (identity check). */
  #syncedConfigs: MetadataImage["configs"] | null = null;
  /** A voter change of this node is in progress (one at a time). */
  #changing = false;
  #driver: RaftDriver | null = null;
  #timer: TimerHandle | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Next offset this active controller's append gets; null = not writable. */
  #nextOffset: number | null = null;
  #activeTerm = -1;
  #outstanding = 0;
  #lastAppendMs = 0;
  #fatal: ((error: unknown) => void)[] = [];
  #fatalError: { readonly error: unknown } | null = null;
  readonly #forwardClients = new Map<number, ControllerClient>();
  /** The cluster id the metadata dir was formatted with; null for a legacy dir. */
  readonly formattedClusterId: string | null;

  private constructor(
    o: ControllerNodeOptions,
    server: grpc.Server,
    port: number,
    t: GrpcTransport,
    clusterId: string | null,
  ) {
    this.#o = o;
    this.formattedClusterId = clusterId;
    this.id = nodeId(o.nodeId);
    this.port = port;
    this.#logger = o.logger ?? noopLogger;
    this.#clock = o.clock ?? Date.now;
    this.#server = server;
    this.#ownsServer = o.sharedServer === undefined;
    this.#grpc = t;
    this.#addresses = new Map(o.voters.map((v) => [v.id, voterAddress(v)]));
    this.controller = new Controller({
      log: { append: (records, nowMs) => this.#append(records, nowMs) },
      logger: this.#logger,
      ...(o.controller === undefined ? {} : { config: o.controller }),
    });
    this.#machine = new MetadataStateMachine({
      controller: this.controller,
      keepBehindSnapshot: o.compactionLagEntries ?? 1_000,
      onApplied: (batch) => this.#afterApply(batch),
    });
    server.addService(controllerServiceDefinition(), controllerServiceHandlers(this.#host()));
  }

  /** Opens the metadata log, binds the internal listener and starts Raft and the timer. */
  static async start(o: ControllerNodeOptions): Promise<ControllerNode> {
    const logger = o.logger ?? noopLogger;
    const { storage, clusterId } = await openStorage(o, logger);
    const peers = new Map(o.voters.map((v) => [v.id, voterAddress(v)]));
    const transport = new GrpcTransport({
      nodeId: nodeId(o.nodeId),
      peers,
      logger,
      ...(o.channelCredentials === undefined ? {} : { credentials: o.channelCredentials }),
      ...(o.raftRpcTimeoutMs === undefined ? {} : { rpcTimeoutMs: o.raftRpcTimeoutMs }),
    });
    const server = o.sharedServer?.server ?? new grpc.Server();
    addRaftService(server, transport, logger);
    let node: ControllerNode;
    try {
      const port = o.sharedServer?.port ?? (await bind(server, o.listen));
      node = new ControllerNode(o, server, port, transport, clusterId);
    } catch (error) {
      if (o.sharedServer === undefined) server.forceShutdown();
      await transport.close();
      await storage.close();
      throw error;
    }
    await node.#startDriver(storage);
    logger.info({ nodeId: o.nodeId, port: node.port }, "controller node started");
    return node;
  }

  async #startDriver(storage: FileStorage): Promise<void> {
    const o = this.#o;
    const driver = await RaftDriver.start({
      id: this.id,
      storage,
      transport: this.#grpc,
      stateMachine: this.#machine,
      scheduler: o.scheduler ?? realScheduler,
      logger: this.#logger,
      ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
      ...(o.core === undefined ? {} : { core: o.core }),
      ...(o.snapshotEveryEntries === undefined
        ? {}
        : { snapshotEveryEntries: o.snapshotEveryEntries }),
      ...(o.compactionLagEntries === undefined
        ? {}
        : { compactionLagEntries: o.compactionLagEntries }),
      entryValidator: metadataBatchProblem,
    });
    this.#driver = driver;
    this.#syncEndpoints();
    driver.onLeaderChange((info) => this.#onLeaderChange(info));
    driver.onFatal((error) => {
      this.#logger.error({ err: error, nodeId: this.id }, "raft driver failed: the node stops");
      this.#fatalError = { error };
      for (const l of this.#fatal) l(error);
    });
    const every = o.controllerTickMs ?? DEFAULT_CONTROLLER_TICK_MS;
    this.#timer = (o.scheduler ?? realScheduler).setInterval(() => this.#onTimer(), every);
  }

  get #raft(): RaftDriver {
    const d = this.#driver;
    if (d === null) throw new Error("the raft driver is not started");
    return d;
  }

  /** The Raft driver (status, campaign, transfer). */
  get driver(): RaftDriver {
    return this.#raft;
  }

  /** The committed metadata image (same on every voter at the same offset). */
  get image(): MetadataImage {
    return this.controller.image;
  }

  /** The internal listener's address as configured for this voter. */
  get address(): string {
    return this.#addresses.get(this.id) ?? `127.0.0.1:${this.port}`;
  }

  /** Committed batches after `offset` still held in memory (null: behind the tail). */
  batchesAfter(offset: number, countMax: number): readonly LoggedBatch[] | null {
    return this.#machine.batchesAfter(offset, countMax);
  }

  /**
   * Calls `listener` if the node stops on a fatal error (the process should exit), at once if
   * it already has (e.g. replaying the log at start-up hit an entry it cannot apply).
   */
  onFatal(listener: (error: unknown) => void): void {
    if (this.#fatalError !== null) listener(this.#fatalError.error);
    else this.#fatal.push(listener);
  }

  /**
   * Why this voter has lost contact with the controller quorum (no leader heard, or a leader
   * that lost check-quorum, for longer than an election could take), or null while it has it
   * or is not a voter. Feeds the node's readiness.
   */
  quorumContactLost(): string | null {
    const d = this.#driver;
    if (d === null || this.#closed || !d.status().isVoter) return null;
    return d.quorumContactLost();
  }

  /** Where NOT_CONTROLLER answers send callers: the Raft leader as this node knows it. */
  hint(): ControllerHint {
    const leader = this.#driver?.status().leader ?? null;
    return { id: leader, address: leader === null ? null : (this.#addresses.get(leader) ?? null) };
  }

  // ------------------------------------------------------------------ the metadata log

  #append(records: readonly MetadataRecord[], nowMs: number): MetadataOffset | null {
    return this.#appendTracked(records, nowMs)?.offset ?? null;
  }

  /** Appends one batch at the next predicted offset; `done` is true once it commits there. */
  #appendTracked(
    records: readonly MetadataRecord[],
    nowMs: number,
  ): { offset: MetadataOffset; done: Promise<boolean> } | null {
    if (this.#nextOffset === null || this.#closed) return null;
    const data = encodeMetadataBatch(records);
    // A batch that would not decode would stop every voter when applied: refuse it here.
    const problem = metadataBatchProblem(data);
    if (problem !== null) {
      this.#logger.error({ nodeId: this.id, problem }, "refused to propose an undecodable batch");
      return null;
    }
    const offset = this.#nextOffset++;
    this.#outstanding++;
    this.#lastAppendMs = nowMs;
    const done = this.#raft.propose(data).then(
      (at) => {
        this.#outstanding--;
        if (at.index !== offset) this.#demote(`proposal landed at ${at.index}, not ${offset}`);
        return at.index === offset;
      },
      (error: unknown) => {
        this.#outstanding--;
        this.#demote(`proposal at ${offset} failed: ${String(error)}`);
        return false;
      },
    );
    return { offset: metadataOffset(offset), done };
  }

  #afterApply(_batch: LoggedBatch): void {
    this.#syncEndpoints();
    this.#maybeActivate();
  }

  /** Adds voter addresses committed in the image (AddRaftVoter) to the transport. */
  #syncEndpoints(): void {
    const configs = this.controller.image.configs;
    if (configs === this.#syncedConfigs) return;
    this.#syncedConfigs = configs;
    for (const [id, address] of voterEndpoints(this.controller.image))
      this.#setAddress(id, address);
  }

  #setAddress(id: NodeId, address: string): void {
    if (this.#addresses.get(id) === address) return;
    this.#addresses.set(id, address);
    this.#grpc.setPeer(id, address);
    this.#forwardClients.get(id)?.close();
    this.#forwardClients.delete(id);
  }

  /**
   * Activates once this node leads, has applied an entry of its own term (its no-op, the
   * first entry of the term: everything before it is then committed and applied) and has
   * nothing of its own in flight.
   */
  #maybeActivate(): void {
    if (this.controller.isActive || this.#closed || this.#driver === null) return;
    const s = this.#driver.status();
    if (s.role !== "leader" || this.#outstanding > 0) return;
    const applied: number = this.#machine.appliedOffset;
    const last: number = s.lastIndex;
    if (applied !== last || this.image.epoch !== s.term) return;
    this.#nextOffset = applied + 1;
    this.#activeTerm = s.term;
    const now = this.#clock();
    this.#lastAppendMs = now;
    this.controller.activate(now);
    this.#logger.info({ nodeId: this.id, term: s.term, offset: applied }, "active controller");
    // The first active controller of a new cluster names it (Kafka's cluster.id). The leader
    // has applied everything committed, so a null id means none was ever written; a failed
    // append is retried at the next activation. A cluster formed before cluster ids existed
    // gets its id here too, at its next election. The id the dir was formatted with (the
    // operator's --cluster-id) wins; a legacy dir has none and draws one.
    if (this.controller.image.clusterId === null)
      this.#append(
        [{ type: "clusterId", clusterId: this.formattedClusterId ?? newClusterId() }],
        now,
      );
  }

  #demote(why: string): void {
    this.#nextOffset = null;
    if (!this.controller.isActive) return;
    this.controller.deactivate();
    if (this.#closed) this.#logger.info({ why }, "controller deactivated");
    else this.#logger.warn({ why }, "controller deactivated");
  }

  #onLeaderChange(info: LeaderInfo): void {
    if (info.leader !== this.id || info.term !== this.#activeTerm) this.#demote("lost leadership");
  }

  #onTimer(): void {
    if (this.#closed || this.#driver === null) return;
    this.#syncEndpoints();
    const s = this.#driver.status();
    if (this.controller.isActive && (s.role !== "leader" || s.term !== this.#activeTerm))
      this.#demote("lost leadership");
    this.#maybeActivate();
    if (!this.controller.isActive) return;
    const now = this.#clock();
    this.controller.tick(now);
    if (now - this.#lastAppendMs >= (this.#o.noOpIntervalMs ?? DEFAULT_NOOP_INTERVAL_MS))
      this.#append([{ type: "noOp" }], now);
  }

  // ------------------------------------------------------------------ the services

  #host(): ServiceHost {
    return {
      controller: this.controller,
      logger: this.#logger,
      machine: this.#machine,
      openStreams: 0,
      nowMs: () => this.#clock(),
      hint: () => this.hint(),
      describe: () => this.describe(),
      addVoter: (v) => this.addVoter(v),
      removeVoter: (v) => this.removeVoter(v),
      committedImage: () => this.controller.image,
      nodeId: this.id,
      forwardTarget: () => this.#forwardTarget(),
      isClosed: () => this.#closed,
    };
  }

  #forwardTarget(): ControllerClient | null {
    const leader = this.#driver?.status().leader ?? null;
    if (this.#o.forward !== true || this.#closed || leader === null || leader === this.id)
      return null;
    const address = this.#addresses.get(leader);
    if (address === undefined) return null;
    let client = this.#forwardClients.get(leader);
    if (client === undefined) {
      client = new ControllerClient(address, undefined, this.#o.channelCredentials);
      this.#forwardClients.set(leader, client);
    }
    return client;
  }

  /** The DescribeCluster answer: brokers, the active controller, the quorum. */
  describe(): DescribeClusterResponse {
    const s = this.#raft.status();
    const image = this.controller.image;
    // Raft reports match indexes on the leader only; -1 elsewhere and while unknown.
    const match = (v: ReplicaKey): string =>
      String(s.voterMatch.find((m) => m.id === v.id && m.dir === v.dir)?.match ?? -1);
    return {
      error: { code: 0 },
      // A leader that has not activated yet (still applying its term's first entry) is not
      // reported: callers would get NOT_CONTROLLER from it.
      activeControllerId: this.controller.isActive
        ? this.id
        : s.leader === this.id
          ? 0
          : (s.leader ?? 0),
      nodeId: this.id,
      clusterId: image.clusterId ?? "",
      metadataOffset: String(image.offset),
      brokers: [...image.brokers.values()].map((b) => ({
        brokerId: b.id,
        brokerEpoch: String(b.epoch),
        listeners: b.listeners.map((l) => ({ ...l })),
        ...(b.rack === null ? {} : { rack: b.rack }),
        fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown,
      })),
      quorum: {
        nodeId: this.id,
        role: s.role,
        term: String(s.term),
        leaderId: s.leader ?? 0,
        commitIndex: String(s.commit),
        appliedIndex: String(this.#machine.appliedOffset),
        lastIndex: String(s.lastIndex),
        directoryId: s.dir,
        isVoter: s.isVoter,
        voters: s.voters.map((v) => ({
          nodeId: v.id,
          directoryId: v.dir,
          address: this.#addresses.get(v.id) ?? "",
          matchIndex: match(v),
        })),
      },
    };
  }

  // ------------------------------------------------------------------ voter changes

  /**
   * AddRaftVoter: commits `v`'s address (a metadata record every node applies), then the Raft
   * configuration entry that adds (v.id, v.dir); resolves once that entry is committed.
   */
  async addVoter(v: VoterEndpoint): Promise<VoterChangeOutcome> {
    const voters = this.#driver?.status().voters ?? [];
    const same = voters.find((k) => k.id === v.id);
    const refusal =
      this.#changeRefusal() ??
      (same === undefined
        ? null
        : voterChangeError(
            ErrorCode.INVALID_REQUEST,
            `node ${v.id} is already a voter (directory ${same.dir}): remove it with RemoveRaftVoter first`,
          ));
    if (refusal !== null) return refusal;
    this.#changing = true;
    try {
      if (voterEndpoints(this.image).get(v.id) !== v.address) {
        const at = this.#appendTracked([endpointRecord(v)], this.#clock());
        if (at === null || !(await at.done)) return this.#notController();
      }
      this.#setAddress(v.id, v.address);
      return await this.#proposeChange({ type: "addVoter", voter: { id: v.id, dir: v.dir } });
    } finally {
      this.#changing = false;
    }
  }

  /** RemoveRaftVoter: proposes the configuration without (v.id, v.dir); resolves on commit. */
  async removeVoter(v: VoterEndpoint): Promise<VoterChangeOutcome> {
    const voters = this.#driver?.status().voters ?? [];
    const present = voters.some((k) => k.id === v.id && k.dir === v.dir);
    const refusal =
      this.#changeRefusal() ??
      (!present
        ? voterChangeError(
            ErrorCode.INVALID_REQUEST,
            `node ${v.id} with directory ${v.dir} is not a voter; DescribeCluster lists the voters`,
          )
        : voters.length === 1
          ? voterChangeError(
              ErrorCode.INVALID_REQUEST,
              `node ${v.id} is the last voter: removing it would leave the quorum without voters`,
            )
          : null);
    if (refusal !== null) return refusal;
    this.#changing = true;
    try {
      return await this.#proposeChange({ type: "removeVoter", voter: { id: v.id, dir: v.dir } });
    } finally {
      this.#changing = false;
    }
  }

  #notController(): VoterChangeOutcome {
    return voterChangeError(ErrorCode.NOT_CONTROLLER, "this node is not the active controller");
  }

  /** Why no voter change can start now, or null. */
  #changeRefusal(): VoterChangeOutcome | null {
    if (!this.controller.isActive || this.#nextOffset === null || this.#closed)
      return this.#notController();
    if (!this.#changing) return null;
    return voterChangeError(
      ErrorCode.REQUEST_TIMED_OUT,
      "another voter change is in progress: retry once it has committed (one change at a time)",
    );
  }

  /** Proposes a configuration entry at the next predicted offset (like a metadata batch). */
  async #proposeChange(change: VoterChange): Promise<VoterChangeOutcome> {
    if (this.#nextOffset === null || this.#closed) return this.#notController();
    const offset = this.#nextOffset++;
    this.#outstanding++;
    try {
      const at = await this.#raft.proposeVoterChange(change);
      if (at.index !== offset) this.#demote(`voter change landed at ${at.index}, not ${offset}`);
      this.#logger.info({ nodeId: this.id, change, index: at.index }, "voter change committed");
      return VOTER_CHANGE_OK;
    } catch (error) {
      this.#demote(`voter change at ${offset} failed: ${String(error)}`);
      return this.#changeFailed(error, change, offset);
    } finally {
      this.#outstanding--;
    }
  }

  /**
   * Maps a failed voter change to its outcome. A leader that removed itself steps down as the
   * removal commits, so the driver reports "not leader, maybe committed": that is success
   * when the change is in this node's configuration and committed (commit reached `offset`).
   */
  #changeFailed(error: unknown, change: VoterChange, offset: number): VoterChangeOutcome {
    if (error instanceof NotRaftLeaderError) {
      const s = this.#raft.status();
      const has = s.voters.some((k) => k.id === change.voter.id && k.dir === change.voter.dir);
      const inEffect = has === (change.type === "addVoter");
      if (error.maybeCommitted && inEffect && s.commit >= offset) return VOTER_CHANGE_OK;
      return this.#notController();
    }
    if (error instanceof ProposalRefusedError && error.reason === "configChangePending")
      return voterChangeError(ErrorCode.REQUEST_TIMED_OUT, "a voter change is pending: retry");
    if (error instanceof ProposalRefusedError && error.reason === "invalidChange")
      return voterChangeError(ErrorCode.INVALID_REQUEST, `invalid voter change: ${error.message}`);
    return voterChangeError(ErrorCode.REQUEST_TIMED_OUT, `voter change failed: ${String(error)}`);
  }

  /** Stops the timer, fails pending requests, ends streams, stops Raft and the server. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#demote("closing");
    this.controller.deactivate();
    this.#machine.wakeAll();
    if (this.#ownsServer) this.#server.forceShutdown();
    for (const c of this.#forwardClients.values()) c.close();
    await this.#driver?.close();
    this.#logger.info({ nodeId: this.id }, "controller node closed");
  }
}

/**
 * The raft entry validator of the metadata log: null when `data` decodes as a metadata record
 * batch (empty = no records), else why not. Checked before a proposal and on every append a
 * follower receives, so an entry that would stop the node at apply never enters the log.
 */
export function metadataBatchProblem(data: Uint8Array): string | null {
  if (data.length === 0) return null;
  try {
    decodeMetadataBatch(data);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A logger that adds `fields` to every line (a child logger for any pino-like logger). */
export function withFields(logger: Logger, fields: object): Logger {
  return {
    debug: (obj, msg) => logger.debug({ ...fields, ...obj }, msg),
    info: (obj, msg) => logger.info({ ...fields, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...fields, ...obj }, msg),
    error: (obj, msg) => logger.error({ ...fields, ...obj }, msg),
  };
}

/**
 * Opens the metadata log: formats an empty dir with the voter's directory id (bootstrap), or
 * with a fresh random one as a non-voter (`newDirectory`); a formatted dir keeps its own id.
 * Returns the storage and the cluster id the dir was formatted with (null: legacy).
 */
async function openStorage(
  o: ControllerNodeOptions,
  logger: Logger,
): Promise<{ storage: FileStorage; clusterId: string | null }> {
  const self = o.voters.find((v) => v.id === o.nodeId);
  const formatted = await metadataDirFormatted(o.dataDir);
  const joining = !formatted && o.newDirectory === true;
  if (self === undefined && o.newDirectory !== true)
    throw new Error(`node ${o.nodeId} is not in the voter list`);
  if (!formatted && !joining && o.formatPolicy === "refuse")
    throw new UnformattedMetadataDirError(join(o.dataDir, METADATA_LOG_DIR));
  const clusterId = formatted
    ? await storedClusterId(o, logger)
    : await formatClusterId(o, joining, logger);
  const bootstrapVoters = o.voters
    .filter((v) => !joining || v.id !== o.nodeId)
    .map((v) => ({ id: v.id, dir: v.dir ?? bootstrapDirectoryId(v.id, clusterId) }));
  // A formatted dir keeps the id it was formatted with (checked when one is configured).
  const dirId =
    formatted || joining
      ? self?.dir
      : (self?.dir ?? bootstrapDirectoryId(nodeId(o.nodeId), clusterId));
  const storage = await FileStorage.open({
    dir: join(o.dataDir, METADATA_LOG_DIR),
    nodeId: nodeId(o.nodeId),
    ...(dirId === undefined ? {} : { directoryId: dirId }),
    bootstrapVoters,
    logger,
  });
  if (formatted && !joining) {
    try {
      checkVoterSet(
        join(o.dataDir, METADATA_LOG_DIR),
        o.nodeId,
        latestVoterIds(storage),
        o.voters.map((v) => v.id),
      );
    } catch (error) {
      await storage.close();
      throw error;
    }
  }
  if (joining)
    logger.info(
      { nodeId: o.nodeId, directoryId: storage.directoryId },
      "formatted a new metadata directory: a non-voter until AddRaftVoter adds it",
    );
  return { storage, clusterId };
}

/**
 * The cluster id of a formatted metadata dir; throws {@link ClusterIdMismatchError} when the
 * configured one differs. A legacy dir (no stored id) keeps its legacy directory ids: a
 * configured id cannot change them after formation, so it is only logged.
 */
async function storedClusterId(o: ControllerNodeOptions, logger: Logger): Promise<string | null> {
  const dir = join(o.dataDir, METADATA_LOG_DIR);
  const stored = await readClusterId(dir);
  if (stored !== null && o.clusterId !== undefined && o.clusterId !== stored)
    throw new ClusterIdMismatchError(dir, stored, o.clusterId);
  if (stored === null && o.clusterId !== undefined)
    logger.warn(
      { dir, clusterId: o.clusterId },
      "metadata dir formatted before cluster ids: its directory ids stay the legacy ones",
    );
  return stored;
}

/**
 * Picks the cluster id of a formation and stores it before the dir is formatted (meta.json),
 * so a formatted dir never lacks the id its directory ids were derived from.
 */
async function formatClusterId(
  o: ControllerNodeOptions,
  joining: boolean,
  logger: Logger,
): Promise<string | null> {
  const standalone = !joining && o.voters.length === 1;
  const id = o.clusterId ?? (standalone ? newClusterId() : null);
  if (id === null) return null;
  const dir = join(o.dataDir, METADATA_LOG_DIR);
  await mkdir(dir, { recursive: true });
  await writeClusterId(dir, id);
  logger.info({ dir, clusterId: id }, "metadata directory formatted for cluster");
  return id;
}

function bind(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error),
    );
  });
}
