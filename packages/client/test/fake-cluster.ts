// An in-process fake Strand cluster for the client's unit tests: N gRPC servers on
// 127.0.0.1 (random ports) implementing MetadataService, ProduceService (Produce),
// FetchService (Fetch, ListOffsets) and a minimal AdminService over one shared in-memory
// state. Every broker knows the true leaders but answers Metadata from `view` (which tests
// may leave stale), and refuses partitions it does not lead with NOT_LEADER_OR_FOLLOWER and
// a leader hint, as the real broker does. `faults` inject per-partition errors; `script`
// answers each Produce call as a test decides (an error code, a delay, or no answer at all).
// Produce answers one base offset per batch (batch_base_offsets) unless `legacyResults` is
// set (an older broker); with `dedupe`, a retried idempotent batch is answered with its
// original offset and not appended again, as the real leader does. With `sequenced`, the
// leader also applies the real broker's sequence rules (producer-state.ts): it remembers a
// producer's last 5 batches per partition, answers a leading retry of one of them with its
// original offset, and refuses a batch whose sequence does not follow with
// OUT_OF_ORDER_SEQUENCE_NUMBER. `hold` makes a request wait before it is processed at all, so
// a later request overtakes it (a request that reaches the leader late).
import * as grpc from "@grpc/grpc-js";
import {
  clientServerOptions,
  ErrorCode,
  encodeRecordBatch,
  iterateBatches,
  strandGrpc,
} from "@strand/protocol";

export interface FakePartition {
  leader: number;
  epoch: number;
  logStart: bigint;
  batches: Buffer[];
  next: bigint;
  /** With `dedupe`: the offset of each appended idempotent batch, by pid/epoch/sequence. */
  seen: Map<string, bigint>;
  /** With `sequenced`: each producer id's last 5 batches (first/last sequence, base offset). */
  producers: Map<bigint, { firstSeq: number; lastSeq: number; base: bigint }[]>;
}

export interface ProduceCall {
  readonly broker: number;
  readonly topic: string;
  readonly partition: number;
  readonly batches: number;
  readonly records: number;
  readonly at: number;
  /** producerId/baseSequence of each batch. */
  readonly sequences: string[];
}

/** A fault: answer `code` (with a hint when NOT_LEADER) `times` times, or hang. */
export interface Fault {
  code: number;
  times: number;
  hang?: boolean;
}

/** What a scripted broker does with one partition of one Produce request. */
export interface ScriptedAnswer {
  /** The partition's error code; 0 (the default) appends the records. */
  readonly code?: number;
  /** Answer this much later (the whole response waits for its slowest partition). */
  readonly delayMs?: number;
  /** Never answer the request (a lost response: the client's deadline has to fire). */
  readonly drop?: boolean;
  /**
   * Fail the whole call with this gRPC status (CANCELLED: what a broker's forced shutdown
   * answers to the calls still in flight).
   */
  readonly status?: grpc.status;
  /**
   * With a non-zero `code`: append the records first, then answer the error (an acks=all
   * produce that timed out after the leader wrote it).
   */
  readonly appended?: boolean;
}

/** Decides the answer to a Produce for `topic-partition` (null: behave normally). */
export type ProduceScript = (call: {
  readonly broker: number;
  readonly topic: string;
  readonly partition: number;
}) => ScriptedAnswer | null;

/** Runs a scripted answer (see `FakeCluster.#unary`) and passes it to `cb` when due. */
function answerWith(
  run: () => unknown,
  cb: (status: { code: grpc.status; details: string } | null, value: unknown) => void,
): void {
  try {
    const out = run();
    if (out === HANG) return;
    if (out instanceof Held) {
      setTimeout(() => answerWith(out.run, cb), out.ms);
      return;
    }
    if (out instanceof Delayed) {
      setTimeout(() => cb(null, out.value), out.ms);
      return;
    }
    cb(null, out);
  } catch (error) {
    if (error instanceof StatusAnswer) cb({ code: error.code, details: error.message }, null);
    else cb({ code: grpc.status.INTERNAL, details: String(error) }, null);
  }
}

export class FakeCluster {
  readonly servers: grpc.Server[] = [];
  readonly ports: number[] = [];
  readonly topics = new Map<string, FakePartition[]>();
  /** What Metadata answers as leader/epoch per partition; undefined = the truth. */
  readonly view = new Map<string, { leader: number; epoch: number }>();
  readonly produceCalls: ProduceCall[] = [];
  readonly metadataCalls: number[] = [];
  readonly fetchCalls: { broker: number; offsets: string[] }[] = [];
  readonly faults = new Map<string, Fault>();
  /**
   * Whether brokers serve FetchStream (false: it answers UNIMPLEMENTED, as brokers before it
   * did, and the consumer falls back to unary Fetch).
   */
  fetchStreams = true;
  /**
   * Produce and Fetch requests served, by how they came: unary calls or messages on a stream
   * (a FetchStream refused for `fetchStreams` false is not counted).
   */
  readonly served = { Produce: 0, ProduceStream: 0, Fetch: 0, FetchStream: 0 };
  /** Whether InitProducerId answers (else UNIMPLEMENTED, as brokers without idempotence). */
  producerIds = false;
  /** Scripted Produce answers, consulted after the leader check and before `faults`. */
  script: ProduceScript | null = null;
  /** Answer retried idempotent batches with their original offsets, without appending. */
  dedupe = false;
  /** Answer like a broker without batch_base_offsets (base_offset only). */
  legacyResults = false;
  /** Apply the broker's idempotence sequence rules (see the module comment). */
  sequenced = false;
  /** Like a topic's max.message.bytes: a produce with a larger batch appends nothing. */
  maxBatchBytes = Number.POSITIVE_INFINITY;
  /** Milliseconds a Produce call waits before it is processed (0 or null: at once). */
  hold: ((call: { readonly broker: number }) => number) | null = null;

  /** Starts `count` brokers; `extra` adds more services (e.g. a fake GroupService) to each. */
  static async start(
    count: number,
    extra?: (server: grpc.Server, broker: number, cluster: FakeCluster) => void,
  ): Promise<FakeCluster> {
    const c = new FakeCluster();
    for (let id = 1; id <= count; id++) {
      const server = new grpc.Server(clientServerOptions());
      extra?.(server, id, c);
      const v1 = strandGrpc().strand.v1;
      server.addService(v1.MetadataService.service, {
        Metadata: c.#unary((req) => c.metadata(id, req)),
      });
      server.addService(v1.ProduceService.service, {
        Produce: c.#unary((req) => {
          c.served.Produce++;
          const ms = c.hold?.({ broker: id }) ?? 0;
          return ms > 0 ? new Held(ms, () => c.produce(id, req)) : c.produce(id, req);
        }),
        ProduceStream: c.#stream((req) => {
          c.served.ProduceStream++;
          const ms = c.hold?.({ broker: id }) ?? 0;
          return ms > 0 ? new Held(ms, () => c.produce(id, req)) : c.produce(id, req);
        }),
        InitProducerId: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
          c.producerIds
            ? cb(null, { producerId: "42", producerEpoch: 0, errorCode: 0, errorMessage: "" })
            : cb({ code: grpc.status.UNIMPLEMENTED, details: "not yet" }, null),
      });
      server.addService(v1.FetchService.service, {
        Fetch: c.#unary((req) => {
          c.served.Fetch++;
          return c.fetch(id, req);
        }),
        FetchStream: c.#stream((req) => {
          if (!c.fetchStreams) throw new StatusAnswer(grpc.status.UNIMPLEMENTED);
          c.served.FetchStream++;
          return c.fetch(id, req);
        }),
        ListOffsets: c.#unary((req) => c.listOffsets(id, req)),
        Subscribe: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
      });
      server.addService(v1.AdminService.service, {
        CreateTopics: c.#unary((req) => c.createTopics(req)),
        DeleteTopics: c.#unary(() => ({ topics: [] })),
        DescribeTopics: c.#unary(() => ({ topics: c.metadata(id).topics })),
        DescribeCluster: c.#unary(() => ({ clusterId: "fake", controllerId: 1, brokers: [] })),
        DescribeConfigs: c.#unary(() => ({ results: [] })),
        AlterConfigs: c.#unary(() => ({ results: [] })),
      });
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
          e ? reject(e) : resolve(p),
        ),
      );
      c.servers.push(server);
      c.ports.push(port);
    }
    return c;
  }

  get addresses(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  // biome-ignore lint/suspicious/noExplicitAny: a test double serving untyped requests
  #unary(fn: (req: any) => unknown): grpc.handleUnaryCall<any, any> {
    return (call, cb) => answerWith(() => fn(call.request), cb);
  }

  /**
   * A correlated stream (ProduceStream, FetchStream) answering each request as `#unary`
   * would; a status answer fails the whole stream, as a broker's does.
   */
  // biome-ignore lint/suspicious/noExplicitAny: a test double serving untyped requests
  #stream(fn: (req: any) => unknown): grpc.handleBidiStreamingCall<any, any> {
    return (call) => {
      let failed = false;
      let inFlight = 0;
      let ended = false;
      call.on("data", (message: { correlationId: string; request: unknown }) => {
        inFlight++;
        answerWith(
          () => fn(message.request),
          (status, response) => {
            inFlight--;
            if (failed || call.cancelled) return;
            if (status !== null) {
              failed = true;
              call.emit("error", status);
              return;
            }
            call.write({ correlationId: message.correlationId, response });
            if (ended && inFlight === 0) call.end();
          },
        );
      });
      call.on("end", () => {
        ended = true;
        if (inFlight === 0 && !failed) call.end();
      });
      call.on("error", () => undefined);
    };
  }

  addTopic(
    name: string,
    partitions: number,
    leader = (p: number) => 1 + (p % this.ports.length),
  ): void {
    this.topics.set(
      name,
      Array.from({ length: partitions }, (_, p) => ({
        leader: leader(p),
        epoch: 0,
        logStart: 0n,
        batches: [],
        next: 0n,
        seen: new Map(),
        producers: new Map(),
      })),
    );
  }

  hint(leader: number, epoch: number) {
    return {
      leaderId: leader,
      leaderEpoch: epoch,
      host: "127.0.0.1",
      port: this.ports[leader - 1]!,
    };
  }

  /** Answers like the broker: requested topics it does not know come back with code 3. */
  metadata(broker: number, req?: { topics?: string[]; allTopics?: boolean }) {
    this.metadataCalls.push(broker);
    const unknown = (req?.allTopics === true ? [] : (req?.topics ?? []))
      .filter((name) => !this.topics.has(name))
      .map((name) => ({
        name,
        topicId: "",
        errorCode: 3,
        errorMessage: "unknown topic",
        partitions: [],
      }));
    return {
      brokers: this.ports.map((port, i) => ({ brokerId: i + 1, host: "127.0.0.1", port })),
      controllerId: 1,
      metadataOffset: String(this.metadataCalls.length),
      topics: [
        ...[...this.topics].map(([name, parts]) => ({
          name,
          topicId: `id-${name}`,
          errorCode: 0,
          errorMessage: "",
          partitions: parts.map((p, i) => {
            const v = this.view.get(`${name}-${i}`) ?? { leader: p.leader, epoch: p.epoch };
            return {
              partition: i,
              errorCode: 0,
              leaderId: v.leader,
              leaderEpoch: v.epoch,
              replicas: [v.leader],
              isr: [v.leader],
              offlineReplicas: [],
            };
          }),
        })),
        ...unknown,
      ],
    };
  }

  #fault(key: string): Fault | null {
    const f = this.faults.get(key);
    if (f === undefined || f.times <= 0) return null;
    f.times--;
    return f;
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  produce(broker: number, req: any): unknown {
    const topics = [];
    let delayMs = 0;
    for (const t of req.topics) {
      const partitions = [];
      for (const d of t.partitions) {
        const part = this.topics.get(t.topic)?.[d.partition];
        const base = {
          partition: d.partition,
          baseOffset: "-1",
          logAppendTimeMs: "-1",
          logStartOffset: "-1",
          errorMessage: "",
          leaderHint: null,
        };
        if (part === undefined) {
          partitions.push({ ...base, errorCode: 3, errorMessage: "unknown" });
          continue;
        }
        if (part.leader !== broker) {
          partitions.push({
            ...base,
            errorCode: 6,
            errorMessage: "not leader",
            leaderHint: this.hint(part.leader, part.epoch),
          });
          continue;
        }
        const scripted = this.script?.({ broker, topic: t.topic, partition: d.partition }) ?? null;
        if (scripted?.drop === true) return HANG;
        if (scripted?.status !== undefined) throw new StatusAnswer(scripted.status);
        delayMs = Math.max(delayMs, scripted?.delayMs ?? 0);
        if (scripted?.code !== undefined && scripted.code !== 0 && scripted.appended !== true) {
          partitions.push({
            ...base,
            errorCode: scripted.code,
            errorMessage: `scripted ${scripted.code}`,
          });
          continue;
        }
        const fault = this.#fault(`${t.topic}-${d.partition}`);
        if (fault?.hang === true) return HANG;
        if (fault !== null) {
          partitions.push({
            ...base,
            errorCode: fault.code,
            errorMessage: `injected ${fault.code}`,
          });
          continue;
        }
        const largest = Math.max(...[...iterateBatches(d.records)].map((v) => v.sizeBytes));
        if (largest > this.maxBatchBytes) {
          partitions.push({
            ...base,
            errorCode: ErrorCode.MESSAGE_TOO_LARGE.code,
            errorMessage: `batch of ${largest} bytes exceeds max.message.bytes ${this.maxBatchBytes}`,
          });
          continue;
        }
        const refusal = this.sequenced ? this.#sequenceCheck(part, d.records) : null;
        if (refusal !== null) {
          partitions.push({ ...base, errorCode: 45, errorMessage: refusal });
          continue;
        }
        let batches = 0;
        let records = 0;
        const sequences: string[] = [];
        const batchBaseOffsets: string[] = [];
        for (const view of iterateBatches(d.records)) {
          sequences.push(`${view.producerId}/${view.baseSequence}`);
          const id = `${view.producerId}/${view.producerEpoch}/${view.baseSequence}`;
          const original = view.producerId >= 0n ? part.seen.get(id) : undefined;
          if ((this.dedupe || this.sequenced) && original !== undefined) {
            batchBaseOffsets.push(String(original));
            continue;
          }
          if (view.producerId >= 0n) part.seen.set(id, part.next);
          if (this.sequenced && view.producerId >= 0n) {
            const last = [...(part.producers.get(view.producerId) ?? [])];
            last.push({
              firstSeq: view.baseSequence,
              lastSeq: view.baseSequence + view.lastOffsetDelta,
              base: part.next,
            });
            part.producers.set(view.producerId, last.slice(-5));
          }
          batchBaseOffsets.push(String(this.#appendBatch(part, d.records, view)));
          batches++;
          records += view.lastOffsetDelta + 1;
        }
        this.produceCalls.push({
          broker,
          topic: t.topic,
          partition: d.partition,
          batches,
          records,
          at: Date.now(),
          sequences,
        });
        if (scripted?.code !== undefined && scripted.code !== 0) {
          partitions.push({
            ...base,
            errorCode: scripted.code,
            errorMessage: `scripted ${scripted.code} after the append`,
          });
          continue;
        }
        partitions.push({
          ...base,
          errorCode: 0,
          baseOffset: batchBaseOffsets[0]!,
          ...(this.legacyResults ? {} : { batchBaseOffsets }),
          logStartOffset: String(part.logStart),
        });
      }
      topics.push({ topic: t.topic, partitions });
    }
    return delayMs > 0 ? new Delayed({ topics }, delayMs) : { topics };
  }

  /**
   * The broker's sequence rules for one produce to `part` (no wrap-around: tests stay far
   * below 2^31): leading batches among the producer's last 5 are duplicates (answered from
   * `seen`, which this keeps in step), every other batch must follow the one before it.
   * Returns why the produce is refused, or null.
   */
  #sequenceCheck(part: FakePartition, records: Buffer): string | null {
    const expected = new Map<bigint, number>();
    let leading = true;
    for (const view of iterateBatches(records)) {
      if (view.producerId < 0n) continue;
      const last = part.producers.get(view.producerId) ?? [];
      const duplicate = last.some((b) => b.firstSeq === view.baseSequence);
      if (leading && duplicate && !expected.has(view.producerId)) continue;
      leading = false;
      const next = expected.get(view.producerId) ?? (last.at(-1)?.lastSeq ?? -1) + 1;
      if (view.baseSequence !== next)
        return `sequence ${view.baseSequence} arrived, ${next} expected`;
      expected.set(view.producerId, next + view.lastOffsetDelta + 1);
    }
    return null;
  }

  /** Appends one batch of `records` at the log end; returns its base offset. */
  #appendBatch(
    part: FakePartition,
    records: Buffer,
    view: { position: number; sizeBytes: number; lastOffsetDelta: number },
  ): bigint {
    const copy = Buffer.from(records.subarray(view.position, view.position + view.sizeBytes));
    const base = part.next;
    copy.writeBigInt64BE(base, 0);
    part.batches.push(copy);
    part.next += BigInt(view.lastOffsetDelta + 1);
    return base;
  }

  /** Appends `values` as one batch of another (non-idempotent) producer; returns its base. */
  appendOther(topic: string, partition: number, values: string[]): bigint {
    const part = this.topics.get(topic)![partition]!;
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    const [view] = [...iterateBatches(batch)];
    return this.#appendBatch(part, batch, view!);
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  fetch(broker: number, req: any): unknown {
    const topics = [];
    const offsets: string[] = [];
    for (const t of req.topics) {
      const partitions = [];
      for (const f of t.partitions) {
        offsets.push(`${t.topic}-${f.partition}@${f.fetchOffset}`);
        const part = this.topics.get(t.topic)?.[f.partition];
        if (part === undefined) {
          partitions.push({
            partition: f.partition,
            highWatermark: "-1",
            lastStableOffset: "-1",
            logStartOffset: "-1",
            records: Buffer.alloc(0),
            errorMessage: "unknown",
            leaderHint: null,
            errorCode: 3,
          });
          continue;
        }
        const base = {
          partition: f.partition,
          highWatermark: String(part.next),
          lastStableOffset: String(part.next),
          logStartOffset: String(part.logStart),
          records: Buffer.alloc(0),
          errorMessage: "",
          leaderHint: null,
          errorCode: 0,
        };
        if (part.leader !== broker) {
          partitions.push({
            ...base,
            errorCode: 6,
            leaderHint: this.hint(part.leader, part.epoch),
          });
          continue;
        }
        const offset = BigInt(f.fetchOffset);
        if (offset < part.logStart || offset > part.next) {
          partitions.push({ ...base, errorCode: 1, errorMessage: "out of range" });
          continue;
        }
        const out = part.batches.filter((b) => {
          const last = b.readBigInt64BE(0) + BigInt(b.readInt32BE(23));
          return last >= offset;
        });
        partitions.push({ ...base, records: Buffer.concat(out) });
      }
      topics.push({ topic: t.topic, partitions });
    }
    this.fetchCalls.push({ broker, offsets });
    return { topics };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  listOffsets(broker: number, req: any): unknown {
    return {
      topics: req.topics.map(
        (t: {
          topic: string;
          partitions: { partition: number; spec: string; timestampMs: string }[];
        }) => ({
          topic: t.topic,
          partitions: t.partitions.map((p) => {
            const part = this.topics.get(t.topic)![p.partition]!;
            const base = {
              partition: p.partition,
              errorCode: 0,
              errorMessage: "",
              offset: "-1",
              timestampMs: "-1",
              leaderEpoch: part.epoch,
              leaderHint: null,
            };
            if (part.leader !== broker)
              return { ...base, errorCode: 6, leaderHint: this.hint(part.leader, part.epoch) };
            if (p.spec === "OFFSET_SPEC_EARLIEST")
              return { ...base, offset: String(part.logStart) };
            if (p.spec === "OFFSET_SPEC_LATEST") return { ...base, offset: String(part.next) };
            const ts = BigInt(p.timestampMs);
            const found = part.batches.find((b) => b.readBigInt64BE(35) >= ts);
            return found === undefined
              ? base
              : {
                  ...base,
                  offset: String(found.readBigInt64BE(0)),
                  timestampMs: String(found.readBigInt64BE(35)),
                };
          }),
        }),
      ),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: untyped request
  createTopics(req: any): unknown {
    return {
      topics: req.topics.map((t: { name: string; partitionCount: number }) => {
        if (this.topics.has(t.name))
          return { name: t.name, topicId: "", errorCode: 36, errorMessage: "exists" };
        this.addTopic(t.name, t.partitionCount || 1);
        return { name: t.name, topicId: `id-${t.name}`, errorCode: 0, errorMessage: "" };
      }),
    };
  }

  async stop(): Promise<void> {
    for (const s of this.servers) s.forceShutdown();
  }
}

const HANG = Symbol("hang");

/** Thrown by a handler to fail its call with a chosen gRPC status. */
class StatusAnswer extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status) {
    super(`scripted status ${code}`);
    this.code = code;
  }
}

/** An answer to send after `ms`. */
/** A Produce call processed only `ms` later (a request that reaches the leader late). */
class Held {
  readonly ms: number;
  readonly run: () => unknown;
  constructor(ms: number, run: () => unknown) {
    this.ms = ms;
    this.run = run;
  }
}

/** An answer sent `ms` after the call was processed. */
class Delayed {
  readonly value: unknown;
  readonly ms: number;
  constructor(value: unknown, ms: number) {
    this.value = value;
    this.ms = ms;
  }
}
