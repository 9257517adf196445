/** Helpers the data commands share: topic lookup, acks names, payload encoding, polling. */
import { isUtf8 } from "node:buffer";
import {
  AbortedError,
  type Acks,
  type Consumer,
  type ConsumerBatch,
  type ProducerOptions,
  type TopicDescription,
} from "@strand/client";
import { UsageError } from "../args.ts";
import type { Invocation } from "../command.ts";
import { CliError } from "../output.ts";

/**
 * Describes one topic (partitions, leaders, offsets). Fails fast with a clear error when the
 * topic does not exist or no broker answers, before a producer or consumer would wait out
 * its longer delivery deadlines.
 */
export async function describeTopic(inv: Invocation, topic: string): Promise<TopicDescription> {
  const [t] = await (await inv.client())
    .admin()
    .describeTopics([topic], { signal: inv.signal, timeoutMs: inv.timeoutMs });
  if (t === undefined || t.partitions.length === 0)
    throw new CliError(
      `topic "${topic}" does not exist (create it with: strand topic create ${topic})`,
    );
  return t;
}

/** One poll, or null once Ctrl-C / SIGTERM aborted it: the command then stops reading. */
export async function pollUnlessStopped(
  consumer: Consumer,
  signal: AbortSignal,
): Promise<ConsumerBatch[] | null> {
  try {
    return await consumer.poll({ signal });
  } catch (error) {
    if (error instanceof AbortedError) return null;
    throw error;
  }
}

/** Checks an explicit partition against the topic. */
export function checkPartition(t: TopicDescription, partition: number | undefined): void {
  if (partition !== undefined && partition >= t.partitions.length)
    throw new CliError(
      `topic "${t.topic}" has ${t.partitions.length} partition(s); partition ${partition} does not exist`,
    );
}

/** `--acks all|1|0` (also leader/none) to the SDK's names. */
export function acksOf(raw: string): Acks {
  switch (raw) {
    case "all":
    case "-1":
      return "all";
    case "1":
    case "leader":
      return "leader";
    case "0":
    case "none":
      return "none";
    default:
      throw new UsageError(`--acks must be all, 1 or 0, got "${raw}"`);
  }
}

/** Bytes as a JSON field: a UTF-8 string, or base64 (then `encoded` is true). */
export function textOrBase64(bytes: Buffer | null): { text: string | null; base64: boolean } {
  if (bytes === null) return { text: null, base64: false };
  return isUtf8(bytes)
    ? { text: bytes.toString("utf8"), base64: false }
    : { text: bytes.toString("base64"), base64: true };
}

/** A codec name the producer accepts. */
export type Compression = NonNullable<ProducerOptions["compression"]>;

const COMPRESSIONS: readonly Compression[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** `--compression none|gzip|snappy|lz4|zstd` to the SDK's codec name. */
export function compressionOf(raw: string): Compression {
  const found = COMPRESSIONS.find((c) => c === raw);
  if (found === undefined)
    throw new UsageError(`--compression must be ${COMPRESSIONS.join(", ")}, got "${raw}"`);
  return found;
}
