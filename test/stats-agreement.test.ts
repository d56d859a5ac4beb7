import t from 'tap';
import {
  exactAgreement,
  krippendorffAlpha,
  labelAgreement,
  quadraticWeightedKappa,
  quadraticWeights,
  spearman,
  toLevel,
  weightedKappaOfTable,
  withinOneAgreement,
} from '../src/stats/agreement.js';
import { seededRandom } from '../src/stats/random.js';

const UNWEIGHTED_3 = [
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 0],
];

/** Expands a contingency table (rows: rater 1's level, columns: rater 2's, levels from 1) into paired scores. */
function pairsOf(table: number[][]): [number[], number[]] {
  const a: number[] = [];
  const b: number[] = [];
  table.forEach((row, i) =>
    row.forEach((count, j) => {
      for (let c = 0; c < count; c += 1) {
        a.push(i + 1);
        b.push(j + 1);
      }
    }),
  );
  return [a, b];
}

t.test('weighted kappa: the worked example of Cohen (1968), with its own disagreement weights', async (t) => {
  // Cohen, J. (1968). Weighted kappa: nominal scale agreement with provision for scaled disagreement or partial
  // credit. Psychological Bulletin 70(4), 213-220: proportions of 200 patients in three diagnostic categories,
  // and disagreement weights 1, 3 and 6. Cohen reports kappa = .492 and weighted kappa = .348, and .353 for the
  // asymmetric weights (the values the R package psych quotes in its cohen.kappa examples).
  const proportions = [
    [0.44, 0.07, 0.09],
    [0.05, 0.2, 0.05],
    [0.01, 0.03, 0.06],
  ];
  const cohenWeights = [
    [0, 1, 3],
    [1, 0, 6],
    [3, 6, 0],
  ];
  const asymmetric = [
    [0, 1, 4],
    [1, 0, 6],
    [2, 2, 0],
  ];
  t.equal(Number(weightedKappaOfTable(proportions, UNWEIGHTED_3)?.toFixed(3)), 0.492);
  t.equal(Number(weightedKappaOfTable(proportions, cohenWeights)?.toFixed(3)), 0.348);
  t.equal(Number(weightedKappaOfTable(proportions, asymmetric)?.toFixed(3)), 0.353);
});

t.test('weighted kappa: Fleiss, Cohen and Everitt (1969), counts of 200 subjects with agreement weights', async (t) => {
  // Fleiss, J. L., Cohen, J., Everitt, B. S. (1969). Large sample standard errors of kappa and weighted kappa.
  // Psychological Bulletin 72(5), 323-327: kappa .429 and weighted kappa .507 for agreement weights 1, .667, .444, 0.
  const counts = [
    [106, 10, 4],
    [22, 28, 10],
    [2, 12, 6],
  ];
  const agreementWeights = [
    [1, 0, 0.4444],
    [0, 1, 0.6667],
    [0.4444, 0.6667, 1],
  ];
  t.equal(Number(weightedKappaOfTable(counts, UNWEIGHTED_3)?.toFixed(3)), 0.429);
  t.equal(Number(weightedKappaOfTable(counts, agreementWeights.map((row) => row.map((w) => 1 - w)))?.toFixed(3)), 0.507);
});

t.test("kappa: Wikipedia's Cohen's kappa example (50 grant proposals, 70% observed agreement, kappa 0.4)", async (t) => {
  // https://en.wikipedia.org/wiki/Cohen%27s_kappa, "Simple example": yes/yes 20, yes/no 5, no/yes 10, no/no 15.
  // With two categories the quadratic weights are the unweighted ones, so the quadratic kappa is 0.4 too.
  const [a, b] = pairsOf([
    [20, 5],
    [10, 15],
  ]);
  t.equal(quadraticWeightedKappa(a, b).value?.toFixed(10), (0.4).toFixed(10));
  t.same(exactAgreement(a, b), { value: 0.7, n: 50 });
  const labels = a.map((value, i) => [value === 1 ? 'first' : 'second', b[i] === 1 ? 'first' : 'second'] as const);
  t.same(labelAgreement(labels), { value: 0.7, n: 50, agree: 35 }, 'the preference agreement rate is the same observed agreement');
});

t.test('quadratic-weighted kappa on the 1-5 levels, by hand', async (t) => {
  // Scores (a, b): (1,1) (2,3) (3,3) (4,5) (5,5). Margins a: one each of 1..5; b: 1 at 1, 2 at 3, 2 at 5.
  // Observed Σ w·p with w = (i−j)²/16: (1 + 1)/16 / 5 = 0.025.
  // Expected: Σ_i Σ_j (i−j)²/16 · (1/5)·p_b(j) with p_b = {1: .2, 3: .4, 5: .4}:
  //   i=1: (0·.2 + 4·.4 + 16·.4)/16/5 = 8/80; i=2: (1·.2 + 1·.4 + 9·.4)/80 = 4.2/80; i=3: (4·.2 + 0 + 4·.4)/80 = 2.4/80;
  //   i=4: (9·.2 + 1·.4 + 1·.4)/80 = 2.6/80; i=5: (16·.2 + 4·.4 + 0)/80 = 4.8/80. Sum 22/80 = 0.275.
  // Kappa = 1 − 0.025 / 0.275 = 0.9090...
  const result = quadraticWeightedKappa([1, 2, 3, 4, 5], [1, 3, 3, 5, 5]);
  t.equal(result.n, 5);
  t.equal(result.value?.toFixed(12), (1 - 0.025 / 0.275).toFixed(12));
  t.same(quadraticWeightedKappa([], []), { value: null, n: 0 }, 'no pairs: no kappa');
  t.same(quadraticWeightedKappa([4, 4, 4], [4, 4, 4]), { value: null, n: 3 }, 'one level throughout: kappa is undefined, not 1');
  t.equal(quadraticWeightedKappa([1, 5, 1, 5], [5, 1, 5, 1]).value, -1, 'opposite ends every time');
  t.same(quadraticWeights(3), [
    [0, 0.25, 1],
    [0.25, 0, 0.25],
    [1, 0.25, 0],
  ]);
});

t.test('quadratic-weighted kappa equals its closed form 2·s_ab / (s_a² + s_b² + (ā − b̄)²) on random data', async (t) => {
  // A known identity for quadratic weights (population moments): an independent check of the table arithmetic.
  const random = seededRandom(7);
  for (let round = 0; round < 20; round += 1) {
    const n = 5 + random.int(40);
    const a = Array.from({ length: n }, () => 1 + random.int(5));
    const b = a.map((value) => Math.min(5, Math.max(1, value + random.int(3) - 1)));
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const [ma, mb] = [mean(a), mean(b)];
    const cov = mean(a.map((x, i) => (x - ma) * (b[i]! - mb)));
    const va = mean(a.map((x) => (x - ma) ** 2));
    const vb = mean(b.map((x) => (x - mb) ** 2));
    const closed = (2 * cov) / (va + vb + (ma - mb) ** 2);
    const value = quadraticWeightedKappa(a, b).value;
    if (value === null) continue;
    t.ok(Math.abs(value - closed) < 1e-12, `round ${round}: ${value} = ${closed}`);
  }
});

t.test('scores between levels are compared as the nearest level', async (t) => {
  t.same([1, 1.49, 1.5, 2.5, 4.67, 5].map(toLevel), [1, 1, 2, 3, 5, 5]);
  t.same(exactAgreement([4.33, 3.5, 2], [4, 4, 3]), { value: 2 / 3, n: 3 });
});

t.test("Spearman's rho: Wikipedia's worked example, and ties by hand", async (t) => {
  // https://en.wikipedia.org/wiki/Spearman%27s_rank_correlation_coefficient, "Example": IQ against hours of TV
  // per week for ten people; Σd² = 194, rho = 1 − 6·194 / (10·99) = −29/165 = −0.175757...
  const iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110];
  const tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17];
  const rho = spearman(iq, tv);
  t.equal(rho.n, 10);
  t.equal(rho.value?.toFixed(12), (-29 / 165).toFixed(12));

  // Ties by hand: a = [1, 2, 2, 3] has midranks [1, 2.5, 2.5, 4]; b = [1, 1, 2, 2] has [1.5, 1.5, 3.5, 3.5].
  // Centred (mean 2.5): a' = [−1.5, 0, 0, 1.5], b' = [−1, −1, 1, 1]; Σa'b' = 3, Σa'² = 4.5, Σb'² = 4;
  // rho = 3 / √(4.5·4) = 0.7071...
  t.equal(spearman([1, 2, 2, 3], [1, 1, 2, 2]).value?.toFixed(12), (3 / Math.sqrt(18)).toFixed(12));
  t.equal(spearman([2, 1, 3, 2], [1, 1, 2, 2]).value, spearman([1, 2, 2, 3], [1, 2, 1, 2]).value, 'ties: the order of the pairs does not matter');
  t.same(spearman([3], [4]), { value: null, n: 1 });
  t.same(spearman([3, 3, 3], [1, 2, 3]), { value: null, n: 3 }, 'a constant side has no ranks to correlate');
});

t.test('exact and within-one agreement, by hand', async (t) => {
  const a = [1, 2, 3, 4, 5, 5];
  const b = [1, 3, 5, 4, 3, 4];
  // Differences 0, 1, 2, 0, 2, 1: exact 2/6, within one 4/6.
  t.same(exactAgreement(a, b), { value: 2 / 6, n: 6 });
  t.same(withinOneAgreement(a, b), { value: 4 / 6, n: 6 });
  t.same(withinOneAgreement([], []), { value: null, n: 0 });
  t.throws(() => exactAgreement([1, 2], [1]), RangeError);
  t.throws(() => withinOneAgreement([Number.NaN], [1]), RangeError);
});

t.test("Krippendorff's alpha: Krippendorff's own worked example with missing data", async (t) => {
  // Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for Communication,
  // University of Pennsylvania, section C: four observers, twelve units, values 1-5, some missing. Reported:
  // nominal alpha = 0.743, ordinal alpha = 0.815, interval alpha = 0.849.
  const _ = null;
  const observers = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
  ];
  const units = observers[0]!.map((_, unit) => observers.map((values) => values[unit]).filter((value): value is number => value !== null));
  const nominal = krippendorffAlpha(units, 'nominal');
  t.equal(nominal.value?.toFixed(3), '0.743');
  t.equal(nominal.units, 11, 'unit 12 has a single value and is not pairable');
  t.equal(nominal.values, 40);
  t.equal(krippendorffAlpha(units, 'ordinal').value?.toFixed(3), '0.815');
  t.equal(krippendorffAlpha(units, 'interval').value?.toFixed(3), '0.849');
});

t.test("Krippendorff's alpha by hand, and its edge cases", async (t) => {
  // Two raters, three units: (1,1), (1,2), (2,2). Coincidences: o11 = 2, o12 = o21 = 1, o22 = 2; n1 = n2 = 3, n = 6.
  // Nominal: D_o ∝ o12 + o21 = 2; D_e ∝ n1·n2 + n2·n1 = 18; alpha = 1 − (n − 1)·2/18 = 1 − 10/18 = 0.444...
  // Ordinal between 1 and 2: (n1 + n2 − (n1 + n2)/2)² = 9; alpha = 1 − 5·(2·9)/(18·9) = 0.444... (two values: as nominal).
  const units = [
    [1, 1],
    [1, 2],
    [2, 2],
  ];
  t.equal(krippendorffAlpha(units, 'nominal').value?.toFixed(12), (1 - 10 / 18).toFixed(12));
  t.equal(krippendorffAlpha(units, 'ordinal').value?.toFixed(12), (1 - 10 / 18).toFixed(12));
  t.same(krippendorffAlpha([[3, 3], [3, 3, 3]], 'ordinal'), { value: null, units: 2, values: 5 }, 'one value throughout: undefined');
  t.same(krippendorffAlpha([[4], [2]], 'ordinal'), { value: null, units: 0, values: 0 }, 'no unit with two values');
  t.equal(krippendorffAlpha([[1, 1], [5, 5], [3, 3]], 'interval').value, 1, 'perfect agreement');
});
