import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { quantileSorted } from 'simple-statistics';
import t from 'tap';
import { bootstrapInterval } from '../src/stats/bootstrap.js';
import { seededRandom } from '../src/stats/random.js';
import { tInterval } from '../src/stats/t-interval.js';

/** 30 differences symmetric about 0.5 on the rubric's 0.05 grid: 0.5 ± 0.1k for k = 1..15. */
const SYMMETRIC_30 = Array.from({ length: 15 }, (_, k) => [0.5 + 0.1 * (k + 1), 0.5 - 0.1 * (k + 1)]).flat();
/** Right-skewed: most items gain a little, a few gain a lot. */
const RIGHT_SKEWED = [0, 0, 0, 0.05, 0.1, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.3, 1.7, 2.3, 3.2, 4.0];

t.test('the same seed gives the same interval bit for bit; another seed another interval', async (t) => {
  for (const method of ['bca', 'percentile'] as const) {
    const first = bootstrapInterval(SYMMETRIC_30, { seed: 11, method });
    const again = bootstrapInterval(SYMMETRIC_30, { seed: 11, method });
    t.ok(first !== null && again !== null && Object.is(first.low, again.low) && Object.is(first.high, again.high), `${method}: identical bounds`);
    t.strictSame(again, first);
    const other = bootstrapInterval(SYMMETRIC_30, { seed: 12, method });
    t.ok(other !== null && (other.low !== first?.low || other.high !== first?.high), `${method}: seed 12 differs`);
    t.strictSame({ method: first?.method, resamples: first?.resamples, seed: first?.seed }, { method, resamples: 10_000, seed: 11 }, 'reports what it did');
  }
});

t.test('on a symmetric vector of 30 both methods land within ±0.05 of the t interval', async (t) => {
  // Both estimate the same sampling spread; the bootstrap is a little narrower (it uses z-like
  // quantiles and the n-denominator SD: about 1.96/2.045·√(29/30) ≈ 0.94 of the t half-width of
  // ≈ 0.34, so ≈ 0.02 per side), plus resampling noise of a few thousandths.
  const reference = tInterval(SYMMETRIC_30)!;
  for (const method of ['bca', 'percentile'] as const) {
    const interval = bootstrapInterval(SYMMETRIC_30, { seed: 3, method })!;
    t.ok(Math.abs(interval.low - reference.low) <= 0.05, `${method} low ${interval.low} vs t ${reference.low}`);
    t.ok(Math.abs(interval.high - reference.high) <= 0.05, `${method} high ${interval.high} vs t ${reference.high}`);
    t.equal(interval.method, method);
  }
});

t.test('BCa moves the interval toward the long tail', async (t) => {
  // A right-skewed sample has a positive jackknife acceleration and a bootstrap distribution whose
  // median sits below the observed mean (z0 > 0); both raise the adjusted quantile levels.
  const bca = bootstrapInterval(RIGHT_SKEWED, { seed: 5, method: 'bca' })!;
  const percentile = bootstrapInterval(RIGHT_SKEWED, { seed: 5, method: 'percentile' })!;
  t.equal(bca.method, 'bca');
  t.ok(bca.low > percentile.low && bca.high > percentile.high, `right skew: bca [${bca.low}, ${bca.high}] above percentile [${percentile.low}, ${percentile.high}]`);

  const leftSkewed = RIGHT_SKEWED.map((value) => -value);
  const leftBca = bootstrapInterval(leftSkewed, { seed: 5, method: 'bca' })!;
  const leftPercentile = bootstrapInterval(leftSkewed, { seed: 5, method: 'percentile' })!;
  t.ok(leftBca.low < leftPercentile.low && leftBca.high < leftPercentile.high, 'left skew: below');
});

t.test('resampled means tied with the observed mean count half toward z0', async (t) => {
  // Integer differences symmetric about their mean 1: about one resampled mean in nine equals 1
  // exactly. Counted as "not below", z0 would be ≈ −0.14 and BCa would sit a grid step (0.1) below
  // percentile on average; counted half, the two agree.
  const symmetric = [-1, 0, 0, 1, 1, 1, 1, 2, 2, 3];
  let shift = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const bca = bootstrapInterval(symmetric, { seed, method: 'bca' })!;
    const percentile = bootstrapInterval(symmetric, { seed, method: 'percentile' })!;
    shift += (bca.low + bca.high - percentile.low - percentile.high) / 2 / 10;
  }
  t.ok(Math.abs(shift) < 0.02, `mean shift of the midpoint over 10 seeds: ${shift}`);
});

t.test('the bounds follow the documented recipe exactly', async (t) => {
  // Resample b draws n indices in order from seededRandom(seed); quantiles are type 7
  // (quantileSorted); BCa's acceleration here uses the explicit leave-one-out means.
  const differences = RIGHT_SKEWED;
  const n = differences.length;
  const random = seededRandom(21);
  const means: number[] = [];
  for (let b = 0; b < 2000; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += differences[random.int(n)]!;
    means.push(sum / n);
  }
  means.sort((a, b) => a - b);
  const observed = differences.reduce((sum, value) => sum + value, 0) / n;

  const percentile = bootstrapInterval(differences, { seed: 21, resamples: 2000, level: 0.9, method: 'percentile' })!;
  // The tail share as the code computes it: (1 − 0.9) / 2 is 0.04999999999999999 in floats.
  const tail = (1 - 0.9) / 2;
  t.equal(percentile.low, quantileSorted(means, tail));
  t.equal(percentile.high, quantileSorted(means, 1 - tail));

  const tolerance = 1e-9 * 4; // ties: within 1e-9 × the largest |d|
  const below = means.filter((value) => value < observed - tolerance).length;
  const tied = means.filter((value) => Math.abs(value - observed) <= tolerance).length;
  const z0 = normalQuantile((below + tied / 2) / means.length, 0, 1);
  const leaveOneOut = differences.map((_, skip) => differences.reduce((sum, value, i) => (i === skip ? sum : sum + value), 0) / (n - 1));
  const jackMean = leaveOneOut.reduce((sum, value) => sum + value, 0) / n;
  const cubes = leaveOneOut.reduce((sum, value) => sum + (jackMean - value) ** 3, 0);
  const squares = leaveOneOut.reduce((sum, value) => sum + (jackMean - value) ** 2, 0);
  const a = cubes / (6 * squares ** 1.5);
  t.ok(a > 0.05, `right skew gives a positive acceleration: ${a}`);
  const level = (z: number) => normalCdf(z0 + (z0 + z) / (1 - a * (z0 + z)), 0, 1);
  const bca = bootstrapInterval(differences, { seed: 21, resamples: 2000, level: 0.9, method: 'bca' })!;
  t.ok(Math.abs(bca.low - quantileSorted(means, level(normalQuantile(0.05, 0, 1)))) < 1e-12, `bca low ${bca.low}`);
  t.ok(Math.abs(bca.high - quantileSorted(means, level(normalQuantile(0.95, 0, 1)))) < 1e-12, `bca high ${bca.high}`);
});

t.test('BCa falls back to percentile, and says so, where its levels are undefined', async (t) => {
  // A single resample of [0, 1, 2] has one mean: under seed 2 it is 1/3, below the observed 1
  // (share below 1, z0 = +∞); under seed 0 it is 4/3, above (share 0, z0 = −∞); under seed 3 it
  // ties with 1, counts half, and BCa is defined.
  for (const [seed, mean] of [
    [2, 1 / 3],
    [0, 4 / 3],
  ] as const) {
    const oneSided = bootstrapInterval([0, 1, 2], { seed, resamples: 1, method: 'bca' });
    t.strictSame(oneSided, { low: mean, high: mean, method: 'percentile', resamples: 1, seed }, `seed ${seed}`);
  }
  t.equal(bootstrapInterval([0, 1, 2], { seed: 3, resamples: 1, method: 'bca' })?.method, 'bca');

  // One outlier in 20: acceleration ≈ 0.154, so at a level of 1 − 1e-12 (z ≈ 7.1) 1 − a(z0 + z) < 0.
  const outlier = [...new Array(19).fill(0), 1];
  const extreme = { seed: 4, level: 1 - 1e-12 };
  const fellBack = bootstrapInterval(outlier, { ...extreme, method: 'bca' });
  t.equal(fellBack?.method, 'percentile');
  t.strictSame(fellBack, bootstrapInterval(outlier, { ...extreme, method: 'percentile' }));
  t.equal(bootstrapInterval(outlier, { seed: 4, method: 'bca' })?.method, 'bca', 'at 95% BCa is defined');
});

t.test('a constant vector gives a zero-width interval at its mean; fewer than 2 give none', async (t) => {
  const same = 3.85 - 2.925;
  for (const method of ['bca', 'percentile'] as const) {
    const interval = bootstrapInterval(new Array(7).fill(same), { seed: 1, method });
    t.ok(interval !== null && interval.low === interval.high && Math.abs(interval.low - same) < 1e-15, `${method}: ${JSON.stringify(interval)}`);
    t.equal(interval?.method, method);
  }
  t.equal(bootstrapInterval([], { seed: 1, method: 'bca' }), null);
  t.equal(bootstrapInterval([0.4], { seed: 1, method: 'bca' }), null);
});

t.test('bad options are refused before anything is drawn', async (t) => {
  t.throws(() => bootstrapInterval([1, 2], { seed: -1, method: 'bca' }), RangeError);
  t.throws(() => bootstrapInterval([1], { seed: 1.5, method: 'bca' }), RangeError, 'even when n < 2');
  t.throws(() => bootstrapInterval([1, 2], { seed: 1, resamples: 0, method: 'bca' }), RangeError);
  t.throws(() => bootstrapInterval([1, 2], { seed: 1, resamples: 2.5, method: 'bca' }), RangeError);
  t.throws(() => bootstrapInterval([1, 2], { seed: 1, level: 95, method: 'bca' }), RangeError);
  t.throws(() => bootstrapInterval([1, Number.NaN], { seed: 1, method: 'bca' }), RangeError);
});
