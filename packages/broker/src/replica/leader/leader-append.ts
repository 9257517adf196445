/**
 * The leader's idempotence check before an append (called under the partition lock): bring
 * the producer state to the log end, then decide per batch (producer-state.ts `checkBatches`).
 * Produces without producer ids skip the state entirely.
 */

import { checkBatches, hasProducerIds, type OffsetRange } from "../../core/producer-state.ts";
import type { ReplicaContext } from "../context.ts";
import { errorOf, partitionError } from "../errors.ts";
import type { Partition } from "../partition.ts";
import type { PartitionError } from "../types.ts";

/** What the leader appends: `records` (null: every batch was a retried duplicate). */
export interface PreparedAppend {
  /** The bytes to append (a suffix of the produce), or null when nothing is new. */
  readonly records: Buffer | null;
  /** The original offsets of each leading retried batch, in order (empty when none). */
  readonly duplicates: readonly OffsetRange[];
}

/** See the module comment. Errors are answered, never thrown (broken invariants excepted). */
export async function prepareLeaderAppend(
  ctx: ReplicaContext,
  p: Partition,
  records: Buffer,
): Promise<PreparedAppend | PartitionError> {
  try {
    if (!hasProducerIds(records)) return { records, duplicates: [] };
    await p.producers.sync();
    const check = checkBatches(p.producers.map, records);
    if (check.kind === "refuse") return partitionError(check.error, check.message);
    if (check.skipBytes === 0) return { records, duplicates: [] };
    ctx.logger.debug(
      {
        topic: p.topic,
        partition: p.partition,
        duplicates: check.duplicates.map((d) => String(d.firstOffset)),
      },
      "retried idempotent batches answered with their original offsets",
    );
    const rest = check.skipBytes === records.length ? null : records.subarray(check.skipBytes);
    return { records: rest, duplicates: check.duplicates };
  } catch (thrown) {
    const { error, unexpected } = errorOf(thrown);
    if (unexpected)
      ctx.logger.error(
        { topic: p.topic, partition: p.partition, err: thrown },
        "producer state check failed",
      );
    return error;
  }
}
