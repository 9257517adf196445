// Test helpers for fault injection on a multi-process cluster: nodes that are killed, stopped
// (SIGSTOP), resumed and restarted on the same ports and data dirs; client calls that always
// carry a deadline (a stopped node never answers); a producer that records every acknowledged
// batch and a tail consumer that records every record it saw; reading a partition by fetch or
// from a stopped node's data dir with @strand/storage. Every loop is bounded in count and time.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type {
  FetchResponse__Output,
  MetadataResponse__Output,
  ProduceResponse__Output,
  ProduceServiceClient,
} from "@strand/protocol";
import {
  type ClientStubs,
  clientStubs,
  decodeRecordBatch,
  ErrorCode,
  encodeRecordBatch,
  iterateBatches,
  strandGrpc,
} from "@strand/protocol";
import { Log } from "@strand/storage";
import { type ClusterLayout, layout, type NodeProcess, startNode, unary } from "./cluster.ts";
import { waitFor } from "./free-ports.ts";
import { randomInt } from "./prng.ts";

/** Deadline call options: `ms` from now. */
export function within(ms: number): grpc.CallOptions {
  return { deadline: Date.now() + ms };
}

/** One partition as a node's metadata sees it. */
export interface PartitionView {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** What {@link FaultCluster.start} needs. */
export interface FaultClusterOptions {
  readonly count: number;
  /** Extra settings for every node (after FAST_SETTINGS, so they win). */
  readonly extra?: readonly string[];
  /**
   * When set, node 1 is the only controller (process.roles controller) and nodes 2..count are
   * brokers only: stopping brokers then never costs the metadata quorum its majority.
   */
  readonly dedicatedController?: boolean;
}

/** A cluster of `strand server start` processes whose nodes can be faulted and restarted. */
export class FaultCluster {
  readonly layout: ClusterLayout;
  readonly dataRoot: string;
  readonly options: FaultClusterOptions;
  /** The current process of each node id (index id - 1). */
  readonly nodes: NodeProcess[] = [];
  /** Every process ever started, for cleanup. */
  readonly #all: NodeProcess[] = [];
  readonly #stopped = new Set<number>();
  readonly #stubs = new Map<NodeProcess, ClientStubs>();

  private constructor(l: ClusterLayout, dataRoot: string, options: FaultClusterOptions) {
    this.layout = l;
    this.dataRoot = dataRoot;
    this.options = options;
  }

  /** Starts every node (formatting a fresh cluster) and waits until all are ready. */
  static async start(options: FaultClusterOptions): Promise<FaultCluster> {
    const full = await layout(options.count);
    const l: ClusterLayout = options.dedicatedController
      ? { ...full, voters: `1@127.0.0.1:${full.ports[0]!.internal}` }
      : full;
    const c = new FaultCluster(l, mkdtempSync(join(tmpdir(), "strand-fault-")), options);
    for (let id = 1; id <= options.count; id++) c.#spawn(id, !options.dedicatedController);
    await c.waitReady(c.nodes, 40_000);
    return c;
  }

  /** Node ids that host partitions. */
  get brokerIds(): number[] {
    const ids = Array.from({ length: this.options.count }, (_, k) => k + 1);
    return this.options.dedicatedController ? ids.slice(1) : ids;
  }

  #spawn(id: number, bootstrap: boolean): NodeProcess {
    const roles = !this.options.dedicatedController
      ? []
      : ["--process.roles", id === 1 ? "controller" : "broker"];
    // replicationLag() reads the per-partition lag series, which is opt-in.
    const n = startNode(this.layout, id, this.dataRoot, [
      ...["--metrics.partition.enable", "true"],
      ...(this.options.extra ?? []),
      ...roles,
      ...(bootstrap ? ["--bootstrap"] : []),
    ]);
    this.nodes[id - 1] = n;
    this.#all.push(n);
    this.#stopped.delete(id);
    return n;
  }

  node(id: number): NodeProcess {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Alive and not stopped. */
  isUp(id: number): boolean {
    return this.node(id).alive && !this.#stopped.has(id);
  }

  /** Client stubs of the node's current process (fresh ones after a restart). */
  stubs(id: number): ClientStubs {
    const n = this.node(id);
    let s = this.#stubs.get(n);
    if (s === undefined) {
      s = clientStubs(n.clientAddress);
      this.#stubs.set(n, s);
    }
    return s;
  }

  async kill(id: number): Promise<void> {
    const n = this.node(id);
    if (this.#stopped.has(id)) n.resume();
    this.#stopped.delete(id);
    await n.kill("SIGKILL");
  }

  stop(id: number): void {
    this.node(id).pause();
    this.#stopped.add(id);
  }

  resume(id: number): void {
    this.node(id).resume();
    this.#stopped.delete(id);
  }

  /** Starts a dead node again on its ports and data dir (no --bootstrap: its dir exists). */
  restart(id: number): NodeProcess {
    if (this.node(id).alive) throw new Error(`node ${id} is still running`);
    return this.#spawn(id, false);
  }

  async waitReady(nodes: readonly NodeProcess[], timeoutMs = 30_000): Promise<void> {
    await Promise.all(
      nodes.map((n) =>
        waitFor(
          `node ${n.id} ready (stderr: ${n.stderr})`,
          async () => n.alive && (await n.http("/readyz")).status === 200,
          timeoutMs,
          50,
        ),
      ),
    );
  }

  /** A partition's folder in a node's data dir. */
  partitionDir(id: number, topic: string, partition: number): string {
    return join(this.dataRoot, `node-${id}`, `${topic}-${partition}`);
  }

  /** The partition as node `id` sees it (throws when it does not answer in 1 s). */
  async partitionOn(id: number, topic: string, partition: number): Promise<PartitionView> {
    const md = await unary<MetadataResponse__Output>((cb) =>
      this.stubs(id).metadata.Metadata({ topics: [topic] }, within(1_000), cb),
    );
    const p = md.topics[0]?.partitions.find((x) => x.partition === partition);
    if (p === undefined) throw new Error(`node ${id} does not know ${topic}-${partition}`);
    return { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr };
  }

  /** The freshest view (highest leader epoch) among the up brokers that answer. */
  async partition(topic: string, partition: number): Promise<PartitionView | undefined> {
    const views = await Promise.all(
      this.brokerIds
        .filter((id) => this.isUp(id))
        .map((id) => this.partitionOn(id, topic, partition).catch(() => undefined)),
    );
    let best: PartitionView | undefined;
    for (const v of views)
      if (v !== undefined && (best === undefined || v.leaderEpoch > best.leaderEpoch)) best = v;
    return best;
  }

  /** Polls until `check` holds for the partition as the leader itself reports it. */
  async waitPartition(
    what: string,
    topic: string,
    partition: number,
    check: (p: PartitionView) => boolean,
    timeoutMs = 15_000,
  ): Promise<PartitionView> {
    return waitFor(
      what,
      async () => {
        const any = await this.partition(topic, partition);
        if (any === undefined || any.leaderId < 0 || !this.isUp(any.leaderId)) return undefined;
        const own = await this.partitionOn(any.leaderId, topic, partition);
        return own.leaderId === any.leaderId && check(own) ? own : undefined;
      },
      timeoutMs,
      50,
    );
  }

  /** Creates a topic on an up broker, then waits until its leader knows it with a full ISR. */
  async createTopic(
    topic: string,
    o: { partitions: number; replicationFactor: number; configs: Record<string, string> },
  ): Promise<PartitionView> {
    const id = this.brokerIds.find((x) => this.isUp(x))!;
    const res = await unary<{ topics: { errorCode: number; errorMessage: string }[] }>((cb) =>
      this.stubs(id).admin.CreateTopics(
        {
          topics: [
            {
              name: topic,
              partitionCount: o.partitions,
              replicationFactor: o.replicationFactor,
              configs: Object.entries(o.configs).map(([key, value]) => ({ key, value })),
            },
          ],
        },
        within(10_000),
        cb,
      ),
    );
    if (res.topics[0]?.errorCode !== 0)
      throw new Error(`CreateTopics ${topic}: ${JSON.stringify(res.topics[0])}`);
    return this.waitPartition(
      `${topic}-0 led with a full ISR`,
      topic,
      0,
      (p) => p.isr.length === o.replicationFactor,
    );
  }

  /** The leader's high watermark (ListOffsets latest), or undefined when it does not answer. */
  async highWatermark(id: number, topic: string, partition: number): Promise<bigint | undefined> {
    try {
      const r = await unary<{
        topics: { partitions: { errorCode: number; offset: string }[] }[];
      }>((cb) =>
        this.stubs(id).fetch.ListOffsets(
          { topics: [{ topic, partitions: [{ partition, spec: "OFFSET_SPEC_LATEST" }] }] },
          within(1_000),
          cb,
        ),
      );
      const p = r.topics[0]?.partitions[0];
      return p?.errorCode === 0 ? BigInt(p.offset) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The follower-side replication lag gauge of a node for a partition (undefined if absent). */
  async replicationLag(id: number, topic: string, partition: number): Promise<number | undefined> {
    const text = (await this.node(id).http("/metrics")).body;
    const line = text
      .split("\n")
      .find(
        (l) =>
          l.startsWith("strand_broker_replication_lag_offsets{") &&
          l.includes(`topic="${topic}"`) &&
          l.includes(`partition="${partition}"`),
      );
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  }

  /** Resumes stopped nodes, SIGKILLs every process, closes stubs. */
  async killAll(): Promise<void> {
    for (const s of this.#stubs.values()) s.close();
    this.#stubs.clear();
    for (const n of this.#all) if (n.paused) n.resume();
    this.#stopped.clear();
    await Promise.all(this.#all.map((n) => n.kill("SIGKILL")));
  }

  /**
   * killAll, then removes the data. With `failed`, every node's log lines (and stderr) go to
   * test-results/<failed>-<time>.log first, and the path is printed.
   */
  async destroy(failed?: string): Promise<void> {
    await this.killAll();
    if (failed !== undefined || process.env.STRAND_TEST_DUMP_LOGS) {
      const dir = join(import.meta.dirname, "../../test-results");
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${failed ?? "fault"}-${Date.now()}.log`);
      const stderr = this.#all.map((n) => `${n.id} stderr: ${n.stderr}`).join("\n");
      writeFileSync(file, `${this.logs()}\n${stderr}\n`);
      console.log(`node logs: ${file}`);
    }
    rmSync(this.dataRoot, { recursive: true, force: true });
  }

  /** Every node's log lines, prefixed by its id (for a failing test's output). */
  logs(): string {
    return this.#all.flatMap((n) => n.lines.map((l) => `${n.id} ${l}`)).join("\n");
  }
}

/** One record of a partition. */
export interface SeenRecord {
  readonly offset: bigint;
  readonly value: string;
}

/** The records of whole batches back to back. */
export function decodeRecords(bytes: Buffer): SeenRecord[] {
  const out: SeenRecord[] = [];
  for (const view of iterateBatches(bytes)) {
    for (const r of decodeRecordBatch(view.bytes()).records)
      out.push({ offset: r.offset, value: r.value?.toString("utf8") ?? "" });
  }
  return out;
}

/** A partition log read from disk. */
export interface LogContents {
  readonly bytes: Buffer;
  readonly records: SeenRecord[];
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  readonly epochs: { epoch: number; startOffset: bigint }[];
}

/**
 * Reads a dead node's partition folder with @strand/storage. The folder is copied first, so
 * recovery of the copy never changes what the node itself finds when it restarts.
 */
export async function readPartitionDir(dir: string): Promise<LogContents> {
  const copy = mkdtempSync(join(tmpdir(), "strand-log-copy-"));
  try {
    cpSync(dir, copy, { recursive: true });
    const log = await Log.open(copy);
    try {
      const chunks: Buffer[] = [];
      let position = log.logStartOffset;
      for (let round = 0; round < 100_000 && position < log.logEndOffset; round++) {
        const read = await log.read(position, { maxBytes: 1024 * 1024 });
        if (read.nextOffset <= position) throw new Error(`read at ${position} made no progress`);
        chunks.push(read.records);
        position = read.nextOffset;
      }
      const bytes = Buffer.concat(chunks);
      return {
        bytes,
        records: decodeRecords(bytes),
        logStartOffset: log.logStartOffset,
        logEndOffset: log.logEndOffset,
        epochs: log.epochEntries().map((e) => ({ epoch: e.epoch, startOffset: e.startOffset })),
      };
    } finally {
      await log.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Fetches [from, high watermark) of a partition from node `id` (its leader). */
export async function fetchAll(
  c: FaultCluster,
  id: number,
  topic: string,
  partition: number,
  from = 0n,
): Promise<{ records: SeenRecord[]; highWatermark: bigint }> {
  const records: SeenRecord[] = [];
  let next = from;
  for (let round = 0; round < 10_000; round++) {
    const f = await unary<FetchResponse__Output>((cb) =>
      c.stubs(id).fetch.Fetch(
        {
          maxWaitMs: 0,
          maxBytes: 1024 * 1024,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(next) }] }],
        },
        within(5_000),
        cb,
      ),
    );
    const p = f.topics[0]?.partitions[0];
    if (p === undefined || p.errorCode !== 0)
      throw new Error(`fetch at ${next} from node ${id}: ${JSON.stringify(p)}`);
    const hw = BigInt(p.highWatermark);
    for (const r of decodeRecords(p.records)) {
      if (r.offset < next) continue;
      records.push(r);
      next = r.offset + 1n;
    }
    if (next >= hw) return { records, highWatermark: hw };
    if (p.records.length === 0) throw new Error(`fetch at ${next} < HW ${hw} returned nothing`);
  }
  throw new Error("fetchAll did not reach the high watermark in 10 000 rounds");
}

/** One acknowledged produce: where its records went. */
export interface AckedBatch {
  readonly baseOffset: bigint;
  readonly values: readonly string[];
  readonly leaderId: number;
}

/** What {@link SequenceProducer} needs. */
export interface SequenceProducerOptions {
  readonly cluster: FaultCluster;
  readonly topic: string;
  readonly partition: number;
  readonly acks: "ACKS_ALL" | "ACKS_LEADER";
  readonly random: () => number;
  /** Producer-side request timeout (the call's deadline is a second longer). */
  readonly timeoutMs: number;
  readonly recordsPerBatchMax: number;
  /** Prefix of every value, so records of different phases are told apart. */
  readonly prefix: string;
}

/**
 * Sends one batch at a time to the partition's leader, following NOT_LEADER hints and backing
 * off on anything else. Every attempt carries fresh sequence numbers (a retry resends the
 * records under new numbers), so each value is sent at most once: a value at two offsets is a
 * broker bug, never a client retry.
 */
export class SequenceProducer {
  readonly acked: AckedBatch[] = [];
  readonly codes = new Map<string, number>();
  #o: SequenceProducerOptions;
  #seq = 0;
  #leaderId = -1;
  #stopping = false;
  #loop: Promise<void> | undefined;

  constructor(o: SequenceProducerOptions) {
    this.#o = o;
  }

  get leaderId(): number {
    return this.#leaderId;
  }

  /** Runs until {@link stop}, at most `maxAttempts` sends. */
  start(maxAttempts = 20_000): void {
    if (this.#loop !== undefined && !this.#stopping) throw new Error("already running");
    this.#stopping = false;
    this.#loop = this.#run(maxAttempts);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#loop;
  }

  /** Sends one batch now; answers the partition's error code (or a gRPC status name). */
  async sendOnce(): Promise<{ code: number | string; acked?: AckedBatch }> {
    const answer = await this.#send();
    const key = String(answer.code);
    this.codes.set(key, (this.codes.get(key) ?? 0) + 1);
    return answer;
  }

  /**
   * Sends until one batch is acknowledged. Refusals are retried as a client would: a leader
   * named by metadata may not have taken over yet (NOT_LEADER_OR_FOLLOWER), and a new leader
   * appears only after the controller fences the old one.
   */
  async ackOne(what: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      what,
      async () => ((await this.sendOnce()).code === ErrorCode.NONE.code ? true : undefined),
      timeoutMs,
    );
  }

  async #send(): Promise<{ code: number | string; acked?: AckedBatch }> {
    const o = this.#o;
    if (this.#leaderId < 0 || !o.cluster.isUp(this.#leaderId)) {
      const p = await o.cluster.partition(o.topic, o.partition);
      this.#leaderId = p?.leaderId ?? -1;
      if (this.#leaderId < 0 || !o.cluster.isUp(this.#leaderId)) return { code: "NO_LEADER" };
    }
    const leaderId = this.#leaderId;
    const count = randomInt(o.random, 1, o.recordsPerBatchMax);
    const values = Array.from({ length: count }, () => `${o.prefix}-${this.#seq++}`);
    const records = encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    let res: ProduceResponse__Output;
    try {
      res = await unary<ProduceResponse__Output>((cb) =>
        o.cluster.stubs(leaderId).produce.Produce(
          {
            acks: o.acks,
            timeoutMs: o.timeoutMs,
            topics: [{ topic: o.topic, partitions: [{ partition: o.partition, records }] }],
          },
          within(o.timeoutMs + 1_000),
          cb,
        ),
      );
    } catch (error) {
      this.#leaderId = -1;
      const code = (error as grpc.ServiceError).code;
      return { code: `GRPC_${code}` };
    }
    const p = res.topics[0]?.partitions[0];
    if (p === undefined) return { code: "EMPTY_ANSWER" };
    if (p.errorCode === ErrorCode.NONE.code) {
      const acked = { baseOffset: BigInt(p.baseOffset), values, leaderId };
      this.acked.push(acked);
      return { code: 0, acked };
    }
    const hint = p.leaderHint?.leaderId ?? -1;
    this.#leaderId = p.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER.code && hint >= 0 ? hint : -1;
    return { code: p.errorCode };
  }

  async #run(maxAttempts: number): Promise<void> {
    let backoffMs = 20;
    for (let i = 0; i < maxAttempts && !this.#stopping; i++) {
      const sentTo = this.#leaderId;
      const { code } = await this.sendOnce();
      if (code === 0) {
        backoffMs = 20;
        continue;
      }
      // A hint to another broker is followed at once; one naming the broker just asked (it is
      // still taking over) is retried after the backoff.
      if (
        code === ErrorCode.NOT_LEADER_OR_FOLLOWER.code &&
        this.#leaderId >= 0 &&
        this.#leaderId !== sentTo
      )
        continue;
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 400);
    }
  }
}

/**
 * Long-polls the partition's leader from offset 0 and records every record it is given. A
 * record handed to a consumer must never change or vanish afterwards.
 */
export class TailConsumer {
  readonly seen = new Map<bigint, string>();
  readonly errors = new Map<string, number>();
  next = 0n;
  #c: FaultCluster;
  #topic: string;
  #partition: number;
  #leaderId = -1;
  #stopping = false;
  #loop: Promise<void> | undefined;

  constructor(c: FaultCluster, topic: string, partition: number) {
    this.#c = c;
    this.#topic = topic;
    this.#partition = partition;
  }

  start(maxRounds = 20_000): void {
    this.#loop = this.#run(maxRounds);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#loop;
  }

  #count(key: string): void {
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  async #run(maxRounds: number): Promise<void> {
    for (let i = 0; i < maxRounds && !this.#stopping; i++) {
      if (!(await this.#round())) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** One fetch; false when it should back off. */
  async #round(): Promise<boolean> {
    const c = this.#c;
    if (this.#leaderId < 0 || !c.isUp(this.#leaderId)) {
      const p = await c.partition(this.#topic, this.#partition);
      this.#leaderId = p?.leaderId ?? -1;
      if (this.#leaderId < 0 || !c.isUp(this.#leaderId)) return false;
    }
    const leaderId = this.#leaderId;
    let f: FetchResponse__Output;
    try {
      f = await unary<FetchResponse__Output>((cb) =>
        c.stubs(leaderId).fetch.Fetch(
          {
            maxWaitMs: 200,
            maxBytes: 256 * 1024,
            topics: [
              {
                topic: this.#topic,
                partitions: [{ partition: this.#partition, fetchOffset: String(this.next) }],
              },
            ],
          },
          within(1_500),
          cb,
        ),
      );
    } catch (error) {
      this.#leaderId = -1;
      this.#count(`GRPC_${(error as grpc.ServiceError).code}`);
      return false;
    }
    const p = f.topics[0]?.partitions[0];
    if (p === undefined || p.errorCode !== 0) {
      this.#count(String(p?.errorCode));
      const hint = p?.leaderHint?.leaderId ?? -1;
      this.#leaderId = p?.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER.code ? hint : -1;
      return false;
    }
    for (const r of decodeRecords(p.records)) {
      if (r.offset < this.next) continue;
      this.seen.set(r.offset, r.value);
      this.next = r.offset + 1n;
    }
    return true;
  }
}

/**
 * The checker of docs/design.md §9.4 over a partition's final contents (offsets from 0 up): offsets
 * contiguous; no value at two offsets (each was sent once); every acknowledged batch at its
 * acknowledged offset, in order; every record a consumer saw still at its offset. Answers the
 * problems found (empty when none).
 */
export function checkPartition(
  final: readonly SeenRecord[],
  acked: readonly AckedBatch[],
  seen: ReadonlyMap<bigint, string>,
): string[] {
  const problems: string[] = [];
  const byOffset = new Map<bigint, string>();
  const offsetOf = new Map<string, bigint>();
  let expected = 0n;
  for (const r of final) {
    if (r.offset !== expected) problems.push(`offset ${r.offset} where ${expected} was expected`);
    expected = r.offset + 1n;
    byOffset.set(r.offset, r.value);
    const before = offsetOf.get(r.value);
    if (before !== undefined)
      problems.push(`value ${r.value} at offsets ${before} and ${r.offset}`);
    offsetOf.set(r.value, r.offset);
  }
  let previousBase = -1n;
  for (const b of acked) {
    if (b.baseOffset <= previousBase)
      problems.push(`acked base offset ${b.baseOffset} not above the previous ${previousBase}`);
    previousBase = b.baseOffset;
    b.values.forEach((v, k) => {
      const at = byOffset.get(b.baseOffset + BigInt(k));
      if (at !== v)
        problems.push(`acked ${v} at ${b.baseOffset + BigInt(k)} (leader ${b.leaderId}): ${at}`);
    });
  }
  for (const [offset, value] of seen) {
    const at = byOffset.get(offset);
    if (at !== value) problems.push(`consumer saw ${value} at ${offset}, now ${at ?? "nothing"}`);
  }
  return problems.slice(0, 20);
}

/** Seed of a fault test: STRAND_FAULT_SEED or `fallback`. */
export function faultSeed(fallback: number): number {
  const env = process.env.STRAND_FAULT_SEED;
  return env === undefined ? fallback : Number(env);
}

/**
 * A client whose metadata still names one broker as the leader (it never refreshes): it sends
 * acks=leader batches to that broker alone, as fast as it answers, and records what it was
 * told is acknowledged. Its own channel (no shared subchannel, short reconnect backoff) reaches
 * a restarted broker as soon as its listener is up.
 */
export class PinnedProducer {
  readonly acked: AckedBatch[] = [];
  readonly codes = new Map<string, number>();
  #client: ProduceServiceClient;
  #brokerId: number;
  #topic: string;
  #partition: number;
  #seq = 0;
  #stopping = false;
  #loop: Promise<void> | undefined;

  constructor(o: { address: string; brokerId: number; topic: string; partition: number }) {
    const Service = strandGrpc().strand.v1.ProduceService;
    this.#client = new Service(o.address, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
      "grpc.initial_reconnect_backoff_ms": 20,
      "grpc.max_reconnect_backoff_ms": 100,
    });
    this.#brokerId = o.brokerId;
    this.#topic = o.topic;
    this.#partition = o.partition;
  }

  start(maxAttempts = 50_000): void {
    this.#loop = this.#run(maxAttempts);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#loop;
    this.#client.close();
  }

  async #run(maxAttempts: number): Promise<void> {
    for (let i = 0; i < maxAttempts && !this.#stopping; i++) {
      const values = [`z-${this.#seq++}`];
      const records = encodeRecordBatch({
        baseTimestamp: 1_700_000_000_000n,
        records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
      });
      let code: string;
      try {
        const res = await unary<ProduceResponse__Output>((cb) =>
          this.#client.Produce(
            {
              acks: "ACKS_LEADER",
              timeoutMs: 500,
              topics: [
                { topic: this.#topic, partitions: [{ partition: this.#partition, records }] },
              ],
            },
            within(1_000),
            cb,
          ),
        );
        const p = res.topics[0]?.partitions[0];
        code = String(p?.errorCode);
        if (p?.errorCode === ErrorCode.NONE.code)
          this.acked.push({ baseOffset: BigInt(p.baseOffset), values, leaderId: this.#brokerId });
      } catch (error) {
        code = `GRPC_${(error as grpc.ServiceError).code}`;
      }
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
      if (code !== "0") await new Promise((r) => setTimeout(r, 5));
    }
  }
}
