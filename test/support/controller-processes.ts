// Test helpers for multi-process controller quorums: spawn controller-node processes on
// 127.0.0.1, read their JSON-line logs, kill them, and read their FetchMetadata streams.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ControllerClient } from "@strand/controller";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "packages/controller/src/bin/controller-node.ts");

/** One controller-node process. */
export class ControllerProcess {
  readonly id: number;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Parsed stdout log lines. */
  readonly lines: Record<string, unknown>[] = [];
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  #stderr = "";

  constructor(o: { id: number; port: number; dataDir: string; voters: string; args: string[] }) {
    this.id = o.id;
    this.port = o.port;
    this.dataDir = o.dataDir;
    const args = [
      "--conditions=strand-source",
      bin,
      ...["--node-id", String(o.id), "--data-dir", o.dataDir],
      ...["--listen", `127.0.0.1:${o.port}`, "--voters", o.voters, ...o.args],
    ];
    this.child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let buffered = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const p of parts) if (p.trim() !== "") this.lines.push(JSON.parse(p));
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString("utf8");
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** The node's internal address. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** What the process wrote to stderr (startup failures). */
  get stderr(): string {
    return this.#stderr;
  }

  /** True until the process exits. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (if alive) and waits for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }
}

/** One committed batch of a FetchMetadata stream, with its records as hex. */
export interface StreamedBatch {
  readonly offset: number;
  readonly epoch: number;
  readonly hex: string;
}

/**
 * Reads `address`'s FetchMetadata stream from offset 0 up to and including `upTo`. Rejects
 * on a snapshot (these tests expect whole logs), a gap, an error, or after `timeoutMs`.
 */
export function readLog(
  address: string,
  upTo: number,
  timeoutMs = 10_000,
): Promise<StreamedBatch[]> {
  const client = new ControllerClient(address);
  const call = client.fetchMetadata(0);
  const out: StreamedBatch[] = [];
  return new Promise<StreamedBatch[]>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`log of ${address} not read to ${upTo} in time`)),
      timeoutMs,
    );
    const finish = (error: Error | null): void => {
      clearTimeout(timer);
      call.cancel();
      client.close();
      if (error === null) resolve(out);
      else reject(error);
    };
    call.on("error", (e: Error) => finish(e));
    call.on("data", (m: { batch?: { offset: string; epoch: string; records: Buffer } | null }) => {
      if (m.batch === null || m.batch === undefined)
        return finish(new Error("unexpected snapshot"));
      const offset = Number(m.batch.offset);
      if (offset !== out.length + 1) return finish(new Error(`gap at ${offset}`));
      out.push({ offset, epoch: Number(m.batch.epoch), hex: m.batch.records.toString("hex") });
      if (offset >= upTo) finish(null);
    });
  });
}
