/**
 * `strand produce TOPIC`: one record per stdin line (the line break is not part of the value),
 * optionally `key<SEP>value` with --key-separator, the same -H headers on every record. With
 * --verbose each record's partition and offset is printed, in input order. At EOF (or on
 * SIGINT/SIGTERM, after which no more lines are read) it flushes and exits 0 once every read
 * record is acknowledged; the first failed record fails the command (exit 1).
 */
import { createInterface } from "node:readline";
import type { Message, RecordMetadata } from "@strand/client";
import { flag, int, keyValue, list, str } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { EXIT, toJson } from "../output.ts";
import { acksOf, checkPartition, compressionOf, describeTopic } from "./common.ts";

/** Records sent but not yet reported; bounds memory when stdin is large. */
const PENDING_RECORDS_MAX = 20_000;

async function produce(inv: Invocation): Promise<number> {
  const topic = inv.args[0]!;
  const acks = acksOf(str(inv.options, "acks") ?? "all");
  const compression = compressionOf(str(inv.options, "compression") ?? "none");
  const partition = int(inv.options, "partition", { min: 0 });
  const separator = str(inv.options, "key-separator");
  if (separator === "") throw new RangeError("--key-separator must not be empty");
  const headers = list(inv.options, "header").map((h) => {
    const [key, value] = keyValue(h, "--header");
    return { key, value };
  });
  const verbose = flag(inv.options, "verbose");
  const t = await describeTopic(inv, topic);
  checkPartition(t, partition);
  const producer = (await inv.client()).producer({
    acks,
    idempotent: acks === "all",
    compression,
  });
  const pending: Promise<RecordMetadata[]>[] = [];
  const report = async (p: Promise<RecordMetadata[]>): Promise<void> => {
    const [r] = await p;
    if (!verbose || r === undefined) return;
    process.stdout.write(
      inv.format === "json"
        ? `${toJson({ topic, partition: r.partition, offset: r.offset })}\n`
        : `partition ${r.partition} offset ${r.offset}\n`,
    );
  };
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  inv.signal.addEventListener("abort", () => lines.close(), { once: true });
  for await (const line of lines) {
    const message = toMessage(line, separator, headers, partition);
    const sent = producer.send({ topic, messages: [message] });
    sent.catch(() => undefined); // awaited in order below
    pending.push(sent);
    if (pending.length >= PENDING_RECORDS_MAX) await report(pending.shift()!);
  }
  for (const p of pending.splice(0)) await report(p);
  await producer.close();
  return EXIT.ok;
}

function toMessage(
  line: string,
  separator: string | undefined,
  headers: readonly { key: string; value: string }[],
  partition: number | undefined,
): Message {
  let key: string | null = null;
  let value = line;
  if (separator !== undefined) {
    const at = line.indexOf(separator);
    if (at >= 0) {
      key = line.slice(0, at);
      value = line.slice(at + separator.length);
    }
  }
  return {
    key,
    value,
    ...(headers.length === 0 ? {} : { headers }),
    ...(partition === undefined ? {} : { partition }),
  };
}

/** The produce command. */
export const produceCommand: Command = {
  path: ["produce"],
  brief: "send stdin lines as records",
  summary:
    "Sends one record per stdin line; flushes and exits 0 at EOF. A line without the key separator has a null key.",
  args: "TOPIC",
  arity: [1, 1],
  options: [
    {
      name: "key-separator",
      short: "k",
      type: "string",
      valueName: "SEP",
      description: "split each line at the first SEP into key and value",
    },
    {
      name: "header",
      short: "H",
      type: "string",
      multiple: true,
      valueName: "key=value",
      description: "a header on every record",
    },
    {
      name: "acks",
      type: "string",
      valueName: "all|1|0",
      description: "all in-sync replicas (default, idempotent), the leader, or none",
    },
    {
      name: "partition",
      short: "p",
      type: "string",
      valueName: "N",
      description: "send every record to this partition (default: by key, else sticky)",
    },
    {
      name: "compression",
      short: "z",
      type: "string",
      valueName: "none|gzip|snappy|lz4|zstd",
      description: "compress each batch with this codec (default none)",
    },
    {
      name: "verbose",
      short: "v",
      type: "boolean",
      description: "print each record's partition and offset",
    },
  ],
  examples: [
    'printf "a\\nb\\n" | strand produce orders',
    "strand produce orders -k : -H source=cli --verbose < lines.txt   # lines like customer-42:{...}",
    "strand produce orders --compression zstd < lines.txt",
  ],
  run: produce,
};
