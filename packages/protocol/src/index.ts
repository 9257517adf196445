/**
 * @strand/protocol: wire and record formats. Pure: no I/O. The gRPC contract (package
 * definition, listener options, header names, validators, generated types) is `wire/`,
 * re-exported here: import it from `@strand/protocol`.
 * @packageDocumentation
 */

export { ACL_OPERATIONS, type AclOperation } from "./acl.ts";
export {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchHeaderView,
  CRC_START,
  MAGIC_V2,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_OFFSET,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PARTITION_LEADER_EPOCH,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
} from "./batch-header.ts";
export {
  type InspectBatchOptions,
  inspectBatchRecords,
  walkRecords,
} from "./batch-inspect.ts";
export {
  type BatchScan,
  batchViews,
  FRAMING_ONLY,
  type IterateBatchesOptions,
  iterateBatches,
  scanBatches,
} from "./batch-iterator.ts";
export {
  COMPRESSION_NAMES,
  type CompressionName,
  type CompressOptions,
  compress,
  compressionCodecId,
  compressionName,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  type DecompressOptions,
  decompress,
} from "./compression.ts";
export { crc32c } from "./crc32c.ts";
export {
  CorruptBatchError,
  ErrorCode,
  type ErrorCodeInfo,
  type ErrorCodeName,
  errorCodeInfo,
  InvalidRecordError,
  InvalidTimestampError,
  StrandError,
  UnsupportedCompressionError,
} from "./errors.ts";
export { lz4FrameOutputBound } from "./lz4-frame.ts";
export { murmur2, partitionForKey } from "./murmur2.ts";
export {
  type DecodedRecordBatch,
  type DecodeRecordBatchOptions,
  decodeRecordBatch,
  type EncodeRecordBatchOptions,
  encodeRecordBatch,
  type RecordBatchInput,
  type TimestampType,
} from "./record-batch.ts";
export {
  type DecodedRecord,
  type DecodedRecordHeader,
  decodeRecords,
  encodeRecords,
  MIN_RECORD_BYTES,
  type RecordContext,
  type RecordHeader,
  type RecordInput,
} from "./records.ts";
export {
  type ClientFirst,
  parseClientFirst,
  SCRAM_MESSAGE_MAX,
  ScramClient,
  ScramError,
  type ScramHash,
  type ScramKeys,
  saltedPassword,
  scramHashOf,
  scramKeys,
  scramNonce,
  serverFirstMessage,
  verifyClientFinal,
} from "./scram.ts";
export {
  isXerialFramed,
  snappyDecompress,
  snappyXerialCompress,
  XERIAL_CHUNK_BYTES,
  XERIAL_HEADER_BYTES,
  XERIAL_MAGIC,
} from "./snappy-xerial.ts";
export {
  ByteReader,
  readVarint,
  readVarlong,
  VARINT_MAX_BYTES,
  VARLONG_MAX_BYTES,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
} from "./varint.ts";
export * from "./wire/index.ts";
