import t from 'tap';
import { gateVerdicts, type GateOptions } from '../src/export/gain-gate.js';
import { headlineInterval } from '../src/export/gain-words.js';
import type { PairedGain, RunSummary } from '../src/export/summary.js';
import { byMeasure } from '../src/scoring/rubric.js';
import { comparePaired } from '../src/stats/paired.js';

/** The paired gain of fine-tuned over `second` with these per-item differences (every measure alike: the gate reads the weighted one). */
function gain(second: string, differences: number[]): PairedGain {
  const compared = comparePaired(differences, { seed: 7, resamples: 2000, tieBand: 0 });
  return { first: 'fine-tuned', second, measures: byMeasure(() => compared), headline: '', cautions: [] };
}

/** Only what the gate reads of a summary: which section heads it, and each section's comparisons. */
const summaryWith = (headline: RunSummary['headline'], comparisons: { all: PairedGain[]; unseen: PairedGain[] }) =>
  ({ headline, all: { comparisons: comparisons.all }, unseen: { comparisons: comparisons.unseen } }) as unknown as RunSummary;

const gate = (gains: PairedGain[], options: Partial<GateOptions> = {}) =>
  gateVerdicts(summaryWith('all', { all: gains, unseen: [] }), { margin: 0, allowNoInterval: false, ...options });

t.test('a comparison fails when its whole interval lies below the margin, and passes when the upper end is not below it', async (t) => {
  const worse = gain('baseline', [-1, -0.5, -1.5, -1, -0.8]);
  const interval = headlineInterval(worse.measures.weighted);
  t.ok(interval && interval.high < 0, 'the fixture is significantly worse');
  t.match(gate([worse]), [
    {
      first: 'fine-tuned',
      second: 'baseline',
      passed: false,
      reason: /^gate failed: fine-tuned vs baseline \(all items\): weighted gain -0\.96, 95% CI -1\.\d\d to -0\.\d\d \(5 pairs\); the upper end -0\.\d\d lies below the margin 0\.00: fine-tuned is significantly worse than baseline$/,
    },
  ]);
  t.match(gate([worse], { margin: -3 }), [{ passed: true, reason: /; the upper end -0\.\d\d is at or above the margin -3\.00$/ }]);
  t.match(gate([worse], { margin: -0.25 }), [{ passed: false, reason: /: fine-tuned is significantly worse than baseline by more than the 0\.25 the margin tolerates$/ }]);
  t.match(gate([gain('baseline', [-1, 1, 0.5, -0.5])]), [{ passed: true }], 'an interval across 0 shows no loss');
  t.match(gate([gain('baseline', [0.1, 0.2, 0.1, 0.15])], { margin: 0.5 }), [
    { passed: false, reason: /lies below the margin \+0\.50: fine-tuned is significantly short of a \+0\.50 gain over baseline$/ },
  ]);
});

t.test('an upper end equal to the margin but for float rounding passes', async (t) => {
  const almost = 0.7 - 0.4;
  const comparison = gain('baseline', [almost, almost, almost]);
  t.ok((headlineInterval(comparison.measures.weighted)?.high ?? 1) < 0.3, 'the fixture sits a rounding error below 0.3');
  t.match(gate([comparison], { margin: 0.3 }), [{ passed: true }]);
});

t.test('without an interval (fewer than 2 pairs) the gate fails, unless told to pass', async (t) => {
  for (const differences of [[], [-3]]) {
    const n = differences.length;
    const [failed] = gate([gain('baseline', differences)]);
    t.equal(failed?.passed, false, `${n} pairs`);
    t.equal(
      failed?.reason,
      `gate failed: fine-tuned vs baseline (all items): no 95% interval of the weighted gain from ${n} pair${n === 1 ? '' : 's'} (an interval needs 2 or more); score more items, or pass --gate-allow-no-interval`,
    );
    const [allowed] = gate([gain('baseline', differences)], { allowNoInterval: true });
    t.equal(allowed?.passed, true);
    t.match(allowed?.reason, /^gate passed: .*; passed because of --gate-allow-no-interval$/);
  }
});

t.test('the gate reads the headline section, and judges each comparison on its own', async (t) => {
  const seenFlattered = summaryWith('unseen', {
    all: [gain('baseline', [1, 1.5, 0.5, 1])],
    unseen: [gain('baseline', [-1, -1.5, -0.5, -1]), gain('retrieval', [0.5, 1, -0.5, 0])],
  });
  const verdicts = gateVerdicts(seenFlattered, { margin: 0, allowNoInterval: false });
  t.match(verdicts, [
    { second: 'baseline', passed: false, reason: /^gate failed: fine-tuned vs baseline \(unseen items\): weighted gain -1\.00/ },
    { second: 'retrieval', passed: true, reason: /^gate passed: fine-tuned vs retrieval \(unseen items\)/ },
  ]);
  t.match(gateVerdicts({ ...seenFlattered, headline: 'all' }, { margin: 0, allowNoInterval: false }), [{ second: 'baseline', passed: true, reason: /\(all items\)/ }]);
});
