/**
 * The leader-epoch cache (Kafka's LeaderEpochFileCache): for every leader epoch that wrote to
 * this log, the offset of its first batch. Replication uses it to find where two replicas'
 * logs diverge (OffsetsForLeaderEpoch): a follower asks the leader for the end offset of its
 * own latest epoch and truncates to it.
 *
 * Checkpoint file `leader-epoch-checkpoint`, Kafka's text format:
 *
 * ```
 * 0                 version
 * 2                 number of entries
 * 0 0               epoch startOffset
 * 3 1500
 * ```
 *
 * Invariant: epochs and start offsets both strictly increase down the list.
 */
import { assert, type Logger, noopLogger } from "@strand/base";
import { LogStorageError } from "./errors.ts";
import { parseOffsetField, readCheckpoint, writeCheckpoint } from "./files.ts";

/** File name of the checkpoint inside a partition folder. */
export const LEADER_EPOCH_CHECKPOINT_FILE = "leader-epoch-checkpoint";

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
/** Returned as endOffset when the epoch is unknown. */
export const UNDEFINED_EPOCH_OFFSET = -1n;

/** One cache entry: `epoch` started writing at `startOffset`. */
export interface EpochEntry {
  /** The leader epoch. */
  readonly epoch: number;
  /** Offset of the first batch written in this epoch. */
  readonly startOffset: bigint;
}

/** Answer of {@link LeaderEpochCache.endOffsetForEpoch}: Kafka's OffsetsForLeaderEpoch result. */
export interface EpochEndOffset {
  /** Largest known epoch <= the requested one, or UNDEFINED_EPOCH. */
  readonly epoch: number;
  /** Start offset of the next epoch, the log end offset for the latest, or -1n. */
  readonly endOffset: bigint;
}

const EPOCH_MAX = 2 ** 31 - 1;

/** In-memory epoch list plus its checkpoint file. */
export class LeaderEpochCache {
  /** Path of the checkpoint file. */
  readonly path: string;
  private entriesList: EpochEntry[];
  private readonly logger: Logger;

  /** Creates a cache over `entries` (already validated) persisting to `path`. */
  constructor(path: string, entries: readonly EpochEntry[] = [], logger: Logger = noopLogger) {
    this.path = path;
    this.entriesList = [...entries];
    this.logger = logger;
    this.checkInvariant();
  }

  /** Loads the checkpoint; a missing file is an empty cache, a malformed one throws. */
  static async load(path: string, logger: Logger = noopLogger): Promise<LeaderEpochCache> {
    const lines = await readCheckpoint(path);
    const entries: EpochEntry[] = [];
    for (const fields of lines ?? []) {
      const epoch = Number(fields[0]);
      if (fields.length !== 2 || !/^\d{1,10}$/.test(fields[0] ?? "") || epoch > EPOCH_MAX) {
        throw new LogStorageError(
          `checkpoint ${path} holds a malformed epoch line "${fields.join(" ")}"`,
        );
      }
      const startOffset = parseOffsetField(fields[1], path);
      const last = entries.at(-1);
      if (last && (epoch <= last.epoch || startOffset <= last.startOffset)) {
        throw new LogStorageError(
          `checkpoint ${path} entries are not increasing at epoch ${epoch}`,
        );
      }
      entries.push({ epoch, startOffset });
    }
    return new LeaderEpochCache(path, entries, logger);
  }

  /** Writes the checkpoint atomically. */
  async persist(): Promise<void> {
    await writeCheckpoint(
      this.path,
      this.entriesList.map((e) => `${e.epoch} ${e.startOffset}`),
    );
  }

  /** A copy of the entries, oldest first. */
  entries(): EpochEntry[] {
    return [...this.entriesList];
  }

  /** The latest entry, if any. */
  latest(): EpochEntry | undefined {
    return this.entriesList.at(-1);
  }

  /** The latest epoch, or UNDEFINED_EPOCH when empty. */
  latestEpoch(): number {
    return this.latest()?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. A repeat of the latest epoch is a no-op.
   * As Kafka, an entry that conflicts (epoch >= or start >= the new one) is removed with a
   * warning: the log is the truth and the new entry describes what is now in it.
   * Returns true when the cache changed (the caller persists it).
   */
  assign(epoch: number, startOffset: bigint): boolean {
    assert(
      Number.isInteger(epoch) && epoch >= 0 && epoch <= EPOCH_MAX,
      `epoch ${epoch} out of range`,
    );
    assert(startOffset >= 0n, `epoch start offset ${startOffset} is negative`);
    const latest = this.latest();
    if (latest && latest.epoch === epoch && latest.startOffset <= startOffset) return false;
    const kept = this.entriesList.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    if (kept.length !== this.entriesList.length) {
      this.logger.warn(
        { epoch, startOffset, removed: this.entriesList.length - kept.length },
        "leader epoch assignment conflicts with cached entries; removing them",
      );
    }
    kept.push({ epoch, startOffset });
    this.entriesList = kept;
    this.checkInvariant();
    return true;
  }

  /**
   * Kafka's OffsetsForLeaderEpoch answer for `requestedEpoch`, given the log end offset:
   * - undefined epoch or empty cache, or a requested epoch above every known one:
   *   (UNDEFINED_EPOCH, -1) — the requester knows a newer epoch than this log;
   * - the latest epoch: (latest, logEndOffset);
   * - below the first known epoch: (requestedEpoch, start of the first epoch);
   * - otherwise: (largest epoch <= requested, start of the next larger epoch).
   */
  endOffsetForEpoch(requestedEpoch: number, logEndOffset: bigint): EpochEndOffset {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedAnswer;
    const latest = this.latest();
    if (latest?.epoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.entriesList.find((e) => e.epoch > requestedEpoch);
    if (higher === undefined) return undefinedAnswer;
    const floor = this.entriesList.findLast((e) => e.epoch <= requestedEpoch);
    if (floor === undefined) return { epoch: requestedEpoch, endOffset: higher.startOffset };
    return { epoch: floor.epoch, endOffset: higher.startOffset };
  }

  /** Drops entries starting at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: bigint): boolean {
    const kept = this.entriesList.filter((e) => e.startOffset < endOffset);
    if (kept.length === this.entriesList.length) return false;
    this.entriesList = kept;
    return true;
  }

  /**
   * The log now starts at `startOffset`: entries wholly below it go, and the epoch that
   * covers `startOffset` is kept with its start moved up to it (as Kafka).
   */
  truncateFromStart(startOffset: bigint): boolean {
    const below = this.entriesList.filter((e) => e.startOffset <= startOffset);
    const last = below.at(-1);
    if (last === undefined || (below.length === 1 && last.startOffset === startOffset))
      return false;
    const above = this.entriesList.filter((e) => e.startOffset > startOffset);
    this.entriesList = [{ epoch: last.epoch, startOffset }, ...above];
    this.checkInvariant();
    return true;
  }

  /** Drops every entry. */
  clear(): boolean {
    const changed = this.entriesList.length > 0;
    this.entriesList = [];
    return changed;
  }

  private checkInvariant(): void {
    for (let i = 1; i < this.entriesList.length; i++) {
      const previous = this.entriesList[i - 1]!;
      const current = this.entriesList[i]!;
      assert(
        current.epoch > previous.epoch && current.startOffset > previous.startOffset,
        `epoch cache not increasing at entry ${i}`,
      );
    }
  }
}
