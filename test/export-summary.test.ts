import t from 'tap';
import { renderSummaryMarkdown } from '../src/export/summary-markdown.js';
import { createSummaryAccumulator, summarizeResults, type RunProvenance, type SummaryOptions } from '../src/export/summary.js';
import type { TrainingOverlap } from '../src/data/near-duplicate.js';
import type { PairwiseResult, RunResult } from '../src/runs/run-result.js';
import { DEFAULT_RUBRIC_WEIGHTS, WEIGHTED_TIE_BAND, weightedScore, type RubricScores } from '../src/scoring/rubric.js';
import type { PairwiseVerdict } from '../src/scoring/pairwise-judge.js';

type Grades = [accuracy: number | null, actionability: number, completeness: number | null, safety_tone: number];

const scores = ([accuracy, actionability, completeness, safety_tone]: Grades): RubricScores => {
  const criteria = { accuracy, actionability, completeness, safety_tone };
  return {
    ...criteria,
    weighted: weightedScore(criteria, DEFAULT_RUBRIC_WEIGHTS),
    rationale: { accuracy: '', actionability: '', completeness: '', safety_tone: '' },
    scorer: 'heuristic',
    reference_source: accuracy === null ? 'none' : 'given',
    unscored_reason: accuracy === null ? 'no_reference' : null,
    sample_sd: null,
    provenance: {
      scorer: 'heuristic',
      judge_alias: null,
      judge_model_id: null,
      judge_samples: null,
      prompt_sha256: 'rules',
      weights: DEFAULT_RUBRIC_WEIGHTS,
      service_version: 'test',
    },
  };
};

const MODEL_IDS: Record<string, string> = { 'fine-tuned': 'ft:mini:acme', baseline: 'mini', retrieval: 'mini+kb' };

function result(
  item_id: string,
  model_alias: string,
  fields: { grades?: Grades; latency?: number | null; tokens?: [number, number] | null; in_training?: TrainingOverlap } & Partial<RunResult> = {},
): RunResult {
  const { grades, latency = 100, tokens = [10, 20], ...rest } = fields;
  return {
    run_id: 'run-1',
    item_id,
    inquiry: `inquiry ${item_id}`,
    category: null,
    reference: grades?.[0] === null ? null : 'the reference',
    in_training: 'none',
    training_line: null,
    training_similarity: null,
    model_alias,
    model_id: MODEL_IDS[model_alias] ?? 'unknown',
    answer: 'an answer',
    answer_status: 'completed',
    tokens_in: tokens?.[0] ?? null,
    tokens_out: tokens?.[1] ?? null,
    latency_ms: latency,
    cache_hit: false,
    scores: grades ? scores(grades) : null,
    outcome: grades ? 'scored' : 'unscored',
    error: null,
    finished_at: '2026-06-01T10:00:00.000Z',
    ...rest,
  };
}

const failed = (item_id: string, model_alias: string, stage: 'answer' | 'score' = 'answer'): RunResult =>
  result(item_id, model_alias, { outcome: 'failed', scores: null, answer: null, error: { stage, code: 'upstream_timeout', message: 'timed out' } });

const PROVENANCE: RunProvenance = {
  scorer: 'heuristic',
  judge_alias: null,
  judge_model_id: null,
  judge_samples: null,
  prompt_sha256: 'rules',
  weights: DEFAULT_RUBRIC_WEIGHTS,
  service_version: 'test',
  bootstrap: { seed: 7, resamples: 2000, method: 'bca' },
  weighted_tie_band: WEIGHTED_TIE_BAND,
  target_half_width: 0.25,
};

const OPTIONS: SummaryOptions = {
  models: [
    { alias: 'fine-tuned', model_id: 'ft:mini:acme' },
    { alias: 'baseline', model_id: 'mini' },
  ],
  weights: DEFAULT_RUBRIC_WEIGHTS,
  pricing: { 'fine-tuned': { input_per_million: 3, output_per_million: 12 } },
  provenance: PROVENANCE,
  heuristicAgreement: { calibration: { pairs: 86, agreement: 0.85 }, holdout: { pairs: 32, agreement: 0.78 }, note: 'screening' },
};

const near = (actual: number | null | undefined, expected: number) => actual !== null && actual !== undefined && Math.abs(actual - expected) < 1e-9;

t.test('a model failing a hard item no longer shifts the gain: differences are paired item by item', async (t) => {
  // The constructed case: both score 4 everywhere, fine-tuned fails the hard item that baseline scores 1.
  const results = [
    ...['a', 'b', 'c'].flatMap((id) => [result(id, 'fine-tuned', { grades: [4, 4, 4, 4] }), result(id, 'baseline', { grades: [4, 4, 4, 4] })]),
    failed('hard', 'fine-tuned'),
    result('hard', 'baseline', { grades: [1, 1, 1, 1] }),
  ];
  const summary = summarizeResults(results, OPTIONS);
  const [fineTuned, baseline] = summary.all.models;
  t.ok(near((fineTuned?.means?.weighted ?? 0) - (baseline?.means?.weighted ?? 0), 0.75), 'the difference of means would say +0.75');
  const [gain] = summary.all.comparisons;
  t.equal(gain?.measures.weighted.n_pairs, 3);
  t.equal(gain?.measures.weighted.mean_difference, 0);
  t.same([gain?.measures.weighted.wins, gain?.measures.weighted.ties, gain?.measures.weighted.losses], [0, 3, 0]);
  t.equal(gain?.headline.startsWith('0.00 ('), true, String(gain?.headline));
  t.match(gain?.headline, '3 pairs');
  t.match(gain?.cautions.join(' '), 'Only 3 pairs');
});

/** Ten items whose weighted differences (fine-tuned − baseline) are known. */
function tenItems(): RunResult[] {
  // Per item: fine-tuned and baseline grades; weighted differences 0.9 (x5), 1.15, 0 (tie), -0.25 (a loss: beyond the 0.2 band), 1.9, 0.9.
  const plan: Array<[Grades, Grades]> = [
    [[5, 5, 4, 5], [4, 4, 3, 5]],
    [[5, 5, 4, 5], [4, 4, 3, 5]],
    [[5, 5, 4, 5], [4, 4, 3, 5]],
    [[4, 5, 4, 5], [3, 4, 3, 5]],
    [[4, 5, 4, 5], [3, 4, 3, 5]],
    [[5, 5, 5, 5], [4, 3, 4, 5]],
    [[3, 3, 3, 5], [3, 3, 3, 5]],
    [[3, 3, 3, 5], [3, 4, 3, 5]],
    [[5, 5, 5, 5], [3, 3, 3, 4]],
    [[4, 5, 4, 4], [3, 3, 4, 4]],
  ];
  return plan.flatMap(([first, second], index) => {
    const id = `item-${String(index + 1).padStart(2, '0')}`;
    return [result(id, 'fine-tuned', { grades: first }), result(id, 'baseline', { grades: second })];
  });
}

t.test('ten pairs: mean difference, both intervals, W/T/L with the tie band, p-value, and the cautions in words', async (t) => {
  const summary = summarizeResults(tenItems(), OPTIONS);
  const [gain] = summary.all.comparisons;
  const weighted = gain!.measures.weighted;
  t.equal(weighted.n_pairs, 10);
  t.ok(near(weighted.mean_difference, (0.9 * 6 + 1.15 + 0 - 0.25 + 1.9) / 10), `mean ${weighted.mean_difference}`);
  t.same([weighted.wins, weighted.ties, weighted.losses], [8, 1, 1]);
  t.ok(weighted.ci95_t && weighted.ci95_t.low < weighted.mean_difference! && weighted.ci95_t.high > weighted.mean_difference!);
  t.equal(weighted.ci95_bootstrap?.seed, 7);
  t.equal(weighted.ci95_bootstrap?.resamples, 2000);
  t.equal(weighted.p_method, 'exact_sign_flip');
  t.ok(weighted.p_value !== null && weighted.p_value < 0.05);
  t.match(gain!.headline, /^\+0\.82 \(95% CI \+\d\.\d\d to \+\d\.\d\d, 10 pairs, W\/T\/L 8\/1\/1, p = 0\.0\d+\)$/);
  const cautions = gain!.cautions.join('\n');
  t.match(cautions, 'Only 10 pairs (fewer than 30)');
  t.match(cautions, /a ±0\.25 interval would need about \d+ paired items/);
  t.notMatch(cautions, 'contains 0', 'this interval does not contain 0');
  // Per criterion too: accuracy differences are whole levels.
  t.equal(gain!.measures.accuracy.n_pairs, 10);
  t.equal(gain!.measures.accuracy.ties, 2);
});

t.test('an interval that contains 0 is said in words', async (t) => {
  const results = [
    ...tenItems().slice(0, 4),
    ...['x', 'y', 'z'].flatMap((id) => [result(id, 'fine-tuned', { grades: [2, 2, 2, 5] }), result(id, 'baseline', { grades: [4, 4, 4, 5] })]),
  ];
  const [gain] = summarizeResults(results, OPTIONS).all.comparisons;
  t.match(gain!.cautions.join(' '), 'The 95% interval contains 0: this run does not show a difference between fine-tuned and baseline');
});

t.test('same seed, same results: byte-identical summary, whatever order the results were written in; another seed moves the bootstrap only', async (t) => {
  const results = tenItems();
  const once = JSON.stringify(summarizeResults(results, OPTIONS));
  const shuffled = [...results].reverse();
  t.equal(JSON.stringify(summarizeResults(shuffled, OPTIONS)), once);
  const reseeded = summarizeResults(results, { ...OPTIONS, provenance: { ...PROVENANCE, bootstrap: { ...PROVENANCE.bootstrap, seed: 8 } } });
  const before = JSON.parse(once) as ReturnType<typeof summarizeResults>;
  t.not(JSON.stringify(reseeded.all.comparisons[0]?.measures.weighted.ci95_bootstrap), JSON.stringify(before.all.comparisons[0]?.measures.weighted.ci95_bootstrap));
  t.same(reseeded.all.comparisons[0]?.measures.weighted.ci95_t, before.all.comparisons[0]?.measures.weighted.ci95_t);
});

t.test('unseen excludes exact and near copies of training inquiries and becomes the headline', async (t) => {
  const results = tenItems().map((r) => (r.item_id === 'item-01' ? { ...r, in_training: 'exact' as const } : r.item_id === 'item-02' ? { ...r, in_training: 'near' as const } : r));
  const summary = summarizeResults(results, OPTIONS);
  t.equal(summary.headline, 'unseen');
  t.same(summary.contamination, { exact: 1, near: 1, none: 8 });
  t.equal(summary.all.items, 10);
  t.equal(summary.unseen.items, 8);
  t.equal(summary.unseen.comparisons[0]?.measures.weighted.n_pairs, 8);
  t.equal(summarizeResults(tenItems(), OPTIONS).headline, 'all');

  const markdown = renderSummaryMarkdown(summary, { run_id: 'run-1', created_at: 'now', source: 'inline' });
  const headline = markdown.indexOf('## Headline: items not in the training set (8 items)');
  const all = markdown.indexOf('## All items (10 items)');
  t.ok(headline > 0 && all > headline, 'the unseen section comes first, all items after it');
  t.match(markdown, '2 of 10 items are copies of training inquiries (1 exact, 1 near)');
});

t.test('a run cut short says so at the top of its Markdown, and its summary says how much it covers', async (t) => {
  const options = { ...OPTIONS, plannedItems: 5000 };
  // Ten items answered by both models, one by the first only: it is not finished.
  const results = [...tenItems(), result('item-11', 'fine-tuned', { grades: [4, 4, 4, 4] })];
  const meta = { run_id: 'run-1', created_at: 'now', source: 'inline' };
  const cancelled = summarizeResults(results, options, [], 'cancelled');
  t.same(cancelled.completeness, { run_status: 'cancelled', items: 5000, finished: 10, partial: true });
  const markdown = renderSummaryMarkdown(cancelled, meta);
  t.ok(
    markdown.startsWith('# Evaluation run run-1\n\n**Partial: 10 of 5,000 items finished; the run was cancelled.** The numbers below cover only the answers finished so far.\n'),
    markdown.slice(0, 200),
  );
  t.match(renderSummaryMarkdown(summarizeResults(results, options, [], 'running'), meta), '**Partial: 10 of 5,000 items finished; the run is running.**');
  t.equal(JSON.stringify(summarizeResults([...results].reverse(), options, [], 'cancelled')), JSON.stringify(cancelled), 'still byte for byte the same');

  const whole = summarizeResults(tenItems(), { ...OPTIONS, plannedItems: 10 });
  t.same(whole.completeness, { run_status: 'completed', items: 10, finished: 10, partial: false });
  t.notMatch(renderSummaryMarkdown(whole, meta), 'Partial');
  t.same(Object.keys(whole)[0], 'completeness', 'the first thing summary.json says');
});

t.test('safety is a gate: answers at or below 2 are counted and listed per model, and shown above the weighted score', async (t) => {
  const results = [
    ...tenItems(),
    result('item-11', 'fine-tuned', { grades: [5, 5, 5, 1] }),
    result('item-11', 'baseline', { grades: [3, 3, 3, 5] }),
    result('item-12', 'fine-tuned', { grades: [5, 5, 5, 2] }),
    result('item-12', 'baseline', { grades: [3, 3, 3, 3] }),
  ];
  const summary = summarizeResults(results, OPTIONS);
  const [fineTuned, baseline] = summary.all.models;
  t.same(fineTuned?.safety_gate, { max_level: 2, count: 2, item_ids: ['item-11', 'item-12'] });
  t.same(baseline?.safety_gate, { max_level: 2, count: 0, item_ids: [] });
  const markdown = renderSummaryMarkdown(summary, { run_id: 'run-1', created_at: 'now', source: 'inline' });
  t.match(markdown, '**fine-tuned: 2 of 12 answers** (item-11, item-12)');
  t.ok(markdown.indexOf('**Safety gate**') < markdown.indexOf('weighted score:'), 'the gate is above the weighted score');
});

t.test('items without a reference: unscored, not failed; reference coverage k/n; the paired weighted gain leaves them out', async (t) => {
  const results = [
    ...tenItems().slice(0, 6),
    result('item-20', 'fine-tuned', { grades: [null, 5, null, 5] }),
    result('item-20', 'baseline', { grades: [null, 2, null, 5] }),
    { ...failed('item-21', 'baseline', 'score'), reference: null },
    result('item-21', 'fine-tuned', { grades: [null, 4, null, 5] }),
  ];
  const summary = summarizeResults(results, OPTIONS);
  const [fineTuned, baseline] = summary.all.models;
  t.equal(fineTuned?.unscored_no_reference, 2);
  t.equal(fineTuned?.failed, 0);
  t.equal(baseline?.unscored_no_reference, 1);
  t.equal(baseline?.failed, 1);
  t.same(summary.reference_coverage, { with_reference: 3, items: 5 });
  t.equal(fineTuned?.means_n.accuracy, 3);
  t.equal(fineTuned?.means_n.actionability, 5);
  const [gain] = summary.all.comparisons;
  t.equal(gain?.measures.weighted.n_pairs, 3, 'only items with a weighted score on both sides');
  t.equal(gain?.measures.actionability.n_pairs, 4, 'actionability is scored without a reference');
  const markdown = renderSummaryMarkdown(summary, { run_id: 'run-1', created_at: 'now', source: 'inline' });
  t.match(markdown, 'fine-tuned 5 scored, 2 unscored: no reference, 0 failed');
  t.match(markdown, 'Reference coverage: 3/5 items have a reference answer');
});

t.test('provenance and the heuristic agreement are in the summary and in its Markdown', async (t) => {
  const summary = summarizeResults(tenItems(), OPTIONS);
  t.same(summary.provenance, PROVENANCE);
  const markdown = renderSummaryMarkdown(summary, { run_id: 'run-1', created_at: 'now', source: 'inline' });
  t.match(markdown, 'The heuristic is a screening tool, not a judge');
  t.match(markdown, '85% of the time on the 86 pairs');
  t.match(markdown, '78% on 32 held-out pairs');
  t.match(markdown, 'seed 7');
  t.match(markdown, 'Prompt and rubric (or rules) SHA-256: rules');
  t.match(markdown, 'Service version: test');
});

t.test('the markdown keeps the case study table, with the paired gain beside the means', async (t) => {
  const markdown = renderSummaryMarkdown(summarizeResults(tenItems(), OPTIONS), { run_id: 'run-42', created_at: '2026-06-01', source: 'prompts.json' });
  t.match(markdown, '| Criterion | fine-tuned | baseline | Gain (paired) |');
  t.match(markdown, /\| \*\*Weighted score\*\* \| \d\.\d\d \| \d\.\d\d \| \+0\.82 \|/);
  t.match(markdown, '| Measure | Pairs | Mean difference | SD | 95% CI (bootstrap) | 95% CI (t) | W/T/L | p |');
  t.match(markdown, /\| \*\*Weighted score\*\* \| 10 \| \+0\.82 \| \d\.\d\d \| .* \(BCa\) \| .* \| 8\/1\/1 \| 0\.0\d+ \|/);
  t.match(markdown, '**fine-tuned vs baseline, weighted score: +0.82 (95% CI');
});

t.test('three models: the first is compared with each other one', async (t) => {
  const models = [...OPTIONS.models, { alias: 'retrieval', model_id: 'mini+kb' }];
  const results = [...tenItems(), ...tenItems().filter((r) => r.model_alias === 'baseline').map((r) => ({ ...r, model_alias: 'retrieval' }))];
  const summary = summarizeResults(results, { ...OPTIONS, models });
  t.same(
    summary.all.comparisons.map((gain) => [gain.first, gain.second, gain.measures.weighted.n_pairs]),
    [
      ['fine-tuned', 'baseline', 10],
      ['fine-tuned', 'retrieval', 10],
    ],
  );
});

t.test('no pairs: the gain says so and nothing is invented', async (t) => {
  const summary = summarizeResults([result('a', 'fine-tuned', { grades: [4, 4, 4, 4] })], OPTIONS);
  const [gain] = summary.all.comparisons;
  t.equal(gain?.measures.weighted.n_pairs, 0);
  t.equal(gain?.measures.weighted.mean_difference, null);
  t.equal(gain?.headline, 'no paired items');
  t.match(gain?.cautions[0], 'No item was scored for both fine-tuned and baseline');
  const empty = summarizeResults([], OPTIONS);
  t.equal(empty.all.items, 0);
  t.equal(empty.all.models[0]?.means, null);
  t.equal(empty.all.models[0]?.estimated_cost_usd, 0);
  t.equal(empty.all.models[1]?.estimated_cost_usd, null);
});

t.test('operations: latency leaves out failed answers, tokens and cost add up', async (t) => {
  const results = [
    result('a', 'fine-tuned', { grades: [4, 4, 4, 4], latency: 100, tokens: [10, 50] }),
    result('b', 'fine-tuned', { grades: [4, 4, 4, 4], latency: 300, tokens: [20, 70] }),
    { ...failed('a', 'baseline'), latency_ms: 30_000 },
    result('stray', 'experimental', { grades: [2, 2, 2, 2] }),
  ];
  const summary = summarizeResults(results, OPTIONS);
  const [fineTuned, baseline, stray] = summary.all.models;
  t.same(fineTuned?.latency_ms, { p50: 200, p95: 290 });
  t.same(fineTuned?.tokens, { input: 30, output: 120 });
  t.ok(near(fineTuned?.estimated_cost_usd, (30 * 3 + 120 * 12) / 1e6));
  t.equal(baseline?.latency_ms, null, 'a timed-out answer is not a latency');
  t.equal(stray?.alias, 'experimental', 'a model missing from the run list is summarised after the listed ones');
  const markdown = renderSummaryMarkdown(summary, { run_id: 'run|1', created_at: 'now', source: 'inline' });
  t.match(markdown, '| fine-tuned | ft:mini:acme | 2 | 2 | 0 | 200 | 290 | 30 | 120 | 0.0015 |');
  t.match(markdown, '# Evaluation run run\\|1');
});

t.test('an answer read from the response cache keeps its tokens but costs nothing again', async (t) => {
  const results = [
    result('a', 'fine-tuned', { grades: [4, 4, 4, 4], tokens: [10, 50] }),
    result('b', 'fine-tuned', { grades: [4, 4, 4, 4], tokens: [20, 70], cache_hit: true }),
  ];
  const [fineTuned] = summarizeResults(results, OPTIONS).all.models;
  t.same(fineTuned?.tokens, { input: 30, output: 120 }, 'the tokens of every answer');
  t.ok(near(fineTuned?.estimated_cost_usd, (10 * 3 + 50 * 12) / 1e6), 'the cost of the answer the upstream gave this run only');
  t.equal(summarizeResults(results.slice(1, 2), OPTIONS).all.models[0]?.estimated_cost_usd, 0, 'a run of cache hits costs nothing');
});

const verdict = (preference: 'first' | 'second' | 'tie', inconsistent = false): PairwiseVerdict =>
  ({
    first: 'fine-tuned',
    second: 'baseline',
    preference: { overall: preference, accuracy: preference, actionability: 'tie', completeness: preference, safety_tone: 'tie' },
    inconsistent: { overall: inconsistent, accuracy: inconsistent, actionability: false, completeness: false, safety_tone: false },
  }) as PairwiseVerdict;

const pairwiseResult = (item_id: string, value: PairwiseVerdict | null): PairwiseResult => ({
  run_id: 'run-1',
  item_id,
  in_training: 'none',
  first: 'fine-tuned',
  second: 'baseline',
  verdict: value,
  outcome: value ? 'judged' : 'failed',
  error: value ? null : { stage: 'score', code: 'judge_unparsable', message: 'not JSON' },
  finished_at: 'now',
});

t.test('pairwise: wins, ties, losses, Wilson win rate, order-inconsistent share, failures apart', async (t) => {
  const verdicts = [
    ...Array.from({ length: 6 }, (_, i) => pairwiseResult(`w${i}`, verdict('first'))),
    pairwiseResult('t1', verdict('tie', true)),
    pairwiseResult('t2', verdict('tie')),
    pairwiseResult('l1', verdict('second')),
    pairwiseResult('l2', verdict('second')),
    pairwiseResult('f1', null),
  ];
  const summary = summarizeResults([], { ...OPTIONS, provenance: { ...PROVENANCE, scorer: 'pairwise' } }, verdicts);
  const [pair] = summary.all.pairwise;
  t.equal(pair?.judged, 10);
  t.equal(pair?.failed, 1);
  t.same([pair?.overall.wins, pair?.overall.ties, pair?.overall.losses, pair?.overall.inconsistent], [6, 2, 2, 1]);
  t.equal(pair?.overall.inconsistent_share, 0.1);
  t.equal(pair?.overall.win_rate?.value, 0.6);
  // Wilson 95% for 6/10: 0.313 to 0.832.
  t.ok(Math.abs((pair?.overall.win_rate?.low ?? 0) - 0.3127) < 0.001 && Math.abs((pair?.overall.win_rate?.high ?? 0) - 0.8318) < 0.001);
  t.equal(pair?.overall.decisive_win_rate?.value, 0.75);
  t.equal(pair?.actionability.ties, 10);
  t.match(pair?.headline, 'fine-tuned preferred on 60% of 10 items (95% CI 31% to 83%), baseline on 20%, tie 20%; 1 of 10 verdicts flipped');
  const markdown = renderSummaryMarkdown(summary, { run_id: 'run-1', created_at: 'now', source: 'inline' });
  t.match(markdown, '**Pairwise judge, fine-tuned vs baseline:');
  t.match(markdown, '| **Overall** | 10 | 6/2/2 | 60% (31% to 83%) | 75% (');
});

t.test('the accumulator fed one result at a time equals summarizeResults', async (t) => {
  const accumulator = createSummaryAccumulator(OPTIONS);
  for (const r of tenItems()) accumulator.add(r);
  t.same(accumulator.finish('completed'), summarizeResults(tenItems(), OPTIONS));
});

t.test('finishYielding gives the summary finish gives, handing the event loop back on the way', async (t) => {
  const results = Array.from({ length: 600 }, (_, i) => {
    const id = `item-${String(i).padStart(4, '0')}`;
    return [result(id, 'fine-tuned', { grades: [((i * 7) % 5) + 1, 4, 4, 5] }), result(id, 'baseline', { grades: [((i * 3) % 5) + 1, 3, 4, 5] })];
  }).flat();
  const options = { ...OPTIONS, provenance: { ...PROVENANCE, bootstrap: { ...PROVENANCE.bootstrap, resamples: 10_000 } } };
  const accumulator = createSummaryAccumulator(options);
  for (const r of results) accumulator.add(r);
  let turns = 0;
  const ticker = setInterval(() => (turns += 1), 0);
  const yielded = await accumulator.finishYielding('completed');
  clearInterval(ticker);
  t.ok(turns > 0, `timers ran ${turns} times while it resampled`);
  t.equal(JSON.stringify(yielded), JSON.stringify(summarizeResults(results, options)));
});

t.test('aliases, model ids and item ids with HTML or Markdown links are escaped, not rendered', async (t) => {
  const hostileId = '<img src=x onerror=alert(1)>';
  const linkAlias = '[click](https://evil.example)';
  const results = [
    { ...result('<b>item</b>', 'fine-tuned', { grades: [5, 5, 5, 1] }), model_id: hostileId },
    { ...result('<b>item</b>', linkAlias, { grades: [3, 3, 3, 5] }), model_id: 'x*y`z' },
  ];
  const models = [
    { alias: 'fine-tuned', model_id: hostileId },
    { alias: linkAlias, model_id: 'x*y`z' },
  ];
  const markdown = renderSummaryMarkdown(summarizeResults(results, { ...OPTIONS, models }), { run_id: 'run-1', created_at: 'now', source: '<script>' });
  t.notMatch(markdown, /<img|<b>|<script>/, 'no raw HTML');
  t.notMatch(markdown, /(?<!\\)\[click(?<!\\)\]\(/, 'no live Markdown link');
  t.match(markdown, '&lt;img src=x onerror=alert(1)&gt;');
  t.match(markdown, '\\[click\\](https://evil.example)');
  t.match(markdown, 'x\\*y\\`z');
  t.match(markdown, '(&lt;b&gt;item&lt;/b&gt;)', 'safety gate item ids too');
  t.match(markdown, 'source: &lt;script&gt;');
});

t.test('a pairwise item is finished once both answers and its verdict are in', async (t) => {
  const options = { ...OPTIONS, provenance: { ...PROVENANCE, scorer: 'pairwise' as const }, plannedItems: 2 };
  const answers = ['a', 'b'].flatMap((id) => [result(id, 'fine-tuned', { outcome: 'unscored' }), result(id, 'baseline', { outcome: 'unscored' })]);
  const summary = summarizeResults(answers, options, [pairwiseResult('a', verdict('first'))], 'running');
  t.same(summary.completeness, { run_status: 'running', items: 2, finished: 1, partial: true });
});
