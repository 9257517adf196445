/**
 * A small log-bucketed latency histogram (the HdrHistogram idea, 2 significant digits): values
 * are integer microseconds; 0..255 µs are exact, above that each power of two is split into 128
 * sub-buckets, so a reported percentile is within 1/128 (< 0.8 %) of the true value. Memory is
 * fixed (~4.5k counters) whatever the sample count; the maximum is kept exactly. A value may be
 * recorded with a count (e.g. one batch's latency counted once per record).
 */
const EXACT_MAX = 256;
const SUB_BUCKETS = 128;
const SUB_BITS = 7;
const EXPONENT_MIN = 8;
const EXPONENT_MAX = 40;
const BUCKETS = EXACT_MAX + (EXPONENT_MAX - EXPONENT_MIN + 1) * SUB_BUCKETS;

/** Percentiles of a histogram, in milliseconds. */
export interface LatencySummaryMs {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private maxUs = 0;

  /** Records `valueUs` (microseconds, clamped to >= 0) `count` times. */
  record(valueUs: number, count = 1): void {
    const v = Math.max(0, Math.round(valueUs));
    this.counts[Histogram.index(v)]! += count;
    this.total += count;
    if (v > this.maxUs) this.maxUs = v;
  }

  get count(): number {
    return this.total;
  }

  /** The value at quantile `q` (0..1), in microseconds: the middle of its bucket. */
  quantileUs(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxUs, Histogram.middle(i));
    }
    return this.maxUs;
  }

  summaryMs(): LatencySummaryMs {
    const ms = (q: number) => round3(this.quantileUs(q) / 1000);
    return {
      count: this.total,
      p50: ms(0.5),
      p95: ms(0.95),
      p99: ms(0.99),
      p999: ms(0.999),
      max: round3(this.maxUs / 1000),
    };
  }

  private static index(v: number): number {
    if (v < EXACT_MAX) return v;
    const exponent = Math.min(EXPONENT_MAX, Math.floor(Math.log2(v)));
    const sub = Math.min(SUB_BUCKETS - 1, Math.floor(v / 2 ** (exponent - SUB_BITS)) - SUB_BUCKETS);
    return EXACT_MAX + (exponent - EXPONENT_MIN) * SUB_BUCKETS + sub;
  }

  private static middle(i: number): number {
    if (i < EXACT_MAX) return i;
    const exponent = EXPONENT_MIN + Math.floor((i - EXACT_MAX) / SUB_BUCKETS);
    const sub = (i - EXACT_MAX) % SUB_BUCKETS;
    const width = 2 ** (exponent - SUB_BITS);
    return (SUB_BUCKETS + sub) * width + width / 2;
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
