/**
 * Kafka's ReplicaFetcherManager: one {@link ReplicaFetcher} (one bidi stream) per leader
 * broker, carrying every partition this broker follows on it. Partitions move between
 * fetchers when their leader changes; removing one waits for its in-flight log operation, so
 * a role change never races a follower append.
 */

import { assert } from "@strand/base";
import type { BrokerId } from "@strand/controller";
import { ReplicaFetcher } from "./replica-fetcher.ts";
import type { FetcherOptions, FetcherPartition } from "./types.ts";

/** Fetchers by leader broker. */
export class ReplicaFetcherManager {
  readonly #options: FetcherOptions;
  readonly #fetchers = new Map<BrokerId, ReplicaFetcher>();
  readonly #sourceOf = new Map<string, BrokerId>();
  #closed = false;

  /** No fetchers until a partition is added. */
  constructor(options: FetcherOptions) {
    this.#options = options;
  }

  /** The leader a partition is fetched from, if any. */
  sourceOf(key: string): BrokerId | undefined {
    return this.#sourceOf.get(key);
  }

  /** Leaders with a fetcher now. */
  get sourceIds(): BrokerId[] {
    return [...this.#fetchers.keys()];
  }

  /** Starts fetching `partition` from `leaderId` (remove it from another leader first). */
  addPartition(leaderId: BrokerId, partition: FetcherPartition): void {
    if (this.#closed) return;
    const current = this.#sourceOf.get(partition.key);
    assert(
      current === undefined || current === leaderId,
      `${partition.key} is fetched from ${current}`,
    );
    let fetcher = this.#fetchers.get(leaderId);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher(leaderId, this.#options);
      this.#fetchers.set(leaderId, fetcher);
      fetcher.start();
    }
    this.#sourceOf.set(partition.key, leaderId);
    fetcher.addPartition(partition);
  }

  /** The follower state of `key` changed (new leader epoch): fetch again at once. */
  wake(key: string): void {
    const source = this.#sourceOf.get(key);
    if (source !== undefined) this.#fetchers.get(source)?.wake();
  }

  /** Stops fetching `key`; resolves once no log operation of it is in flight. */
  async removePartition(key: string): Promise<void> {
    const source = this.#sourceOf.get(key);
    if (source === undefined) return;
    this.#sourceOf.delete(key);
    const fetcher = this.#fetchers.get(source);
    if (fetcher === undefined) return;
    await fetcher.removePartition(key);
    if (fetcher.size === 0 && this.#fetchers.get(source) === fetcher) {
      this.#fetchers.delete(source);
      await fetcher.close();
    }
  }

  /** Stops every fetcher. */
  async close(): Promise<void> {
    this.#closed = true;
    const fetchers = [...this.#fetchers.values()];
    this.#fetchers.clear();
    this.#sourceOf.clear();
    await Promise.all(fetchers.map((f) => f.close()));
  }
}
