import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import t from 'tap';
import { z } from 'zod';
import { DEFAULT_HALF_WIDTH, DEFAULT_RESAMPLES } from '../src/stats/defaults.js';
import { PairedComparisonSchema, comparePaired, winsTiesLosses } from '../src/stats/paired.js';

const near = (actual: number | null | undefined, expected: number, tolerance = 1e-6) =>
  typeof actual === 'number' && Math.abs(actual - expected) <= tolerance;

/**
 * The case study's gain of +0.93 on 10 items, as weighted differences on the rubric's 0.05 grid
 * (in twentieths: 30, 13, 25, 0, 42, 18, −7, 27, 15, 23; Σ = 186, so the mean is 9.3/10 = 0.93).
 */
const WORKED = [1.5, 0.65, 1.25, 0, 2.1, 0.9, -0.35, 1.35, 0.75, 1.15];

t.test("the case study's worked example is internally consistent", async (t) => {
  const result = comparePaired(WORKED, { seed: 42, tieBand: 0.25 });
  t.equal(result.n_pairs, 10);
  t.ok(near(result.mean_difference, 0.93, 1e-12), `mean ${result.mean_difference}`);

  // Σ(d − 0.93)² = 4.636 (by hand in twentieths: Σ(20d − 18.6)² = 1854.4, / 400), so
  // sd = √(4.636/9) ≈ 0.717712 and se = √(4.636/90) ≈ 0.226961. With t_{0.975,9} = 2.262157162798205
  // the interval is 0.93 ± 0.513421 = [0.416579, 1.443421].
  t.ok(near(result.sd_difference, Math.sqrt(4.636 / 9)), `sd ${result.sd_difference}`);
  const half = 2.262157162798205 * Math.sqrt(4.636 / 90);
  t.ok(near(result.ci95_t?.low, 0.93 - half) && near(result.ci95_t?.low, 0.416579), `t low ${result.ci95_t?.low}`);
  t.ok(near(result.ci95_t?.high, 0.93 + half) && near(result.ci95_t?.high, 1.443421), `t high ${result.ci95_t?.high}`);

  // Tie band 0.25: 0 is a tie, −0.35 a loss, the other eight gains exceed 0.25.
  t.strictSame({ wins: result.wins, ties: result.ties, losses: result.losses }, { wins: 8, ties: 1, losses: 1 });

  // Exact sign flip over 2^10 patterns: in twentieths |Σ ±dᵢ| ≥ 186 for 8 of the 1024 patterns (the
  // observed one, flips of the 0 and the −7, and their mirrors): p = 8/1024 = 0.0078125.
  t.equal(result.p_value, 8 / 1024);
  t.equal(result.p_method, 'exact_sign_flip');

  // The bootstrap agrees with the t interval up to its slightly narrower z-like width, and both
  // exclude 0, as p < 0.05 says they should.
  const boot = result.ci95_bootstrap!;
  t.strictSame({ method: boot.method, resamples: boot.resamples, seed: boot.seed }, { method: 'bca', resamples: DEFAULT_RESAMPLES, seed: 42 });
  t.ok(boot.low < 0.93 && boot.high > 0.93, `bootstrap [${boot.low}, ${boot.high}] contains the mean`);
  t.ok(Math.abs(boot.low - result.ci95_t!.low) < 0.15 && Math.abs(boot.high - result.ci95_t!.high) < 0.15, 'and is close to the t interval');
  t.ok(result.ci95_t!.low > 0 && boot.low > 0 && result.p_value! < 0.05, 'every test says the gain is real');

  // A ±0.25 interval at sd 0.7177 needs 35 pairs: t_{0.975,34}·0.7177/√35 ≈ 0.2465, t_{0.975,33}·0.7177/√34 ≈ 0.2504.
  t.equal(result.pairs_for_half_width, 35);
  const widthAt = (n: number) => (tQuantile(0.975, n - 1) * result.sd_difference!) / Math.sqrt(n);
  t.ok(widthAt(35) <= DEFAULT_HALF_WIDTH && widthAt(34) > DEFAULT_HALF_WIDTH);

  t.strictSame(PairedComparisonSchema.parse(result), result, 'the result is what the schema describes');
});

t.test('the same differences and seed give the same comparison bit for bit', async (t) => {
  const options = { seed: 9, tieBand: 0.1 };
  t.strictSame(comparePaired(WORKED, options), comparePaired(WORKED, options));
  t.notSame(comparePaired(WORKED, options).ci95_bootstrap, comparePaired(WORKED, { ...options, seed: 10 }).ci95_bootstrap);
});

t.test('options reach the parts they configure', async (t) => {
  const result = comparePaired(WORKED, { seed: 3, tieBand: 0.7, resamples: 500, bootstrapMethod: 'percentile', halfWidth: 0.5 });
  t.strictSame(
    { method: result.ci95_bootstrap?.method, resamples: result.ci95_bootstrap?.resamples },
    { method: 'percentile', resamples: 500 },
  );
  t.strictSame({ wins: result.wins, ties: result.ties, losses: result.losses }, { wins: 7, ties: 3, losses: 0 }, 'band 0.7: 0.65, 0 and −0.35 tie');
  t.ok(result.pairs_for_half_width! < 35, `±0.5 needs fewer pairs: ${result.pairs_for_half_width}`);
});

t.test('no pairs, one pair, and a constant vector', async (t) => {
  t.strictSame(comparePaired([], { seed: 1, tieBand: 0.25 }), {
    n_pairs: 0,
    mean_difference: null,
    sd_difference: null,
    ci95_t: null,
    ci95_bootstrap: null,
    wins: 0,
    ties: 0,
    losses: 0,
    p_value: null,
    p_method: null,
    pairs_for_half_width: null,
  });
  t.strictSame(comparePaired([0.6], { seed: 1, tieBand: 0.25 }), {
    n_pairs: 1,
    mean_difference: 0.6,
    sd_difference: null,
    ci95_t: null,
    ci95_bootstrap: null,
    wins: 1,
    ties: 0,
    losses: 0,
    p_value: 1,
    p_method: 'exact_sign_flip',
    pairs_for_half_width: null,
  });
  const constant = comparePaired(new Array(5).fill(0.5), { seed: 1, tieBand: 0.25 });
  t.equal(constant.sd_difference, 0);
  t.strictSame(constant.ci95_t, { low: 0.5, high: 0.5 });
  t.strictSame(constant.ci95_bootstrap, { low: 0.5, high: 0.5, method: 'bca', resamples: DEFAULT_RESAMPLES, seed: 1 });
  t.equal(constant.p_value, 2 / 32);
  t.equal(constant.pairs_for_half_width, 2);
  for (const result of [comparePaired([], { seed: 1, tieBand: 0 }), constant]) t.strictSame(PairedComparisonSchema.parse(result), result);
});

t.test('bad input is refused whatever the number of pairs', async (t) => {
  t.throws(() => comparePaired([], { seed: 1, tieBand: 0.25, halfWidth: 0 }), RangeError);
  t.throws(() => comparePaired([], { seed: 1, tieBand: -0.1 }), RangeError);
  t.throws(() => comparePaired([], { seed: -5, tieBand: 0.25 }), RangeError);
  t.throws(() => comparePaired([1, Number.NaN], { seed: 1, tieBand: 0.25 }), RangeError);
});

t.test('wins, ties and losses: the band is inclusive and float noise does not cross it', async (t) => {
  const weighted = (accuracy: number, actionability: number, completeness: number, safety: number) =>
    0.4 * accuracy + 0.25 * actionability + 0.25 * completeness + 0.1 * safety;
  const quarter = weighted(1, 1, 5, 2) - weighted(1, 1, 4, 2);
  t.ok(quarter > 0.25, `one completeness level apart is ${quarter} in floats`);
  t.strictSame(winsTiesLosses([quarter, -quarter, 0.25, 0.2500001, -0.3], 0.25), { wins: 1, ties: 3, losses: 1 });
  t.strictSame(winsTiesLosses([0, 1e-16, -1e-16, 0.05, -0.05], 0), { wins: 1, ties: 3, losses: 1 }, 'band 0: only (float) zeros tie');
  t.strictSame(winsTiesLosses([], 0.25), { wins: 0, ties: 0, losses: 0 });
  t.throws(() => winsTiesLosses([1], Number.NaN), RangeError);
  t.throws(() => winsTiesLosses([1], Number.POSITIVE_INFINITY), RangeError);
});

t.test('every field of the schema is described for the OpenAPI reader', async (t) => {
  const undescribed: string[] = [];
  const visit = (schema: Record<string, unknown>, path: string) => {
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, property] of Object.entries(properties)) {
      if (typeof property.description !== 'string' || property.description.length < 10) undescribed.push(`${path}.${name}`);
      visit(property, `${path}.${name}`);
      for (const option of (property.anyOf ?? []) as Record<string, unknown>[]) visit(option, `${path}.${name}`);
    }
  };
  // The schema has an id (it is a component of the OpenAPI document), so its body sits under $defs.
  const document = z.toJSONSchema(PairedComparisonSchema) as { $defs: Record<string, Record<string, unknown>> };
  const json = document.$defs.PairedComparison as Record<string, unknown>;
  visit(json, '');
  t.strictSame(undescribed, []);
  t.ok(typeof json.description === 'string');
  t.strictSame(Object.keys(json.properties as object).length, 11);
});
