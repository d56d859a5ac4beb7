import t from 'tap';
import { MEAN_AXIS_TITLE, renderQualityChartSvg, renderSvg, type ChartSummary } from '../src/export/chart.js';
import type { ModelSummary, PairedGain, SummaryCompleteness, SummarySection } from '../src/export/summary.js';
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

const section = (models: ModelSummary[], comparisons: PairedGain[] = [], items = 10): SummarySection => ({ items, models, comparisons, pairwise: [] });

/** A run's summary as the chart reads it: every item unseen unless an unseen section is given. */
const summaryOf = (
  all: SummarySection,
  { unseen, scorer = 'judge', completeness }: { unseen?: SummarySection; scorer?: ChartSummary['provenance']['scorer']; completeness?: SummaryCompleteness } = {},
): ChartSummary => ({
  completeness: completeness ?? { run_status: 'completed', items: all.items, finished: all.items, partial: false },
  headline: unseen ? 'unseen' : 'all',
  all,
  unseen: unseen ?? all,
  provenance: { scorer },
});

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
  const svg = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST])));
  assertWellFormedSvg(t, svg);
  t.match(svg, 'Mean rubric score by model');
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
    drawn.find((bar) => bar.get('measure') === measure && bar.get('model') === alias)?.get(MEAN_AXIS_TITLE);
  t.equal(valueOf('Accuracy', 'fine-tuned'), '3.62');
  t.match(valueOf('Weighted', 'generalist'), /^2\.92/);
  t.match(svg, '>3.85</text>', 'bars carry their value rounded for display');
  t.match(svg, '>2.92</text>', 'rounded like the summary table');
  t.notMatch(svg, '>2.93</text>');
});

t.test('the title says what is compared: the models, the scorer and the items; the axis is the rubric\'s 1-5', async (t) => {
  const svg = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST], [], 36), { scorer: 'heuristic' }), { runId: 'run_20261124T235900Z_ab12cd' });
  assertWellFormedSvg(t, svg);
  t.match(svg, '>fine-tuned vs generalist · heuristic scorer · 36 items</text>');
  t.match(svg, 'Run run_20261124T235900Z_ab12cd', 'the run id is still there, under the title');
  t.match(svg, 'No item is a copy of a training inquiry: every item is shown.');
  t.equal(MEAN_AXIS_TITLE, 'Mean score (rubric 1-5)');
  t.match(svg, `>${MEAN_AXIS_TITLE}</text>`);
  t.notMatch(svg, '0-5');
  // The mean axis alone (no gain panel here): its ticks are the rubric's levels, and there is no level 0.
  const ticks = [...svg.matchAll(/aria-roledescription="axis"[^>]*aria-label="Y-axis titled '([^']*)'[^"]*"/g)].map(([, title]) => title);
  t.same(ticks, [MEAN_AXIS_TITLE]);
  t.match(svg, /Y-axis titled 'Mean score \(rubric 1-5\)' for a linear scale with values from 1 to 5/);

  const three = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST, modelSummary('retrieval', null)], [], 1), { scorer: 'none' }));
  t.match(three, '>fine-tuned vs generalist, retrieval · not scored · 1 item</text>');
});

t.test('when some items were in training, the unseen items (the headline) and all items stand side by side, each headed with its items', async (t) => {
  const unseenFineTuned = modelSummary('fine-tuned', { accuracy: 3.1, actionability: 4.2, completeness: 3.3, safety_tone: 4.4, weighted: 3.55 });
  const svg = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST]), { unseen: section([unseenFineTuned, GENERALIST], [], 8) }));
  assertWellFormedSvg(t, svg);
  t.match(svg, '>fine-tuned vs generalist · judge scorer · 10 items</text>');
  t.match(svg, '2 of 10 items are copies of training inquiries: left, the items not in the training set (the headline); right, all items.');
  t.match(svg, '>Headline: items not in the training set (8 items)</text>');
  t.match(svg, '>All items (10 items)</text>');
  const drawn = bars(svg);
  t.equal(drawn.length, 20, 'ten bars for each');
  t.match(svg, '>3.55</text>', 'the unseen weighted mean');
  t.match(svg, '>3.85</text>', 'and the weighted mean over all items');
  t.equal(svg.match(/>Model<\/text>/g)?.length, 1, 'one legend: a model has one colour in both');
});

t.test('a run cut short says so under the title', async (t) => {
  const completeness: SummaryCompleteness = { run_status: 'cancelled', items: 5000, finished: 443, partial: true };
  const svg = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST], [], 445), { completeness }));
  t.match(svg, 'Partial: 443 of 5,000 items finished; the run was cancelled.');
  const whole = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST])));
  t.notMatch(whole, 'Partial');
});

t.test('a model with nothing scored is left out of the chart', async (t) => {
  const svg = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, modelSummary('retrieval', null), GENERALIST])));
  assertWellFormedSvg(t, svg);
  t.equal(bars(svg).length, 10);
  t.notMatch(svg, />retrieval</, 'no bar and no legend entry (the title names every model of the run)');
  t.match(svg, 'Mean rubric score by model');
});

t.test('nothing scored still gives a valid SVG that says so', async (t) => {
  const svg = await renderQualityChartSvg(summaryOf(section([modelSummary('fine-tuned', null)])));
  assertWellFormedSvg(t, svg);
  t.equal(bars(svg).length, 0);
  t.match(svg, 'no scored results');
  for (const label of MEASURE_LABELS) t.match(svg, `>${label}</text>`);

  const empty = await renderQualityChartSvg(summaryOf(section([FINE_TUNED]), { unseen: section([], [], 0) }));
  assertWellFormedSvg(t, empty);
  t.match(empty, 'Headline: items not in the training set (0 items): no scored results');
});

t.test('charts are drawn on the renderer thread: several at once each get their own SVG, and a bad spec fails alone', async (t) => {
  const titles = ['run_first', 'run_second', 'run_third'];
  const [bad, ...svgs] = await Promise.allSettled([
    renderSvg({ data: { values: [] }, mark: 'no-such-mark' } as never),
    ...titles.map((runId) => renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST])), { runId })),
  ]);
  t.equal(bad?.status, 'rejected');
  t.match((bad as PromiseRejectedResult).reason.message, /^the chart could not be drawn: \S/);
  titles.forEach((title, index) => {
    const drawn = svgs[index] as PromiseFulfilledResult<string>;
    t.equal(drawn.status, 'fulfilled');
    t.match(drawn.value, new RegExp(`>Run ${title}<`));
  });
});

t.test('the paired gains are drawn under the means, each with its 95% interval as a whisker', async (t) => {
  const differences = [0.9, 0.9, 0.9, 0.9, 0.9, 1.15, 0, -0.25, 1.9, 0.9];
  const comparison = comparePaired(differences, { seed: 1, resamples: 2000, tieBand: 0.2 });
  const measures = { accuracy: comparison, actionability: comparison, completeness: comparison, safety_tone: comparison, weighted: comparison };
  const gain: PairedGain = { first: 'fine-tuned', second: 'generalist', measures, headline: '', cautions: [] };
  const svg = await renderQualityChartSvg(summaryOf(section([FINE_TUNED, GENERALIST], [gain])));
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
