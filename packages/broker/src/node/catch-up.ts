/**
 * The broker's initial metadata catch-up (Kafka's: a broker publishes no metadata to its
 * replica manager until it has replayed the log up to its own registration). A restarted
 * broker replays the metadata log from the start; without this gate its replica manager
 * would act on every old image on the way: a partition it led before it went down becomes
 * led by it again, at the old leader epoch, until the newer records arrive a moment later —
 * and in that moment it acknowledged acks=leader produces that were then truncated (found by
 * test/fault-leader-kill.test.ts). Deltas are held until the image holds this process's
 * registration (its incarnation id: every earlier record is then replayed), then handed over
 * as one merged delta from the first held delta's base.
 */
import { type BrokerId, brokerId, MetadataDelta, type MetadataImage } from "@strand/controller";

/** Gathers deltas until the first image that holds this broker's own registration. */
export class InitialCatchUp {
  readonly #brokerId: BrokerId;
  readonly #incarnationId: () => string | undefined;
  #held: MetadataDelta[] = [];
  #done = false;

  constructor(id: number, incarnationId: () => string | undefined) {
    const toId = brokerId(id);
    this.#brokerId = toId;
    this.#incarnationId = incarnationId;
  }

  /** Whether the catch-up is over (deltas then pass straight through). */
  get done(): boolean {
    return this.#done;
  }

  /** The delta to apply now for (delta, image), or null while still catching up. */
  offer(delta: MetadataDelta, image: MetadataImage): MetadataDelta | null {
    if (this.#done) return delta;
    this.#held.push(delta);
    const own = image.brokers.get(this.#brokerId);
    const incarnation = this.#incarnationId();
    if (own === undefined || incarnation === undefined || own.incarnationId !== incarnation)
      return null;
    this.#done = true;
    const held = this.#held;
    this.#held = [];
    return held.length === 1 ? held[0]! : mergeDeltas(held);
  }
}

/**
 * One delta with the changes of `deltas` (consecutive, oldest first), against the first
 * one's base: what `localChanges` reads (changed and deleted partitions) is the union.
 */
export function mergeDeltas(deltas: readonly MetadataDelta[]): MetadataDelta {
  const merged = new MetadataDelta(deltas[0]!.base);
  for (const d of deltas) {
    for (const b of d.changedBrokers) merged.changedBrokers.add(b);
    for (const t of d.createdTopics) merged.createdTopics.add(t);
    for (const [id, topic] of d.deletedTopics) merged.deletedTopics.set(id, topic);
    for (const [id, numbers] of d.changedPartitions) {
      let into = merged.changedPartitions.get(id);
      if (into === undefined) {
        into = new Set<number>();
        merged.changedPartitions.set(id, into);
      }
      for (const n of numbers) into.add(n);
    }
    for (const c of d.changedConfigs) merged.changedConfigs.add(c);
    for (const f of d.changedFeatures) merged.changedFeatures.add(f);
  }
  return merged;
}
