/**
 * `strand consume TOPIC`: reads every partition (or -p one) from -o start|end|OFFSET|@TIMESTAMP_MS
 * and prints records until -n COUNT were printed, with -e until every partition reached its end
 * offset as of the start (like kcat -e), or until SIGINT/SIGTERM (exit 0 in each case).
 * Text prints the value per line (`key SEP value` with --key-separator); JSON prints one object
 * per line: topic, partition, offset, timestamp, key, value, headers. Keys, values and header
 * values are UTF-8 strings when they are valid UTF-8; otherwise base64, flagged by
 * `keyEncoding` / `valueEncoding` / a header's `valueEncoding` = "base64" (absent otherwise).
 *
 * With -g GROUP the command is a member of the consumer group: it reads the partitions the
 * coordinator assigns, from the group's committed offsets (-o start|end only picks where a
 * partition without one starts), commits the offsets of what it printed after every write,
 * and leaves the group cleanly on Ctrl-C / SIGTERM.
 */
import {
  AbortedError,
  type CommitOffset,
  type ConsumedMessage,
  type Consumer,
  type SeekTarget,
  StrandClientError,
} from "@strand/client";
import { flag, int, parseInteger, str, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { EXIT, printFailure, toJson } from "../output.ts";
import { checkPartition, describeTopic, pollUnlessStopped, textOrBase64 } from "./common.ts";

/** Parses -o: start, end, an offset, or @timestamp-ms. */
export function parseStart(raw: string): SeekTarget {
  if (raw === "start" || raw === "beginning" || raw === "earliest") return "earliest";
  if (raw === "end" || raw === "latest") return "latest";
  if (raw.startsWith("@"))
    return { timestamp: parseInteger(raw.slice(1), "-o @TIMESTAMP_MS", { min: 0 }) };
  if (/^\d+$/.test(raw)) return BigInt(raw);
  throw new UsageError(`-o must be start, end, an offset or @TIMESTAMP_MS, got "${raw}"`);
}

/** One record as a JSON line (see the module comment for the encoding rule). */
export function jsonLine(topic: string, partition: number, m: ConsumedMessage): string {
  const key = textOrBase64(m.key);
  const value = textOrBase64(m.value);
  return toJson({
    topic,
    partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: key.text,
    ...(key.base64 ? { keyEncoding: "base64" } : {}),
    value: value.text,
    ...(value.base64 ? { valueEncoding: "base64" } : {}),
    headers: m.headers.map((h) => {
      const v = textOrBase64(h.value);
      return { key: h.key, value: v.text, ...(v.base64 ? { valueEncoding: "base64" } : {}) };
    }),
  });
}

function textLine(m: ConsumedMessage, separator: string | undefined): string {
  const value = m.value?.toString("utf8") ?? "";
  return separator === undefined ? value : `${m.key?.toString("utf8") ?? ""}${separator}${value}`;
}

/**
 * For -e: the partitions still short of their end offset (the high watermark as of the start).
 * A partition is done once the consumer's position reaches its end; records at or past the
 * end are not printed, so the output is the log as it was when the command started.
 */
export class EndTracker {
  readonly #ends: ReadonlyMap<number, bigint>;
  readonly #open: Set<number>;

  /** `ends`: end offset by partition; `startsAt`: the known start position, if any. */
  constructor(ends: ReadonlyMap<number, bigint>, startsAt: (partition: number) => bigint | null) {
    this.#ends = ends;
    this.#open = new Set(
      [...ends].filter(([p, end]) => (startsAt(p) ?? -1n) < end).map(([p]) => p),
    );
  }

  /** True once every partition reached its end. */
  get done(): boolean {
    return this.#open.size === 0;
  }

  /** Whether a record belongs to the output (its offset is below its partition's end). */
  wanted(partition: number, offset: bigint): boolean {
    return offset < (this.#ends.get(partition) ?? 0n);
  }

  /** Records a partition's position; returns true when that completes the partition. */
  reached(partition: number, position: bigint | null): boolean {
    if (!this.#open.has(partition) || position === null) return false;
    if (position < (this.#ends.get(partition) ?? 0n)) return false;
    this.#open.delete(partition);
    return true;
  }

  /** The partitions not yet at their end. */
  get open(): readonly number[] {
    return [...this.#open];
  }
}

/** The -e tracker: end offsets now, and which partitions already start at their end. */
async function endTracker(
  inv: Invocation,
  topic: string,
  partitions: readonly number[],
  start: SeekTarget,
): Promise<EndTracker> {
  const offsets = await (await inv.client())
    .admin()
    .fetchTopicOffsets(topic, { signal: inv.signal, timeoutMs: inv.timeoutMs });
  const ends = new Map(
    offsets.filter((o) => partitions.includes(o.partition)).map((o) => [o.partition, o.high]),
  );
  const lows = new Map(offsets.map((o) => [o.partition, o.low]));
  return new EndTracker(ends, (p) => {
    if (start === "latest") return ends.get(p) ?? 0n;
    if (start === "earliest") return lows.get(p) ?? 0n;
    return typeof start === "bigint" ? start : null; // a timestamp resolves on the first poll
  });
}

/** Checks the options -g allows and returns the group's autoOffsetReset. */
export function groupReset(options: Invocation["options"]): "earliest" | "latest" {
  for (const name of ["partition", "exit"])
    if (options[name] !== undefined) throw new UsageError(`--${name} cannot be used with --group`);
  const start = parseStart(str(options, "offset") ?? "start");
  if (start !== "earliest" && start !== "latest")
    throw new UsageError(
      "with --group, -o takes start or end (where partitions with no commit start)",
    );
  return start;
}

/** The next offset per partition after the records of `printed` (what to commit). */
export function offsetsAfter(
  printed: readonly { topic: string; partition: number; offset: bigint }[],
): CommitOffset[] {
  const next = new Map<string, CommitOffset>();
  for (const r of printed)
    next.set(`${r.topic}\u0000${r.partition}`, {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset + 1n,
    });
  return [...next.values()];
}

async function commitPrinted(consumer: Consumer, offsets: readonly CommitOffset[]): Promise<void> {
  if (offsets.length === 0) return;
  try {
    await consumer.commit(offsets);
  } catch (error) {
    if (error instanceof AbortedError) return;
    if (!(error instanceof StrandClientError)) throw error;
    // Fenced or the coordinator moved: the records are read again by the next owner.
    printFailure(`warning: commit failed (${error.message}); continuing`);
  }
}

/** Prints `lines`, waiting for stdout to drain when it is full (a slow pipe). */
async function writeLines(lines: readonly string[]): Promise<void> {
  if (lines.length > 0 && !process.stdout.write(`${lines.join("\n")}\n`))
    await new Promise((resolve) => process.stdout.once("drain", resolve));
}

async function consumeGroup(inv: Invocation, groupId: string): Promise<number> {
  const topic = inv.args[0]!;
  const autoOffsetReset = groupReset(inv.options);
  const count = int(inv.options, "count", { min: 1 });
  const separator = str(inv.options, "key-separator");
  await describeTopic(inv, topic);
  const consumer = (await inv.client()).consumer({
    groupId,
    autoOffsetReset,
    autoCommit: false,
    maxWaitMs: 500,
  });
  consumer.subscribe({ topics: [topic] });
  let printed = 0;
  const limit = count ?? Number.POSITIVE_INFINITY;
  try {
    while (printed < limit && !inv.signal.aborted) {
      const batches = await pollUnlessStopped(consumer, inv.signal);
      if (batches === null) break;
      const out: string[] = [];
      const done: { topic: string; partition: number; offset: bigint }[] = [];
      for (const b of batches)
        for (const m of b.messages) {
          if (printed >= limit) break;
          out.push(
            inv.format === "json" ? jsonLine(b.topic, b.partition, m) : textLine(m, separator),
          );
          done.push({ topic: b.topic, partition: b.partition, offset: m.offset });
          printed++;
        }
      await writeLines(out);
      await commitPrinted(consumer, offsetsAfter(done));
    }
  } finally {
    await consumer.close(); // leaves the group
  }
  return EXIT.ok;
}

async function consume(inv: Invocation): Promise<number> {
  const group = str(inv.options, "group");
  if (group !== undefined) return consumeGroup(inv, group);
  const topic = inv.args[0]!;
  const start = parseStart(str(inv.options, "offset") ?? "start");
  const partition = int(inv.options, "partition", { min: 0 });
  const count = int(inv.options, "count", { min: 1 });
  const separator = str(inv.options, "key-separator");
  const t = await describeTopic(inv, topic);
  checkPartition(t, partition);
  const partitions = partition === undefined ? t.partitions.map((p) => p.partition) : [partition];
  const untilEnd = flag(inv.options, "exit")
    ? await endTracker(inv, topic, partitions, start)
    : null;
  if (untilEnd?.done === true) return EXIT.ok; // nothing to read up to the end
  // An explicit offset outside the log is an error (exit 1), not a silent jump.
  const consumer = (await inv.client()).consumer({
    autoOffsetReset: typeof start === "bigint" ? "none" : "earliest",
    maxWaitMs: 500,
  });
  consumer.assign(partitions.map((p) => ({ topic, partition: p })));
  for (const p of partitions) consumer.seek({ topic, partition: p, offset: start });
  let printed = 0;
  const limit = count ?? Number.POSITIVE_INFINITY;
  try {
    // A function, so the compiler does not keep the narrowing of `done` from before the loop.
    const atEnd = (): boolean => untilEnd?.done === true;
    while (printed < limit && !inv.signal.aborted && !atEnd()) {
      const batches = await pollUnlessStopped(consumer, inv.signal);
      if (batches === null) break;
      const out: string[] = [];
      for (const b of batches)
        for (const m of b.messages) {
          if (printed >= limit) break;
          if (untilEnd !== null && !untilEnd.wanted(b.partition, m.offset)) continue;
          out.push(
            inv.format === "json" ? jsonLine(b.topic, b.partition, m) : textLine(m, separator),
          );
          printed++;
        }
      // poll() hands over everything fetched so far, so a position at the end means every
      // record before the end was printed above.
      for (const p of untilEnd?.open ?? [])
        if (untilEnd?.reached(p, consumer.position({ topic, partition: p })) === true)
          consumer.pause([{ topic, partition: p }]);
      await writeLines(out);
    }
  } finally {
    await consumer.close();
  }
  return EXIT.ok;
}

/** The consume command. */
export const consumeCommand: Command = {
  path: ["consume"],
  brief: "print records",
  summary:
    "Prints records of every partition (or one) from a start position; exits after -n COUNT records, with -e once every partition reached its end offset as of the start, or on Ctrl-C (exit 0). With -g GROUP it joins the consumer group, reads the partitions the group assigns from its committed offsets, commits what it printed, and leaves the group on Ctrl-C.",
  args: "TOPIC",
  arity: [1, 1],
  options: [
    {
      name: "offset",
      short: "o",
      type: "string",
      valueName: "start|end|N|@MS",
      description:
        "where to start: log start (default), end, an offset, or the first record at/after a timestamp (ms)",
    },
    {
      name: "partition",
      short: "p",
      type: "string",
      valueName: "N",
      description: "only this partition",
    },
    {
      name: "count",
      short: "n",
      type: "string",
      valueName: "N",
      description: "exit after N records",
    },
    {
      name: "exit",
      short: "e",
      type: "boolean",
      description:
        "exit 0 once every partition reached its end offset as of the start (at once when there is nothing to read)",
    },
    {
      name: "group",
      short: "g",
      type: "string",
      valueName: "GROUP",
      description:
        "consume as a member of this consumer group: its partitions, from its committed offsets, committing what is printed",
    },
    {
      name: "key-separator",
      short: "k",
      type: "string",
      valueName: "SEP",
      description: "text format: print key SEP value",
    },
  ],
  examples: [
    "strand consume orders -n 10 -f json",
    "strand consume orders -p 0 -o 1200",
    "strand consume orders -o @1767225600000 -k :",
    "strand consume orders -o end     # follow new records; Ctrl-C stops",
    "strand consume orders -e > orders.txt   # everything up to now, then exit",
    "strand consume orders -g billing        # share the partitions with other members of billing",
  ],
  run: consume,
};
