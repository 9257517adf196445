/**
 * The background log cleaner of one data dir (Kafka's LogCleaner with one thread): every
 * interval it measures every compacted log, picks the dirtiest one past its
 * min.cleanable.dirty.ratio (cleaner/plan.ts) and runs one pass over it (cleaner/compact-log.ts)
 * with one reused offset map and a bounded I/O rate. A log whose pass failed on bad data is
 * skipped until the next start (Kafka marks it uncleanable); the failure is logged.
 */
import { sleep as defaultSleep, type Logger, noopLogger } from "@strand/base";
import type { CleanResult } from "./cleaner/compact-log.ts";
import { OffsetMap } from "./cleaner/offset-map.ts";
import { type CleaningCandidate, chooseLogToClean } from "./cleaner/plan.ts";
import type { IoHook } from "./cleaner/segment-io.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Log } from "./log.ts";

/** Default offset map bound (Kafka's log.cleaner.dedupe.buffer.size): 128 MiB. */
export const DEFAULT_DEDUPE_BUFFER_BYTES = 128 * 1024 * 1024;

/** A log the cleaner may clean. */
export interface CleanerLog {
  readonly topic: string;
  readonly partition: number;
  readonly log: Log;
}

/** What one cleaner tick did, for metrics. */
export interface CleanerPassReport {
  /** The largest dirty ratio over the compacted logs measured (0 when none). */
  readonly maxDirtyRatio: number;
  /** The log cleaned, when one was. */
  readonly cleaned?: CleanerLog;
  /** The pass's result, when one ran. */
  readonly result?: CleanResult;
  /** Wall time of the pass (ms), 0 when none ran. */
  readonly durationMs: number;
}

/** Options of {@link LogCleaner}. */
export interface LogCleanerOptions {
  /** The logs to consider (called every tick). */
  readonly logs: () => readonly CleanerLog[];
  /**
   * The exclusive bound of what may be cleaned in a partition: its high watermark; undefined
   * skips the partition (not known yet). Without a replication layer, pass the log end.
   */
  readonly upperBound: (topic: string, partition: number, log: Log) => bigint | undefined;
  /** Offset map bound in bytes; default {@link DEFAULT_DEDUPE_BUFFER_BYTES}. */
  readonly dedupeBufferBytes?: number;
  /** Bytes read plus written per second, at most; default unbounded. */
  readonly ioMaxBytesPerSecond?: number;
  /** Wall clock (ms). */
  readonly clock?: Clock;
  /** Injected for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Structured logger. */
  readonly logger?: Logger;
  /** Called after every tick (the broker's metrics). */
  readonly onPass?: (report: CleanerPassReport) => void;
}

/** Thrown into a running pass by {@link LogCleaner.stop}. */
class CleanerStoppedError extends Error {}

/** See the module comment. */
export class LogCleaner {
  readonly #o: LogCleanerOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #map: OffsetMap | undefined;
  readonly #uncleanable = new Set<Log>();
  #running: Promise<CleanerPassReport> | null = null;
  #stopped = false;

  /** A cleaner over `options.logs()`; nothing runs until {@link LogCleaner.runOnce}. */
  constructor(options: LogCleanerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
  }

  /** Runs one tick unless one is running (then returns that one's report). */
  runOnce(): Promise<CleanerPassReport> {
    this.#running ??= this.#tick().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Stops a running pass at its next I/O step and waits for it; later ticks do nothing. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running?.catch(() => undefined);
  }

  async #tick(): Promise<CleanerPassReport> {
    if (this.#stopped) return { maxDirtyRatio: 0, durationMs: 0 };
    const nowMs = this.#clock();
    const candidates = await this.#measure(nowMs);
    const maxDirtyRatio = Math.max(0, ...candidates.map((c) => c.range.dirtyRatio));
    const chosen = chooseLogToClean(candidates);
    let report: CleanerPassReport = { maxDirtyRatio, durationMs: 0 };
    if (chosen !== undefined) {
      const started = this.#clock();
      const result = await this.#clean(chosen.log, nowMs);
      if (result !== undefined)
        report = {
          maxDirtyRatio,
          cleaned: chosen.log,
          result,
          durationMs: this.#clock() - started,
        };
    }
    this.#o.onPass?.(report);
    return report;
  }

  async #measure(nowMs: number): Promise<CleaningCandidate<CleanerLog>[]> {
    const candidates: CleaningCandidate<CleanerLog>[] = [];
    for (const entry of this.#o.logs()) {
      if (this.#uncleanable.has(entry.log)) continue;
      const bound = this.#o.upperBound(entry.topic, entry.partition, entry.log);
      if (bound === undefined) continue;
      try {
        const range = await entry.log.cleanableRange(nowMs, bound);
        if (range === undefined) continue;
        const ratio = entry.log.config.minCleanableDirtyRatio;
        candidates.push({ log: entry, range, minCleanableDirtyRatio: ratio });
      } catch (error) {
        // Closed or offline logs are the LogManager's business; skip them this tick.
        this.#logger.debug({ dir: entry.log.dir, err: error }, "cleaner skipped a log");
      }
    }
    return candidates;
  }

  async #clean(entry: CleanerLog, nowMs: number): Promise<CleanResult | undefined> {
    const bound = this.#o.upperBound(entry.topic, entry.partition, entry.log);
    if (bound === undefined) return undefined;
    this.#map ??= new OffsetMap(this.#o.dedupeBufferBytes ?? DEFAULT_DEDUPE_BUFFER_BYTES);
    try {
      return await entry.log.clean({
        nowMs,
        upperBound: bound,
        map: this.#map,
        io: this.#budget(),
      });
    } catch (error) {
      if (error instanceof CleanerStoppedError) return undefined;
      this.#uncleanable.add(entry.log);
      this.#logger.error(
        { topic: entry.topic, partition: entry.partition, err: error },
        "cleaning failed; the partition is not cleaned again until restart",
      );
      return undefined;
    } finally {
      this.#map.clear();
    }
  }

  /** The I/O hook of one pass: stops on stop(), and sleeps to keep under the byte rate. */
  #budget(): IoHook {
    const rate = this.#o.ioMaxBytesPerSecond;
    const sleep = this.#o.sleep ?? defaultSleep;
    const startedMs = this.#clock();
    let bytes = 0;
    return async (n) => {
      if (this.#stopped) throw new CleanerStoppedError("the log cleaner is stopping");
      if (rate === undefined || !Number.isFinite(rate)) return;
      bytes += n;
      const dueMs = startedMs + (bytes / rate) * 1000;
      const waitMs = dueMs - this.#clock();
      if (waitMs > 0) await sleep(waitMs);
    };
  }
}
