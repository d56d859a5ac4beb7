import t from 'tap';
import { signFlipPValue } from '../src/stats/sign-flip.js';

/** Exact two-sided sign-flip p by brute force over integer differences, where sums are exact. */
function bruteForceP(integers: readonly number[]): number {
  const observed = Math.abs(integers.reduce((sum, value) => sum + value, 0));
  let hits = 0;
  for (let flips = 0; flips < 2 ** integers.length; flips++) {
    const sum = integers.reduce((total, value, i) => total + (Math.floor(flips / 2 ** i) % 2 === 1 ? -value : value), 0);
    if (Math.abs(sum) >= observed) hits += 1;
  }
  return hits / 2 ** integers.length;
}

t.test('hand-checkable exact p-values', async (t) => {
  // Five gains of 1: only all-plus and all-minus reach |Σ| = 5, so p = 2/32.
  t.strictSame(signFlipPValue([1, 1, 1, 1, 1], { seed: 1 }), { p: 0.0625, method: 'exact_sign_flip', permutations: 32 });
  // Ten gains of 1: p = 2/1024.
  t.strictSame(signFlipPValue(new Array(10).fill(1), { seed: 1 }), { p: 2 / 1024, method: 'exact_sign_flip', permutations: 1024 });
  // [3, 1, 1]: |Σ| = 5 only for ±(3 + 1 + 1); |±3 ± 1 ± 1| ≥ 5 nowhere else, so 2/8.
  t.equal(signFlipPValue([3, 1, 1], { seed: 1 })?.p, 0.25);
  // [2, −1, 1, 1]: Σ = 3. |±2 ± 1 ± 1 ± 1| ≥ 3 when the three 1s all share 2's sign (|Σ| = 5) or
  // two of them do (|Σ| = 3): 1 + 3 = 4 patterns per sign of 2, 8 of 16.
  t.equal(signFlipPValue([2, -1, 1, 1], { seed: 1 })?.p, 0.5);
  t.equal(bruteForceP([2, -1, 1, 1]), 0.5);
  t.equal(signFlipPValue([0.7], { seed: 1 })?.p, 1, 'one difference: both signs are as extreme');
});

t.test('zeros count in n but flipping them changes nothing', async (t) => {
  // [0, 0, 1, 1, 1]: the three ones reach |Σ| = 3 in 2 of their 8 patterns, whatever the zeros do.
  t.strictSame(signFlipPValue([0, 0, 1, 1, 1], { seed: 1 }), { p: 0.25, method: 'exact_sign_flip', permutations: 32 });
  t.strictSame(signFlipPValue([0, 0, 0, 0], { seed: 1 }), { p: 1, method: 'exact_sign_flip', permutations: 16 }, 'all zero: p = 1');
  t.strictSame(signFlipPValue(new Array(30).fill(0), { seed: 1 }), { p: 1, method: 'monte_carlo_sign_flip', permutations: 10_000 }, 'also by Monte Carlo');
  // 20 zeros and one 1 make 21 differences: past exactUpTo although only one is non-zero.
  t.equal(signFlipPValue([...new Array(20).fill(0), 1], { seed: 1 })?.method, 'monte_carlo_sign_flip');
});

t.test('a tie in exact arithmetic is a tie in floats too', async (t) => {
  // d = [0.5, -0.2, 0, -0.5]: flipping 0.5 and −0.5 together keeps |Σ| = 0.2 exactly, but summed in
  // order the floats give 0.20000000000000001 and 0.19999999999999996; compared naively, 4 of the 16
  // patterns would drop out and p would read 0.75. In tenths the differences are the integers
  // [5, −2, 0, −5], where the brute force is exact: every pattern reaches 2, p = 1.
  const d = [0.5, -0.2, 0, -0.5];
  t.ok(Math.abs(0.5 - 0.2 + 0 - 0.5) > Math.abs(-0.5 - 0.2 + 0 + 0.5), 'the float sums differ');
  t.equal(bruteForceP([5, -2, 0, -5]), 1);
  t.equal(signFlipPValue(d, { seed: 1 })?.p, 1);
});

t.test('more than exactUpTo differences switch to a seeded Monte Carlo', async (t) => {
  const twenty = Array.from({ length: 20 }, (_, i) => ((i * 7) % 5) - 1.5);
  const exact = signFlipPValue(twenty, { seed: 1 })!;
  t.equal(exact.method, 'exact_sign_flip', 'n = 20 is still exact');
  t.equal(exact.permutations, 2 ** 20);

  const twentyOne = [...twenty, 2];
  const sampled = signFlipPValue(twentyOne, { seed: 1 })!;
  t.equal(sampled.method, 'monte_carlo_sign_flip', 'n = 21 is sampled');
  t.equal(sampled.permutations, 10_000);
  t.strictSame(signFlipPValue(twentyOne, { seed: 1 }), sampled, 'reproducible for a seed');
  t.not(signFlipPValue(twentyOne, { seed: 2 })?.p, sampled.p, 'another seed, another estimate');
  t.equal(signFlipPValue(twentyOne, { seed: 1, exactUpTo: 21 })?.method, 'exact_sign_flip', 'exactUpTo moves the switch');
  t.strictSame(signFlipPValue(twentyOne, { seed: 1, permutations: 99 })?.permutations, 99);
});

t.test('the Monte Carlo p is within 0.01 of the exact p', async (t) => {
  // 14 rubric-like gains with an exact p near 0.05 (760/16384 ≈ 0.0464 by brute force in quarters),
  // where the Monte Carlo SE is √(0.046·0.954/10,000) ≈ 0.0021, so 0.01 is almost 5 SE.
  const d = [1, -0.25, -0.25, 0.5, 0.75, 1, 1, 0.75, 0.5, 0.75, -0.5, -0.25, 0.75, -0.5];
  const exact = signFlipPValue(d, { seed: 1 })!;
  t.equal(exact.p, bruteForceP(d.map((value) => value * 4)), 'exact agrees with the brute force in quarters');
  t.equal(exact.p, 760 / 16384);
  for (const seed of [1, 2, 3]) {
    const sampled = signFlipPValue(d, { seed, exactUpTo: 0 })!;
    t.equal(sampled.method, 'monte_carlo_sign_flip');
    t.ok(Math.abs(sampled.p - exact.p) <= 0.01, `seed ${seed}: Monte Carlo ${sampled.p} vs exact ${exact.p}`);
  }
  // (1 + hits) / (1 + B) is never 0, even when no random pattern is as extreme.
  t.equal(signFlipPValue(new Array(30).fill(1), { seed: 1, permutations: 100 })?.p, 1 / 101);
});

t.test('no differences give no p; bad options are refused', async (t) => {
  t.equal(signFlipPValue([], { seed: 1 }), null);
  t.throws(() => signFlipPValue([], { seed: -1 }), RangeError, 'the seed is checked even when unused');
  t.throws(() => signFlipPValue([1], { seed: 1, exactUpTo: 25 }), { name: 'RangeError', message: /exactUpTo/ }, '2^25 patterns would stall a request');
  t.throws(() => signFlipPValue([1], { seed: 1, exactUpTo: -1 }), RangeError);
  t.throws(() => signFlipPValue([1], { seed: 1, exactUpTo: 2.5 }), RangeError);
  t.throws(() => signFlipPValue([1], { seed: 1, permutations: 0 }), RangeError);
  t.throws(() => signFlipPValue([1, Number.NaN], { seed: 1 }), RangeError);
});
