/**
 * All partition logs of one data directory (Kafka's LogManager for one log.dir):
 *
 * ```
 * <dataDir>/
 *   .lock                 pid of the owning process (O_EXCL); stale if that pid is dead
 *   orders-0/             one folder per partition: <topic>-<partition>
 *   my-topic-name-12/     the partition is after the LAST '-'; topics may contain '-'
 * ```
 *
 * It owns the background work: retention, flush.ms flushes and recovery-point checkpoints,
 * on an injected scheduler (default: unref'd setInterval, cleared on close).
 */
import { constants, mkdir, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import path from "node:path";
import {
  assert,
  Coalescer,
  fsyncDir,
  isErrno,
  type Logger,
  noopLogger,
  writeAt,
} from "@strand/base";
import { isTopicName } from "@strand/protocol";
import { type Clock, systemClock } from "./clock.ts";
import { type LogConfig, resolveLogConfig } from "./config.ts";
import { LogStorageError } from "./errors.ts";
import { HandleCache } from "./handle-cache.ts";
import { Log } from "./log.ts";
import { type CleanerPassReport, LogCleaner } from "./log-cleaner.ts";
import { TailCacheBudget } from "./tail-cache.ts";

/** Name of the data-dir lock file. */
export const LOCK_FILE = ".lock";
const DELETE_SUFFIX = ".delete";

/** A repeating timer, injected so tests drive background work by hand. */
export interface Scheduler {
  /** Runs `task` every `intervalMs`; returns a handle for cancel. */
  every(intervalMs: number, task: () => void): unknown;
  /** Cancels a handle returned by every(). */
  cancel(handle: unknown): void;
}

/** The default scheduler: setInterval, unref'd so it never keeps the process alive. */
export const intervalScheduler: Scheduler = {
  every(intervalMs, task) {
    const timer = setInterval(task, intervalMs);
    timer.unref();
    return timer;
  },
  cancel(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
};

/** Options of {@link LogManager.open}. */
export interface LogManagerOptions {
  /** Config used for logs found on disk and when getOrCreateLog gets none. */
  readonly defaultConfig?: Partial<LogConfig>;
  /** Per-topic overrides applied over defaultConfig when opening existing logs. */
  readonly topicConfig?: (topic: string) => Partial<LogConfig> | undefined;
  /** Structured logger; default drops everything. */
  readonly logger?: Logger;
  /** Wall clock in ms; default Date.now. */
  readonly clock?: Clock;
  /** Timer for background work; default {@link intervalScheduler}. */
  readonly scheduler?: Scheduler;
  /** Period of the retention check (Kafka's log.retention.check.interval.ms, 5 min). */
  readonly retentionCheckIntervalMs?: number;
  /** Period of the flush.ms check and recovery-point checkpoint (Kafka: 60 s). */
  readonly flushCheckIntervalMs?: number;
  /**
   * The most open `.log` handles over all logs, active segments included (the least recently
   * used idle one is closed beyond it); default {@link DEFAULT_OPEN_SEGMENT_HANDLES_MAX}.
   */
  readonly openSegmentHandlesMax?: number;
  /**
   * Bytes of recently appended batches kept in memory over all logs, answering tail reads
   * without a file read (see tail-cache.ts); 0 turns the cache off; default
   * {@link DEFAULT_TAIL_CACHE_BYTES}.
   */
  readonly tailCacheBytes?: number;
  /** The log cleaner of compacted topics (see {@link CleanerSettings}). */
  readonly cleaner?: CleanerSettings;
}

/** Settings of the data dir's log cleaner (one thread, as Kafka's log.cleaner.threads=1). */
export interface CleanerSettings {
  /** False turns the cleaner off (Kafka's log.cleaner.enable); default true. */
  readonly enabled?: boolean;
  /** Period between cleaner ticks (Kafka's log.cleaner.backoff.ms); default 15000. */
  readonly intervalMs?: number;
  /** Offset map bound (log.cleaner.dedupe.buffer.size); default 128 MiB. */
  readonly dedupeBufferBytes?: number;
  /** I/O budget (log.cleaner.io.max.bytes.per.second); default unbounded. */
  readonly ioMaxBytesPerSecond?: number;
  /**
   * Exclusive bound of what may be cleaned per partition: the broker passes the high
   * watermark (undefined: not known yet, skip). Default: the log end offset, right only when
   * there is no replication above the log.
   */
  readonly upperBound?: (topic: string, partition: number, log: Log) => bigint | undefined;
  /** Called after every tick (metrics). */
  readonly onPass?: (report: CleanerPassReport) => void;
}

/** Default of {@link CleanerSettings.intervalMs}. */
export const DEFAULT_CLEANER_INTERVAL_MS = 15_000;

/**
 * Default of {@link LogManagerOptions.openSegmentHandlesMax}: `max.partitions.per.broker`'s
 * default, so a node within that limit keeps every active segment open and appends never
 * reopen a file.
 */
export const DEFAULT_OPEN_SEGMENT_HANDLES_MAX = 4_000;
/** Default bound of the tail cache over all logs of a manager: 64 MiB. */
export const DEFAULT_TAIL_CACHE_BYTES = 64 * 1024 * 1024;

/** Identifies a partition. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Parses `<topic>-<partition>`, splitting at the last '-'; undefined if not a partition dir. */
export function parseTopicPartitionDir(name: string): TopicPartition | undefined {
  const dash = name.lastIndexOf("-");
  if (dash <= 0) return undefined;
  const topic = name.slice(0, dash);
  const digits = name.slice(dash + 1);
  if (!/^\d{1,10}$/.test(digits) || !isTopicName(topic)) return undefined;
  const partition = Number(digits);
  return partition <= 2 ** 31 - 1 ? { topic, partition } : undefined;
}

/** Folder name of a partition log. */
export function topicPartitionDir(topic: string, partition: number): string {
  if (!isTopicName(topic)) {
    throw new LogStorageError(`invalid topic name "${topic}": use 1-249 of [a-zA-Z0-9._-]`);
  }
  assert(
    Number.isInteger(partition) && partition >= 0 && partition <= 2 ** 31 - 1,
    `invalid partition ${partition}`,
  );
  return `${topic}-${partition}`;
}

/** The logs of one data directory. */
export class LogManager {
  /** The data directory. */
  readonly dataDir: string;
  private readonly options: LogManagerOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  /** Shared by every log: the descriptor bound is per node, not per partition. */
  readonly handles: HandleCache;
  /** The tail cache bound shared by this manager's logs. */
  readonly tailCache: TailCacheBudget;
  /** One fsync of the data dir serves every log created meanwhile (creations come in bulk). */
  readonly #dataDirSync: Coalescer;
  #offline: string | null = null;
  readonly #offlineListeners: ((reason: string) => void)[] = [];
  private readonly scheduler: Scheduler;
  private readonly logsByDir = new Map<string, Log>();
  private readonly creating = new Map<string, Promise<Log>>();
  private timers: unknown[] = [];
  private closed = false;
  /** The log cleaner; undefined when disabled. */
  readonly cleaner: LogCleaner | undefined;
  private backgroundRunning = false;

  private constructor(dataDir: string, options: LogManagerOptions) {
    this.dataDir = dataDir;
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.handles = new HandleCache(
      options.openSegmentHandlesMax ?? DEFAULT_OPEN_SEGMENT_HANDLES_MAX,
    );
    this.tailCache = new TailCacheBudget(options.tailCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES);
    this.scheduler = options.scheduler ?? intervalScheduler;
    this.#dataDirSync = new Coalescer(() => fsyncDir(dataDir));
    this.cleaner = options.cleaner?.enabled === false ? undefined : this.createCleaner();
  }

  private createCleaner(): LogCleaner {
    const settings = this.options.cleaner ?? {};
    return new LogCleaner({
      logs: () => this.logs(),
      upperBound: settings.upperBound ?? ((_topic, _partition, log) => log.logEndOffset),
      dedupeBufferBytes: settings.dedupeBufferBytes,
      ioMaxBytesPerSecond: settings.ioMaxBytesPerSecond,
      clock: this.clock,
      logger: this.logger,
      onPass: settings.onPass,
    });
  }

  /** Locks `dataDir`, opens (recovering) every partition log in it, starts background work. */
  static async open(dataDir: string, options: LogManagerOptions = {}): Promise<LogManager> {
    await mkdir(dataDir, { recursive: true });
    await acquireLock(dataDir, options.logger ?? noopLogger);
    const manager = new LogManager(dataDir, options);
    try {
      await manager.loadLogs();
    } catch (error) {
      await manager.closeLogs();
      await releaseLock(dataDir);
      throw error;
    }
    manager.startBackground();
    return manager;
  }

  private async loadLogs(): Promise<void> {
    for (const entry of await readdir(this.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name.endsWith(DELETE_SUFFIX)) {
        await rm(path.join(this.dataDir, entry.name), { recursive: true, force: true });
        continue;
      }
      const tp = parseTopicPartitionDir(entry.name);
      // Folders starting with "__" without a partition (the metadata log) belong to others.
      if (tp === undefined && entry.name.startsWith("__")) continue;
      if (tp === undefined) {
        this.logger.warn(
          { dataDir: this.dataDir, dir: entry.name },
          "ignoring a folder that is not <topic>-<partition>",
        );
        continue;
      }
      const config = { ...this.options.defaultConfig, ...this.options.topicConfig?.(tp.topic) };
      this.logsByDir.set(entry.name, await this.openLog(entry.name, tp, config));
    }
  }

  private openLog(name: string, tp: TopicPartition, config: Partial<LogConfig>): Promise<Log> {
    return Log.open(path.join(this.dataDir, name), config, {
      logger: childLogger(this.logger, { topic: tp.topic, partition: tp.partition }),
      clock: this.clock,
      handles: this.handles,
      tailCache: this.tailCache,
      onOffline: (error) => this.#logWentOffline(name, error),
    });
  }

  /**
   * The first log failure, or null: this manager's dir is then treated as offline (Kafka's
   * log dir failure; Strand has one dir per node), so the broker stops leading anything here.
   */
  get offlineReason(): string | null {
    return this.#offline;
  }

  /** Calls `listener` once when a log of this dir first goes offline (see offlineReason). */
  onOffline(listener: (reason: string) => void): void {
    if (this.#offline !== null) listener(this.#offline);
    else this.#offlineListeners.push(listener);
  }

  #logWentOffline(name: string, error: Error): void {
    if (this.#offline !== null) return;
    this.#offline = `partition ${name}: ${error.message}`;
    for (const listener of this.#offlineListeners.splice(0)) listener(this.#offline);
  }

  private startBackground(): void {
    const retentionMs = this.options.retentionCheckIntervalMs ?? 5 * 60 * 1000;
    const flushMs = this.options.flushCheckIntervalMs ?? 60 * 1000;
    this.timers.push(
      this.scheduler.every(retentionMs, () => void this.runBackground(() => this.applyRetention())),
    );
    this.timers.push(
      this.scheduler.every(
        flushMs,
        () => void this.runBackground(() => this.flushDueAndCheckpoint()),
      ),
    );
    const cleaner = this.cleaner;
    if (cleaner !== undefined) {
      // Its own track: a long pass must not hold back flushes and retention.
      const interval = this.options.cleaner?.intervalMs ?? DEFAULT_CLEANER_INTERVAL_MS;
      this.timers.push(
        this.scheduler.every(interval, () => {
          if (this.closed) return;
          cleaner.runOnce().catch((error: unknown) => {
            this.logger.error({ dataDir: this.dataDir, err: error }, "log cleaner tick failed");
          });
        }),
      );
    }
  }

  /** Runs one background pass at a time; a failing log is logged, never thrown into a timer. */
  private async runBackground(task: () => Promise<unknown>): Promise<void> {
    if (this.backgroundRunning || this.closed) return;
    this.backgroundRunning = true;
    try {
      await task();
    } catch (error) {
      this.logger.error({ dataDir: this.dataDir, err: error }, "background log task failed");
    } finally {
      this.backgroundRunning = false;
    }
  }

  /** The log of a partition, if this data dir holds it. */
  getLog(topic: string, partition: number): Log | undefined {
    return this.logsByDir.get(topicPartitionDir(topic, partition));
  }

  /** All open logs with their partitions. */
  logs(): Array<TopicPartition & { log: Log }> {
    return [...this.logsByDir].map(([name, log]) => ({ ...parseTopicPartitionDir(name)!, log }));
  }

  /** Returns the partition's log, creating its folder if needed. Concurrent calls share one open. */
  async getOrCreateLog(
    topic: string,
    partition: number,
    config?: Partial<LogConfig>,
  ): Promise<Log> {
    this.checkOpen();
    const name = topicPartitionDir(topic, partition);
    const existing = this.logsByDir.get(name) ?? this.creating.get(name);
    if (existing) return existing;
    const opening = this.openLog(
      name,
      { topic, partition },
      { ...this.options.defaultConfig, ...config },
    );
    this.creating.set(name, opening);
    try {
      const log = await opening;
      this.logsByDir.set(name, log);
      await this.#dataDirSync.request();
      return log;
    } finally {
      this.creating.delete(name);
    }
  }

  /**
   * Sets a log's config at run time to the manager's defaults with `overrides` on top (the same
   * merge as at open), so a setting removed from `overrides` returns to its default. Throws
   * InvalidLogConfigError naming a bad setting, leaving the log as it was. See
   * {@link Log.updateConfig} for when each setting takes effect.
   */
  reconfigureLog(log: Log, overrides: Partial<LogConfig>): Promise<LogConfig> {
    this.checkOpen();
    return log.updateConfig(resolveLogConfig({ ...this.options.defaultConfig, ...overrides }));
  }

  /**
   * Closes and deletes a partition log: its folder is first renamed to `*.delete` (atomic,
   * so a crash never leaves a half-deleted log that would be loaded), then removed.
   */
  async deleteLog(topic: string, partition: number): Promise<boolean> {
    this.checkOpen();
    const name = topicPartitionDir(topic, partition);
    const log = this.logsByDir.get(name);
    if (log === undefined) return false;
    this.logsByDir.delete(name);
    await log.close();
    const doomed = path.join(this.dataDir, `${name}.${this.clock()}${DELETE_SUFFIX}`);
    await rename(path.join(this.dataDir, name), doomed);
    await this.#dataDirSync.request();
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  /** Applies retention to every log (also run by the background timer). */
  async applyRetention(): Promise<void> {
    const nowMs = this.clock();
    for (const log of this.logsByDir.values()) await log.applyRetention(nowMs);
  }

  /** Flushes logs whose flush.ms elapsed and checkpoints recovery points (background timer). */
  async flushDueAndCheckpoint(): Promise<void> {
    const nowMs = this.clock();
    for (const log of this.logsByDir.values()) {
      await log.flushIfDue(nowMs);
      await log.checkpointRecoveryPoint();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new LogStorageError(`log manager for ${this.dataDir} is closed`);
  }

  /** Stops background work, closes every log cleanly (flush + marker), releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) this.scheduler.cancel(timer);
    this.timers = [];
    await this.cleaner?.stop();
    await Promise.allSettled(this.creating.values());
    await this.closeLogs();
    await releaseLock(this.dataDir);
  }

  private async closeLogs(): Promise<void> {
    const failures: unknown[] = [];
    for (const [name, log] of this.logsByDir) {
      try {
        await log.close();
      } catch (error) {
        failures.push(error);
        this.logger.error(
          { dataDir: this.dataDir, dir: name, err: error },
          "log did not close cleanly",
        );
      }
    }
    this.logsByDir.clear();
    if (failures.length > 0) {
      throw new LogStorageError(
        `${failures.length} logs in ${this.dataDir} did not close cleanly`,
        {
          cause: failures[0],
        },
      );
    }
  }
}

function childLogger(logger: Logger, fields: object): Logger {
  return {
    debug: (obj, msg) => logger.debug({ ...fields, ...obj }, msg),
    info: (obj, msg) => logger.info({ ...fields, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...fields, ...obj }, msg),
    error: (obj, msg) => logger.error({ ...fields, ...obj }, msg),
  };
}

/**
 * Takes the data-dir lock: create `.lock` with O_EXCL and write our pid. If it exists and
 * names a live process (including this one), the dir is in use; if that pid is dead the lock
 * is stale and is replaced once.
 */
export async function acquireLock(dataDir: string, logger: Logger = noopLogger): Promise<void> {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(
        file,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
        0o644,
      );
      try {
        await writeAt(handle, Buffer.from(`${process.pid}\n`), 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(dataDir);
      return;
    } catch (error) {
      if (!isErrno(error, "EEXIST"))
        throw new LogStorageError(`cannot lock ${dataDir}: ${String(error)}`, { cause: error });
    }
    const owner = await readLockPid(file);
    if (owner !== undefined && isProcessAlive(owner)) {
      throw new LogStorageError(
        `data dir ${dataDir} is locked by running process ${owner}; stop it or use another dir`,
      );
    }
    logger.warn({ dataDir, stalePid: owner }, "removing a stale data-dir lock");
    await unlink(file).catch(() => undefined);
  }
  throw new LogStorageError(`could not lock ${dataDir}: another process keeps taking the lock`);
}

async function readLockPid(file: string): Promise<number | undefined> {
  try {
    const text = (await readFile(file, "utf8")).slice(0, 32).trim();
    const pid = Number(text);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return isErrno(error, "EPERM");
  }
}

/** Removes the lock file. */
export async function releaseLock(dataDir: string): Promise<void> {
  await unlink(path.join(dataDir, LOCK_FILE)).catch(() => undefined);
}
