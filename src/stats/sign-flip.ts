import { assertFiniteValues, assertPositiveInteger } from './checks.js';
import { DEFAULT_EXACT_UP_TO, DEFAULT_PERMUTATIONS, FLOAT_TIE_TOLERANCE, MAX_EXACT_UP_TO } from './defaults.js';
import { assertSeed, type SeededRandom, seededRandom } from './random.js';
import { runSteps, STEP_WORK, type Steps } from './steps.js';

export const SIGN_FLIP_METHODS = ['exact_sign_flip', 'monte_carlo_sign_flip'] as const;
export type SignFlipMethod = (typeof SIGN_FLIP_METHODS)[number];

export interface SignFlipOptions {
  /** Seeds the Monte Carlo patterns; unused by the exact test but checked either way. */
  seed: number;
  exactUpTo?: number;
  permutations?: number;
}

export interface SignFlipResult {
  p: number;
  method: SignFlipMethod;
  /** Sign patterns behind p: all 2^n for the exact test, the random ones for Monte Carlo. */
  permutations: number;
}

/** Σ ±dᵢ in index order, dᵢ negated where bit i of `flips` is set. */
function flippedSum(differences: readonly number[], flips: number): number {
  let sum = 0;
  for (let i = 0; i < differences.length; i++) sum += (flips >>> i) & 1 ? -differences[i]! : differences[i]!;
  return sum;
}

/**
 * Patterns come in mirror pairs with exactly opposite sums (negation commutes with rounding), so
 * enumerating those that keep the last sign gives the same share as all 2^n, in half the time.
 */
function* exactShare(differences: readonly number[], threshold: number): Steps<number> {
  const half = 2 ** (differences.length - 1);
  let hits = 0;
  let work = 0;
  for (let flips = 0; flips < half; flips++) {
    if (Math.abs(flippedSum(differences, flips)) >= threshold) hits += 1;
    work += differences.length;
    if (work >= STEP_WORK) {
      work = 0;
      yield;
    }
  }
  return hits / half;
}

/** Each 32-bit draw gives the signs of 32 differences. */
function* monteCarloHits(differences: readonly number[], threshold: number, permutations: number, random: SeededRandom): Steps<number> {
  const n = differences.length;
  let hits = 0;
  let work = 0;
  for (let permutation = 0; permutation < permutations; permutation++) {
    work += n;
    if (work >= STEP_WORK) {
      work = 0;
      yield;
    }
    let sum = 0;
    let coins = 0;
    for (let i = 0; i < n; i++) {
      if ((i & 31) === 0) coins = random.bits();
      sum += (coins >>> (i & 31)) & 1 ? -differences[i]! : differences[i]!;
    }
    if (Math.abs(sum) >= threshold) hits += 1;
  }
  return hits;
}

/**
 * Two-sided sign-flip (paired permutation) test of "no difference": under the null each pair's
 * difference is as likely to have either sign, so p is the share of sign patterns whose |mean| is at
 * least the observed |mean|. With n ≤ exactUpTo (zeros count; flipping a zero changes nothing) every
 * pattern is enumerated; otherwise `permutations` seeded random patterns give p = (1 + hits) /
 * (1 + permutations), which is never 0. Sums stand in for means (same n), and a sum within
 * 1e-9 · Σ|dᵢ| of the observed one counts as a tie, so float rounding cannot turn a tie into a miss.
 * All differences zero gives p = 1. null for no differences.
 */
export function signFlipPValue(differences: readonly number[], options: SignFlipOptions): SignFlipResult | null {
  return runSteps(signFlipPValueSteps(differences, options));
}

/** signFlipPValue, yielding between chunks of sign patterns (see steps.ts). */
export function* signFlipPValueSteps(differences: readonly number[], options: SignFlipOptions): Steps<SignFlipResult | null> {
  const { seed, exactUpTo = DEFAULT_EXACT_UP_TO, permutations = DEFAULT_PERMUTATIONS } = options;
  assertFiniteValues(differences);
  assertSeed(seed);
  assertPositiveInteger(permutations, 'permutations');
  if (!Number.isInteger(exactUpTo) || exactUpTo < 0 || exactUpTo > MAX_EXACT_UP_TO) {
    throw new RangeError(`exactUpTo must be an integer from 0 to ${MAX_EXACT_UP_TO}, got ${exactUpTo}`);
  }
  const n = differences.length;
  if (n === 0) return null;
  const magnitude = differences.reduce((total, value) => total + Math.abs(value), 0);
  const threshold = Math.abs(flippedSum(differences, 0)) - FLOAT_TIE_TOLERANCE * magnitude;
  if (n <= exactUpTo) return { p: yield* exactShare(differences, threshold), method: 'exact_sign_flip', permutations: 2 ** n };
  const hits = yield* monteCarloHits(differences, threshold, permutations, seededRandom(seed));
  return { p: (1 + hits) / (1 + permutations), method: 'monte_carlo_sign_flip', permutations };
}
