/**
 * Injected randomness. The core draws its randomized election timeout from an {@link Rng} so a
 * simulation seeded with one number replays exactly; the driver seeds one from crypto.
 */
import { assert } from "@strand/base/assert";

/** A source of uniformly distributed integers. */
export interface Rng {
  /** Returns an integer in [0, bound). `bound` is a positive integer below 2^32. */
  nextInt(bound: number): number;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128 bits of state, passes
 * PractRand, and needs only 32-bit integer arithmetic, so it is exact in JavaScript.
 */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds the generator from a non-negative integer (any 53-bit value). */
  constructor(seed: number) {
    assert(Number.isSafeInteger(seed) && seed >= 0, `bad seed ${seed}`);
    this.a = 0x9e3779b9;
    this.b = seed >>> 0;
    this.c = Math.floor(seed / 2 ** 32) >>> 0;
    this.d = 1;
    // Discard the first outputs: sfc32's state needs a few rounds to mix a small seed.
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  /** Returns the next 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Returns an integer in [0, bound). */
  nextInt(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= 2 ** 32, `bad bound ${bound}`);
    return Math.floor((this.nextU32() / 2 ** 32) * bound);
  }

  /** Returns a float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 2 ** 32;
  }

  /** Returns true with probability `p`. */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  /** Returns an integer in [lo, hi] (both inclusive). */
  between(lo: number, hi: number): number {
    assert(hi >= lo, `empty range ${lo}..${hi}`);
    return lo + this.nextInt(hi - lo + 1);
  }

  /** Derives an independent generator, so adding draws in one place does not shift another. */
  fork(): SeededRng {
    return new SeededRng(this.nextU32() * 2 ** 21 + (this.nextU32() >>> 11));
  }
}
