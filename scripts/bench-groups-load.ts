/**
 * Group coordinator load benchmark: how long a new coordinator takes to decode and replay an
 * offsets partition holding G groups x P partitions of commits written R times (one batch per
 * group per round, as the coordinator writes a member's commit). Without compaction the log
 * holds all R rounds; with it, about one. Storage reads are not included (see the storage
 * suite for read throughput).
 *
 * `npm run bench -- groups-load [--groups 1000] [--partitions 100] [--rounds 10]`
 */
import { parseArgs } from "node:util";
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { decodeGroupRecord, encodeGroupRecord } from "../packages/broker/src/core/groups/codec.ts";
import { emptyGroupsState, replay } from "../packages/broker/src/core/groups/state.ts";

const { values } = parseArgs({
  options: {
    groups: { type: "string", default: "1000" },
    partitions: { type: "string", default: "100" },
    rounds: { type: "string", default: "10" },
  },
});
const groups = Number(values.groups);
const partitions = Number(values.partitions);
const rounds = Number(values.rounds);

function buildLog(): Buffer[] {
  const batches: Buffer[] = [];
  let offset = 0n;
  for (let r = 0; r < rounds; r++)
    for (let g = 0; g < groups; g++) {
      const records = Array.from({ length: partitions }, (_, p) => {
        const e = encodeGroupRecord({
          type: "offsetCommit",
          groupId: `group-${g}`,
          topic: "orders",
          partition: p,
          offset: BigInt(r * 1000 + p),
          leaderEpoch: 3,
          metadata: "",
          commitTimestampMs: 1_700_000_000_000 + r,
        });
        return { key: e.key, value: e.value };
      });
      batches.push(
        encodeRecordBatch({ baseOffset: offset, baseTimestamp: 1_700_000_000_000n, records }),
      );
      offset += BigInt(partitions);
    }
  return batches;
}

const log = Buffer.concat(buildLog());
const started = performance.now();
const state = emptyGroupsState();
let count = 0;
for (const view of iterateBatches(log, { verifyCrc: true })) {
  const batch = decodeRecordBatch(log, { position: view.position });
  for (const rec of batch.records) {
    replay(state, decodeGroupRecord(rec.key, rec.value));
    count++;
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    groups,
    partitions,
    rounds,
    records: count,
    logMiB: +(log.length / 2 ** 20).toFixed(1),
    loadSeconds: +seconds.toFixed(2),
    recordsPerSecond: Math.round(count / seconds),
    groupsLoaded: state.groups.size,
  }),
);
