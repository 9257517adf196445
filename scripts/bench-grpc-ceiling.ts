/**
 * The transport ceiling for the cluster benchmark: a bare grpc-js bidirectional stream between
 * two processes on this machine, carrying the same payload size with the same number of streams
 * and requests in flight as the Strand producer, acknowledged one by one by the other process.
 * Two variants:
 *
 * - `raw`: messages are the bytes themselves (identity serializers, an 8-byte correlation id in
 *   front): what HTTP/2 + grpc-js can move with no encoding at all;
 * - `proto`: the Strand ProduceService.ProduceStream messages (protobufjs, as the broker loads
 *   them) answered at once by a server that does nothing else: gRPC + Strand's message encoding,
 *   no broker work.
 *
 * Run alone:  node --conditions=strand-source scripts/bench-grpc-ceiling.ts
 *               [--batch-bytes 16384] [--streams 3] [--in-flight 8] [--seconds 3] [--json]
 * Internally `bench-cluster.ts` imports {@link measureCeiling}; the server side is this file
 * run with `serve raw|proto`.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import type { ProduceStreamResponse__Output } from "@strand/protocol";
import { clientChannelOptions, clientServerOptions, strandGrpc } from "@strand/protocol";

export type CeilingMode = "raw" | "proto";

export interface CeilingOptions {
  readonly mode: CeilingMode;
  readonly payload: Buffer;
  readonly streams: number;
  readonly inFlight: number;
  readonly seconds: number;
  readonly warmupSeconds?: number;
}

export interface CeilingResult {
  readonly mode: CeilingMode;
  readonly payloadBytes: number;
  readonly streams: number;
  readonly inFlight: number;
  readonly messagesPerSec: number;
  readonly mbPerSec: number;
}

const RAW_PATH = "/strand.bench.Ceiling/Stream";
const identity = (b: Buffer) => b;
const rawService: grpc.ServiceDefinition = {
  Stream: {
    path: RAW_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** The server side (its own process): prints `{"port":N}` once listening. */
async function serve(mode: CeilingMode): Promise<void> {
  const server = new grpc.Server(clientServerOptions());
  if (mode === "raw") {
    server.addService(rawService, {
      Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on("data", (msg: Buffer) => call.write(msg.subarray(0, 8)));
        call.on("end", () => call.end());
        call.on("error", () => undefined);
      },
    });
  } else {
    server.addService(strandGrpc().strand.v1.ProduceService.service, {
      ProduceStream: (
        call: grpc.ServerDuplexStream<
          { correlationId: string; request: { topics: { topic: string }[] } },
          unknown
        >,
      ) => {
        call.on("data", (msg) => {
          const t = msg.request.topics[0];
          call.write({
            correlationId: msg.correlationId,
            response: {
              topics: [
                {
                  topic: t?.topic ?? "",
                  partitions: [
                    {
                      partition: 0,
                      errorCode: 0,
                      errorMessage: "",
                      baseOffset: "0",
                      logAppendTimeMs: "-1",
                      logStartOffset: "0",
                    },
                  ],
                },
              ],
            },
          });
        });
        call.on("end", () => call.end());
        call.on("error", () => undefined);
      },
      Produce: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
        cb({ code: grpc.status.UNIMPLEMENTED }),
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  console.log(JSON.stringify({ port }));
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("disconnect", stop);
}

interface Duplex {
  write(id: number): void;
  onAck(cb: (id: number) => void): void;
  end(): void;
}

function rawStream(client: grpc.Client, payload: Buffer): Duplex {
  const call = client.makeBidiStreamRequest(RAW_PATH, identity, identity);
  call.on("error", () => undefined);
  // Each message is a fresh 8-byte header plus the shared payload (one copy, like a framed batch).
  return {
    write: (id) => {
      const msg = Buffer.allocUnsafe(8 + payload.length);
      msg.writeDoubleBE(id, 0);
      payload.copy(msg, 8);
      call.write(msg);
    },
    onAck: (cb) => call.on("data", (b: Buffer) => cb(b.readDoubleBE(0))),
    end: () => call.end(),
  };
}

function protoStream(address: string, payload: Buffer): { duplex: Duplex; close(): void } {
  const client = new (strandGrpc().strand.v1.ProduceService)(
    address,
    grpc.credentials.createInsecure(),
    clientChannelOptions(),
  );
  const call = client.ProduceStream();
  call.on("error", () => undefined);
  return {
    duplex: {
      write: (id) =>
        call.write({
          correlationId: String(id),
          request: {
            acks: "ACKS_ALL",
            timeoutMs: 30_000,
            topics: [{ topic: "ceiling", partitions: [{ partition: 0, records: payload }] }],
          },
        }),
      onAck: (cb) =>
        call.on("data", (r: ProduceStreamResponse__Output) => cb(Number(r.correlationId))),
      end: () => call.end(),
    },
    close: () => client.close(),
  };
}

/** Spawns the server process, drives it from this process, returns the acknowledged rate. */
export async function measureCeiling(options: CeilingOptions): Promise<CeilingResult> {
  const child = spawn(
    process.execPath,
    ["--conditions=strand-source", import.meta.filename, "serve", options.mode],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`ceiling server exited ${code}`)));
      createInterface({ input: child.stdout! }).once("line", (l) =>
        resolve((JSON.parse(l) as { port: number }).port),
      );
    });
    return await drive(options, `127.0.0.1:${port}`);
  } finally {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function drive(options: CeilingOptions, address: string): Promise<CeilingResult> {
  const closers: (() => void)[] = [];
  const duplexes: Duplex[] = [];
  for (let s = 0; s < options.streams; s++) {
    if (options.mode === "raw") {
      const client = new grpc.Client(
        address,
        grpc.credentials.createInsecure(),
        clientChannelOptions(),
      );
      closers.push(() => client.close());
      duplexes.push(rawStream(client, options.payload));
    } else {
      const p = protoStream(address, options.payload);
      closers.push(p.close);
      duplexes.push(p.duplex);
    }
  }
  const warmupMs = (options.warmupSeconds ?? 0.5) * 1000;
  const started = performance.now();
  const measureFrom = started + warmupMs;
  const endAt = measureFrom + options.seconds * 1000;
  let counted = 0;
  let nextId = 1;
  await Promise.all(
    duplexes.map(
      (d) =>
        new Promise<void>((resolve) => {
          let outstanding = 0;
          const send = () => {
            outstanding++;
            d.write(nextId++);
          };
          d.onAck(() => {
            outstanding--;
            const now = performance.now();
            if (now >= measureFrom && now < endAt) counted++;
            if (now < endAt) send();
            else if (outstanding === 0) {
              d.end();
              resolve();
            }
          });
          for (let i = 0; i < options.inFlight; i++) send();
        }),
    ),
  );
  for (const c of closers) c();
  const seconds = options.seconds;
  return {
    mode: options.mode,
    payloadBytes: options.payload.length,
    streams: options.streams,
    inFlight: options.inFlight,
    messagesPerSec: counted / seconds,
    mbPerSec: (counted * options.payload.length) / seconds / 1e6,
  };
}

async function main(): Promise<void> {
  const [first, second] = process.argv.slice(2);
  if (first === "serve") return serve(second === "proto" ? "proto" : "raw");
  const { values } = parseArgs({
    options: {
      "batch-bytes": { type: "string", default: "16384" },
      streams: { type: "string", default: "3" },
      "in-flight": { type: "string", default: "8" },
      seconds: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: node --conditions=strand-source scripts/bench-grpc-ceiling.ts [--batch-bytes 16384] [--streams 3] [--in-flight 8] [--seconds 3] [--json]",
    );
    return;
  }
  const results: CeilingResult[] = [];
  for (const mode of ["raw", "proto"] as const)
    results.push(
      await measureCeiling({
        mode,
        payload: Buffer.alloc(Number(values["batch-bytes"]), 1),
        streams: Number(values.streams),
        inFlight: Number(values["in-flight"]),
        seconds: Number(values.seconds),
      }),
    );
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else
    for (const r of results)
      console.log(
        `${r.mode.padEnd(6)} ${r.payloadBytes} B x ${r.streams} streams x ${r.inFlight} in flight: ${r.mbPerSec.toFixed(1)} MB/s, ${r.messagesPerSec.toFixed(0)} msg/s`,
      );
}

if (import.meta.main) await main();
