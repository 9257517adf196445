/**
 * Group coordinator load benchmark: how long a new coordinator takes to rebuild the groups of an
 * offsets partition holding G groups x P partitions of commits written R times (one batch per
 * group per round, as the coordinator writes a member's commit).
 *
 * `--mode log` (default): the commits go through a real storage `Log` with
 * cleanup.policy=compact and `--segment-mib` segments (so segments roll); the partition is then
 * loaded with the coordinator's own loader (packages/broker/src/groups/load.ts) reading the log
 * as the leader's fetch does; then `Log.clean` runs (the cleaner's pass, until nothing is left
 * to clean) and the partition is loaded again. Both loads must rebuild the same committed
 * offsets. The active segment is never cleaned, so after cleaning the log holds about one
 * record per key plus the active segment.
 *
 * `--mode memory`: decode and replay of the same batches held in memory (no storage).
 *
 *   npm run bench -- groups-load [--groups 1000] [--partitions 100] [--rounds 100]
 *                                [--segment-mib 16] [--mode log|memory] [--dir DIR] [--json]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { noopLogger } from "@strand/base";
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from "@strand/protocol";
import { DEFAULT_DEDUPE_BUFFER_BYTES, Log, OffsetMap } from "@strand/storage";
import { decodeGroupRecord, encodeGroupRecord } from "../packages/broker/src/core/groups/codec.ts";
import {
  emptyGroupsState,
  type GroupsState,
  replay,
} from "../packages/broker/src/core/groups/state.ts";
import { loadOffsetsPartition, type OffsetsLogReader } from "../packages/broker/src/groups/load.ts";
import { OFFSETS_TOPIC } from "../packages/broker/src/groups/types.ts";

const { values } = parseArgs({
  options: {
    groups: { type: "string", default: "1000" },
    partitions: { type: "string", default: "100" },
    rounds: { type: "string", default: "100" },
    "segment-mib": { type: "string", default: "16" },
    mode: { type: "string", default: "log" },
    dir: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: npm run bench -- groups-load [--groups 1000] [--partitions 100] [--rounds 100]\n" +
      "       [--segment-mib 16] [--mode log|memory] [--dir DIR] [--json]",
  );
  process.exit(0);
}
const groups = Number(values.groups);
const partitions = Number(values.partitions);
const rounds = Number(values.rounds);
const segmentBytes = Number(values["segment-mib"]) * 1024 * 1024;

/** The batch group `g` commits in round `r`: one offset commit per partition. */
function commitBatch(r: number, g: number, baseOffset = 0n): Buffer {
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
  return encodeRecordBatch({ baseOffset, baseTimestamp: BigInt(Date.now()), records });
}

function seconds(since: number): number {
  return +((performance.now() - since) / 1000).toFixed(2);
}

/** Every group's committed offsets must be the last round's. */
function checkLastRound(state: GroupsState): void {
  if (state.groups.size !== groups) throw new Error(`loaded ${state.groups.size} groups`);
  for (const [id, g] of state.groups) {
    const orders = g.offsets.get("orders");
    for (let p = 0; p < partitions; p++) {
      const expected = BigInt((rounds - 1) * 1000 + p);
      const got = orders?.get(p)?.offset;
      if (got !== expected) throw new Error(`${id} orders-${p}: loaded ${got}, wrote ${expected}`);
    }
  }
}

/** The log as the loader sees a leader's replica manager: leader, high watermark = log end. */
function leaderOf(log: Log): OffsetsLogReader {
  const status = () => ({
    topic: OFFSETS_TOPIC,
    partition: 0,
    role: "leader" as const,
    leaderEpoch: 0,
    logStartOffset: log.logStartOffset,
    logEndOffset: log.logEndOffset,
    highWatermark: log.logEndOffset,
    isr: [0],
    sizeBytes: log.sizeBytes,
    segments: log.segmentBaseOffsets().length,
  });
  return {
    partitionStatuses: () => [status()],
    fetch: async (_options, [p]) => {
      if (p === undefined) return [];
      const read = await log.read(p.fetchOffset, {
        maxBytes: p.partitionMaxBytes,
        maxOffset: log.logEndOffset,
      });
      const s = status();
      return [
        {
          topic: s.topic,
          partition: s.partition,
          errorCode: 0,
          errorMessage: "",
          highWatermark: s.highWatermark,
          lastStableOffset: s.highWatermark,
          logStartOffset: s.logStartOffset,
          records: read.records,
        },
      ];
    },
  };
}

async function load(log: Log) {
  const state = emptyGroupsState();
  const started = performance.now();
  const records = await loadOffsetsPartition(
    leaderOf(log),
    0,
    (r) => replay(state, r),
    () => false,
    noopLogger,
  );
  const loadSeconds = seconds(started);
  checkLastRound(state);
  return {
    logMiB: +(log.sizeBytes / 2 ** 20).toFixed(1),
    segments: log.segmentBaseOffsets().length,
    records,
    loadSeconds,
    recordsPerSecond: Math.round(records / Math.max(loadSeconds, 0.001)),
  };
}

async function logMode(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(values.dir ?? tmpdir(), "strand-bench-groups-load-"));
  try {
    const log = await Log.open(dir, { cleanupPolicy: "compact", segmentBytes });
    let started = performance.now();
    for (let r = 0; r < rounds; r++)
      for (let g = 0; g < groups; g++)
        await log.append(commitBatch(r, g), { assignOffsets: true, leaderEpoch: 0 });
    await log.flush();
    const writeSeconds = seconds(started);
    const before = await load(log);
    const map = new OffsetMap(DEFAULT_DEDUPE_BUFFER_BYTES);
    started = performance.now();
    let passes = 0;
    let recordsRemoved = 0;
    for (;;) {
      const result = await log.clean({ nowMs: Date.now(), upperBound: log.logEndOffset, map });
      if (!result.cleaned) break;
      passes++;
      recordsRemoved += result.recordsRemoved;
    }
    const clean = { passes, recordsRemoved, seconds: seconds(started) };
    const after = await load(log);
    await log.close();
    return { writeSeconds, before, clean, after };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function memoryMode(): Record<string, unknown> {
  const batches: Buffer[] = [];
  let offset = 0n;
  for (let r = 0; r < rounds; r++)
    for (let g = 0; g < groups; g++) {
      batches.push(commitBatch(r, g, offset));
      offset += BigInt(partitions);
    }
  const log = Buffer.concat(batches);
  const started = performance.now();
  const state = emptyGroupsState();
  let records = 0;
  for (const view of iterateBatches(log, { verifyCrc: true })) {
    const batch = decodeRecordBatch(log, { position: view.position });
    for (const rec of batch.records) {
      replay(state, decodeGroupRecord(rec.key, rec.value));
      records++;
    }
  }
  const loadSeconds = seconds(started);
  checkLastRound(state);
  return {
    records,
    logMiB: +(log.length / 2 ** 20).toFixed(1),
    loadSeconds,
    recordsPerSecond: Math.round(records / Math.max(loadSeconds, 0.001)),
  };
}

const result = {
  mode: values.mode,
  groups,
  partitions,
  rounds,
  ...(values.mode === "memory"
    ? memoryMode()
    : { segmentMiB: segmentBytes / 2 ** 20, ...(await logMode()) }),
};
console.log(JSON.stringify(result, null, values.json ? undefined : 2));
