import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer, text } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import t from 'tap';
import { CSV_COLUMNS, createResultsCsvStream, toCsvRecord, withByteOrderMark, writeCsvFile, type CsvRunContext } from '../src/export/csv.js';
import { createWideCsvStream, wideCsvColumns } from '../src/export/csv-wide.js';
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
  cache_hit: false,
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
    cache_hit: 'false',
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

t.test('writeCsvFile writes the whole file under its name and nothing else', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'results.csv');
  await writeCsvFile(createResultsCsvStream([result(), failed], CONTEXT), path);
  t.equal(await readFile(path, 'utf8'), await csvOf([result(), failed]));
  t.same(await readdir(dir), ['results.csv']);
});

t.test('writeCsvFile leaves no file behind when the source fails', async (t) => {
  const dir = t.testdir({});
  async function* brokenResults() {
    yield result();
    throw new Error('disk of results vanished');
  }
  await t.rejects(writeCsvFile(createResultsCsvStream(brokenResults(), CONTEXT), join(dir, 'results.csv')), /vanished/);
  t.same(await readdir(dir), []);
});

t.test('with a byte-order mark, the CSV starts with EF BB BF and is otherwise the same bytes', async (t) => {
  const answer = 'Go to Your Orders… then “Return or replace items” (café-grade packaging).';
  const plain = Buffer.from(await csvOf([result({ answer })]));
  const marked = await buffer(withByteOrderMark(createResultsCsvStream([result({ answer })], CONTEXT)));
  t.same([...marked.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  t.ok(marked.subarray(3).equals(plain));
  const [row] = parseSync(marked, { columns: true, bom: true }) as Record<string, string>[];
  t.equal(row?.answer, answer, 'a parser that knows the mark reads the same rows');
  async function* brokenResults() {
    yield result();
    throw new Error('results.jsonl is unreadable');
  }
  await t.rejects(text(withByteOrderMark(createResultsCsvStream(brokenResults(), CONTEXT))), /unreadable/, 'and a failure still reaches the reader');
});

const baseline = (overrides: Partial<RunResult> = {}) =>
  result({ model_alias: 'baseline', model_id: 'gpt-4.1-mini', answer: 'Contact customer service.', scores: scores({ accuracy: 3, actionability: 2, completeness: 2, weighted: 2.55 }), ...overrides });
const wideCsvOf = (results: RunResult[], itemIds: string[], models = ['fine-tuned', 'baseline']) => text(createWideCsvStream(results, { models, itemIds }));

t.test('the wide CSV: a row per inquiry in the run\'s item order, a group of columns per model, and the first minus each other', async (t) => {
  const results = [
    baseline({ item_id: 'item-1' }),
    result({ item_id: 'item-2', inquiry: 'Where is my order?', reference: null, category: null }),
    result({ item_id: 'item-1' }),
    { ...failed, item_id: 'item-2' },
  ];
  const csv = await wideCsvOf(results, ['item-2', 'item-3', 'item-1']);
  const [header] = csv.split('\n');
  t.equal(
    header,
    'item_id,inquiry,reference,category,in_training,' +
      'fine-tuned_answer,fine-tuned_score_pondere,fine-tuned_exactitude,fine-tuned_actionnabilite,fine-tuned_exhaustivite,fine-tuned_securite,fine-tuned_outcome,fine-tuned_cache_hit,' +
      'baseline_answer,baseline_score_pondere,baseline_exactitude,baseline_actionnabilite,baseline_exhaustivite,baseline_securite,baseline_outcome,baseline_cache_hit,' +
      'fine-tuned_minus_baseline_score_pondere',
  );
  t.equal(header, wideCsvColumns(['fine-tuned', 'baseline']).join(','));
  const rows = rowsOf(csv);
  t.same(rows.map((row) => row.item_id), ['item-2', 'item-1'], 'in the run\'s order; an item nobody finished has no row');
  t.match(rows[1], {
    inquiry: 'My headphones stopped charging, what can I do?',
    reference: 'Check the cable, then start a return from Your Orders.',
    category: 'returns',
    in_training: 'none',
    'fine-tuned_answer': 'Try another cable, then start a return from Your Orders.',
    'fine-tuned_score_pondere': '4.1',
    'fine-tuned_exactitude': '4',
    'fine-tuned_securite': '5',
    'fine-tuned_outcome': 'scored',
    baseline_answer: 'Contact customer service.',
    baseline_score_pondere: '2.55',
    baseline_actionnabilite: '2',
    'fine-tuned_minus_baseline_score_pondere': '1.55',
  });
  t.match(rows[0], { 'fine-tuned_score_pondere': '4.1', baseline_answer: '', baseline_score_pondere: '', baseline_outcome: 'failed', 'fine-tuned_minus_baseline_score_pondere': '' });
  t.equal(rows[0]?.reference, '');
});

t.test('the wide CSV: a difference per model after the first; a model outside the run\'s list is left out; an empty run is a header', async (t) => {
  const retrieval = result({ model_alias: 'retrieval', model_id: 'bm25', scores: scores({ weighted: 4.6 }) });
  const stray = result({ model_alias: 'experimental', model_id: 'x', scores: scores({ weighted: 1 }) });
  const csv = await wideCsvOf([result(), baseline(), retrieval, stray], ['item-1'], ['fine-tuned', 'baseline', 'retrieval']);
  const [row] = rowsOf(csv);
  t.same(Object.keys(row ?? {}).filter((column) => column.includes('_minus_')), ['fine-tuned_minus_baseline_score_pondere', 'fine-tuned_minus_retrieval_score_pondere']);
  t.equal(row?.['fine-tuned_minus_retrieval_score_pondere'], '-0.5');
  t.notOk(Object.keys(row ?? {}).some((column) => column.startsWith('experimental')), 'no column group for a model the run does not list');
  t.equal(await wideCsvOf([], []), `${wideCsvColumns(['fine-tuned', 'baseline']).join(',')}\n`);
});

t.test('the wide CSV writes each row as soon as its item is complete: it never reads the results further than it needs', async (t) => {
  let read = 0;
  const items = Array.from({ length: 2000 }, (_, index) => `item-${index}`);
  async function* counted() {
    for (const id of items) {
      for (const make of [result, baseline]) {
        read += 1;
        yield make({ item_id: id });
      }
    }
  }
  const stream = createWideCsvStream(counted(), { models: ['fine-tuned', 'baseline'], itemIds: items });
  for await (const chunk of stream) {
    t.match(String(chunk), /item-0/);
    break;
  }
  // Streams read a little ahead (their buffers); holding every item first would have read all 4,000.
  t.ok(read < 400, `the first rows came after reading ${read} of 4,000 results`);
  const rows = rowsOf(await wideCsvOf([baseline({ item_id: 'b' }), result({ item_id: 'a' }), result({ item_id: 'b' }), baseline({ item_id: 'a' })], ['a', 'b']));
  t.same(rows.map((row) => row.item_id), ['a', 'b'], 'rows keep the run\'s item order when results finish out of order');
  const partial = rowsOf(await wideCsvOf([result({ item_id: 'a' }), result({ item_id: 'b' }), baseline({ item_id: 'b' })], ['a', 'b']));
  t.same(partial.map((row) => [row.item_id, row.baseline_outcome]), [['a', ''], ['b', 'scored']], 'an item a model never finished still gets its row, with blanks');
});

t.test('the wide CSV neutralises formulas like the long one, and a failing source fails it', async (t) => {
  const hostile = '=HYPERLINK("http://evil.example","click")';
  const [row] = rowsOf(await wideCsvOf([result({ answer: hostile, inquiry: '+1+1' }), baseline({ answer: '@SUM(A1)', scores: scores({ weighted: 4.6 }) })], ['item-1']));
  t.equal(row?.['fine-tuned_answer'], `'${hostile}`);
  t.equal(row?.inquiry, "'+1+1");
  t.equal(row?.baseline_answer, "'@SUM(A1)");
  t.equal(row?.['fine-tuned_minus_baseline_score_pondere'], '-0.5', 'a negative number stays a number');
  async function* brokenResults() {
    yield result();
    throw new Error('results.jsonl is unreadable');
  }
  await t.rejects(text(createWideCsvStream(brokenResults(), { models: ['fine-tuned'], itemIds: ['item-1'] })), /unreadable/);
});
