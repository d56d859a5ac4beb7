import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { assertLevel } from './checks.js';
import { DEFAULT_LEVEL } from './defaults.js';
import type { Interval } from './t-interval.js';

/**
 * Wilson score interval for a proportion: (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n).
 * Unlike p̂ ± z·se it stays inside [0, 1] and does not collapse at 0/n or n/n. At 0/n the low bound
 * is exactly 0 and at n/n the high bound exactly 1; the formula reaches them only up to rounding
 * (10/10 gives 0.9999999999999999). null when n = 0.
 */
export function wilsonInterval(successes: number, n: number, level: number = DEFAULT_LEVEL): Interval | null {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isSafeInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`successes must be an integer from 0 to n (${n}), got ${successes}`);
  }
  assertLevel(level);
  if (n === 0) return null;
  const z = normalQuantile((1 + level) / 2, 0, 1);
  const share = successes / n;
  const shrink = 1 + (z * z) / n;
  const center = (share + (z * z) / (2 * n)) / shrink;
  const half = (z / shrink) * Math.sqrt((share * (1 - share)) / n + (z * z) / (4 * n * n));
  return { low: successes === 0 ? 0 : center - half, high: successes === n ? 1 : center + half };
}
