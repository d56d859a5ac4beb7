import { mersenne } from 'pure-rand/generator/mersenne';

/** pure-rand keeps only 32 bits of a seed; larger seeds would silently share a stream with smaller ones. */
export const MAX_SEED = 0xffff_ffff;

export interface SeededRandom {
  /** A uniform integer in [0, maxExclusive); advances the generator. */
  int(maxExclusive: number): number;
  /** 32 uniform random bits, as an unsigned integer: 32 fair coins in one draw. */
  bits(): number;
}

const TWO_32 = 2 ** 32;

export function assertSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
  }
}

/**
 * A seeded stream of integers from pure-rand's Mersenne Twister (MT19937, the reference seeding).
 * Integers in a range come from Lemire's multiply-and-reject method: exactly uniform, and one 32-bit
 * draw almost always (a bootstrap of 5,000 pairs makes 50 million of them, so pure-rand's general
 * `uniformInt`, at about three times the cost, was most of a summary's time). The same seed always
 * gives the same sequence.
 *
 * Not xoroshiro128+, though it is faster: pure-rand copies the seed into its state almost verbatim,
 * and the lowest output bit, which `uniformInt(g, 0, 1)` returns as a coin, is a linear function of
 * the state, so the coins of neighbouring seeds stay correlated for dozens of draws. MT19937's
 * seeding spreads the seed over its state and tempers every output.
 */
export function seededRandom(seed: number): SeededRandom {
  assertSeed(seed);
  const generator = mersenne(seed);
  const bits = () => generator.next() >>> 0;
  return {
    int(maxExclusive: number): number {
      if (!Number.isSafeInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_32) {
        throw new RangeError(`maxExclusive must be an integer from 1 to 2^32, got ${maxExclusive}`);
      }
      // x·n / 2^32 for a 32-bit x; the low part tells the few x that would favour some results, which are redrawn.
      let product = bits() * maxExclusive;
      let low = product % TWO_32;
      if (low < maxExclusive) {
        const threshold = (TWO_32 - maxExclusive) % maxExclusive;
        while (low < threshold) {
          product = bits() * maxExclusive;
          low = product % TWO_32;
        }
      }
      return Math.floor(product / TWO_32);
    },
    bits,
  };
}
