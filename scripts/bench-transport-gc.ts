/**
 * What a request costs the client's young-generation GC, by transport (docs/performance.md,
 * "Light-load latency: streams"): the same small requests, paced, as
 *
 *   http2   a node:http2 request per request (no grpc-js),
 *   unary   a grpc-js unary call per request (what the SDK did),
 *   stream  one message per request on one grpc-js bidi stream (what the SDK does now),
 *
 * against an echo server in a child process. Reports scavenges, their pauses and the bytes
 * promoted to the old generation per second (old space growth across scavenges). A new
 * HTTP/2 stream per request promotes a large share of everything allocated: that is what made
 * the SDK's scavenges long.
 *
 *   npm run bench -- transport-gc [--seconds N] [--rate N]
 */
import { fork } from "node:child_process";
import * as http2 from "node:http2";
import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics } from "node:v8";
import * as grpc from "@grpc/grpc-js";

const PAYLOAD_BYTES = 100;

const raw = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  Echo: {
    path: "/bench.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
  EchoStream: {
    path: "/bench.Echo/EchoStream",
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

interface Result {
  readonly mode: string;
  readonly requestsPerSec: number;
  readonly scavenges: number;
  readonly avgPauseMs: number;
  readonly maxPauseMs: number;
  readonly promotedMbPerSec: number;
}

function usage(): string {
  return [
    "usage: npm run bench -- transport-gc [options]",
    "  --seconds N   seconds per transport (default 5)",
    "  --rate N      requests per second (default 3000)",
  ].join("\n");
}

/** The echo servers (grpc-js on one port, node:http2 on another); prints both ports. */
function serve(): void {
  const server = new grpc.Server();
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, call.request),
    EchoStream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", (b: Buffer) => call.write(b));
      call.on("end", () => call.end());
    },
  });
  const h2 = http2.createServer();
  h2.on("stream", (stream) => {
    stream.on("data", () => undefined);
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      stream.end(Buffer.alloc(PAYLOAD_BYTES));
    });
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    h2.listen(0, "127.0.0.1", () => {
      const address = h2.address();
      const h2Port = typeof address === "object" && address !== null ? address.port : 0;
      process.send?.({ grpc: port, http2: h2Port });
    });
  });
}

/** Old-space bytes in use now. */
function oldSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_used_size ?? 0;
}

/** Runs `send(done)` `rate` times a second for `seconds`, watching GC. */
async function paced(
  mode: string,
  seconds: number,
  rate: number,
  send: (done: () => void) => void,
): Promise<Result> {
  const pauses: number[] = [];
  let promoted = 0;
  let lastOld = oldSpaceBytes();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as (PerformanceEntry & {
      detail?: { kind?: number };
    })[]) {
      const now = oldSpaceBytes();
      // kind 1 is a minor GC (a scavenge): old space grows only by what it promoted.
      if (entry.detail?.kind === 1) {
        pauses.push(entry.duration);
        promoted += Math.max(0, now - lastOld);
      }
      lastOld = now;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  let answered = 0;
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) send(() => answered++);
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 200));
  observer.disconnect();
  return {
    mode,
    requestsPerSec: answered / elapsed,
    scavenges: pauses.length,
    avgPauseMs: pauses.reduce((a, b) => a + b, 0) / Math.max(1, pauses.length),
    maxPauseMs: Math.max(0, ...pauses),
    promotedMbPerSec: promoted / 1e6 / elapsed,
  };
}

const MODES = ["http2", "unary", "stream"] as const;
type Mode = (typeof MODES)[number];

/** One transport in a process of its own, so no run inherits another's heap. */
async function measure(mode: Mode, ports: Ports, seconds: number, rate: number): Promise<Result> {
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  if (mode === "http2") {
    const session = http2.connect(`http://127.0.0.1:${ports.http2}`);
    try {
      return await paced("http2: a request per request", seconds, rate, (done) => {
        const req = session.request({ ":method": "POST", ":path": "/echo" });
        req.on("data", () => undefined);
        req.on("end", done);
        req.end(payload);
      });
    } finally {
      session.close();
    }
  }
  const Client = grpc.makeGenericClientConstructor(service, "Echo");
  const client = new Client(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
  const echo = client as unknown as {
    Echo(b: Buffer, o: grpc.CallOptions, cb: grpc.requestCallback<Buffer>): void;
    EchoStream(): grpc.ClientDuplexStream<Buffer, Buffer>;
  };
  try {
    if (mode === "unary")
      return await paced("unary: a grpc-js call per request", seconds, rate, (done) =>
        echo.Echo(payload, { deadline: Date.now() + 30_000 }, () => done()),
      );
    const stream = echo.EchoStream();
    const waiting: (() => void)[] = [];
    stream.on("data", () => waiting.shift()?.());
    stream.on("error", () => undefined);
    const result = await paced("stream: a message per request", seconds, rate, (done) => {
      waiting.push(done);
      stream.write(payload);
    });
    stream.end();
    return result;
  } finally {
    client.close();
  }
}

interface Ports {
  readonly grpc: number;
  readonly http2: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "5" },
      rate: { type: "string", default: "3000" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage());
    return;
  }
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  if (!(seconds > 0) || !(rate > 0)) throw new Error("--seconds and --rate must be positive");
  const server = fork(import.meta.filename, ["serve"], { stdio: "inherit" });
  try {
    const ports = await new Promise<Ports>((resolve, reject) => {
      server.once("message", (m) => resolve(m as Ports));
      server.once("exit", (code) => reject(new Error(`the echo server exited (${code})`)));
    });
    const results: Result[] = [];
    for (const mode of MODES) {
      const child = fork(
        import.meta.filename,
        ["measure", mode, JSON.stringify(ports), String(seconds), String(rate)],
        { stdio: "inherit" },
      );
      results.push(
        await new Promise<Result>((resolve, reject) => {
          child.once("message", (m) => resolve(m as Result));
          child.once("exit", (code) => reject(new Error(`the ${mode} client exited (${code})`)));
        }),
      );
    }
    console.log(
      `\n${rate.toLocaleString("en-US")} requests/s of ${PAYLOAD_BYTES} B for ${seconds} s each, one client process per transport (Node ${process.version})`,
    );
    console.log(
      "transport                              requests/s  scavenges  avg pause ms  max pause ms  promoted MB/s",
    );
    for (const r of results)
      console.log(
        `${r.mode.padEnd(38)} ${r.requestsPerSec.toFixed(0).padStart(10)} ${String(r.scavenges).padStart(10)} ${r.avgPauseMs.toFixed(1).padStart(13)} ${r.maxPauseMs.toFixed(1).padStart(13)} ${r.promotedMbPerSec.toFixed(2).padStart(14)}`,
      );
  } finally {
    server.kill();
  }
}

const [role, mode, ports, seconds, rate] = process.argv.slice(2);
if (role === "serve") serve();
else if (role === "measure") {
  const result = await measure(
    mode as Mode,
    JSON.parse(ports ?? "{}") as Ports,
    Number(seconds),
    Number(rate),
  );
  process.send?.(result, () => process.exit(0));
} else
  await main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
