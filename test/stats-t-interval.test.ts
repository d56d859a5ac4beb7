import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import t from 'tap';
import { pairsForHalfWidth, tInterval } from '../src/stats/t-interval.js';

const near = (actual: number | undefined, expected: number, tolerance = 1e-6) => actual !== undefined && Math.abs(actual - expected) <= tolerance;

t.test('a fixed vector reproduces its t interval', async (t) => {
  // d = [1,0,2,1,-1,1,0,1,2,1]: Σd = 8, mean 0.8. Deviations 0.2 (×5), -0.8 (×2), 1.2 (×2), -1.8:
  // Σ(d − 0.8)² = 5·0.04 + 2·0.64 + 2·1.44 + 3.24 = 7.6, sd = √(7.6/9) ≈ 0.918937, se = √(7.6/90) ≈ 0.290593.
  // t_{0.975, 9} = 2.262157162798205 (scipy.stats.t.ppf(0.975, 9); R qt(0.975, 9) prints 2.262157),
  // so the half-width is 2.262157 · 0.290593 ≈ 0.657368 and the interval [0.142632, 1.457368].
  const interval = tInterval([1, 0, 2, 1, -1, 1, 0, 1, 2, 1]);
  const half = 2.262157162798205 * Math.sqrt(7.6 / 90);
  t.ok(near(interval?.low, 0.8 - half), `low ${interval?.low}`);
  t.ok(near(interval?.high, 0.8 + half), `high ${interval?.high}`);
  t.ok(near(interval?.low, 0.142632), 'the rounded hand value');
  t.ok(near(interval?.high, 1.457368), 'the rounded hand value');

  // At 90%: t_{0.95, 9} = 1.833112932656237 (scipy).
  const ninety = tInterval([1, 0, 2, 1, -1, 1, 0, 1, 2, 1], 0.9);
  t.ok(near(ninety?.low, 0.8 - 1.833112932656237 * Math.sqrt(7.6 / 90)), `90% low ${ninety?.low}`);
  t.ok(near(ninety?.high, 0.8 + 1.833112932656237 * Math.sqrt(7.6 / 90)), `90% high ${ninety?.high}`);
});

t.test('fewer than 2 differences have no interval; a constant vector has a zero-width one', async (t) => {
  t.equal(tInterval([]), null);
  t.equal(tInterval([0.5]), null);
  const same = 3.85 - 2.925; // seven copies of this have a float SD of 1.2e-16 in simple-statistics
  const interval = tInterval(new Array(7).fill(same));
  t.ok(interval !== null && interval.low === interval.high, `zero width: ${JSON.stringify(interval)}`);
  t.ok(near(interval?.low, same, 1e-15), 'at the mean');
});

t.test('bad levels and non-finite differences are refused', async (t) => {
  for (const level of [0, 1, -0.5, 1.5, Number.NaN]) t.throws(() => tInterval([1, 2, 3], level), RangeError, `level ${level}`);
  t.throws(() => tInterval([1, Number.NaN, 3]), { name: 'RangeError', message: /index 1 is NaN/ });
  t.throws(() => tInterval([1, Number.POSITIVE_INFINITY]), RangeError);
});

const halfWidthAt = (sd: number, n: number, level = 0.95) => (tQuantile((1 + level) / 2, n - 1) * sd) / Math.sqrt(n);

t.test('pairsForHalfWidth: sd 1 needs 64 pairs for ±0.25', async (t) => {
  // Normal approximation: n ≈ (1.959964 · 1 / 0.25)² ≈ 61.46, so at least 62. The t quantile is
  // larger: t_{0.975,62}/√63 ≈ 0.251847 > 0.25 but t_{0.975,63}/√64 ≈ 0.249793 ≤ 0.25 (scipy), so 64.
  const n = pairsForHalfWidth(1);
  t.equal(n, 64);
  t.ok(halfWidthAt(1, n) <= 0.25, `n = ${n} reaches ±0.25: ${halfWidthAt(1, n)}`);
  t.ok(halfWidthAt(1, n - 1) > 0.25, `n − 1 does not: ${halfWidthAt(1, n - 1)}`);
});

t.test('pairsForHalfWidth is the smallest n that fits, wherever t and z differ', async (t) => {
  t.equal(pairsForHalfWidth(0), 2, 'sd 0: two pairs, the least with an SD');
  // sd 0.1: the normal approximation says 1 (so 2), but t_{0.975,1}·0.1/√2 ≈ 0.898; t_{0.975,2}·0.1/√3 ≈ 0.248.
  t.equal(pairsForHalfWidth(0.1), 3);
  for (const [sd, halfWidth, level] of [
    [0.72, 0.25, 0.95],
    [1.3, 0.1, 0.95],
    [0.5, 0.25, 0.9],
    [2, 0.25, 0.99],
    [0.4, 1, 0.95],
  ] as const) {
    const n = pairsForHalfWidth(sd, halfWidth, level);
    t.ok(halfWidthAt(sd, n, level) <= halfWidth, `sd ${sd}, ±${halfWidth} at ${level}: ${n} fits`);
    t.ok(n === 2 || halfWidthAt(sd, n - 1, level) > halfWidth, `and ${n - 1} does not`);
  }
});

t.test('pairsForHalfWidth refuses inputs with no answer', async (t) => {
  for (const sd of [-1, Number.NaN, Number.POSITIVE_INFINITY]) t.throws(() => pairsForHalfWidth(sd), RangeError, `sd ${sd}`);
  for (const halfWidth of [0, -0.25, Number.NaN]) t.throws(() => pairsForHalfWidth(1, halfWidth), RangeError, `halfWidth ${halfWidth}`);
  t.throws(() => pairsForHalfWidth(1, 0.25, 1), RangeError);
  t.throws(() => pairsForHalfWidth(1, 1e-9), { name: 'RangeError', message: /too small/ }, 'would need ~4e18 pairs');
});
