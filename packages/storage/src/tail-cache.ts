/**
 * The tail cache: a log's most recently appended batches kept in memory, so that follower
 * replica fetches and consumers at the tail are answered without a file read (Redpanda's batch
 * cache; Kafka gets the same from the page cache plus sendfile, which gRPC cannot use).
 *
 * A {@link TailCache} holds only batches of the log's active segment, contiguous and ending at
 * the log end: the log clears it on roll, truncation and whole-log replacement, so it never
 * holds bytes the log no longer holds (the cleaner rewrites sealed segments only). Only a
 * leader's appends are cached; a follower's append clears it (a follower serves no reads, and
 * a replica that becomes leader reads its older tail from the file until new appends arrive). The memory
 * is bounded per broker by one {@link TailCacheBudget} shared by every log of a LogManager.
 */
import { assert } from "@strand/base";
import { BATCH_LOG_OVERHEAD_BYTES, BatchHeaderView } from "@strand/protocol";

/** One batch of a cached chunk: its offsets and its byte range in the chunk. */
interface Span {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly start: number;
  readonly end: number;
}

/** The bytes of one append, as they were written. */
interface Chunk {
  readonly owner: TailCache;
  readonly bytes: Buffer;
  readonly spans: readonly Span[];
  /** Dropped by its cache (eviction, truncation): the budget's queue skips it. */
  dead: boolean;
}

/**
 * A view much smaller than the memory it keeps alive is copied out. Appended records are often
 * a view of a received gRPC message, itself a view of a 64 KiB socket read: cached as they
 * are, a 7 KB batch would hold 64 KiB while the budget counted 7 KB, so the cache's real
 * memory could reach several times `log.tail.cache.bytes` (seen as RSS growing in the soak).
 */
function ownBytes(batches: Buffer): Buffer {
  if (batches.buffer.byteLength <= 2 * batches.length) return batches;
  // Not Buffer.from: a small copy would land in the shared pool, a view of a pool slab.
  const own = Buffer.allocUnsafeSlow(batches.length);
  batches.copy(own);
  return own;
}

/** Options of {@link TailCache.read}: the same as a segment read's. */
export interface TailReadOptions {
  /** Soft byte limit (whole batches only). */
  readonly maxBytes: number;
  /** Exclusive bound: no batch starting at or after it. */
  readonly maxOffset: bigint;
  /** Return the first batch even when it is larger than maxBytes. */
  readonly minOneBatch: boolean;
}

/** What a cache hit returns (the same fields as a segment read). */
export interface TailRead {
  /** Whole batches: a view of the cached bytes when they came from one append, else a copy. */
  readonly records: Buffer;
  /** Base offset of the first batch returned. */
  readonly firstOffset: bigint;
  /** Offset after the last batch returned (firstOffset when none). */
  readonly nextOffset: bigint;
}

/** Byte counters of a budget, for metrics and tests. */
export interface TailCacheStats {
  /** Bytes held now over all caches. */
  readonly bytes: number;
  /** Reads answered from memory. */
  readonly hits: number;
  /** Reads that fell back to the log. */
  readonly misses: number;
}

/**
 * The broker-wide bound: at most `capacityBytes` over all caches. A cache over its fair share
 * (capacity / caches holding data) drops its own oldest chunks first, so one hot partition
 * cannot push every other partition's tail out; past the capacity the oldest chunk of any
 * cache goes. A capacity of 0 turns caching off.
 */
export class TailCacheBudget {
  /** The bound in bytes. */
  readonly capacityBytes: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  /** Chunks in append order over all caches; dead ones are skipped and compacted away. */
  #queue: Chunk[] = [];
  #head = 0;
  #dead = 0;
  readonly #active = new Set<TailCache>();

  constructor(capacityBytes: number) {
    assert(
      Number.isSafeInteger(capacityBytes) && capacityBytes >= 0,
      `tail cache capacity ${capacityBytes} must be a non-negative integer`,
    );
    this.capacityBytes = capacityBytes;
  }

  /** Counters so far. */
  stats(): TailCacheStats {
    return { bytes: this.#bytes, hits: this.#hits, misses: this.#misses };
  }

  /** What one cache may hold before it evicts its own oldest chunks. */
  fairShare(): number {
    return Math.floor(this.capacityBytes / Math.max(1, this.#active.size));
  }

  /** @internal A cache took `chunk`; evict until the budget holds. */
  added(chunk: Chunk): void {
    this.#bytes += chunk.bytes.length;
    this.#active.add(chunk.owner);
    this.#queue.push(chunk);
    chunk.owner.trimTo(this.fairShare());
    while (this.#bytes > this.capacityBytes && this.#head < this.#queue.length) {
      const oldest = this.#queue[this.#head]!;
      this.#head += 1;
      if (oldest.dead) this.#dead -= 1;
      else oldest.owner.dropOldest();
    }
    this.#compact();
  }

  /** @internal A cache dropped `chunk` (it is already marked dead). */
  dropped(chunk: Chunk, cacheEmpty: boolean): void {
    this.#bytes -= chunk.bytes.length;
    this.#dead += 1;
    if (cacheEmpty) this.#active.delete(chunk.owner);
    assert(this.#bytes >= 0, "tail cache bytes went negative");
  }

  /** @internal */
  counted(hit: boolean): void {
    if (hit) this.#hits += 1;
    else this.#misses += 1;
  }

  // Dead chunks stay queued until they reach the head; rebuild when they outnumber the live.
  #compact(): void {
    const length = this.#queue.length - this.#head;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.#dead > 1024 && this.#dead * 2 > length) {
      this.#queue = this.#queue.slice(this.#head).filter((c) => !c.dead);
      this.#head = 0;
      this.#dead = 0;
    }
  }
}

/** One log's cache; see the module comment. */
export class TailCache {
  readonly #budget: TailCacheBudget;
  #chunks: Chunk[] = [];
  #first = 0;
  #bytes = 0;

  constructor(budget: TailCacheBudget) {
    this.#budget = budget;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Base offset of the oldest cached batch, or undefined when empty. */
  get firstOffset(): bigint | undefined {
    return this.#chunks[this.#first]?.spans[0]?.baseOffset;
  }

  /** Offset after the newest cached batch, or undefined when empty. */
  get endOffset(): bigint | undefined {
    const last = this.#chunks.at(-1);
    return last === undefined || this.#first >= this.#chunks.length
      ? undefined
      : last.spans.at(-1)!.lastOffset + 1n;
  }

  /**
   * Keeps `batches` (validated whole batches just written at the log end). They must follow
   * what the cache holds (a follower's may skip a compacted gap). The buffer is kept, not
   * copied: nobody may write to it afterwards.
   */
  append(batches: Buffer): void {
    if (this.#budget.capacityBytes === 0 || batches.length === 0) return;
    if (batches.length > this.#budget.fairShare()) {
      // Larger than this cache may hold: everything older is stale for a tail read anyway.
      this.clear();
      return;
    }
    const spans: Span[] = [];
    let at = 0;
    // Each turn moves past one whole batch; the log validated the framing.
    while (at < batches.length) {
      const view = new BatchHeaderView(batches, at);
      const end = at + view.batchLength + BATCH_LOG_OVERHEAD_BYTES;
      assert(end > at && end <= batches.length, "cached bytes are not whole batches");
      spans.push({ baseOffset: view.baseOffset, lastOffset: view.lastOffset, start: at, end });
      at = end;
    }
    const end = this.endOffset;
    assert(
      end === undefined || spans[0]!.baseOffset >= end,
      `cached batches at ${spans[0]!.baseOffset} do not follow the cached end ${end}`,
    );
    const chunk: Chunk = { owner: this, bytes: ownBytes(batches), spans, dead: false };
    this.#chunks.push(chunk);
    this.#bytes += batches.length;
    this.#budget.added(chunk);
  }

  /** Drops everything (roll, truncation, replacement, close). */
  clear(): void {
    while (this.#first < this.#chunks.length) this.dropOldest();
  }

  /** @internal Drops the oldest chunk. */
  dropOldest(): void {
    const chunk = this.#chunks[this.#first];
    if (chunk === undefined) return;
    this.#first += 1;
    chunk.dead = true;
    this.#bytes -= chunk.bytes.length;
    const empty = this.#first >= this.#chunks.length;
    if (empty) {
      this.#chunks = [];
      this.#first = 0;
    } else if (this.#first > 64 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
    this.#budget.dropped(chunk, empty);
  }

  /** @internal Drops oldest chunks while over `bytes`, keeping the newest. */
  trimTo(bytes: number): void {
    while (this.#bytes > bytes && this.#chunks.length - this.#first > 1) this.dropOldest();
  }

  /**
   * Whole batches from the one containing (or first after) `startOffset`, with the rules of
   * a segment read, or undefined when the cache does not reach back to `startOffset` (the
   * caller reads the log). `startOffset` must be below the cached end.
   */
  read(startOffset: bigint, options: TailReadOptions): TailRead | undefined {
    const first = this.firstOffset;
    const hit = first !== undefined && startOffset >= first && startOffset < this.endOffset!;
    this.#budget.counted(hit);
    if (!hit) return undefined;
    let c = this.#findChunk(startOffset);
    // A loop, not findIndex with a closure: this runs for every tail read (each fetch).
    const headSpans = this.#chunks[c]!.spans;
    let s = 0;
    while (headSpans[s]!.lastOffset < startOffset) s++;
    const head = headSpans[s]!;
    if (head.baseOffset >= options.maxOffset) return emptyAt(head.baseOffset);
    const headBytes = head.end - head.start;
    if (headBytes > options.maxBytes && !options.minOneBatch) return emptyAt(head.baseOffset);
    const budget = Math.max(options.maxBytes, headBytes);
    const parts: Buffer[] = [];
    let taken = 0;
    let nextOffset = head.baseOffset;
    // Each turn takes the batches of one chunk that fit; stops at the bounds or the end.
    while (c < this.#chunks.length) {
      const chunk = this.#chunks[c]!;
      let end = s;
      while (end < chunk.spans.length) {
        const span = chunk.spans[end]!;
        const size = span.end - span.start;
        if (span.baseOffset >= options.maxOffset || taken + size > budget) break;
        taken += size;
        nextOffset = span.lastOffset + 1n;
        end += 1;
      }
      if (end > s)
        parts.push(chunk.bytes.subarray(chunk.spans[s]!.start, chunk.spans[end - 1]!.end));
      if (end < chunk.spans.length) break;
      c += 1;
      s = 0;
    }
    const records = parts.length === 1 ? parts[0]! : Buffer.concat(parts, taken);
    return { records, firstOffset: head.baseOffset, nextOffset };
  }

  /** Index of the chunk holding the first batch whose last offset is >= `offset`. */
  #findChunk(offset: bigint): number {
    let lo = this.#first;
    let hi = this.#chunks.length - 1;
    // Binary search: the chunks' last offsets ascend.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#chunks[mid]!.spans.at(-1)!.lastOffset >= offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

const EMPTY = Buffer.alloc(0);

function emptyAt(offset: bigint): TailRead {
  return { records: EMPTY, firstOffset: offset, nextOffset: offset };
}
