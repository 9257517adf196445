/**
 * Retry timing: exponential backoff with jitter, an abortable sleep, and deadlines.
 * Kafka's clients back off `retry.backoff.ms` growing to `retry.backoff.max.ms` with +-20%
 * jitter; the defaults here are the same (100 ms to 1 s, doubling).
 */
import { assert, sleep as baseSleep } from "@strand/base";
import { abortedError } from "./errors.ts";

/** Backoff between retries of retriable errors. */
export interface RetryOptions {
  /** First backoff, in milliseconds (default 100). */
  readonly initialMs: number;
  /** Largest backoff, in milliseconds (default 1000). */
  readonly maxMs: number;
  /** Growth per attempt (default 2). */
  readonly multiplier: number;
}

/** The default backoff: Kafka's retry.backoff.ms 100 to retry.backoff.max.ms 1000. */
export const DEFAULT_RETRY: RetryOptions = Object.freeze({
  initialMs: 100,
  maxMs: 1_000,
  multiplier: 2,
});

/** Jitter around the exponential value: +-20%, as Kafka's ExponentialBackoff. */
const JITTER = 0.2;
/** Attempts beyond this no longer grow the exponent (avoids Infinity). */
const ATTEMPT_EXPONENT_MAX = 64;

/** Checks retry options; throws RangeError naming the bad field. */
export function checkRetryOptions(options: RetryOptions): RetryOptions {
  for (const [key, value] of Object.entries(options))
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      throw new RangeError(`retry.${key} must be a non-negative number, got ${String(value)}`);
  if (options.multiplier < 1) throw new RangeError("retry.multiplier must be at least 1");
  if (options.maxMs < options.initialMs) throw new RangeError("retry.maxMs must be >= initialMs");
  return options;
}

/**
 * The wait before retry number `attempt` (0 for the first retry), in milliseconds:
 * `min(maxMs, initialMs * multiplier^attempt)` with +-20% jitter from `random` in [0, 1).
 */
export function backoffMs(attempt: number, options: RetryOptions, random: () => number): number {
  assert(Number.isInteger(attempt) && attempt >= 0, `attempt ${attempt} must be >= 0`);
  const exponent = Math.min(attempt, ATTEMPT_EXPONENT_MAX);
  const base = Math.min(options.maxMs, options.initialMs * options.multiplier ** exponent);
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.max(0, Math.round(jittered));
}

/** Sleeps `ms`; rejects with AbortedError when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return baseSleep(ms, signal, (reason) => abortedError("a backoff", reason));
}

/** Combines optional signals into one (undefined when there are none). */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return AbortSignal.any(present);
}
