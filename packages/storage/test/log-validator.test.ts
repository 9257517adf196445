// Goal: the leader path refuses what a client must not write (unknown codec, corrupt or
// oversized compressed data, records that disagree with their header, absurd timestamps,
// control and transactional batches, keyless records on compacted logs) with the documented code, leaves the log end offset
// where it was and keeps appending; Kafka client bytes (test/vectors) all pass; followers
// copy what their leader validated without decoding.
import { ErrorCode, encodeRecordBatch, StrandError } from "@strand/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hostileBatches, validBatch } from "../../../test/support/hostile-batches.ts";
import { loadBatchVectors, vectorBytes } from "../../protocol/test/vectors.ts";
import { Log } from "../src/log.ts";
import { MAX_TIMESTAMP_AHEAD_MS } from "../src/log-validator.ts";
import { manualClock, tempDir } from "./helpers.ts";

let remove: () => Promise<void>;
let dir: string;
let log: Log;
const clock = manualClock(Date.now());

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  log = await Log.open(dir, {}, { clock: clock.now });
});

afterEach(async () => {
  await log.close();
  await remove();
});

const leader = { assignOffsets: true, leaderEpoch: 0 } as const;

async function refusal(bytes: Buffer): Promise<StrandError> {
  const error = await log.append(bytes, leader).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StrandError);
  return error as StrandError;
}

describe("leader append refuses hostile batches", () => {
  for (const hostile of hostileBatches()) {
    it(`${hostile.name}: ${hostile.code}, log end unchanged, log still appends`, async () => {
      await log.append(validBatch(2), leader);
      const error = await refusal(Buffer.from(hostile.bytes));
      expect(error.errorCode).toBe(ErrorCode[hostile.code]);
      expect(error.message.length).toBeGreaterThan(20);
      expect(log.logEndOffset).toBe(2n);
      const next = await log.append(validBatch(3), leader);
      expect(next).toMatchObject({ firstOffset: 2n, lastOffset: 4n });
    });
  }

  it("refuses a hostile batch after a valid one in the same append, writing neither", async () => {
    const [hostile] = hostileBatches();
    await refusal(Buffer.concat([validBatch(2), hostile!.bytes]));
    expect(log.logEndOffset).toBe(0n);
  });

  it("bounds timestamps by the log's clock: a year ahead is the limit", async () => {
    const now = BigInt(clock.now());
    const at = (t: bigint) =>
      validBatch(1, { baseTimestamp: t, maxTimestamp: t }).subarray(0) as Buffer;
    await log.append(at(now + BigInt(MAX_TIMESTAMP_AHEAD_MS)), leader);
    const error = await refusal(at(now + BigInt(MAX_TIMESTAMP_AHEAD_MS) + 1n));
    expect(error.errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
    expect((await refusal(at(-2n))).errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
    await log.append(at(-1n), leader); // -1 is "no timestamp"
    expect(log.logEndOffset).toBe(2n);
  });
});

describe("leader append accepts real client bytes", () => {
  it("every Kafka client vector (all codecs) passes and keeps its record count", async () => {
    let expected = 0n;
    for (const v of loadBatchVectors()) {
      const appended = await log.append(vectorBytes(v), leader);
      expect(appended.firstOffset).toBe(expected);
      expected += BigInt(v.expect.recordCount);
    }
    expect(log.logEndOffset).toBe(expected);
  });
});

describe("compacted logs", () => {
  it("the leader refuses a keyless record (INVALID_RECORD), as Kafka; a follower copies it", async () => {
    const keyless = (baseOffset = 0n) =>
      encodeRecordBatch({
        baseOffset,
        partitionLeaderEpoch: 0,
        baseTimestamp: BigInt(clock.now()),
        records: [
          { key: Buffer.from("k"), value: Buffer.from("a") },
          { key: null, value: Buffer.from("b") },
        ],
      });
    await log.updateConfig({ cleanupPolicy: "compact" });
    expect((await refusal(keyless())).errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect(log.logEndOffset).toBe(0n);
    await log.append(validBatch(2), leader);
    const copied = keyless(2n);
    await log.updateConfig({ cleanupPolicy: "compact,delete" });
    await log.append(copied, { assignOffsets: false, leaderEpoch: 0 });
    expect(log.logEndOffset).toBe(4n);
  });
});

describe("follower append", () => {
  it("copies what the leader stamped without decoding records", async () => {
    // A leader validated this batch; the follower checks headers and CRC only.
    const batch = validBatch(3, { compression: "zstd", baseOffset: 0n, partitionLeaderEpoch: 0 });
    const appended = await log.append(batch, { assignOffsets: false, leaderEpoch: 0 });
    expect(appended).toMatchObject({ firstOffset: 0n, lastOffset: 2n });
  });
});
