/**
 * Branded ids and epochs of the metadata layer. Metadata offsets and broker epochs are plain
 * JS numbers (the metadata log will not pass 2^53 entries); producer ids are bigint because
 * the idempotent producer uses the full int64 range. int64 wire values (strings in the
 * generated proto types) are converted in codec.ts only.
 */

/** A broker's `node.id`. Non-negative int32. */
import { assert } from "@strand/base";
export type BrokerId = number & { readonly __brand: "BrokerId" };
/**
 * A broker's epoch: the metadata offset of its latest RegisterBroker record. A restarted
 * broker gets a new one, so requests from the previous process are refused.
 */
export type BrokerEpoch = number & { readonly __brand: "BrokerEpoch" };
/** A partition's leader epoch: bumped on every leader change. */
export type LeaderEpoch = number & { readonly __brand: "LeaderEpoch" };
/** A partition's epoch: bumped on every change; AlterPartition compares and sets it. */
export type PartitionEpoch = number & { readonly __brand: "PartitionEpoch" };
/** A position in the metadata log (the Raft index of a record batch); 0 = before the first. */
export type MetadataOffset = number & { readonly __brand: "MetadataOffset" };
/** A topic's id: a uuid that is never reused. */
export type TopicId = string & { readonly __brand: "TopicId" };

const INT32_MAX = 2 ** 31 - 1;

/** Makes a {@link BrokerId} from a non-negative int32. */
export function brokerId(n: number): BrokerId {
  assert(Number.isInteger(n) && n >= 0 && n <= INT32_MAX, `broker id ${n} out of range`);
  return n as BrokerId;
}
/** Makes a {@link BrokerEpoch} from a non-negative integer. */
export function brokerEpoch(n: number): BrokerEpoch {
  assert(Number.isSafeInteger(n) && n >= 0, `broker epoch ${n} out of range`);
  return n as BrokerEpoch;
}
/** Makes a {@link LeaderEpoch} from a non-negative int32. */
export function leaderEpoch(n: number): LeaderEpoch {
  assert(Number.isInteger(n) && n >= 0 && n <= INT32_MAX, `leader epoch ${n} out of range`);
  return n as LeaderEpoch;
}
/** Makes a {@link PartitionEpoch} from a non-negative int32. */
export function partitionEpoch(n: number): PartitionEpoch {
  assert(Number.isInteger(n) && n >= 0 && n <= INT32_MAX, `partition epoch ${n} out of range`);
  return n as PartitionEpoch;
}
/** Makes a {@link MetadataOffset} from a non-negative integer. */
export function metadataOffset(n: number): MetadataOffset {
  assert(Number.isSafeInteger(n) && n >= 0, `metadata offset ${n} out of range`);
  return n as MetadataOffset;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Makes a {@link TopicId} from a lower-case uuid string. */
export function topicId(s: string): TopicId {
  assert(UUID_RE.test(s), `topic id ${JSON.stringify(s)} is not a lower-case uuid`);
  return s as TopicId;
}

/** Wire value of "no leader" in PartitionRecord.leader (Kafka's -1). */
export const NO_LEADER_WIRE = -1;

/** Number of producer ids in one block handed to a broker (Kafka's 1000). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
