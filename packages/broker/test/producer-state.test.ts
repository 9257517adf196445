// Goal: the pure idempotent-producer state decides like Kafka's ProducerStateManager: a retried
// batch is a duplicate answered with its original offsets, a gap is OUT_OF_ORDER, an older
// epoch is fenced, a new epoch restarts at 0, an unknown id must start at 0, sequences wrap at
// 2^31 - 1, only the last 5 batches are remembered, several batches of one produce are checked
// in order, and replaying a log gives the same state as applying its batches one by one.
import { BatchHeaderView, ErrorCode, encodeRecordBatch } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import {
  BATCHES_PER_PRODUCER_MAX,
  checkBatches,
  incrementSequence,
  type ProducerBatch,
  ProducerStateMap,
  producerBatchOf,
  SEQUENCE_MAX,
} from "../src/core/producer-state.ts";

const PID = 42n;

/** A batch of `count` records from producer `pid`, epoch, starting at `seq` (offset `base`). */
function encoded(seq: number, count = 1, epoch = 0, pid = PID, base = 0n): Buffer {
  return encodeRecordBatch({
    baseOffset: base,
    baseTimestamp: 1_000n,
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: seq,
    records: Array.from({ length: count }, () => ({ key: null, value: Buffer.from("v") })),
  });
}

function batchAt(seq: number, count: number, offset: bigint, epoch = 0): ProducerBatch {
  return producerBatchOf(new BatchHeaderView(encoded(seq, count, epoch, PID, offset)))!;
}

function checkOne(state: ProducerStateMap, buffer: Buffer) {
  return checkBatches(state, buffer);
}

describe("producer state", () => {
  it("answers a retried batch with its original offsets and accepts the next sequence", () => {
    const state = new ProducerStateMap();
    expect(checkOne(state, encoded(0, 3))).toEqual({
      kind: "append",
      skipBytes: 0,
      duplicates: [],
    });
    state.apply(batchAt(0, 3, 100n));
    const retry = encoded(0, 3);
    expect(checkOne(state, retry)).toEqual({
      kind: "append",
      skipBytes: retry.length,
      duplicates: [{ firstOffset: 100n, lastOffset: 102n }],
    });
    expect(checkOne(state, encoded(3, 2)).kind).toBe("append");
  });

  it("refuses a gap or a repeat of an older range as OUT_OF_ORDER_SEQUENCE_NUMBER", () => {
    const state = new ProducerStateMap();
    state.apply(batchAt(0, 3, 0n));
    const gap = checkOne(state, encoded(5, 1));
    expect(gap.kind === "refuse" && gap.error).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const overlap = checkOne(state, encoded(1, 3));
    expect(overlap.kind === "refuse" && overlap.error).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  it("fences an older epoch and restarts sequences at 0 in a newer one", () => {
    const state = new ProducerStateMap();
    state.apply(batchAt(0, 1, 0n, 1));
    const old = checkOne(state, encoded(1, 1, 0));
    expect(old.kind === "refuse" && old.error).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const notZero = checkOne(state, encoded(1, 1, 2));
    expect(notZero.kind === "refuse" && notZero.error).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(checkOne(state, encoded(0, 1, 2)).kind).toBe("append");
    state.apply(batchAt(0, 1, 1n, 2));
    expect(state.entry(PID)).toMatchObject({
      epoch: 2,
      batches: [{ firstSeq: 0, firstOffset: 1n }],
    });
  });

  it("refuses an unknown producer id unless it starts at sequence 0", () => {
    const state = new ProducerStateMap();
    const unknown = checkOne(state, encoded(7, 1));
    expect(unknown.kind === "refuse" && unknown.error).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
    const noSeq = checkOne(state, encoded(-1, 1));
    expect(noSeq.kind === "refuse" && noSeq.error).toBe(ErrorCode.INVALID_RECORD);
  });

  it("wraps sequences from 2^31 - 1 to 0", () => {
    expect(incrementSequence(SEQUENCE_MAX, 1)).toBe(0);
    expect(incrementSequence(SEQUENCE_MAX - 1, 3)).toBe(1);
    const state = new ProducerStateMap();
    state.apply(batchAt(0, 1, 0n));
    // Jump close to the end of the space by replaying a batch that ends at SEQUENCE_MAX - 1.
    state.apply(batchAt(1, 1, 1n));
    const entry = state.entry(PID)!;
    state.restore({
      ...entry,
      batches: [{ ...entry.batches[0]!, firstSeq: SEQUENCE_MAX - 3, lastSeq: SEQUENCE_MAX - 1 }],
    });
    // A batch starting at SEQUENCE_MAX with 3 records ends at 1 (wrapped) and is in order.
    const wrapped = batchAt(SEQUENCE_MAX, 3, 10n);
    expect(wrapped.lastSeq).toBe(1);
    expect(checkOne(state, encoded(SEQUENCE_MAX, 3)).kind).toBe("append");
    state.apply(wrapped);
    expect(checkOne(state, encoded(2, 1)).kind).toBe("append");
    expect(checkOne(state, encoded(SEQUENCE_MAX, 3))).toMatchObject({
      duplicates: [{ firstOffset: 10n, lastOffset: 12n }],
    });
  });

  it("remembers only the last 5 batches", () => {
    const state = new ProducerStateMap();
    for (let i = 0; i < 7; i++) state.apply(batchAt(i, 1, BigInt(i)));
    expect(state.entry(PID)!.batches.map((b) => b.firstSeq)).toEqual([2, 3, 4, 5, 6]);
    expect(BATCHES_PER_PRODUCER_MAX).toBe(5);
    expect(checkOne(state, encoded(2, 1))).toMatchObject({ duplicates: [{ firstOffset: 2n }] });
    const forgotten = checkOne(state, encoded(1, 1));
    expect(forgotten.kind === "refuse" && forgotten.error).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
  });

  it("checks several batches of one produce in order", () => {
    const state = new ProducerStateMap();
    state.apply(batchAt(0, 2, 0n));
    const dup = encoded(0, 2);
    const next = Buffer.concat([dup, encoded(2, 2), encoded(4, 1)]);
    expect(checkOne(state, next)).toEqual({
      kind: "append",
      skipBytes: dup.length,
      duplicates: [{ firstOffset: 0n, lastOffset: 1n }],
    });
    const reordered = checkOne(state, Buffer.concat([encoded(2, 2), encoded(0, 2)]));
    expect(reordered.kind === "refuse" && reordered.error).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    const gapInside = checkOne(state, Buffer.concat([encoded(2, 2), encoded(5, 1)]));
    expect(gapInside.kind === "refuse" && gapInside.error).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    const plain = encodeRecordBatch({ baseTimestamp: 0n, records: [{ key: null, value: null }] });
    expect(checkOne(state, Buffer.concat([plain, encoded(2, 1)])).kind).toBe("append");
  });

  it("answers each leading duplicate's own offsets, also when other batches lie between them", () => {
    // Producer 42 wrote 0..1 at offset 0 and 2..2 at offset 5; another producer's records
    // (offsets 2..4) lie between them. A retry of both plus a new batch must not claim 2..4.
    const state = new ProducerStateMap();
    state.apply(batchAt(0, 2, 0n));
    state.apply(batchAt(2, 1, 5n));
    const retried = Buffer.concat([encoded(0, 2), encoded(2, 1)]);
    expect(checkOne(state, Buffer.concat([retried, encoded(3, 2)]))).toEqual({
      kind: "append",
      skipBytes: retried.length,
      duplicates: [
        { firstOffset: 0n, lastOffset: 1n },
        { firstOffset: 5n, lastOffset: 5n },
      ],
    });
  });

  it("expires producers idle for longer than the expiration", () => {
    const state = new ProducerStateMap();
    state.apply(batchAt(0, 1, 0n)); // timestamp 1 000
    expect(state.removeExpired(5_000, 10_000)).toBe(0);
    expect(state.removeExpired(20_000, 10_000)).toBe(1);
    expect(state.size).toBe(0);
  });

  it("replaying a log equals the state built batch by batch (naive oracle)", () => {
    // Seeded walk over producers, epochs and batch sizes.
    let seed = 7;
    const next = (bound: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % bound;
    };
    const incremental = new ProducerStateMap();
    const log: ProducerBatch[] = [];
    const seqs = new Map<bigint, { epoch: number; seq: number }>();
    let offset = 0n;
    for (let i = 0; i < 300; i++) {
      const pid = BigInt(next(4));
      const s = seqs.get(pid) ?? { epoch: 0, seq: 0 };
      if (next(20) === 0) Object.assign(s, { epoch: s.epoch + 1, seq: 0 });
      const count = 1 + next(4);
      const batch = producerBatchOf(
        new BatchHeaderView(encoded(s.seq, count, s.epoch, pid, offset)),
      )!;
      const check = checkBatches(incremental, encoded(s.seq, count, s.epoch, pid));
      expect(check.kind).toBe("append");
      incremental.apply(batch);
      log.push(batch);
      seqs.set(pid, { epoch: s.epoch, seq: incrementSequence(s.seq, count) });
      offset += BigInt(count);
    }
    const replayed = new ProducerStateMap();
    for (const b of log) replayed.apply(b);
    expect([...replayed.entries()]).toEqual([...incremental.entries()]);
  });
});
