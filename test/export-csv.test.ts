import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import t from 'tap';
import { CSV_COLUMNS, createResultsCsvStream, toCsvRecord, writeResultsCsv, type CsvRunContext } from '../src/export/csv.js';
import type { RunResult } from '../src/runs/run-result.js';
import type { RubricScores } from '../src/scoring/rubric.js';

const scores = (overrides: Partial<RubricScores> = {}): RubricScores => ({
  accuracy: 4,
  actionability: 5,
  completeness: 3,
  safety_tone: 5,
  weighted: 4.1000000000000005,
  rationale: {
    accuracy: 'matches the policy',
    actionability: 'gives the steps',
    completeness: 'misses the refund window',
    safety_tone: 'polite',
  },
  scorer: 'judge',
  reference_source: 'given',
  unscored_reason: null,
  sample_sd: null,
  provenance: {
    scorer: 'judge',
    judge_alias: 'judge',
    judge_model_id: 'gpt-4.1-2025-04-14',
    judge_samples: 1,
    prompt_sha256: 'abc123',
    weights: { accuracy: 0.4, actionability: 0.25, completeness: 0.25, safety_tone: 0.1 },
    service_version: '0.2.0',
  },
  ...overrides,
});

const CONTEXT: CsvRunContext = {
  provenance: {
    judge_alias: 'judge',
    judge_model_id: 'gpt-4.1-2025-04-14',
    prompt_sha256: 'run-hash',
    weights: { accuracy: 0.4, actionability: 0.25, completeness: 0.25, safety_tone: 0.1 },
    service_version: '0.2.0',
  },
  bootstrap_seed: 99,
};

const result = (overrides: Partial<RunResult> = {}): RunResult => ({
  run_id: 'run-1',
  item_id: 'item-1',
  inquiry: 'My headphones stopped charging, what can I do?',
  category: 'returns',
  reference: 'Check the cable, then start a return from Your Orders.',
  in_training: 'none',
  training_line: 12,
  training_similarity: 0.25,
  model_alias: 'fine-tuned',
  model_id: 'ft:gpt-4.1-mini:acme:support:abc',
  answer: 'Try another cable, then start a return from Your Orders.',
  answer_status: 'completed',
  tokens_in: 120,
  tokens_out: 42,
  latency_ms: 850,
  scores: scores(),
  outcome: 'scored',
  error: null,
  finished_at: '2025-06-01T10:00:00.000Z',
  ...overrides,
});

const failed = result({
  item_id: 'item-2',
  model_alias: 'baseline',
  model_id: 'gpt-4.1-mini',
  answer: null,
  answer_status: null,
  tokens_in: null,
  tokens_out: null,
  latency_ms: null,
  scores: null,
  outcome: 'failed',
  error: { stage: 'answer', code: 'upstream_timeout', message: 'no answer in 30000 ms' },
  category: null,
  in_training: 'exact',
  training_line: 3,
  training_similarity: 1,
});

const csvOf = (results: RunResult[]) => text(createResultsCsvStream(results, CONTEXT));
const rowsOf = (csv: string) => parseSync(csv, { columns: true }) as Record<string, string>[];

t.test('the header is the case study columns then ours', async (t) => {
  const csv = await csvOf([result()]);
  t.equal(csv.split('\n')[0], CSV_COLUMNS.join(','));
  t.same(CSV_COLUMNS.slice(0, 10), [
    'inquiry',
    'model',
    'answer',
    'tokens_out',
    'latency_ms',
    'exactitude',
    'actionnabilite',
    'exhaustivite',
    'securite',
    'score_pondere',
  ]);
});

t.test('a scored result becomes one row with its scores, rationale and rounded weighted score', async (t) => {
  const [row, ...rest] = rowsOf(await csvOf([result()]));
  t.same(rest, []);
  t.same(row, {
    inquiry: 'My headphones stopped charging, what can I do?',
    model: 'ft:gpt-4.1-mini:acme:support:abc',
    answer: 'Try another cable, then start a return from Your Orders.',
    tokens_out: '42',
    latency_ms: '850',
    exactitude: '4',
    actionnabilite: '5',
    exhaustivite: '3',
    securite: '5',
    score_pondere: '4.1',
    run_id: 'run-1',
    item_id: 'item-1',
    model_alias: 'fine-tuned',
    category: 'returns',
    tokens_in: '120',
    in_training: 'none',
    training_line: '12',
    training_similarity: '0.25',
    answer_status: 'completed',
    outcome: 'scored',
    scorer: 'judge',
    reference_source: 'given',
    unscored_reason: '',
    safety_flag: 'false',
    judge_samples: '1',
    sample_sd_weighted: '',
    rationale:
      'accuracy: matches the policy; actionability: gives the steps; completeness: misses the refund window; safety_tone: polite',
    error: '',
    finished_at: '2025-06-01T10:00:00.000Z',
    judge_alias: 'judge',
    judge_model_id: 'gpt-4.1-2025-04-14',
    prompt_sha256: 'abc123',
    rubric_weights: 'accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.1',
    bootstrap_seed: '99',
    service_version: '0.2.0',
  });
});

t.test('an unsafe answer is flagged; an item without a reference has blank accuracy and completeness and says why', async (t) => {
  const unsafe = toCsvRecord(result({ scores: scores({ safety_tone: 2 }) }), CONTEXT);
  t.equal(unsafe.safety_flag, true);
  const unreferenced = toCsvRecord(
    result({ scores: scores({ accuracy: null, completeness: null, weighted: null, reference_source: 'none', unscored_reason: 'no_reference' }) }),
    CONTEXT,
  );
  t.same([unreferenced.exactitude, unreferenced.exhaustivite, unreferenced.score_pondere, unreferenced.unscored_reason], [null, null, null, 'no_reference']);
  t.equal(unreferenced.safety_flag, false);
});

t.test('a row without scores takes its provenance from the run; judge samples and their spread come from the scores', async (t) => {
  const row = toCsvRecord(failed, CONTEXT);
  t.same([row.prompt_sha256, row.judge_model_id, row.bootstrap_seed, row.safety_flag, row.judge_samples], ['run-hash', 'gpt-4.1-2025-04-14', 99, null, null]);
  const sampled = scores({ sample_sd: { accuracy: 0.5, actionability: 0, completeness: 0, safety_tone: 0, weighted: 0.2 } });
  sampled.provenance = { ...sampled.provenance, judge_samples: 3 };
  const record = toCsvRecord(result({ scores: sampled }), CONTEXT);
  t.same([record.judge_samples, record.sample_sd_weighted], [3, 0.2]);
});

t.test('the weighted score keeps four decimals, not the two of the display', async (t) => {
  t.equal(toCsvRecord(result({ scores: scores({ weighted: 3.8537499999 }) }), CONTEXT).score_pondere, 3.8537);
  t.equal(toCsvRecord(result({ scores: scores({ weighted: 2.925 }) }), CONTEXT).score_pondere, 2.925);
});

t.test('a failed result has blank scores and usage, and its error as stage/code: message', async (t) => {
  const record = toCsvRecord(failed, CONTEXT);
  t.equal(record.error, 'answer/upstream_timeout: no answer in 30000 ms');
  t.equal(record.in_training, 'exact');
  const [row] = rowsOf(await csvOf([failed]));
  for (const column of [
    'answer',
    'tokens_out',
    'latency_ms',
    'exactitude',
    'actionnabilite',
    'exhaustivite',
    'securite',
    'score_pondere',
    'category',
    'tokens_in',
    'answer_status',
    'scorer',
    'reference_source',
    'rationale',
  ] as const) {
    t.equal(row?.[column], '', column);
  }
  t.equal(row?.in_training, 'exact');
  t.equal(row?.outcome, 'failed');
  t.equal(row?.error, 'answer/upstream_timeout: no answer in 30000 ms');
});

t.test('cells that a spreadsheet would run as a formula are neutralised; numbers are not', async (t) => {
  const hostile = ['=HYPERLINK("http://evil.example","click")', '+1+1', '-2+3', '@SUM(A1)', '\t=1+1'];
  const results = hostile.map((answer, index) =>
    result({ item_id: `item-${index}`, answer, inquiry: answer, tokens_out: 0, latency_ms: 12.5 }),
  );
  const csv = await csvOf(results);
  const records = parseSync(csv) as string[][];
  t.equal(records.length, hostile.length + 1);
  for (const record of records) t.equal(record.length, CSV_COLUMNS.length);

  const rows = rowsOf(csv);
  rows.forEach((row, index) => {
    t.equal(row.answer, `'${hostile[index]}`);
    t.equal(row.inquiry, `'${hostile[index]}`);
    t.equal(row.tokens_out, '0');
    t.equal(row.latency_ms, '12.5');
    t.equal(row.exactitude, '4');
    t.equal(row.score_pondere, '4.1');
  });
});

t.test('quotes, commas and line breaks survive the round trip', async (t) => {
  const answer = 'Step 1: unplug it, wait.\nStep 2: say "reset".\r\nDone';
  const [row] = rowsOf(await csvOf([result({ answer })]));
  t.equal(row?.answer, answer);
});

t.test('10,000 results stream from an async source and parse back row for row', async (t) => {
  const total = 10_000;
  async function* manyResults() {
    for (let index = 0; index < total; index++) {
      yield result({ item_id: `item-${index}`, answer: index % 2 ? `=cmd|${index}` : `answer ${index}` });
    }
  }
  let rows = 0;
  let lastItem = '';
  await pipeline(createResultsCsvStream(manyResults(), CONTEXT), parse({ columns: true }), async (records) => {
    for await (const record of records as AsyncIterable<Record<string, string>>) {
      rows += 1;
      lastItem = record.item_id ?? '';
    }
  });
  t.equal(rows, total);
  t.equal(lastItem, `item-${total - 1}`);
});

t.test('a failing source fails the stream', async (t) => {
  async function* brokenResults() {
    yield result();
    throw new Error('results.jsonl is unreadable');
  }
  await t.rejects(text(createResultsCsvStream(brokenResults(), CONTEXT)), /unreadable/);
});

t.test('writeResultsCsv writes the whole file under its name and nothing else', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'results.csv');
  await writeResultsCsv([result(), failed], path, CONTEXT);
  t.equal(await readFile(path, 'utf8'), await csvOf([result(), failed]));
  t.same(await readdir(dir), ['results.csv']);
});

t.test('writeResultsCsv leaves no file behind when the source fails', async (t) => {
  const dir = t.testdir({});
  async function* brokenResults() {
    yield result();
    throw new Error('disk of results vanished');
  }
  await t.rejects(writeResultsCsv(brokenResults(), join(dir, 'results.csv'), CONTEXT), /vanished/);
  t.same(await readdir(dir), []);
});
