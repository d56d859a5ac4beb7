import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { mean } from 'simple-statistics';
import { assertFiniteValues, assertLevel, assertNonNegative, assertPositive } from './checks.js';
import { DEFAULT_HALF_WIDTH, DEFAULT_LEVEL } from './defaults.js';
import { sampleSd } from './moments.js';

export interface Interval {
  low: number;
  high: number;
}

/** Half-width of a two-sided t interval: t_{(1+level)/2, n−1} · sd / √n. */
function tHalfWidth(sd: number, n: number, level: number): number {
  return (tQuantile((1 + level) / 2, n - 1) * sd) / Math.sqrt(n);
}

/** Student t interval for the mean difference; null with fewer than 2 differences (no SD). */
export function tInterval(differences: readonly number[], level: number = DEFAULT_LEVEL): Interval | null {
  assertFiniteValues(differences);
  assertLevel(level);
  const n = differences.length;
  if (n < 2) return null;
  const center = mean(differences);
  const half = tHalfWidth(sampleSd(differences), n, level);
  return { low: center - half, high: center + half };
}

/**
 * The smallest n (at least 2) for which a t interval at this SD has half-width ≤ halfWidth.
 * The normal approximation n₀ = ⌈(z·sd/h)²⌉ is a lower bound, because t_{n−1} > z for every n;
 * from there n steps up until the t half-width fits, which takes a few steps since t approaches z
 * quickly (sd 1, h 0.25: n₀ = 62, answer 64). sd 0 gives 2, the least n with an SD.
 */
export function pairsForHalfWidth(sd: number, halfWidth: number = DEFAULT_HALF_WIDTH, level: number = DEFAULT_LEVEL): number {
  assertNonNegative(sd, 'sd');
  assertPositive(halfWidth, 'halfWidth');
  assertLevel(level);
  let n = Math.max(2, Math.ceil(((normalQuantile((1 + level) / 2, 0, 1) * sd) / halfWidth) ** 2));
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`halfWidth ${halfWidth} is too small for sd ${sd}: no count of pairs reaches it`);
  }
  while (tHalfWidth(sd, n, level) > halfWidth) n += 1;
  return n;
}
