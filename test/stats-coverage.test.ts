import t from 'tap';
import { bootstrapInterval } from '../src/stats/bootstrap.js';
import { seededRandom } from '../src/stats/random.js';
import { tInterval } from '../src/stats/t-interval.js';

/**
 * Seeded simulation of paired rubric data. Each item has a hardness h ∈ {−1, 0, +1} (equally likely)
 * shared by both models and all criteria, which is what makes the data paired. Each criterion score is
 * the model's level for that criterion plus h plus its own noise e ∈ {−1, 0, 0, +1}, clamped to the
 * rubric's 1..5; the weighted score uses the rubric's weights. The first model is better on accuracy
 * and actionability, where its high level also makes the clamp at 5 skew its scores.
 */
const WEIGHTS = [0.4, 0.25, 0.25, 0.1]; // accuracy, actionability, completeness, safety and tone
const FIRST_LEVELS = [4, 5, 3, 4];
const SECOND_LEVELS = [3, 3, 3, 4];
const HARDNESS = [-1, 0, 1];
const NOISE = [-1, 0, 0, 1];
const DATA_SETS = 1000;
const PAIRS = 30;
/**
 * Fewer than the product's 10,000 so 1000 data sets fit in a few seconds: coverage depends on the
 * number of data sets (SE √(0.95 · 0.05 / 1000) ≈ 0.7 points), while 2,000 resamples already pin each
 * bound to about a hundredth of its width (Efron and Tibshirani recommend 1,000 to 2,000 for BCa).
 */
const RESAMPLES = 2_000;

const clamp = (score: number) => Math.min(5, Math.max(1, score));

/**
 * The true mean difference, by enumerating the generating distribution: the mean is linear, so each
 * criterion's expected score is the average of clamp(level + h + e) over the 3 × 4 equally likely (h, e).
 * Accuracy: E[clamp(4 + s)] = 47/12 vs E[clamp(3 + s)] = 3; actionability: E[clamp(5 + s)] = 55/12 vs 3;
 * so the difference is 0.4 · 11/12 + 0.25 · 19/12 = 0.7625.
 */
function trueMeanDifference(): number {
  const expected = (level: number) => {
    let total = 0;
    for (const h of HARDNESS) for (const e of NOISE) total += clamp(level + h + e);
    return total / (HARDNESS.length * NOISE.length);
  };
  return WEIGHTS.reduce((sum, weight, c) => sum + weight * (expected(FIRST_LEVELS[c]!) - expected(SECOND_LEVELS[c]!)), 0);
}

function simulateDifferences(random: ReturnType<typeof seededRandom>): number[] {
  const weighted = (levels: readonly number[], h: number) =>
    WEIGHTS.reduce((sum, weight, c) => sum + weight * clamp(levels[c]! + h + NOISE[random.int(NOISE.length)]!), 0);
  return Array.from({ length: PAIRS }, () => {
    const h = HARDNESS[random.int(HARDNESS.length)]!;
    return weighted(FIRST_LEVELS, h) - weighted(SECOND_LEVELS, h);
  });
}

t.test('95% intervals cover the true mean difference about 95% of the time', async (t) => {
  const truth = trueMeanDifference();
  t.ok(Math.abs(truth - 0.7625) < 1e-12, `true mean difference ${truth}`);

  const random = seededRandom(20_240_601);
  const covered = { t: 0, bca: 0, percentile: 0 };
  let bcaUsed = 0;
  const started = performance.now();
  for (let dataSet = 0; dataSet < DATA_SETS; dataSet++) {
    const differences = simulateDifferences(random);
    const contains = (interval: { low: number; high: number }) => (interval.low <= truth && truth <= interval.high ? 1 : 0);
    const bca = bootstrapInterval(differences, { seed: dataSet, resamples: RESAMPLES, method: 'bca' })!;
    covered.t += contains(tInterval(differences)!);
    covered.bca += contains(bca);
    covered.percentile += contains(bootstrapInterval(differences, { seed: dataSet, resamples: RESAMPLES, method: 'percentile' })!);
    if (bca.method === 'bca') bcaUsed += 1;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const percent = (count: number) => `${((count / DATA_SETS) * 100).toFixed(1)}%`;
  t.comment(`coverage of 95% intervals over ${DATA_SETS} data sets of ${PAIRS} pairs (true difference ${truth}), ${RESAMPLES} resamples, ${seconds} s:`);
  t.comment(`t ${percent(covered.t)}, bootstrap BCa ${percent(covered.bca)}, bootstrap percentile ${percent(covered.percentile)}`);
  for (const [name, count] of Object.entries(covered)) {
    t.ok(count / DATA_SETS >= 0.92 && count / DATA_SETS <= 0.98, `${name} coverage ${percent(count)} is within 92% to 98%`);
  }
  t.equal(bcaUsed, DATA_SETS, 'BCa never had to fall back');
});
