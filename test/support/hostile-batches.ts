// Hostile RecordBatch v2 bytes with a valid CRC: each one passes the header-only checks a
// broker used to make and is a poison pill for consumers. Built with the protocol encoder,
// then patched, then the CRC fixed, so only the named problem is wrong. Shared by the
// storage validator tests, the SDK consumer tests and the cluster test.
import { gzipSync } from "node:zlib";
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  CRC_START,
  crc32c,
  type ErrorCodeName,
  encodeRecordBatch,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_RECORD_COUNT,
  type RecordBatchInput,
} from "@strand/protocol";

/** One hostile batch and the error code a leader must answer it with. */
export interface HostileBatch {
  readonly name: string;
  readonly bytes: Buffer;
  readonly code: ErrorCodeName;
}

/** Recomputes the CRC-32C of a single batch in place and returns it. */
export function fixCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), OFFSET_CRC);
  return batch;
}

/** A valid batch of `count` small records (timestamps now). */
export function validBatch(
  count = 3,
  extra: Partial<RecordBatchInput> = {},
  valueBytes = 8,
): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`k${i}`),
    value: Buffer.alloc(valueBytes, i),
  }));
  return encodeRecordBatch({ baseTimestamp: BigInt(Date.now()), records, ...extra });
}

/** A batch whose records section is `section` as given (already compressed, or not). */
export function batchWithSection(
  section: Buffer,
  header: { codec: number; recordCount: number; lastOffsetDelta?: number },
): Buffer {
  const template = validBatch(1);
  const out = Buffer.alloc(BATCH_HEADER_BYTES + section.length);
  template.copy(out, 0, 0, BATCH_HEADER_BYTES);
  section.copy(out, BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  out.writeInt16BE(header.codec, OFFSET_ATTRIBUTES);
  out.writeInt32BE(header.lastOffsetDelta ?? header.recordCount - 1, OFFSET_LAST_OFFSET_DELTA);
  out.writeInt32BE(header.recordCount, OFFSET_RECORD_COUNT);
  return fixCrc(out);
}

/** Zig-zag varint bytes of `value` (int32). */
function varint(value: number): number[] {
  let zz = ((value << 1) ^ (value >> 31)) >>> 0;
  const out: number[] = [];
  while (zz >= 0x80) {
    out.push((zz & 0x7f) | 0x80);
    zz >>>= 7;
  }
  out.push(zz);
  return out;
}

/** One uncompressed record whose header count says 2^30 but that holds none. */
function recordWithHugeHeaderCount(): Buffer {
  const body = [0, ...varint(0), ...varint(0), ...varint(-1), ...varint(1), 0x41];
  body.push(...varint(2 ** 30));
  return Buffer.from([...varint(body.length), ...body]);
}

/** The first record of an uncompressed records section (its length fits one varint byte). */
function firstRecord(section: Buffer): Buffer {
  return section.subarray(0, 1 + (section[0]! >> 1));
}

function patched(batch: Buffer, patch: (b: Buffer) => void): Buffer {
  patch(batch);
  return fixCrc(batch);
}

/** Every hostile batch, each with the code a leader answers. */
export function hostileBatches(): HostileBatch[] {
  const raw = validBatch(3).subarray(BATCH_HEADER_BYTES); // an uncompressed records section
  const gzipped = validBatch(3, { compression: "gzip" });
  const corruptGzip = patched(Buffer.from(gzipped), (b) => {
    // Flip bytes inside the deflate stream (after the 10-byte gzip header).
    for (let i = BATCH_HEADER_BYTES + 12; i < b.length - 8; i++) b[i]! ^= 0x5a;
  });
  return [
    {
      name: "unknown codec 5",
      bytes: patched(validBatch(3), (b) => b.writeInt16BE(5, OFFSET_ATTRIBUTES)),
      code: "UNSUPPORTED_COMPRESSION_TYPE",
    },
    { name: "corrupt gzip", bytes: corruptGzip, code: "CORRUPT_MESSAGE" },
    {
      name: "gzip bomb (65 MiB of zeros)",
      bytes: batchWithSection(gzipSync(Buffer.alloc(65 * 1024 * 1024), { level: 9 }), {
        codec: 1,
        recordCount: 1,
      }),
      code: "CORRUPT_MESSAGE",
    },
    {
      name: "2^30 headers",
      bytes: batchWithSection(recordWithHugeHeaderCount(), { codec: 0, recordCount: 1 }),
      code: "INVALID_RECORD",
    },
    {
      // 2 x 7 bytes fit in the one 17-byte record, so the header-only bound lets it through.
      name: "record count 2 over 1 record",
      bytes: batchWithSection(firstRecord(raw), { codec: 0, recordCount: 2 }),
      code: "INVALID_RECORD",
    },
    {
      name: "offset deltas out of order",
      bytes: encodeRecordBatch({
        baseTimestamp: BigInt(Date.now()),
        lastOffsetDelta: 2,
        records: [0, 2, 1].map((offsetDelta) => ({ offsetDelta, key: null, value: null })),
      }),
      code: "INVALID_RECORD",
    },
    {
      name: "gzip batch claiming 2^31-1 records",
      bytes: batchWithSection(gzipSync(raw), { codec: 1, recordCount: 2 ** 31 - 1 }),
      code: "INVALID_RECORD",
    },
    {
      name: "uncompressed batch with more records than its count",
      bytes: batchWithSection(raw, { codec: 0, recordCount: 2 }),
      code: "INVALID_RECORD",
    },
    {
      name: "lastOffsetDelta beyond recordCount",
      bytes: batchWithSection(raw, { codec: 0, recordCount: 3, lastOffsetDelta: 2 ** 31 - 2 }),
      code: "INVALID_RECORD",
    },
    {
      name: "maxTimestamp INT64_MAX",
      bytes: patched(validBatch(3), (b) =>
        b.writeBigInt64BE((1n << 63n) - 1n, OFFSET_MAX_TIMESTAMP),
      ),
      code: "INVALID_TIMESTAMP",
    },
    {
      name: "baseTimestamp after maxTimestamp",
      bytes: patched(validBatch(3), (b) =>
        b.writeBigInt64BE(b.readBigInt64BE(OFFSET_MAX_TIMESTAMP) + 1n, OFFSET_BASE_TIMESTAMP),
      ),
      code: "INVALID_TIMESTAMP",
    },
    {
      name: "control batch",
      bytes: patched(validBatch(1), (b) => b.writeInt16BE(ATTR_CONTROL, OFFSET_ATTRIBUTES)),
      code: "INVALID_RECORD",
    },
    {
      name: "transactional batch",
      bytes: patched(validBatch(1), (b) => b.writeInt16BE(ATTR_TRANSACTIONAL, OFFSET_ATTRIBUTES)),
      code: "INVALID_RECORD",
    },
  ];
}
