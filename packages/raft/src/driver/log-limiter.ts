/**
 * Rate-limits a repeated log line per key (a peer address, a sender): at most one line per
 * key per interval, and the line that goes out says how many were suppressed since the last
 * one. A flood of bad input must cost the disk a line every few seconds, not one per message.
 */

/** Default interval between two lines of one key. */
export const DEFAULT_LOG_INTERVAL_MS = 10_000;
/** Keys remembered at most; beyond it the table is cleared (a spray of addresses). */
const KEYS_MAX = 1_024;

interface KeyState {
  lastMs: number;
  suppressed: number;
}

/** See the module comment. */
export class LogLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(intervalMs = DEFAULT_LOG_INTERVAL_MS, now: () => number = Date.now) {
    this.intervalMs = intervalMs;
    this.now = now;
  }

  /**
   * Records `count` occurrences for `key`. Returns null when they must not be logged, else how
   * many occurrences were suppressed since the last logged line (to put in this one).
   */
  hit(key: string, count = 1): number | null {
    const now = this.now();
    const k = this.keys.get(key);
    if (k !== undefined && now - k.lastMs < this.intervalMs) {
      k.suppressed += count;
      return null;
    }
    if (k === undefined && this.keys.size >= KEYS_MAX) this.keys.clear();
    const suppressed = k?.suppressed ?? 0;
    this.keys.set(key, { lastMs: now, suppressed: 0 });
    return suppressed;
  }
}
