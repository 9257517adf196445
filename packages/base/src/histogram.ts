/**
 * A log-bucketed latency histogram in the style of HdrHistogram: values (integers, e.g.
 * microseconds) below 2^S are counted exactly; above, each power-of-two range [2^e, 2^(e+1))
 * is split into 2^S equal sub-buckets, so a bucket's width is at most 1/2^S of its lower
 * bound (S = 7: under 0.8% relative error). Recording is O(1) and memory is fixed
 * (2^S * (33 - S) counters), whatever the number of values. Values are clamped to
 * [0, 2^32 - 1]. Count, sum, min and max are exact.
 */

/** Percentiles and exact aggregates of recorded values. */
export interface HistogramSummary {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
}

const VALUE_MAX = 2 ** 32 - 1;

/** A fixed-size log-bucketed histogram of non-negative integers. */
export class Histogram {
  readonly #subBits: number;
  readonly #sub: number;
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** `subBucketBits` S: relative precision 2^-S (default 7, under 0.8%). */
  constructor(subBucketBits = 7) {
    if (!Number.isInteger(subBucketBits) || subBucketBits < 1 || subBucketBits > 16)
      throw new RangeError("subBucketBits must be an integer in [1, 16]");
    this.#subBits = subBucketBits;
    this.#sub = 2 ** subBucketBits;
    this.#counts = new Float64Array(this.#sub * (33 - subBucketBits));
  }

  /** The largest relative error of a reported percentile (bucket width / lower bound). */
  get relativePrecision(): number {
    return 1 / this.#sub;
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** The bucket index of a (clamped) value. */
  #index(v: number): number {
    if (v < this.#sub) return v;
    const exponent = 31 - Math.clz32(v); // floor(log2 v), v < 2^32
    const shift = exponent - this.#subBits;
    const mantissa = Math.floor(v / 2 ** shift); // in [sub, 2 sub)
    return this.#sub * (shift + 1) + (mantissa - this.#sub);
  }

  /** The [low, high] values of a bucket (inclusive). */
  bucketRange(index: number): [number, number] {
    if (index < this.#sub) return [index, index];
    const shift = Math.floor(index / this.#sub) - 1;
    const mantissa = (index % this.#sub) + this.#sub;
    const low = mantissa * 2 ** shift;
    return [low, low + 2 ** shift - 1];
  }

  /** The bucket a value falls in, as [low, high]. */
  rangeOf(value: number): [number, number] {
    return this.bucketRange(this.#index(clamp(value)));
  }

  /** Records `count` occurrences of a value (rounded, clamped to [0, 2^32 - 1]). */
  record(value: number, count = 1): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError("count must be >= 1");
    const v = clamp(value);
    this.#counts[this.#index(v)]! += count;
    this.#count += count;
    this.#sum += v * count;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /**
   * The value at percentile `p` (0 < p <= 100) by nearest rank: the bucket holding the
   * ceil(p/100 * count)-th smallest value, reported as its midpoint clamped to [min, max].
   */
  percentile(p: number): number {
    if (!(p > 0 && p <= 100)) throw new RangeError("percentile must be in (0, 100]");
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const [low, high] = this.bucketRange(i);
        return Math.min(this.#max, Math.max(this.#min, Math.floor((low + high) / 2)));
      }
    }
    return this.#max;
  }

  /** Count, exact min/max/mean, and p50/p95/p99/p99.9. */
  summary(): HistogramSummary {
    const empty = this.#count === 0;
    return {
      count: this.#count,
      min: empty ? 0 : this.#min,
      max: this.#max,
      mean: empty ? 0 : this.#sum / this.#count,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
    };
  }
}

function clamp(value: number): number {
  if (!(value > 0)) return 0; // also NaN
  return Math.min(VALUE_MAX, Math.round(value));
}
