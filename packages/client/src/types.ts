/**
 * Public data types of the SDK: what producers send and consumers receive. Offsets and
 * timestamps are bigint (int64 on the wire); keys, values and header values are bytes
 * (strings are UTF-8 encoded on the way in).
 */

/** A header value: bytes, a string (UTF-8 encoded), or null. */
export type HeaderValue = Uint8Array | string | null;

/**
 * Record headers: an object (a key with an array value repeats the key) or an ordered list
 * of `{ key, value }` pairs.
 */
export type MessageHeaders =
  | Readonly<Record<string, HeaderValue | readonly HeaderValue[]>>
  | readonly { readonly key: string; readonly value: HeaderValue }[];

/** Which replicas must hold a batch before a send succeeds. */
export type Acks = "all" | "leader" | "none";

/** One message to send. */
export interface Message {
  /** The key: decides the partition (murmur2) unless `partition` is set; null for none. */
  readonly key?: Uint8Array | string | null;
  /** The value; null is a tombstone. */
  readonly value: Uint8Array | string | null;
  /** Headers, in order. */
  readonly headers?: MessageHeaders;
  /** An explicit partition (overrides the key). */
  readonly partition?: number;
  /** Create time in Unix epoch ms; default now. */
  readonly timestamp?: number | bigint;
}

/** Where one sent record landed. */
export interface RecordMetadata {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** Its offset (-1n with acks "none", which learns nothing back). */
  readonly offset: bigint;
}

/** A topic partition. */
export interface TopicPartition {
  /** The topic. */
  readonly topic: string;
  /** The partition number. */
  readonly partition: number;
}

/** A received header (order and repeats as sent). */
export interface ConsumedHeader {
  /** The key. */
  readonly key: string;
  /** The value, or null. */
  readonly value: Buffer | null;
}

/** One received record. */
export interface ConsumedMessage {
  /** Its offset. */
  readonly offset: bigint;
  /** The key, or null. */
  readonly key: Buffer | null;
  /** The value, or null. */
  readonly value: Buffer | null;
  /** Headers, in order. */
  readonly headers: readonly ConsumedHeader[];
  /** Create time (or log append time) in Unix epoch ms. */
  readonly timestamp: bigint;
}

/** Records of one partition from one fetch. */
export interface ConsumerBatch {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The records, in offset order, all at or after the position they were fetched from. */
  readonly messages: readonly ConsumedMessage[];
  /** The partition's high watermark when fetched (offsets below it are committed). */
  readonly highWatermark: bigint;
}
