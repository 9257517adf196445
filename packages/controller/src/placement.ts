/**
 * Replica placement for new topics: Kafka's rack-aware assignment (AdminUtils). Brokers are
 * arranged rack-alternated (r1b1, r2b1, r3b1, r1b2, ...); partition p's first replica (its
 * preferred leader) is broker (start + p) mod n, so leaders go round-robin over all brokers;
 * the other replicas follow with a shift that grows every n partitions, skipping a broker
 * whose rack already holds a replica of the partition until every rack holds one.
 * Deterministic: the same brokers and `startIndex` give the same assignment.
 */
import { assert } from "@strand/base";
import type { BrokerId } from "./types.ts";

/** A broker that can receive replicas. */
export interface PlacementBroker {
  readonly id: BrokerId;
  /** The broker's rack; a broker without one counts as a rack of its own. */
  readonly rack: string | null;
}

/** Input of {@link placeReplicas}. */
export interface PlacementRequest {
  readonly brokers: readonly PlacementBroker[];
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Where the round-robin starts (e.g. a hash of the topic name); any non-negative integer. */
  readonly startIndex: number;
  /** The shift of the second replica; any non-negative integer. */
  readonly shiftSeed: number;
}

function rackOf(b: PlacementBroker): string {
  return b.rack ?? `\u0000no-rack-${b.id}`;
}

/** Orders brokers so that consecutive brokers sit on different racks where possible. */
export function rackAlternatedBrokers(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of [...brokers].sort((x, y) => x.id - y.id)) {
    const list = byRack.get(rackOf(b)) ?? [];
    list.push(b);
    byRack.set(rackOf(b), list);
  }
  const racks = [...byRack.keys()].sort();
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) {
      const b = byRack.get(rack)![i];
      if (b !== undefined) out.push(b);
    }
  }
  return out;
}

function replicaIndex(first: number, shift: number, k: number, n: number): number {
  return (first + 1 + ((shift + k) % (n - 1))) % n;
}

/**
 * Assigns replicas to every partition; the first replica of each list is the preferred leader.
 * The caller checks 1 <= replicationFactor <= brokers.length.
 */
export function placeReplicas(req: PlacementRequest): BrokerId[][] {
  const arranged = rackAlternatedBrokers(req.brokers);
  const n = arranged.length;
  assert(req.replicationFactor >= 1 && req.replicationFactor <= n, "replication factor vs brokers");
  assert(req.partitionCount >= 1, "at least one partition");
  const rackCount = new Set(arranged.map(rackOf)).size;
  const start = req.startIndex % n;
  let shift = n > 1 ? req.shiftSeed % (n - 1) : 0;
  const out: BrokerId[][] = [];
  for (let p = 0; p < req.partitionCount; p++) {
    if (p > 0 && p % n === 0) shift += 1;
    const first = (p + start) % n;
    const leader = arranged[first]!;
    const chosen: BrokerId[] = [leader.id];
    const racks = new Set([rackOf(leader)]);
    // Each pass of k over n-1 candidates adds at least one replica: the loop is bounded.
    for (let k = 0; chosen.length < req.replicationFactor; k++) {
      assert(k < n * req.replicationFactor, "placement made no progress");
      const candidate = arranged[replicaIndex(first, shift * rackCount, k, n)]!;
      const rackFree = !racks.has(rackOf(candidate)) || racks.size === rackCount;
      if (rackFree && !chosen.includes(candidate.id)) {
        chosen.push(candidate.id);
        racks.add(rackOf(candidate));
      }
    }
    out.push(chosen);
  }
  return out;
}
