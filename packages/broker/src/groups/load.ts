/**
 * Loading the groups of one offsets partition when this broker becomes its leader: read the
 * log from its start until the high watermark has reached the log end the leader had when the
 * load began (so every record the previous leader acknowledged is included), replaying every
 * record. Control batches are skipped; offset gaps (compaction) are fine because the next
 * offset is taken from each batch.
 */
import type { Logger } from "@strand/base";
import { decodeRecordBatch, iterateBatches } from "@strand/protocol";
import { decodeGroupRecord } from "../core/groups/codec.ts";
import type { GroupRecord } from "../core/groups/records.ts";
import type { ReplicaManagerApi } from "../replica/types.ts";
import { OFFSETS_TOPIC } from "./types.ts";

const LOAD_FETCH_BYTES = 4 * 1024 * 1024;
const LOAD_WAIT_MS = 200;

/** What the loader needs of the replica manager: the partition's status and the leader's fetch. */
export type OffsetsLogReader = Pick<ReplicaManagerApi, "fetch" | "partitionStatuses">;

/** Thrown when the load stops because leadership moved. */
export class LoadAbandoned extends Error {}

/**
 * Reads and replays partition `index`; `apply` gets every decoded record in order. Returns the
 * number of records read. Throws {@link LoadAbandoned} when `cancelled()` turns true or this
 * broker stops leading the partition.
 */
export async function loadOffsetsPartition(
  replicas: OffsetsLogReader,
  index: number,
  apply: (r: GroupRecord) => void,
  cancelled: () => boolean,
  logger: Logger,
): Promise<number> {
  const status = () =>
    replicas.partitionStatuses().find((s) => s.topic === OFFSETS_TOPIC && s.partition === index);
  const first = status();
  if (first === undefined || first.role !== "leader") throw new LoadAbandoned("not the leader");
  const target = first.logEndOffset;
  let next = first.logStartOffset;
  let count = 0;
  for (;;) {
    if (cancelled()) throw new LoadAbandoned("cancelled");
    const s = status();
    if (s === undefined || s.role !== "leader") throw new LoadAbandoned("leadership moved");
    if (next >= target && s.highWatermark >= target) return count;
    if (next < s.logStartOffset) next = s.logStartOffset;
    const [r] = await replicas.fetch(
      { minBytes: 1, maxBytes: LOAD_FETCH_BYTES, maxWaitMs: LOAD_WAIT_MS },
      [
        {
          topic: OFFSETS_TOPIC,
          partition: index,
          fetchOffset: next,
          currentLeaderEpoch: -1,
          partitionMaxBytes: LOAD_FETCH_BYTES,
        },
      ],
    );
    if (r === undefined || r.errorCode !== 0) {
      if (r?.errorCode === 1)
        next = s.logStartOffset; // retention moved the start
      else throw new LoadAbandoned(r?.errorMessage ?? "fetch failed");
      continue;
    }
    for (const view of iterateBatches(r.records, { verifyCrc: false })) {
      const batch = decodeRecordBatch(r.records, { position: view.position });
      next = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
      if (batch.isControl) continue;
      for (const rec of batch.records) {
        try {
          apply(decodeGroupRecord(rec.key, rec.value));
          count++;
        } catch (error) {
          // One bad record must not keep every group of the partition offline.
          logger.error(
            { partition: index, offset: String(rec.offset), err: String(error) },
            "skipping an undecodable group record",
          );
        }
      }
    }
  }
}
