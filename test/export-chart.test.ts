import t from 'tap';
import { renderQualityChartSvg, renderSvg } from '../src/export/chart.js';
import type { ModelSummary, PairedGain, SummarySection } from '../src/export/summary.js';
import { DEFAULT_RUBRIC_WEIGHTS, weightedScore } from '../src/scoring/rubric.js';
import { comparePaired } from '../src/stats/paired.js';

const modelSummary = (alias: string, means: ModelSummary['means']): ModelSummary => ({
  alias,
  model_id: `${alias}-id`,
  n: 10,
  scored: means ? 10 : 0,
  failed: 0,
  unscored_no_reference: 0,
  means,
  means_n: { accuracy: 10, actionability: 10, completeness: 10, safety_tone: 10, weighted: 10 },
  safety_gate: { max_level: 2, count: 0, item_ids: [] },
  latency_ms: null,
  tokens: { input: 0, output: 0 },
  estimated_cost_usd: null,
});

const FINE_TUNED = modelSummary('fine-tuned', {
  accuracy: 3.62,
  actionability: 4.74,
  completeness: 3.24,
  safety_tone: 4.11,
  weighted: 3.854,
});
const GENERALIST_SCORES = { accuracy: 3, actionability: 2.5, completeness: 2.8, safety_tone: 4 };
// weightedScore lands on 2.9250000000000003 here, which the case study shows as 2.92.
const GENERALIST = modelSummary('generalist', {
  ...GENERALIST_SCORES,
  weighted: weightedScore(GENERALIST_SCORES, DEFAULT_RUBRIC_WEIGHTS),
});

const section = (models: ModelSummary[], comparisons: PairedGain[] = []): SummarySection => ({ items: 10, models, comparisons, pairwise: [] });

const MEASURE_LABELS = ['Accuracy', 'Actionability', 'Completeness', 'Safety/tone', 'Weighted'];

/** Every tag closes in order: enough to tell a whole SVG document from a truncated or mangled one. */
function assertWellFormedSvg(t: Pick<typeof import('tap').default, 'ok' | 'equal' | 'match'>, svg: string) {
  t.match(svg, /^<svg[\s>]/);
  t.match(svg, /<svg[^>]*\sxmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /<\/svg>\s*$/);
  const open: string[] = [];
  let mismatch: string | null = null;
  for (const [tag, closing, name, selfClosing] of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)(?:\s[^<>]*?)?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!closing) open.push(name ?? '');
    else if (open.pop() !== name) mismatch ??= tag;
  }
  t.equal(mismatch, null, 'every closing tag matches its opening tag');
  t.equal(open.length, 0, 'no tag is left open');
  t.ok(!/<(?![A-Za-z/!?])/.test(svg), 'no stray < outside a tag');
}

/** The bars of the chart, read from the accessible label vega writes on each bar ("measure: Accuracy; ...; model: x"). */
const bars = (svg: string) =>
  [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="bar"/g)].map(
    ([, label = '']) => new Map(label.split('; ').map((pair) => pair.split(': ', 2) as [string, string])),
  );

t.test('two models: one bar per model and measure, labelled, with a legend', async (t) => {
  const svg = await renderQualityChartSvg(section([FINE_TUNED, GENERALIST]), { title: 'Quality, all items' });
  assertWellFormedSvg(t, svg);
  t.match(svg, 'Quality, all items');
  for (const label of MEASURE_LABELS) t.match(svg, `>${label}</text>`);
  for (const alias of ['fine-tuned', 'generalist']) t.match(svg, `>${alias}</text>`, `legend names ${alias}`);

  const drawn = bars(svg);
  t.equal(drawn.length, 10);
  for (const alias of ['fine-tuned', 'generalist']) {
    for (const measure of MEASURE_LABELS) {
      t.equal(drawn.filter((bar) => bar.get('measure') === measure && bar.get('model') === alias).length, 1);
    }
  }
  const valueOf = (measure: string, alias: string) =>
    drawn.find((bar) => bar.get('measure') === measure && bar.get('model') === alias)?.get('Mean score (0-5)');
  t.equal(valueOf('Accuracy', 'fine-tuned'), '3.62');
  t.match(valueOf('Weighted', 'generalist'), /^2\.92/);
  t.match(svg, '>3.85</text>', 'bars carry their value rounded for display');
  t.match(svg, '>2.92</text>', 'rounded like the summary table');
  t.notMatch(svg, '>2.93</text>');
});

t.test('a model with nothing scored is left out of the chart', async (t) => {
  const svg = await renderQualityChartSvg(section([FINE_TUNED, modelSummary('retrieval', null), GENERALIST]));
  assertWellFormedSvg(t, svg);
  t.equal(bars(svg).length, 10);
  t.notMatch(svg, 'retrieval');
  t.match(svg, 'Mean rubric score by model');
});

t.test('nothing scored still gives a valid SVG that says so', async (t) => {
  const svg = await renderQualityChartSvg(section([modelSummary('fine-tuned', null)]));
  assertWellFormedSvg(t, svg);
  t.equal(bars(svg).length, 0);
  t.match(svg, 'no scored results');
  for (const label of MEASURE_LABELS) t.match(svg, `>${label}</text>`);

  const empty = await renderQualityChartSvg(section([]), { title: 'Unseen items' });
  assertWellFormedSvg(t, empty);
  t.match(empty, 'Unseen items: no scored results');
});

t.test('charts are drawn on the renderer thread: several at once each get their own SVG, and a bad spec fails alone', async (t) => {
  const titles = ['first', 'second', 'third'];
  const [bad, ...svgs] = await Promise.allSettled([
    renderSvg({ data: { values: [] }, mark: 'no-such-mark' } as never),
    ...titles.map((title) => renderQualityChartSvg(section([FINE_TUNED, GENERALIST]), { title })),
  ]);
  t.equal(bad?.status, 'rejected');
  t.match((bad as PromiseRejectedResult).reason.message, /^the chart could not be drawn: \S/);
  titles.forEach((title, index) => {
    const drawn = svgs[index] as PromiseFulfilledResult<string>;
    t.equal(drawn.status, 'fulfilled');
    t.match(drawn.value, new RegExp(`>${title}<`));
  });
});

t.test('the paired gains are drawn under the means, each with its 95% interval as a whisker', async (t) => {
  const differences = [0.9, 0.9, 0.9, 0.9, 0.9, 1.15, 0, -0.25, 1.9, 0.9];
  const comparison = comparePaired(differences, { seed: 1, resamples: 2000, tieBand: 0.2 });
  const measures = { accuracy: comparison, actionability: comparison, completeness: comparison, safety_tone: comparison, weighted: comparison };
  const gain: PairedGain = { first: 'fine-tuned', second: 'generalist', measures, headline: '', cautions: [] };
  const svg = await renderQualityChartSvg(section([FINE_TUNED, GENERALIST], [gain]));
  assertWellFormedSvg(t, svg);
  t.match(svg, 'Paired gain with 95% interval (whiskers)');
  t.equal(bars(svg).length, 15, 'ten bars of means and five of gains');
  const whiskers = [...svg.matchAll(/<line aria-label="measure: ([^;]+); low: ([-\d.]+); high: ([-\d.]+); comparison: fine-tuned − generalist" role="graphics-symbol" aria-roledescription="rule mark"/g)];
  t.equal(whiskers.length, 5, 'a whisker per measure');
  const interval = comparison.ci95_bootstrap!;
  for (const [, , low, high] of whiskers) {
    t.ok(Math.abs(Number(low) - interval.low) < 1e-3 && Math.abs(Number(high) - interval.high) < 1e-3, `whisker ${low} to ${high}`);
  }
  t.match(svg, '>+0.82</text>', 'gain bars carry their signed value');
});
