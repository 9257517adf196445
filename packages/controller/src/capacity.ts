/**
 * What the cluster can hold: a creation (CreateTopics, CreatePartitions) that would place more
 * than `maxReplicasPerBroker` partition replicas on any broker is refused. The limit bounds the
 * image every node keeps, the records one fence writes, and a broker's open logs.
 */
import type { MetadataImage } from "./image.ts";
import type { BrokerId } from "./types.ts";

/**
 * Why placing `assignments` (one replica list per new partition) would overfill a broker, or
 * null when it fits. Costs O(new replicas + brokers): current counts come from the index.
 */
export function replicaCapacityError(
  image: MetadataImage,
  assignments: readonly (readonly BrokerId[])[],
  maxReplicasPerBroker: number,
): string | null {
  const added = new Map<BrokerId, number>();
  for (const replicas of assignments) {
    for (const b of replicas) added.set(b, (added.get(b) ?? 0) + 1);
  }
  for (const [b, n] of added) {
    const current = image.partitionsByBroker.get(b)?.size ?? 0;
    if (current + n > maxReplicasPerBroker) {
      return (
        `broker ${b} would hold ${current + n} partition replicas (${current} now), more than ` +
        `max.partitions.per.broker=${maxReplicasPerBroker}: add brokers, delete topics, or ask for fewer partitions`
      );
    }
  }
  return null;
}
