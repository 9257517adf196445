/**
 * murmur2, exactly as Kafka's Java client computes it (`org.apache.kafka.common.utils.Utils
 * .murmur2`, seed 0x9747b28c), and the default partitioner's choice of partition for a key.
 * Keyed records must land on the partition the Java client would pick, so that Strand and
 * Kafka producers agree on which partition holds a key.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of `data`, as a signed 32-bit integer (Java `int`). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Java's switch falls through from case 3 to case 1; spelled out as nested conditions.
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) {
      h ^= data[whole + 2]! << 16;
    }
    if (tail >= 2) {
      h ^= data[whole + 1]! << 8;
    }
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for a non-null key:
 * `(murmur2(key) & 0x7fffffff) % numPartitions`.
 */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1 || numPartitions > 0x7fffffff) {
    throw new RangeError(`numPartitions must be a positive int32, got ${numPartitions}`);
  }
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}
