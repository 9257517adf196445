/**
 * BrokerNode: one Strand node process (docs/design.md §2). It wires, in order: the pino logger,
 * the data dir with its LogManager (its lock file stops a second process on the same dir),
 * the metrics registry, the internal gRPC listener (ONE server shared by RaftService,
 * ControllerService and ReplicationService), the controller (role controller), the broker
 * (role broker: replica manager, MetadataFollower feeding it, registration and heartbeats,
 * the client gRPC listener with the four client services), grpc.health.v1 on both gRPC
 * listeners (each with its own table listing exactly the services it serves: the client
 * listener's follow readiness, the internal listener's are SERVING from start to shutdown,
 * because Raft and replica fetches must work before the node is ready), and the admin HTTP
 * listener whose /readyz is registered + unfenced + caught up.
 * `shutdown()` is the SIGTERM path: controlled shutdown, stop accepting, finish in-flight,
 * close everything in reverse order.
 */
import { mkdir } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import {
  ClusterIdMismatchError,
  ControllerNode,
  type ControllerNodeOptions,
  MetadataFollower,
  type MetadataImage,
  VoterSetMismatchError,
} from "@strand/controller";
import {
  type ClientStubs,
  clientServerOptions,
  clientStubs,
  healthServiceDefinition,
  internalServerOptions,
} from "@strand/protocol";
import { directoryId, LogLimiter, nodeId } from "@strand/raft";
import { LogManager } from "@strand/storage";
import { createGroupMetrics } from "../admin/group-metrics.ts";
import { type AdminServer, startAdminServer } from "../admin/http.ts";
import { type BrokerMetrics, createBrokerMetrics } from "../admin/metrics.ts";
import type { HostPort, NodeConfig } from "../config/index.ts";
import { GroupCoordinator } from "../groups/coordinator.ts";
import { Authorizer } from "../security/authorizer.ts";
import type { ServiceContext, ServiceLogger } from "../services/context.ts";
import { DescriptorBudget } from "../services/descriptors.ts";
import { createOffsetsTopic, lookupOffsets, recordTimestamp } from "../services/group-lookups.ts";
import { HealthStatus } from "../services/health.ts";
import {
  addClientServices,
  CLIENT_SERVICE_NAMES,
  clientServiceInterceptors,
} from "../services/index.ts";
import { addReflection } from "../services/reflection.ts";
import { createReplicationHandlers } from "../services/replication-service.ts";
import { replicationServiceDefinition } from "../services/replication-wire.ts";
import { allocateProducerIdsVia } from "./allocate-producer-ids.ts";
import { alterPartitionVia } from "./alter-partition.ts";
import { NodeAuthentication } from "./authentication.ts";
import { InitialCatchUp } from "./catch-up.ts";
import { recordCleanerPass } from "./cleaner-metrics.ts";
import { ClientListener } from "./client-listener.ts";
import { ControllerRouter } from "./controllers.ts";
import { checkFormatPolicy, NodeStartError } from "./format.ts";
import {
  type CountRefusal,
  countHandshakeFailures,
  HANDSHAKE_RPC,
  identityRefusalInterceptor,
} from "./identity-refusals.ts";
import { BrokerLifecycle } from "./lifecycle.ts";
import { createNodeLogger, type NodeLogger } from "./logger.ts";
import { registerNodeMetrics } from "./node-metrics.ts";
import { createReplicaManager, type NodeReplicaManager } from "./replica-factory.ts";
import { NodeTls } from "./tls.ts";
import { TlsFilesError } from "./tls-files.ts";

/** Options of {@link BrokerNode.start} besides the configuration. */
export interface BrokerNodeOptions {
  /** A pino logger; default one built from `log.level` writing JSON lines to stdout. */
  readonly logger?: NodeLogger;
  /** First formation of a new cluster: an empty metadata dir may be formatted (see format.ts). */
  readonly bootstrap?: boolean;
  /**
   * Replacement controller (`--new-directory`): an empty metadata dir is formatted with a fresh
   * random directory id and the node starts as a non-voter until AddRaftVoter adds it.
   */
  readonly newDirectory?: boolean;
  /** Replaces the replica manager (tests); default {@link createReplicaManager}. */
  readonly replicaManager?: typeof createReplicaManager;
}

/** Ports the node actually bound (useful with port 0). */
export interface BoundPorts {
  readonly client: number;
  readonly internal: number;
  readonly admin: number;
}

interface BrokerParts {
  readonly replicas: NodeReplicaManager;
  readonly follower: MetadataFollower;
  readonly lifecycle: BrokerLifecycle;
  readonly clientServer: grpc.Server;
  readonly clientListener: ClientListener;
  readonly clientPort: number;
  readonly groups: GroupCoordinator;
}

/** See the module comment. */
export class BrokerNode {
  readonly config: NodeConfig;
  readonly logger: NodeLogger;
  readonly metrics: BrokerMetrics;
  /** Health tables of the two gRPC listeners (one each: they serve different services). */
  readonly health: { readonly client: HealthStatus; readonly internal: HealthStatus };
  #logs: LogManager | null = null;
  #internal: grpc.Server | null = null;
  #internalPort = 0;
  #controller: ControllerNode | null = null;
  #router: ControllerRouter | null = null;
  #broker: BrokerParts | null = null;
  #admin: AdminServer | null = null;
  #groups: GroupCoordinator | null = null;
  #tls: NodeTls | null = null;
  #auth: NodeAuthentication | null = null;
  readonly #peers = new Map<string, ClientStubs>();
  readonly #shutdown = new AbortController();
  readonly #imageWaiters = new Set<() => void>();
  #appliedImage: MetadataImage | null = null;
  #stopping: Promise<void> | null = null;
  #fatal: ((error: unknown) => void) | null = null;
  #fatalError: { readonly error: unknown } | null = null;

  private constructor(config: NodeConfig, logger: NodeLogger) {
    this.config = config;
    this.logger = logger;
    this.metrics = createBrokerMetrics(config.nodeId, {
      partitionLabels: config.metricsPartitionEnable,
      roles: config.roles,
    });
    this.health = {
      client: new HealthStatus(config.roles.includes("broker") ? CLIENT_SERVICE_NAMES : []),
      internal: new HealthStatus(internalServiceNames(config.roles)),
    };
  }

  /** Starts a node; on failure everything started so far is closed and the error rethrown. */
  static async start(config: NodeConfig, options: BrokerNodeOptions = {}): Promise<BrokerNode> {
    const logger = options.logger ?? createNodeLogger(config);
    const node = new BrokerNode(config, logger);
    try {
      await node.#start(options);
      // A fatal error while starting (the metadata log replay hit an entry it cannot apply)
      // fails the start: the caller exits with the reason instead of serving 503 forever.
      const fatal = node.#fatalError;
      if (fatal !== null) throw new Error(`fatal error during start-up: ${reason(fatal.error)}`);
    } catch (error) {
      await node.#closeAll().catch(() => undefined);
      throw error;
    }
    return node;
  }

  async #start(options: BrokerNodeOptions): Promise<void> {
    const c = this.config;
    await mkdir(c.dataDir, { recursive: true });
    const isController = c.roles.includes("controller");
    if (isController)
      await checkFormatPolicy(c, options.bootstrap === true, options.newDirectory === true);
    this.#logs = await LogManager.open(c.dataDir, {
      logger: this.#child("storage"),
      defaultConfig: {
        segmentBytes: c.logSegmentBytes,
        retentionMs: c.logRetentionMs,
        retentionBytes: c.logRetentionBytes,
        maxMessageBytes: c.messageMaxBytes,
        cleanupPolicy: c.logCleanupPolicy,
        minCleanableDirtyRatio: c.logCleanerMinCleanableRatio,
        minCompactionLagMs: c.logCleanerMinCompactionLagMs,
        deleteRetentionMs: c.logCleanerDeleteRetentionMs,
      },
      retentionCheckIntervalMs: c.logRetentionCheckIntervalMs,
      openSegmentHandlesMax: c.logOpenHandlesMax,
      tailCacheBytes: c.logTailCacheBytes,
      cleaner: {
        enabled: c.logCleanerEnable,
        intervalMs: c.logCleanerBackoffMs,
        dedupeBufferBytes: c.logCleanerDedupeBufferSize,
        ioMaxBytesPerSecond: c.logCleanerIoMaxBytesPerSecond,
        // Only what is committed: a replica without a known HW (not a broker yet) waits.
        upperBound: (topic, partition) => this.#broker?.replicas.highWatermark(topic, partition),
        onPass: (report) => recordCleanerPass(this.metrics, report),
      },
    });
    this.#logs.onOffline((reason) => this.#logDirOffline(reason));
    const tls = this.#openTls();
    const countRefusal: CountRefusal = (rpc, why) =>
      this.metrics.nodeIdentityRefusalsTotal.inc({ rpc, reason: why });
    this.#internal = new grpc.Server({
      ...internalServerOptions(),
      interceptors: [identityRefusalInterceptor(countRefusal)],
    });
    this.#internal.addService(healthServiceDefinition(), this.health.internal.handlers());
    this.#internalPort = await bind(this.#internal, c.internalListener, tls.internalServer());
    if (tls.internal !== null) this.#countHandshakeFailures(this.#internal, countRefusal);
    if (isController) await this.#startController(options.newDirectory === true);
    this.#router = new ControllerRouter({
      voters: new Map(c.controllerVoters.map((v) => [v.id, address(v)])),
      credentials: tls.internalChannel(),
    });
    if (c.roles.includes("broker")) this.#broker = await this.#startBroker(options);
    addReflection(this.#internal, internalServiceNames(c.roles));
    registerNodeMetrics(this.metrics, {
      dataDir: c.dataDir,
      controller: () => this.#controller,
      logs: () => this.#logs,
      broker: () => this.#broker,
    });
    this.health.internal.setAll("SERVING");
    this.#admin = await startAdminServer({
      ...c.adminListener,
      tls: tls.admin,
      registry: this.metrics.registry,
      readiness: () => this.readiness(),
    });
    this.logger.info(
      { nodeId: c.nodeId, roles: c.roles, ports: this.ports, dataDir: c.dataDir },
      "node started",
    );
  }

  /** Counts and logs (rate-limited) TLS handshakes the internal listener refused. */
  #countHandshakeFailures(server: grpc.Server, count: CountRefusal): void {
    const limiter = new LogLimiter();
    const hooked = countHandshakeFailures(server, (why, error) => {
      count(HANDSHAKE_RPC, why);
      const suppressed = limiter.hit(why);
      if (suppressed !== null)
        this.logger.warn(
          { reason: why, err: error.message, suppressed },
          "internal listener refused a TLS handshake",
        );
    });
    if (!hooked)
      this.logger.warn({}, "grpc-js exposes no TLS server: refused handshakes are not counted");
  }

  /** The listeners' TLS; unusable certificate files stop the start with one clear line. */
  #openTls(): NodeTls {
    try {
      this.#tls = new NodeTls(this.config, this.logger.child({ component: "tls" }));
    } catch (error) {
      throw error instanceof TlsFilesError ? new NodeStartError(error.message) : error;
    }
    if (this.#tls.internal !== null || this.#tls.client !== null)
      this.logger.info(
        {
          client: this.#tls.client?.clientAuth ?? "plaintext",
          internal: this.#tls.internal === null ? "plaintext" : "mTLS",
          admin: this.#tls.admin?.clientAuth ?? "plaintext",
        },
        "TLS listeners",
      );
    return this.#tls;
  }

  /** Client authentication; an unusable JWKS file stops the start with one clear line. */
  #openAuthentication(tls: boolean, image: () => MetadataImage): NodeAuthentication {
    try {
      const logger = this.logger.child({ component: "authentication" });
      return new NodeAuthentication(this.config, tls, image, this.metrics.registry, logger);
    } catch (error) {
      throw new NodeStartError((error as Error).message);
    }
  }

  #tlsParts(): NodeTls {
    if (this.#tls === null) throw new Error("TLS not opened");
    return this.#tls;
  }

  async #startController(newDirectory: boolean): Promise<void> {
    this.#controller = await ControllerNode.start(this.#controllerOptions(newDirectory)).catch(
      (error: unknown) => {
        // A data dir of another cluster layout: one clear line and exit 2, not a node that
        // retries registration forever with /readyz 503.
        const refused =
          error instanceof VoterSetMismatchError || error instanceof ClusterIdMismatchError;
        throw refused ? new NodeStartError(error.message) : error;
      },
    );
    this.#controller.onFatal((error) => {
      this.#fatalError ??= { error };
      this.#fatal?.(error);
    });
  }

  #controllerOptions(newDirectory: boolean): ControllerNodeOptions {
    const c = this.config;
    const server = this.#internal;
    if (server === null) throw new Error("internal server missing");
    return {
      nodeId: c.nodeId,
      dataDir: c.dataDir,
      listen: address(c.internalListener),
      voters: c.controllerVoters.map((v) => ({
        id: nodeId(v.id),
        host: v.host,
        port: v.port,
        ...(v.dir === undefined ? {} : { dir: directoryId(v.dir) }),
      })),
      logger: this.#child("controller"),
      tickMs: c.controllerTickMs,
      controllerTickMs: c.controllerTickMs,
      controller: {
        sessionTimeoutMs: c.brokerSessionTimeoutMs,
        heartbeatIntervalMs: c.brokerHeartbeatIntervalMs,
        maxReplicasPerBroker: c.maxPartitionsPerBroker,
      },
      sharedServer: { server, port: this.#internalPort },
      channelCredentials: this.#tlsParts().internalChannel(),
      formatPolicy: "format",
      newDirectory,
      ...(c.clusterId === "" ? {} : { clusterId: c.clusterId }),
    };
  }

  async #startBroker(options: BrokerNodeOptions): Promise<BrokerParts> {
    const c = this.config;
    const router = this.#router;
    const logs = this.#logs;
    if (router === null || logs === null || this.#internal === null)
      throw new Error("node parts missing");
    const voters = [...c.controllerVoters].sort((a, b) =>
      a.id === c.nodeId ? -1 : b.id === c.nodeId ? 1 : 0,
    );
    const tls = this.#tlsParts();
    const follower = new MetadataFollower({
      controllers: voters.map(address),
      credentials: tls.internalChannel(),
      logger: this.#child("metadata"),
    });
    let lifecycle: BrokerLifecycle | null = null;
    const replicas = (options.replicaManager ?? createReplicaManager)({
      deps: {
        brokerId: c.nodeId,
        brokerEpoch: () => lifecycle?.brokerEpoch ?? -1,
        alterPartition: (r) => alterPartitionVia(router, r),
        allocateProducerIds: allocateProducerIdsVia(router),
        image: () => follower.image,
      },
      logManager: logs,
      config: {
        replicaLagTimeMaxMs: c.replicaLagTimeMaxMs,
        replicaFetchMaxWaitMs: c.replicaFetchMaxWaitMs,
        minInsyncReplicas: c.minInsyncReplicas,
        messageMaxBytes: c.messageMaxBytes,
      },
      logger: this.#child("replica"),
      metrics: this.metrics,
      replicationCredentials: tls.internalChannel(),
    });
    this.#followInto(
      follower,
      replicas,
      new InitialCatchUp(c.nodeId, () => lifecycle?.incarnationId),
    );
    this.#internal.addService(
      replicationServiceDefinition(),
      createReplicationHandlers(replicas.replicaFetchLeader()),
    );
    lifecycle = new BrokerLifecycle({
      brokerId: c.nodeId,
      client: c.advertisedClient,
      internal: c.advertisedInternal,
      router,
      appliedOffset: () => follower.appliedOffset,
      heartbeatIntervalMs: c.brokerHeartbeatIntervalMs,
      logger: this.#child("lifecycle"),
    });
    const auth = this.#openAuthentication(tls.client !== null, () => follower.image);
    this.#auth = auth;
    const clientServer = new grpc.Server(clientListenerOptions(c, auth.interceptor()));
    const groups = this.#groupCoordinator(replicas, follower);
    const serviceContext = {
      ...this.#serviceContext(replicas, follower),
      groups,
      authenticator: auth.authenticator,
    };
    groups.bindEdge({
      createOffsetsTopic: (settings) => createOffsetsTopic(serviceContext, settings),
      lookupOffsets: (items) => lookupOffsets(serviceContext, items),
      recordTimestamp: (t, p, offset) => recordTimestamp(serviceContext, t, p, offset),
    });
    addClientServices(clientServer, serviceContext);
    auth.addAuthService(clientServer, serviceContext);
    clientServer.addService(healthServiceDefinition(), this.health.client.handlers());
    addReflection(clientServer, CLIENT_SERVICE_NAMES);
    const clientListener = await ClientListener.listen(
      clientServer,
      tls.clientServer(),
      c.clientListener.host,
      c.clientListener.port,
      {
        total: c.connectionsMax,
        perPeer: c.connectionsPerPeerMax,
        handshakeTimeoutMs: c.connectionsHandshakeTimeoutMs,
      },
      this.#child("client-listener"),
    );
    const clientPort = clientListener.port;
    follower.start();
    lifecycle.start();
    groups.start();
    const offline = this.#logs?.offlineReason ?? null;
    if (offline !== null) lifecycle.requestFence(`log dir offline: ${offline}`);
    return { replicas, follower, lifecycle, clientServer, clientListener, clientPort, groups };
  }

  /**
   * Applies each committed delta to the replica manager, one at a time, in order, once the
   * initial catch-up is over (before: held, then applied as one, see catch-up.ts); image
   * waiters (admin writes) wake once the replica manager has applied the image.
   */
  #followInto(
    follower: MetadataFollower,
    replicas: NodeReplicaManager,
    catchUp: InitialCatchUp,
  ): void {
    let chain = Promise.resolve();
    follower.onDelta((offered, image) => {
      const delta = catchUp.offer(offered, image);
      if (delta === null) return;
      chain = chain
        .then(() => replicas.applyMetadata(delta, image))
        .catch((error: unknown) =>
          this.logger.error(
            { err: String(error), offset: image.offset },
            "applying metadata failed",
          ),
        )
        .then(() => {
          this.#appliedImage = image;
          this.#groups?.onMetadata();
          for (const wake of [...this.#imageWaiters]) wake();
          this.#updateHealth();
        });
    });
  }

  #serviceContext(replicas: NodeReplicaManager, follower: MetadataFollower): ServiceContext {
    const c = this.config;
    return {
      nodeId: c.nodeId,
      replicas,
      image: () => follower.image,
      controllerId: () => this.#controllerId(),
      controller: this.#router as ControllerRouter,
      peer: (id) => this.#peer(follower.image, id),
      metrics: this.metrics,
      logger: this.#child("services"),
      defaults: {
        numPartitions: c.numPartitions,
        defaultReplicationFactor: c.defaultReplicationFactor,
        minInsyncReplicas: c.minInsyncReplicas,
        requestTimeoutMs: c.requestTimeoutMs,
      },
      waitForImage: (predicate, timeoutMs) => this.#waitForImage(predicate, timeoutMs),
      shutdownSignal: this.#shutdown.signal,
      streamBounds: {
        total: c.subscribeStreamsMax,
        perConnection: c.subscribeStreamsPerConnectionMax,
      },
      authorizer: new Authorizer({
        mode: c.authorizer,
        superUsers: c.superUsers,
        acls: () => follower.image.acls,
        denied: (operation, resourceType) =>
          this.metrics.authorizationDenialsTotal.inc({ operation, resource_type: resourceType }),
        logger: this.#child("authorizer"),
      }),
    };
  }

  /** The consumer-group coordinator (docs/consumer-groups.md); its edge is bound once built. */
  #groupCoordinator(replicas: NodeReplicaManager, follower: MetadataFollower): GroupCoordinator {
    const c = this.config;
    this.#groups = new GroupCoordinator({
      brokerId: c.nodeId,
      replicas,
      image: () => follower.image,
      logger: this.#child("groups"),
      config: {
        sessionTimeoutMs: c.groupConsumerSessionTimeoutMs,
        heartbeatIntervalMs: c.groupConsumerHeartbeatIntervalMs,
        defaultRebalanceTimeoutMs: 300_000,
        defaultAssignor: "uniform",
        maxGroupSize: c.groupConsumerMaxSize,
        offsetsRetentionMs: c.offsetsRetentionMinutes * 60_000,
      },
      offsetsTopic: {
        numPartitions: c.offsetsTopicNumPartitions,
        replicationFactor: c.offsetsTopicReplicationFactor,
        segmentBytes: c.offsetsTopicSegmentBytes,
      },
      appendTimeoutMs: c.requestTimeoutMs,
      metrics: createGroupMetrics(this.metrics.registry),
    });
    return this.#groups;
  }

  #controllerId(): number {
    const local = this.#controller?.describe().activeControllerId ?? 0;
    if (local > 0) return local;
    return this.#router?.activeId ?? -1;
  }

  #peer(image: MetadataImage, id: number): ClientStubs | null {
    const broker = [...image.brokers.values()].find((b) => b.id === id);
    const l = broker?.listeners.find((x) => x.name === "client");
    if (l === undefined) return null;
    const key = address(l);
    let stubs = this.#peers.get(key);
    if (stubs === undefined) {
      stubs = clientStubs(key, this.#tlsParts().forwardChannel());
      this.#peers.set(key, stubs);
    }
    return stubs;
  }

  #waitForImage(predicate: (image: MetadataImage) => boolean, timeoutMs: number): Promise<boolean> {
    const applied = () => this.#appliedImage !== null && predicate(this.#appliedImage);
    if (applied()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#imageWaiters.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (applied()) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#imageWaiters.add(check);
    });
  }

  /** The data dir's first log failure: give up leadership (fence) and report not ready. */
  #logDirOffline(reason: string): void {
    this.logger.error({ reason }, "log dir offline");
    this.#broker?.lifecycle.requestFence(`log dir offline: ${reason}`);
    this.#updateHealth();
  }

  #updateHealth(): void {
    if (this.#stopping !== null) return;
    this.health.client.setAll(this.readiness().ready ? "SERVING" : "NOT_SERVING");
  }

  /**
   * Ready = (a controller voter) in contact with its quorum, and registered, unfenced and
   * caught up (broker) or knowing a Raft leader (controller only).
   */
  readiness(): { ready: boolean; reason: string } {
    if (this.#stopping !== null) return { ready: false, reason: "shutting down" };
    if (this.#fatalError !== null) return { ready: false, reason: "stopped on a fatal error" };
    const lost = this.#controller?.quorumContactLost() ?? null;
    if (lost !== null) return { ready: false, reason: lost };
    const offline = this.#logs?.offlineReason ?? null;
    if (offline !== null) return { ready: false, reason: `log dir offline: ${offline}` };
    const b = this.#broker;
    if (b === null) {
      const leader = this.#controller?.driver.status().leader ?? null;
      return leader === null
        ? { ready: false, reason: "no controller quorum leader yet" }
        : { ready: true, reason: "ready" };
    }
    const s = b.lifecycle.state;
    if (!s.registered) return { ready: false, reason: "not registered with the controller yet" };
    if (s.fenced) return { ready: false, reason: "fenced: catching up with the metadata log" };
    if (!s.caughtUp) return { ready: false, reason: "metadata not caught up" };
    return { ready: true, reason: "ready" };
  }

  /** The bound ports. */
  get ports(): BoundPorts {
    return {
      client: this.#broker?.clientPort ?? 0,
      internal: this.#internalPort,
      admin: this.#admin?.port ?? 0,
    };
  }

  /** The controller of a controller-role node (null otherwise). */
  get controller(): ControllerNode | null {
    return this.#controller;
  }

  /**
   * Calls `listener` once if a fatal error stops the node (the process should exit 1), at
   * once if one already did.
   */
  onFatal(listener: (error: unknown) => void): void {
    this.#fatal = listener;
    if (this.#fatalError !== null) listener(this.#fatalError.error);
  }

  /** Keeps readiness/health current (called by the CLI and tests after start). */
  watchHealth(everyMs = 200): void {
    const timer = setInterval(() => this.#updateHealth(), everyMs);
    timer.unref();
    this.#shutdown.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }

  /** The SIGTERM path; see the module comment. Idempotent. */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#shutdownSequence();
    return this.#stopping;
  }

  async #shutdownSequence(): Promise<void> {
    const c = this.config;
    // The drain budget, not the whole shutdown.timeout.ms: what is left closes the logs.
    const deadline = Date.now() + c.shutdownDrainTimeoutMs;
    this.health.client.setAll("NOT_SERVING");
    this.health.internal.setAll("NOT_SERVING");
    const b = this.#broker;
    if (b !== null) {
      const unreachableMs = Math.max(2_000, c.controllerTickMs * 40);
      const agreed = await b.lifecycle.controlledShutdown(
        Math.max(0, deadline - Date.now() - Math.min(500, c.shutdownDrainTimeoutMs / 4)),
        unreachableMs,
      );
      this.logger.info(
        { agreed },
        agreed
          ? "controlled shutdown complete"
          : "controlled shutdown not confirmed; stopping anyway",
      );
    }
    this.#shutdown.abort();
    b?.clientListener.stopAccepting();
    if (b !== null) await drain(b.clientServer, Math.max(50, deadline - Date.now()));
    await this.#closeAll();
    this.logger.info({ nodeId: c.nodeId }, "node stopped");
  }

  async #closeAll(): Promise<void> {
    this.#shutdown.abort();
    this.health.client.endWatches();
    this.health.internal.endWatches();
    const b = this.#broker;
    if (b !== null) {
      b.lifecycle.close();
      b.groups.close();
      b.clientServer.forceShutdown();
      b.clientListener.close();
      await b.follower.close();
      await b.replicas.close();
    }
    for (const p of this.#peers.values()) p.close();
    this.#router?.close();
    await this.#controller?.close();
    this.#internal?.forceShutdown();
    await this.#admin?.close();
    await this.#logs?.close();
    this.#tls?.close();
    this.#auth?.close();
  }

  #child(component: string): ServiceLogger {
    return this.logger.child({ component });
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function address(h: HostPort): string {
  return h.host.includes(":") ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

function bind(
  server: grpc.Server,
  at: HostPort,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address(at), credentials, (error, port) =>
      error === null
        ? resolve(port)
        : reject(new Error(`cannot listen on ${address(at)}: ${error.message}`)),
    );
  });
}

/**
 * The client listener's options: the wire module's, plus an idle timeout so connections that
 * carry no call are closed (GOAWAY) instead of holding a file descriptor forever, the
 * descriptor budget that refuses new calls before Raft or storage runs out of descriptors,
 * and the interceptor that answers undecodable requests INVALID_ARGUMENT.
 */
function clientListenerOptions(
  c: NodeConfig,
  authentication: grpc.ServerInterceptor,
): grpc.ServerOptions {
  return {
    ...clientServerOptions(c.socketRequestMaxBytes),
    "grpc.max_connection_idle_ms": c.connectionsMaxIdleMs,
    interceptors: [
      new DescriptorBudget(c.fileDescriptorsReserve).interceptor(),
      // Before any decoding complaint: an unauthenticated caller learns nothing else.
      authentication,
      ...clientServiceInterceptors(),
    ],
  };
}

/** Stops accepting and waits up to `timeoutMs` for in-flight calls, then cancels the rest. */
function drain(server: grpc.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The strand.v1 services the internal listener serves for these roles (for reflection). */
function internalServiceNames(roles: readonly string[]): string[] {
  const names: string[] = [];
  if (roles.includes("controller"))
    names.push("strand.v1.RaftService", "strand.v1.ControllerService");
  if (roles.includes("broker")) names.push("strand.v1.ReplicationService");
  return names;
}
