/**
 * A bound on the `.log` file handles that segments keep open. A node with thousands of
 * replicas would otherwise hold a descriptor per segment for its whole life and run out of
 * descriptors (the process then fails a Raft or log write). Segments, the active one of each
 * log included, open their `.log` file on demand and register here; past the bound the least
 * recently used idle handle is closed (the segment fsyncs unflushed appends first).
 */

/** A segment file whose handle the cache may close. */
export interface CachedFile {
  /** True while the handle is in use, unflushed or needed open (it is then skipped). */
  readonly busy: boolean;
  /** Closes the handle; the file reopens on the next use. */
  closeHandle(): Promise<void>;
}

/** See the module comment. */
export class HandleCache {
  /** The most segment handles kept open (busy ones may briefly exceed it). */
  readonly max: number;
  // Insertion order is recency order: touch() re-inserts.
  readonly #open = new Set<CachedFile>();

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`open segment handles max must be a positive integer, got ${max}`);
    this.max = max;
  }

  /** Segment handles open now (as registered). */
  get openCount(): number {
    return this.#open.size;
  }

  /** Records a use of `file`'s open handle, then closes idle ones beyond the bound. */
  touch(file: CachedFile): void {
    this.#open.delete(file);
    this.#open.add(file);
    this.#trim();
  }

  /** `file`'s handle was closed by its owner (or must no longer be closed by the cache). */
  forget(file: CachedFile): void {
    this.#open.delete(file);
  }

  #trim(): void {
    for (const file of this.#open) {
      if (this.#open.size <= this.max) return;
      if (file.busy) continue;
      this.#open.delete(file);
      // Errors closing a read handle change nothing durable; the file reopens on next use.
      file.closeHandle().catch(() => undefined);
    }
  }
}
