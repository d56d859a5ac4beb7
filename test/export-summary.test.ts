import t from 'tap';
import { renderSummaryMarkdown } from '../src/export/summary-markdown.js';
import {
  type ModelSummary,
  type RunSummary,
  type SummaryOptions,
  type SummarySection,
  createSummaryAccumulator,
  summarizeResults,
} from '../src/export/summary.js';
import type { RunResult } from '../src/runs/run-result.js';
import { DEFAULT_RUBRIC_WEIGHTS, type RubricScores, weightedScore } from '../src/scoring/rubric.js';

type Grades = [accuracy: number, actionability: number, completeness: number, safety_tone: number, weighted: number];

const scores = ([accuracy, actionability, completeness, safety_tone, weighted]: Grades): RubricScores => ({
  accuracy,
  actionability,
  completeness,
  safety_tone,
  weighted,
  rationale: { accuracy: '', actionability: '', completeness: '', safety_tone: '' },
  scorer: 'heuristic',
  reference_source: 'given',
});

const MODEL_IDS: Record<string, string> = { 'fine-tuned': 'ft:mini:acme', baseline: 'mini', retrieval: 'mini+kb' };

function result(
  item_id: string,
  model_alias: string,
  fields: { grades?: Grades; latency: number | null; tokens: [number, number] | null; in_training?: boolean } & Partial<RunResult>,
): RunResult {
  const { grades, latency, tokens, ...rest } = fields;
  return {
    run_id: 'run-1',
    item_id,
    inquiry: `inquiry ${item_id}`,
    category: null,
    reference: null,
    in_training: false,
    model_alias,
    model_id: MODEL_IDS[model_alias] ?? 'unknown',
    answer: 'an answer',
    answer_status: 'completed',
    tokens_in: tokens?.[0] ?? null,
    tokens_out: tokens?.[1] ?? null,
    latency_ms: latency,
    scores: grades ? scores(grades) : null,
    outcome: grades ? 'scored' : 'unscored',
    error: null,
    finished_at: '2025-06-01T10:00:00.000Z',
    ...rest,
  };
}

// Weighted scores by hand with 0.4 / 0.25 / 0.25 / 0.1; item-3's inquiry is in the training set.
const RESULTS: RunResult[] = [
  result('item-1', 'fine-tuned', { grades: [4, 5, 3, 5, 4.1], latency: 100, tokens: [10, 50] }),
  result('item-2', 'fine-tuned', { grades: [3, 4, 4, 4, 3.6], latency: 300, tokens: [20, 70] }),
  result('item-3', 'fine-tuned', { grades: [5, 5, 5, 5, 5], latency: 200, tokens: [30, 80], in_training: true }),
  result('item-1', 'baseline', { grades: [3, 2, 3, 4, 2.85], latency: 400, tokens: [10, 40] }),
  result('item-2', 'baseline', {
    latency: 30_000,
    tokens: null,
    outcome: 'failed',
    answer: null,
    answer_status: null,
    error: { stage: 'answer', code: 'upstream_timeout', message: 'timed out' },
  }),
  result('item-3', 'baseline', {
    latency: 500,
    tokens: [30, 60],
    in_training: true,
    outcome: 'failed',
    error: { stage: 'score', code: 'judge_unparseable', message: 'not JSON' },
  }),
  result('item-1', 'retrieval', { latency: 250, tokens: [5, 15] }),
];

const OPTIONS: SummaryOptions = {
  models: [
    { alias: 'fine-tuned', model_id: 'ft:mini:acme' },
    { alias: 'baseline', model_id: 'mini' },
    { alias: 'retrieval', model_id: 'mini+kb' },
  ],
  weights: { ...DEFAULT_RUBRIC_WEIGHTS },
  pricing: { 'fine-tuned': { input_per_million: 3, output_per_million: 12 }, retrieval: { input_per_million: 1, output_per_million: 2 } },
};

type Assertions = Pick<typeof t, 'ok' | 'same' | 'equal'>;

/** Compares numbers to 1e-9 so hand-written fractions can be checked against float sums. */
function near(t: Assertions, actual: unknown, expected: unknown, path = 'value'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    t.ok(Math.abs(actual - expected) < 1e-9, `${path}: ${actual} ≈ ${expected}`);
  } else if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    t.same(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path} has the expected fields`);
    for (const [key, value] of Object.entries(expected)) near(t, (actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  } else {
    t.equal(actual, expected, path);
  }
}

t.test('every number of the summary, over all items', async (t) => {
  const summary = summarizeResults(RESULTS, OPTIONS);
  t.same(summary.weights, DEFAULT_RUBRIC_WEIGHTS);
  const [fineTuned, baseline, retrieval] = summary.all.models;
  t.equal(summary.all.items, 3);
  near(t, fineTuned, {
    alias: 'fine-tuned',
    model_id: 'ft:mini:acme',
    n: 3,
    scored: 3,
    failed: 0,
    means: { accuracy: 4, actionability: 14 / 3, completeness: 4, safety_tone: 14 / 3, weighted: 12.7 / 3 },
    // Sorted 100, 200, 300: the 95th percentile interpolates 90% of the way from 200 to 300.
    latency_ms: { p50: 200, p95: 290 },
    tokens: { input: 60, output: 200 },
    estimated_cost_usd: (60 * 3 + 200 * 12) / 1e6,
  });
  near(t, baseline, {
    alias: 'baseline',
    model_id: 'mini',
    n: 3,
    scored: 1,
    failed: 2,
    means: { accuracy: 3, actionability: 2, completeness: 3, safety_tone: 4, weighted: 2.85 },
    // The timed-out answer's 30 s is left out; the score failure's answer latency counts.
    latency_ms: { p50: 450, p95: 495 },
    tokens: { input: 40, output: 100 },
    estimated_cost_usd: null,
  });
  near(t, retrieval, {
    alias: 'retrieval',
    model_id: 'mini+kb',
    n: 1,
    scored: 0,
    failed: 0,
    means: null,
    latency_ms: { p50: 250, p95: 250 },
    tokens: { input: 5, output: 15 },
    estimated_cost_usd: (5 * 1 + 15 * 2) / 1e6,
  });
  near(t, summary.all.gain, {
    first: 'fine-tuned',
    second: 'baseline',
    accuracy: 1,
    actionability: 14 / 3 - 2,
    completeness: 1,
    safety_tone: 14 / 3 - 4,
    weighted: 12.7 / 3 - 2.85,
  });
});

t.test('the unseen section leaves out items whose inquiry was in the training set', async (t) => {
  const { unseen } = summarizeResults(RESULTS, OPTIONS);
  t.equal(unseen.items, 2);
  const [fineTuned, baseline, retrieval] = unseen.models;
  near(t, fineTuned, {
    alias: 'fine-tuned',
    model_id: 'ft:mini:acme',
    n: 2,
    scored: 2,
    failed: 0,
    means: { accuracy: 3.5, actionability: 4.5, completeness: 3.5, safety_tone: 4.5, weighted: 3.85 },
    latency_ms: { p50: 200, p95: 290 },
    tokens: { input: 30, output: 120 },
    estimated_cost_usd: (30 * 3 + 120 * 12) / 1e6,
  });
  near(t, baseline, {
    alias: 'baseline',
    model_id: 'mini',
    n: 2,
    scored: 1,
    failed: 1,
    means: { accuracy: 3, actionability: 2, completeness: 3, safety_tone: 4, weighted: 2.85 },
    latency_ms: { p50: 400, p95: 400 },
    tokens: { input: 10, output: 40 },
    estimated_cost_usd: null,
  });
  t.equal(retrieval?.n, 1);
  near(t, unseen.gain, {
    first: 'fine-tuned',
    second: 'baseline',
    accuracy: 0.5,
    actionability: 2.5,
    completeness: 0.5,
    safety_tone: 0.5,
    weighted: 1,
  });
});

t.test('the gain is the first model of the run minus the second, so it turns negative with the order', async (t) => {
  const [fineTuned, baseline, retrieval] = OPTIONS.models;
  const summary = summarizeResults(RESULTS, { ...OPTIONS, models: [baseline!, fineTuned!, retrieval!] });
  t.same(
    summary.all.models.map((model) => model.alias),
    ['baseline', 'fine-tuned', 'retrieval'],
  );
  t.equal(summary.all.gain?.first, 'baseline');
  t.equal(summary.all.gain?.second, 'fine-tuned');
  t.ok((summary.all.gain?.weighted ?? 0) < 0);
  near(t, summary.all.gain?.accuracy, -1);
});

t.test('no gain when fewer than two models or one of the two has nothing scored', async (t) => {
  const fineTunedOnly = RESULTS.filter((r) => r.model_alias === 'fine-tuned');
  t.equal(summarizeResults(fineTunedOnly, { ...OPTIONS, models: OPTIONS.models.slice(0, 1) }).all.gain, null);
  const [fineTuned, , retrieval] = OPTIONS.models;
  t.equal(summarizeResults(RESULTS, { ...OPTIONS, models: [fineTuned!, retrieval!] }).all.gain, null);
  t.equal(summarizeResults([], OPTIONS).all.gain, null);
});

t.test('a model of the run with no results is listed with zeros and no means', async (t) => {
  const summary = summarizeResults([], OPTIONS);
  t.equal(summary.all.items, 0);
  t.same(summary.all.models[0], {
    alias: 'fine-tuned',
    model_id: 'ft:mini:acme',
    n: 0,
    scored: 0,
    failed: 0,
    means: null,
    latency_ms: null,
    tokens: { input: 0, output: 0 },
    estimated_cost_usd: 0,
  });
  t.equal(summary.all.models[1]?.estimated_cost_usd, null);
});

t.test('a result from a model missing in the run list is summarised after the listed ones', async (t) => {
  const stray = result('item-1', 'experimental', { grades: [2, 2, 2, 2, 2], latency: 10, tokens: [1, 1] });
  const summary = summarizeResults([...RESULTS, stray], OPTIONS);
  t.same(
    summary.all.models.map((model) => [model.alias, model.model_id, model.n]),
    [
      ['fine-tuned', 'ft:mini:acme', 3],
      ['baseline', 'mini', 3],
      ['retrieval', 'mini+kb', 1],
      ['experimental', 'unknown', 1],
    ],
  );
});

t.test('summarizeResults equals the accumulator fed one result at a time', async (t) => {
  const accumulator = createSummaryAccumulator(OPTIONS);
  for (const r of RESULTS) accumulator.add(r);
  t.same(accumulator.finish(), summarizeResults(RESULTS, OPTIONS));
});

// Markdown: summaries are built by hand here, so the table can be checked against the case study's numbers.

const META = { run_id: 'run-42', created_at: '2025-06-01T10:00:00.000Z', scorer: 'judge', source: 'prompts/eval.jsonl' };
type MeansWithoutWeighted = Omit<NonNullable<ModelSummary['means']>, 'weighted'>;

function modelSummary(alias: string, means: MeansWithoutWeighted | null, overrides: Partial<ModelSummary> = {}): ModelSummary {
  return {
    alias,
    model_id: `${alias}-id`,
    n: 50,
    scored: means ? 48 : 0,
    failed: 2,
    means: means ? { ...means, weighted: weightedScore(means, DEFAULT_RUBRIC_WEIGHTS) } : null,
    latency_ms: { p50: 812.4, p95: 2210.6 },
    tokens: { input: 9000, output: 12000 },
    estimated_cost_usd: 0.01234,
    ...overrides,
  };
}

function section(models: ModelSummary[], items = 50): SummarySection {
  const [first, second] = models;
  const gain =
    first?.means && second?.means
      ? {
          first: first.alias,
          second: second.alias,
          accuracy: first.means.accuracy - second.means.accuracy,
          actionability: first.means.actionability - second.means.actionability,
          completeness: first.means.completeness - second.means.completeness,
          safety_tone: first.means.safety_tone - second.means.safety_tone,
          weighted: first.means.weighted - second.means.weighted,
        }
      : null;
  return { items, models, gain };
}

const runSummary = (all: SummarySection, unseen: SummarySection = all): RunSummary => ({
  weights: { ...DEFAULT_RUBRIC_WEIGHTS },
  all,
  unseen,
});

const CASE_STUDY_FINE_TUNED = { accuracy: 3.62, actionability: 4.74, completeness: 3.24, safety_tone: 4.11 };
const CASE_STUDY_GENERALIST = { accuracy: 3.0, actionability: 2.5, completeness: 2.8, safety_tone: 4.0 };

/** The first table under a heading, line by line. */
function tableAfter(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const rest = lines.slice(lines.findIndex((line) => line.startsWith(heading)));
  const start = rest.findIndex((line) => line.startsWith('|'));
  const end = rest.findIndex((line, index) => index > start && !line.startsWith('|'));
  return rest.slice(start, end);
}

t.test('the case study means render as the case study table', async (t) => {
  const summary = runSummary(
    section([modelSummary('fine-tuned', CASE_STUDY_FINE_TUNED), modelSummary('generalist', CASE_STUDY_GENERALIST)]),
  );
  t.ok(Math.abs((summary.all.models[0]?.means?.weighted ?? 0) - 3.854) < 1e-9);
  t.ok(Math.abs((summary.all.models[1]?.means?.weighted ?? 0) - 2.925) < 1e-9);
  const markdown = renderSummaryMarkdown(summary, META);
  t.same(tableAfter(markdown, '## Quality, all items'), [
    '| Criterion | fine-tuned | generalist | Gain |',
    '| --- | ---: | ---: | ---: |',
    '| Accuracy (0.40) | 3.62 | 3.00 | +0.62 |',
    '| Actionability (0.25) | 4.74 | 2.50 | +2.24 |',
    '| Completeness (0.25) | 3.24 | 2.80 | +0.44 |',
    '| Safety/tone (0.10) | 4.11 | 4.00 | +0.11 |',
    '| **Weighted score** | 3.85 | 2.92 | +0.93 |',
  ]);
  t.match(markdown, /^# Evaluation run run-42\n/);
  t.match(markdown, 'scorer: judge');
  t.match(markdown, 'source: prompts/eval.jsonl');
});

t.test('a negative gain keeps its minus sign', async (t) => {
  const summary = runSummary(
    section([modelSummary('generalist', CASE_STUDY_GENERALIST), modelSummary('fine-tuned', CASE_STUDY_FINE_TUNED)]),
  );
  const table = tableAfter(renderSummaryMarkdown(summary, META), '## Quality, all items');
  t.equal(table[2], '| Accuracy (0.40) | 3.00 | 3.62 | -0.62 |');
  t.equal(table[5], '| Safety/tone (0.10) | 4.00 | 4.11 | -0.11 |');
  t.equal(table[6], '| **Weighted score** | 2.92 | 3.85 | -0.93 |');
});

t.test('one model: criterion and that model, no gain column', async (t) => {
  const table = tableAfter(
    renderSummaryMarkdown(runSummary(section([modelSummary('fine-tuned', CASE_STUDY_FINE_TUNED)])), META),
    '## Quality, all items',
  );
  t.same(table, [
    '| Criterion | fine-tuned |',
    '| --- | ---: |',
    '| Accuracy (0.40) | 3.62 |',
    '| Actionability (0.25) | 4.74 |',
    '| Completeness (0.25) | 3.24 |',
    '| Safety/tone (0.10) | 4.11 |',
    '| **Weighted score** | 3.85 |',
  ]);
});

t.test('three models: a column each, the gain still first minus second, a dash where nothing was scored', async (t) => {
  const models = [
    modelSummary('fine-tuned', CASE_STUDY_FINE_TUNED),
    modelSummary('baseline', CASE_STUDY_GENERALIST),
    modelSummary('retrieval', null),
  ];
  const table = tableAfter(renderSummaryMarkdown(runSummary(section(models)), META), '## Quality, all items');
  t.same(table, [
    '| Criterion | fine-tuned | baseline | retrieval | Gain (fine-tuned − baseline) |',
    '| --- | ---: | ---: | ---: | ---: |',
    '| Accuracy (0.40) | 3.62 | 3.00 | — | +0.62 |',
    '| Actionability (0.25) | 4.74 | 2.50 | — | +2.24 |',
    '| Completeness (0.25) | 3.24 | 2.80 | — | +0.44 |',
    '| Safety/tone (0.10) | 4.11 | 4.00 | — | +0.11 |',
    '| **Weighted score** | 3.85 | 2.92 | — | +0.93 |',
  ]);

  const noGain = tableAfter(
    renderSummaryMarkdown(runSummary(section([models[2]!, models[0]!])), META),
    '## Quality, all items',
  );
  t.equal(noGain[6], '| **Weighted score** | — | 3.85 | — |');
});

t.test('the unseen table follows, with how many items were left out', async (t) => {
  const all = section([modelSummary('fine-tuned', CASE_STUDY_FINE_TUNED), modelSummary('baseline', CASE_STUDY_GENERALIST)]);
  const unseen = section(
    [modelSummary('fine-tuned', { ...CASE_STUDY_FINE_TUNED, accuracy: 3.2 }), modelSummary('baseline', CASE_STUDY_GENERALIST)],
    44,
  );
  const markdown = renderSummaryMarkdown(runSummary(all, unseen), META);
  t.match(markdown, '## Quality, all items (50 items)');
  t.match(markdown, '## Quality, items not in the training set (44 items)');
  t.match(markdown, '6 of 50 items had an inquiry in the training set and are left out');
  const table = tableAfter(markdown, '## Quality, items not in the training set');
  t.equal(table[2], '| Accuracy (0.40) | 3.20 | 3.00 | +0.20 |');

  const oneLeftOut = renderSummaryMarkdown(runSummary(all, { ...unseen, items: 49 }), META);
  t.match(oneLeftOut, '1 of 50 items had an inquiry in the training set and is left out');
  t.match(renderSummaryMarkdown(runSummary(all), META), 'No item’s inquiry was in the training set');
});

t.test('the operations table gives counts, latency, tokens and cost per model', async (t) => {
  const models = [
    modelSummary('fine-tuned', CASE_STUDY_FINE_TUNED),
    modelSummary('local|model', null, { latency_ms: null, estimated_cost_usd: null, n: 1, failed: 1 }),
  ];
  const table = tableAfter(renderSummaryMarkdown(runSummary(section(models, 1)), META), '## Operations');
  t.same(table, [
    '| Model | Model id | Results | Scored | Failed | Latency p50 (ms) | Latency p95 (ms) | Tokens in | Tokens out | Est. cost (USD) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    '| fine-tuned | fine-tuned-id | 50 | 48 | 2 | 812 | 2211 | 9000 | 12000 | 0.0123 |',
    '| local\\|model | local\\|model-id | 1 | 0 | 1 | — | — | 9000 | 12000 | — |',
  ]);
  t.match(renderSummaryMarkdown(runSummary(section(models, 1)), META), '## Quality, all items (1 item)');
});
