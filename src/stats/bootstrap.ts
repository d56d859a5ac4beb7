import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { mean, quantileSorted } from 'simple-statistics';
import { assertFiniteValues, assertLevel, assertPositiveInteger } from './checks.js';
import { type BootstrapMethod, DEFAULT_LEVEL, DEFAULT_RESAMPLES, FLOAT_TIE_TOLERANCE } from './defaults.js';
import { isConstant } from './moments.js';
import { assertSeed, type SeededRandom, seededRandom } from './random.js';
import { runSteps, STEP_WORK, type Steps } from './steps.js';
import type { Interval } from './t-interval.js';

export interface BootstrapOptions {
  seed: number;
  resamples?: number;
  level?: number;
  /** What to try; the result's `method` says what was used (BCa can fall back to percentile). */
  method: BootstrapMethod;
}

export interface BootstrapInterval {
  low: number;
  high: number;
  method: BootstrapMethod;
  resamples: number;
  seed: number;
}

/** Means of `resamples` samples of n differences drawn with replacement, sorted ascending. */
function* resampledMeans(differences: readonly number[], resamples: number, random: SeededRandom): Steps<number[]> {
  const n = differences.length;
  const means = new Float64Array(resamples);
  let work = 0;
  for (let resample = 0; resample < resamples; resample++) {
    let sum = 0;
    for (let draw = 0; draw < n; draw++) sum += differences[random.int(n)]!;
    means[resample] = sum / n;
    work += n;
    if (work >= STEP_WORK) {
      work = 0;
      yield;
    }
  }
  // A typed array sorts numerically without a comparator, about three times faster.
  return Array.from(means.sort());
}

/**
 * Share of resampled means below the observed mean, ties counted half. Rubric differences sit on a
 * grid, so many resampled means equal the observed mean exactly; counting them all as "not below"
 * would push z0 negative and the interval down for no reason.
 */
function shareBelow(sortedMeans: readonly number[], observed: number, tolerance: number): number {
  let below = 0;
  let tied = 0;
  for (const value of sortedMeans) {
    if (value < observed - tolerance) below += 1;
    else if (value <= observed + tolerance) tied += 1;
  }
  return (below + tied / 2) / sortedMeans.length;
}

/**
 * Jackknife acceleration of the mean. The leave-one-out means are θᵢ = (Σd − dᵢ)/(n − 1), so
 * θ̄ − θᵢ = (dᵢ − d̄)/(n − 1) and Efron's a = Σ(θ̄ − θᵢ)³ / (6·(Σ(θ̄ − θᵢ)²)^1.5) equals the same
 * ratio over dᵢ − d̄; computing it that way avoids n leave-one-out sums and their cancellation.
 * Deviations are scaled by the largest one so cubes of tiny differences cannot underflow; that
 * largest one is > 0 because a non-constant sample cannot equal its mean everywhere.
 */
function jackknifeAcceleration(differences: readonly number[], observed: number): number {
  const deviations = differences.map((value) => value - observed);
  const scale = deviations.reduce((largest, deviation) => Math.max(largest, Math.abs(deviation)), 0);
  let squares = 0;
  let cubes = 0;
  for (const deviation of deviations) {
    const unit = deviation / scale;
    squares += unit * unit;
    cubes += unit * unit * unit;
  }
  return cubes / (6 * squares ** 1.5);
}

/**
 * BCa's adjusted quantile levels (Efron 1987): Φ(z0 + w/(1 − a·w)) with w = z0 + z for z = z_{α/2}
 * and z_{1−α/2}. null when they are undefined: z0 is infinite when every resampled mean lies on one
 * side of the observed mean (only with very few resamples), and 1 − a·w ≤ 0 (strong skew at a
 * level very close to 1) makes the formula wrap around.
 */
function bcaLevels(differences: readonly number[], sortedMeans: readonly number[], observed: number, alpha: number): Interval | null {
  const largest = differences.reduce((most, value) => Math.max(most, Math.abs(value)), 0);
  const share = shareBelow(sortedMeans, observed, FLOAT_TIE_TOLERANCE * largest);
  if (share === 0 || share === 1) return null;
  const z0 = normalQuantile(share, 0, 1);
  const a = jackknifeAcceleration(differences, observed);
  const lowW = z0 + normalQuantile(alpha, 0, 1);
  const highW = z0 + normalQuantile(1 - alpha, 0, 1);
  if (1 - a * lowW <= 0 || 1 - a * highW <= 0) return null;
  return { low: normalCdf(z0 + lowW / (1 - a * lowW), 0, 1), high: normalCdf(z0 + highW / (1 - a * highW), 0, 1) };
}

/**
 * Paired bootstrap interval for the mean difference: the differences are resampled with replacement
 * and each resample's mean recorded. Quantiles of the resampled means use linear interpolation
 * between order statistics (Hyndman–Fan type 7, simple-statistics' `quantileSorted`, R's and
 * numpy's default).
 *
 * - percentile: the α/2 and 1 − α/2 quantiles.
 * - bca: bias-corrected and accelerated; z0 from the share of resampled means below the observed
 *   mean, acceleration from the jackknife. For right-skewed differences (a few large gains) both
 *   corrections are positive and the interval moves up relative to percentile; left skew moves it
 *   down. Falls back to percentile, reported as `method: 'percentile'`, when its levels are
 *   undefined (see `bcaLevels`).
 *
 * A constant sample gives a zero-width interval at its mean under either method (every resample
 * has that mean) without drawing. null with fewer than 2 differences. Deterministic: the same
 * differences, seed and resamples give bit-identical bounds.
 */
export function bootstrapInterval(differences: readonly number[], options: BootstrapOptions): BootstrapInterval | null {
  return runSteps(bootstrapIntervalSteps(differences, options));
}

/** bootstrapInterval, yielding between chunks of resamples (see steps.ts). */
export function* bootstrapIntervalSteps(differences: readonly number[], options: BootstrapOptions): Steps<BootstrapInterval | null> {
  const { seed, resamples = DEFAULT_RESAMPLES, level = DEFAULT_LEVEL, method } = options;
  assertFiniteValues(differences);
  assertSeed(seed);
  assertPositiveInteger(resamples, 'resamples');
  assertLevel(level);
  if (differences.length < 2) return null;
  const observed = mean(differences);
  const interval = (low: number, high: number, used: BootstrapMethod): BootstrapInterval => ({ low, high, method: used, resamples, seed });
  if (isConstant(differences)) return interval(observed, observed, method);

  const sortedMeans = yield* resampledMeans(differences, resamples, seededRandom(seed));
  const alpha = (1 - level) / 2;
  const levels = method === 'bca' ? bcaLevels(differences, sortedMeans, observed, alpha) : null;
  if (levels === null) return interval(quantileSorted(sortedMeans, alpha), quantileSorted(sortedMeans, 1 - alpha), 'percentile');
  return interval(quantileSorted(sortedMeans, levels.low), quantileSorted(sortedMeans, levels.high), 'bca');
}
