import t from 'tap';
import { wilsonInterval } from '../src/stats/proportion.js';

const near = (actual: number | undefined, expected: number, tolerance = 1e-6) => actual !== undefined && Math.abs(actual - expected) <= tolerance;

t.test('8 of 10 at 95%: 0.490 to 0.943', async (t) => {
  // z = 1.959964, z² = 3.841459, z²/n = 0.384146, so the divisor is 1.384146.
  // centre = (0.8 + 3.841459/20) / 1.384146 = 0.992073 / 1.384146 = 0.716740
  // half = (1.959964 / 1.384146) · √(0.8·0.2/10 + 3.841459/400) = 1.416009 · √0.025604 = 0.226578
  // → [0.490162, 0.943318], the 0.490 to 0.943 usually quoted for 8/10.
  const interval = wilsonInterval(8, 10);
  t.ok(near(interval?.low, 0.490162), `low ${interval?.low}`);
  t.ok(near(interval?.high, 0.943318), `high ${interval?.high}`);
});

t.test('the ends are exact at 0/n and n/n, where p̂ ± z·se would collapse', async (t) => {
  // 0/10: low 0, high = (z²/n)/(1 + z²/n) = 0.384146/1.384146 = 0.277533.
  const none = wilsonInterval(0, 10);
  t.equal(none?.low, 0);
  t.ok(near(none?.high, 0.277533), `high ${none?.high}`);
  const all = wilsonInterval(10, 10);
  t.equal(all?.high, 1, 'exactly 1, not 0.9999999999999999');
  t.ok(near(all?.low, 1 - 0.277533), `low ${all?.low}`);
});

t.test('a higher level widens the interval; n = 0 has none', async (t) => {
  const ninety = wilsonInterval(8, 10, 0.9)!;
  const ninetyNine = wilsonInterval(8, 10, 0.99)!;
  t.ok(ninetyNine.low < ninety.low && ninetyNine.high > ninety.high);
  t.equal(wilsonInterval(0, 0), null);
});

t.test('impossible counts are refused', async (t) => {
  t.throws(() => wilsonInterval(11, 10), RangeError);
  t.throws(() => wilsonInterval(-1, 10), RangeError);
  t.throws(() => wilsonInterval(2.5, 10), RangeError);
  t.throws(() => wilsonInterval(0, -1), RangeError);
  t.throws(() => wilsonInterval(0, 1.5), RangeError);
  t.throws(() => wilsonInterval(1, 2, 1), RangeError);
});
