// Goal: a request on a RequestStream keeps the contract of a unary call against a real grpc-js
// server: its own answer (by correlation id, whatever the order), its own deadline (the
// TimeoutError unary() gives, even when an earlier request has a later deadline), its own
// AbortSignal, and the same typed errors when the stream fails. The stream ends after
// STREAM_IDLE_MS without requests and reopens on demand; it is unavailable (callers go unary)
// at inFlightMax requests, after close(), and for good on a broker without the method.
import * as grpc from "@grpc/grpc-js";
import {
  type ProduceRequest,
  type ProduceResponse__Output,
  type ProduceServiceClient,
  strandGrpc,
} from "@strand/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { AbortedError, ConnectionError, TimeoutError } from "../src/errors.ts";
import { type CallOptions, unary } from "../src/grpc.ts";
import { RequestStream, STREAM_IDLE_MS, streamOrUnary } from "../src/request-stream.ts";

type Duplex = grpc.ServerDuplexStream<
  { correlationId: string; request: ProduceRequest },
  { correlationId: string; response: ProduceResponse__Output }
>;

/** A request as the server received it; `answer()` sends its echo. */
interface Received {
  readonly tag: string;
  readonly correlationId: string;
  answer(): void;
}

/** One ProduceStream as the server sees it. */
class Served {
  readonly call: Duplex;
  readonly received: Received[] = [];
  /** The client ended its side (what the idle end sends). */
  clientEnded = false;
  cancelled = false;

  constructor(call: Duplex) {
    this.call = call;
  }

  /** Fails the whole stream with `code`, as a broker's status would. */
  fail(code: grpc.status): void {
    this.call.emit("error", { code, details: `test status ${code}` });
  }
}

/** The tag of a request no server answers. */
const LOST = "lost";

/**
 * A ProduceService whose ProduceStream hands every request to `onRequest` (default: answer at
 * once) and whose unary Produce answers at once (except a request tagged LOST). Requests and answers are tagged by the first
 * topic's name. With `withStream` false it has no ProduceStream at all, as an older broker.
 */
class TestBroker {
  readonly server = new grpc.Server();
  readonly streams: Served[] = [];
  unaryCalls = 0;
  onRequest: (r: Received) => void = (r) => r.answer();
  port = 0;

  static async start(withStream = true): Promise<TestBroker> {
    const b = new TestBroker();
    const v1 = strandGrpc().strand.v1;
    b.server.addService(v1.ProduceService.service, {
      Produce: (
        call: grpc.ServerUnaryCall<ProduceRequest, ProduceResponse__Output>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        b.unaryCalls++;
        const tag = tagOf(call.request);
        if (tag !== LOST) cb(null, echo(tag));
      },
      ...(withStream ? { ProduceStream: (call: Duplex) => b.#serve(call) } : {}),
    });
    b.port = await new Promise<number>((resolve, reject) =>
      b.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    return b;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  #serve(call: Duplex): void {
    const served = new Served(call);
    this.streams.push(served);
    call.on("data", (message) => {
      const tag = tagOf(message.request);
      this.onRequest({
        tag,
        correlationId: message.correlationId,
        answer: () => {
          if (!call.cancelled && call.writable)
            call.write({ correlationId: message.correlationId, response: echo(tag) });
        },
      });
    });
    call.on("end", () => {
      served.clientEnded = true;
      call.end();
    });
    call.on("cancelled", () => {
      served.cancelled = true;
    });
    call.on("error", () => undefined);
  }
}

function tagOf(request: ProduceRequest): string {
  return request.topics?.[0]?.topic ?? "";
}

function echo(tag: string): ProduceResponse__Output {
  return { topics: [{ topic: tag, partitions: [] }] };
}

function request(tag: string): ProduceRequest {
  return { acks: "ACKS_ALL", timeoutMs: 1_000, topics: [{ topic: tag, partitions: [] }] };
}

const brokers: TestBroker[] = [];
const stubs: ProduceServiceClient[] = [];
const streams: RequestStream<ProduceRequest, ProduceResponse__Output>[] = [];

afterEach(() => {
  for (const s of streams.splice(0)) s.close();
  for (const s of stubs.splice(0)) s.close();
  for (const b of brokers.splice(0)) b.server.forceShutdown();
});

async function setup(options: { withStream?: boolean; inFlightMax?: number } = {}) {
  const broker = await TestBroker.start(options.withStream ?? true);
  brokers.push(broker);
  const stub = new (strandGrpc().strand.v1.ProduceService)(
    broker.address,
    grpc.credentials.createInsecure(),
  );
  stubs.push(stub);
  let opened = 0;
  const stream = new RequestStream<ProduceRequest, ProduceResponse__Output>(() => {
    opened++;
    return stub.ProduceStream();
  }, options.inFlightMax ?? 100);
  streams.push(stream);
  const call = (timeoutMs = 5_000, signal?: AbortSignal): CallOptions => ({
    address: broker.address,
    method: "Produce",
    timeoutMs,
    signal,
  });
  const send = (tag: string, options: CallOptions = call()) =>
    stream.request(request(tag), options).then((r) => r.topics[0]?.topic);
  const viaUnary = (tag: string, options: CallOptions = call()) =>
    unary<ProduceResponse__Output>((o, cb) => stub.Produce(request(tag), o, cb), options);
  const orUnary = (tag: string) =>
    streamOrUnary(stream, request(tag), (r, o, cb) => stub.Produce(r, o, cb), call()).then(
      (r) => r.topics[0]?.topic,
    );
  return { broker, stub, stream, call, send, viaUnary, orUnary, opened: () => opened };
}

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a promise settled with, without an unhandled rejection meanwhile. */
function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe("RequestStream", () => {
  it("gives each request its own answer when answers come out of order", async () => {
    const { broker, send } = await setup();
    const held: Received[] = [];
    broker.onRequest = (r) => {
      held.push(r);
      // Answer the three in reverse once all are in.
      if (held.length === 3) for (const h of [...held].reverse()) h.answer();
    };
    const answers = await Promise.all([send("a"), send("b"), send("c")]);
    expect(answers).toEqual(["a", "b", "c"]);
    expect(held.map((h) => h.tag)).toEqual(["a", "b", "c"]);
    expect(new Set(held.map((h) => h.correlationId)).size).toBe(3);
    expect(broker.streams).toHaveLength(1);
  });

  it("fails an unanswered request with unary's TimeoutError and goes on serving", async () => {
    const { broker, send, call, viaUnary } = await setup();
    broker.onRequest = (r) => {
      if (r.tag !== LOST) r.answer();
    };
    const started = Date.now();
    const lost = await outcome(send(LOST, call(200)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2_000);
    const asUnary = await outcome(viaUnary(LOST, call(200)));
    expect(asUnary.error).toBeInstanceOf(TimeoutError); // the unary call reached the same server
    expect(lost.error).toBeInstanceOf(TimeoutError);
    const [e, u] = [lost.error as TimeoutError, asUnary.error as TimeoutError];
    expect([e.code, e.retriable, e.message, e.broker]).toEqual([
      u.code,
      u.retriable,
      u.message,
      u.broker,
    ]);
    expect(await send("next")).toBe("next");
    expect(broker.streams).toHaveLength(1);
  });

  it("times out a request at its own deadline when an earlier one has a later deadline", async () => {
    const { broker, send, call } = await setup();
    broker.onRequest = () => undefined; // nothing is answered
    const long = new AbortController();
    const first = outcome(send("long", call(30_000, long.signal)));
    const started = Date.now();
    const short = await Promise.race([
      outcome(send("short", call(200))),
      new Promise<null>((r) => setTimeout(() => r(null), 3_000)),
    ]);
    expect(short?.error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    long.abort();
    expect((await first).error).toBeInstanceOf(AbortedError);
  });

  it("rejects only the request whose signal aborts", async () => {
    const { broker, send, call } = await setup();
    const held: Received[] = [];
    broker.onRequest = (r) => held.push(r);
    const ac = new AbortController();
    const aborted = outcome(send("aborted", call(5_000, ac.signal)));
    const kept = outcome(send("kept", call(5_000, new AbortController().signal)));
    await until(() => held.length === 2);
    ac.abort(new Error("caller gave up"));
    const a = await aborted;
    expect(a.error).toBeInstanceOf(AbortedError);
    // The late answer to the aborted request is dropped, the other one is delivered.
    broker.onRequest = (r) => r.answer();
    for (const h of held) h.answer();
    expect((await kept).value).toBe("kept");
    expect(await send("after")).toBe("after");
    expect(broker.streams).toHaveLength(1);
  });

  it("fails every pending request retriably when the broker fails the stream, then reopens", async () => {
    const { broker, send, opened } = await setup();
    const held: Received[] = [];
    broker.onRequest = (r) => held.push(r);
    const pending = [outcome(send("a")), outcome(send("b"))];
    await until(() => held.length === 2);
    broker.streams[0]!.fail(grpc.status.UNAVAILABLE);
    for (const p of pending) {
      const { error } = await p;
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).retriable).toBe(true);
    }
    broker.onRequest = (r) => r.answer();
    expect(await send("c")).toBe("c");
    expect(opened()).toBe(2);
    expect(broker.streams).toHaveLength(2);
  });

  it("on a broker without the method: fails retriably, becomes unavailable, callers go unary", async () => {
    const { broker, stream, send, orUnary, opened } = await setup({ withStream: false });
    expect(stream.available).toBe(true);
    const { error } = await outcome(send("a"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retriable).toBe(true);
    expect(stream.available).toBe(false);
    expect(await orUnary("b")).toBe("b");
    expect(await orUnary("c")).toBe("c");
    expect(broker.unaryCalls).toBe(2);
    expect(opened()).toBe(1); // never tried again
  });

  it("ends the stream after STREAM_IDLE_MS without requests and opens a new one on demand", {
    timeout: 10_000,
  }, async () => {
    const { broker, send, opened } = await setup();
    let slow: Received | null = null;
    broker.onRequest = (r) => {
      if (r.tag === "slow") slow = r;
      else r.answer();
    };
    // A request outstanding for longer than STREAM_IDLE_MS keeps the stream open, also
    // when the idle timer was armed by an earlier answer.
    expect(await send("warm")).toBe("warm");
    const slowAnswer = send("slow");
    await new Promise((r) => setTimeout(r, STREAM_IDLE_MS + 200));
    expect(broker.streams[0]!.clientEnded).toBe(false);
    (slow as Received | null)?.answer();
    expect(await slowAnswer).toBe("slow");
    expect(await send("a")).toBe("a");
    const lastAnswer = Date.now();
    await until(() => broker.streams[0]!.clientEnded, 5_000);
    expect(Date.now() - lastAnswer).toBeGreaterThanOrEqual(STREAM_IDLE_MS - 50);
    expect(await send("b")).toBe("b");
    expect(opened()).toBe(2);
    expect(broker.streams).toHaveLength(2);
  });

  it("is unavailable at inFlightMax requests in flight, and streamOrUnary goes unary", async () => {
    const { broker, stream, send, orUnary } = await setup({ inFlightMax: 2 });
    const held: Received[] = [];
    broker.onRequest = (r) => held.push(r);
    const first = send("a");
    expect(stream.available).toBe(true);
    const second = send("b");
    expect(stream.available).toBe(false);
    expect(await orUnary("c")).toBe("c");
    expect(broker.unaryCalls).toBe(1);
    await until(() => held.length === 2);
    held[0]!.answer();
    expect(await first).toBe("a");
    expect(stream.available).toBe(true);
    held[1]!.answer();
    expect(await second).toBe("b");
  });

  it("close() rejects pending requests as aborted and leaves the stream unavailable", async () => {
    const { broker, stream, send } = await setup();
    broker.onRequest = () => undefined;
    const pending = [outcome(send("a")), outcome(send("b"))];
    await until(() => broker.streams.length === 1);
    stream.close();
    for (const p of pending) expect((await p).error).toBeInstanceOf(AbortedError);
    expect(stream.available).toBe(false);
    await until(() => broker.streams[0]!.cancelled);
  });
});
