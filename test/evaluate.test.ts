import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { CSV_COLUMNS } from '../src/export/csv.js';
import { roundForDisplay } from '../src/scoring/rubric.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

const KEY = 'sk-test-eval-key-0123456789';
const trainingInquiry = (line: number) =>
  (JSON.parse(readFileSync('data/amazon_electronics_adapted_train.jsonl', 'utf8').split('\n')[line - 1] as string).messages[1].content as string).replace(
    /^Inquiry: "|"$/g,
    '',
  );

async function waitForRun(app: FastifyInstance, runId: string, until: (run: { status: string; progress: { done: number } }) => boolean = (run) => ['completed', 'failed', 'cancelled'].includes(run.status)) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject(`/evaluate/${runId}`)).json();
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} (${JSON.stringify(run.progress)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startRun(app: FastifyInstance, body: object) {
  const reply = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (reply.statusCode !== 202) throw new Error(`POST /evaluate: ${reply.statusCode} ${reply.body}`);
  return reply;
}

const csvRows = (text: string) => parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];

t.test('a run end to end with no API key: retrieval model, heuristic scorer, CSV, summary, Markdown and chart', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const inquiries = [
    trainingInquiry(3), // in the training file: flagged, left out of the unseen summary
    { id: 'bt', inquiry: 'my bluetoth headphones wont pair with my phone', category: 'troubleshooting' },
    { id: 'cake', inquiry: 'How do I bake a chocolate cake?', reference: 'This is outside what support can help with.' },
    'Can I print the return label at home?',
  ];
  const created = await startRun(app, { inquiries, models: ['retrieval'] });
  const { run_id, status, total } = created.json();
  t.equal(created.headers.location, `/evaluate/${run_id}`);
  t.match(run_id, /^run_\d{8}T\d{6}Z_[0-9a-f]{6}$/);
  t.equal(status, 'queued');
  t.equal(total, 4);

  const run = await waitForRun(app, run_id);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 4, done: 4, failed: 0 });
  t.equal(run.scorer, 'heuristic', 'the default scorer without a key');
  t.same(run.models, [{ alias: 'retrieval', model_id: 'bm25:amazon_electronics_adapted_train' }]);
  t.equal(run.summary.all.items, 4);
  t.equal(run.summary.unseen.items, 2, 'the training inquiry and the paraphrase of one are left out of the unseen summary');
  t.equal(run.summary.headline, 'unseen');
  // "my bluetoth headphones wont pair with my phone" rewords training line 144.
  t.same(run.summary.contamination, { exact: 1, near: 1, none: 2 });
  t.same(run.summary.reference_coverage, { with_reference: 1, items: 4 });
  t.equal(run.summary.provenance.scorer, 'heuristic');
  t.match(run.summary.provenance.prompt_sha256, /^[0-9a-f]{64}$/);
  t.ok(run.summary.heuristic_agreement.calibration.pairs >= 60, 'the measured agreement travels with a heuristic summary');

  const csvReply = await app.inject(`/evaluate/${run_id}/results.csv`);
  t.equal(csvReply.statusCode, 200);
  t.match(csvReply.headers['content-type'], /text\/csv/);
  t.equal(csvReply.body.split('\n')[0], CSV_COLUMNS.join(','), 'the case study columns first, in order');
  const rows = csvRows(csvReply.body);
  t.equal(rows.length, 4);
  t.same(rows.map((row) => row.in_training), ['exact', 'near', 'none', 'none']);
  t.same([rows[0]?.training_line, rows[1]?.training_line], ['3', '144']);
  t.ok(rows.every((row) => row.model === 'bm25:amazon_electronics_adapted_train' && row.model_alias === 'retrieval' && row.scorer === 'heuristic'));
  // The heuristic never grades against a training answer: without a given reference, accuracy and completeness are not scored.
  t.same(
    rows.map((row) => [row.item_id, row.exactitude === '', row.unscored_reason]),
    [
      ['item-1', true, 'no_reference'],
      ['bt', true, 'no_reference'],
      ['cake', false, ''],
      ['item-4', true, 'no_reference'],
    ],
  );
  const model = run.summary.all.models[0];
  t.equal(model.unscored_no_reference, 3);
  t.equal(model.failed, 0);

  // The summary's numbers are the means of the rows that have them.
  const mean = (column: string) => {
    const values = rows.filter((row) => row[column] !== '').map((row) => Number(row[column]));
    return values.reduce((sum, value) => sum + value, 0) / values.length;
  };
  const means = model.means;
  t.ok(Math.abs(means.accuracy - mean('exactitude')) < 1e-9);
  t.ok(Math.abs(means.actionability - mean('actionnabilite')) < 1e-9);
  t.ok(Math.abs(means.completeness - mean('exhaustivite')) < 1e-9);
  t.ok(Math.abs(means.safety_tone - mean('securite')) < 1e-9);
  t.ok(Math.abs(means.weighted - mean('score_pondere')) < 1e-3);

  const markdown = (await app.inject(`/evaluate/${run_id}/summary.md`)).body;
  t.match(markdown, /\| Criterion \| retrieval \|/);
  t.match(markdown, `| **Weighted score** | ${roundForDisplay(means.weighted).toFixed(2)} |`);
  t.match(markdown, 'retrieval 4 scored, 3 unscored: no reference, 0 failed');
  t.match(markdown, 'The heuristic is a screening tool, not a judge');

  const chart = await app.inject(`/evaluate/${run_id}/chart.svg`);
  t.equal(chart.headers['content-type'], 'image/svg+xml');
  t.match(chart.body, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(chart.body, /<\/svg>\s*$/);
  t.match(chart.body, '>retrieval · heuristic scorer · 4 items</text>', 'the chart says what it compares, not only the run id');
  t.match(chart.body, '>Headline: items not in the training set (2 items)</text>');
  t.match(chart.body, '>All items (4 items)</text>', 'all items beside the unseen ones');
  t.match(chart.body, `Run ${run_id}`);
  t.match(chart.body, "Y-axis titled 'Mean score (rubric 1-5)' for a linear scale with values from 1 to 5", 'the axis is the rubric\'s');
  t.notMatch(chart.body, '0-5');

  const wide = await app.inject(`/evaluate/${run_id}/results-wide.csv`);
  t.equal(wide.statusCode, 200);
  t.equal(wide.headers['content-type'], 'text/csv; charset=utf-8');
  t.equal(wide.headers['content-disposition'], `attachment; filename="${run_id}-wide.csv"`);
  t.same(csvRows(wide.body).map((row) => [row.item_id, row.retrieval_outcome]), [['item-1', 'scored'], ['bt', 'scored'], ['cake', 'scored'], ['item-4', 'scored']], 'a row per inquiry, in the run\'s order');
  t.same(run.links, {
    self: `/evaluate/${run_id}`,
    results_csv: `/evaluate/${run_id}/results.csv`,
    results_wide_csv: `/evaluate/${run_id}/results-wide.csv`,
    summary_md: `/evaluate/${run_id}/summary.md`,
    chart_svg: `/evaluate/${run_id}/chart.svg`,
  });

  const files = join(reportsDir, 'runs', run_id);
  for (const file of ['run.json', 'items.jsonl', 'results.jsonl', 'summary.json', 'summary.md', 'results.csv', 'results-wide.csv', 'chart.svg']) {
    t.ok(existsSync(join(files, file)), `${file} written`);
  }
  t.equal(readFileSync(join(reportsDir, 'eval_results.csv'), 'utf8'), readFileSync(join(files, 'results.csv'), 'utf8'), 'reports/eval_results.csv updated');

  const list = (await app.inject('/evaluate')).json().runs;
  t.equal(list[0].run_id, run_id);
});

t.test('a run reads as ended only once its exports are written, and its downloads are those files', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const inquiries = ['Can I print the return label at home?', 'How long does a refund to my card take?'];
  const { run_id } = (await startRun(app, { inquiries, models: ['retrieval'] })).json();
  await waitForRun(app, run_id);
  const files = join(reportsDir, 'runs', run_id);
  const exports = ['summary.json', 'summary.md', 'results.csv', 'results-wide.csv', 'chart.svg'];
  t.same(exports.filter((file) => !existsSync(join(files, file))), [], 'every export is on disk when the run first reads as completed');

  // Served as written: emptying the results no longer changes what a download of the ended run returns.
  const csv = readFileSync(join(files, 'results.csv'), 'utf8');
  const wideCsv = readFileSync(join(files, 'results-wide.csv'), 'utf8');
  const chart = readFileSync(join(files, 'chart.svg'), 'utf8');
  writeFileSync(join(files, 'results.jsonl'), '');
  const csvReply = await app.inject(`/evaluate/${run_id}/results.csv`);
  t.equal(csvReply.headers['content-type'], 'text/csv; charset=utf-8');
  t.equal(csvReply.body, csv);
  t.equal(csvRows(csvReply.body).length, 2);
  t.equal((await app.inject(`/evaluate/${run_id}/results-wide.csv`)).body, wideCsv);
  t.equal(csvRows(wideCsv).length, 2);
  t.equal((await app.inject(`/evaluate/${run_id}/chart.svg`)).body, chart);
});

t.test('?bom=1 starts a CSV download with a UTF-8 byte-order mark for Excel; the files on disk have none', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const { run_id } = (await startRun(app, { inquiries: ['My café’s speaker… won’t pair'], models: ['retrieval'] })).json();
  await waitForRun(app, run_id);
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  for (const [file, onDisk] of [['results.csv', 'results.csv'], ['results-wide.csv', 'results-wide.csv']] as const) {
    const saved = readFileSync(join(reportsDir, 'runs', run_id, onDisk));
    t.notOk(saved.subarray(0, 3).equals(BOM), `${onDisk} on disk has no mark`);
    const plain = await app.inject(`/evaluate/${run_id}/${file}`);
    t.ok(plain.rawPayload.equals(saved), `${file}: as saved by default`);
    t.ok((await app.inject(`/evaluate/${run_id}/${file}?bom=0`)).rawPayload.equals(saved));
    const marked = await app.inject(`/evaluate/${run_id}/${file}?bom=1`);
    t.equal(marked.statusCode, 200);
    t.equal(marked.headers['content-type'], 'text/csv; charset=utf-8');
    t.ok(marked.rawPayload.equals(Buffer.concat([BOM, saved])), `${file}?bom=1: the mark, then the same bytes`);
    t.match(marked.rawPayload.toString('utf8'), 'café’s speaker… won’t pair');
    for (const query of ['bom=yes', 'bom=2', 'delimiter=;']) {
      const refused = await app.inject(`/evaluate/${run_id}/${file}?${query}`);
      t.equal(refused.statusCode, 400, `${file}?${query}`);
      t.equal(refused.json().error.code, 'validation_error');
    }
  }
  t.notOk(readFileSync(join(reportsDir, 'eval_results.csv')).subarray(0, 3).equals(BOM), 'nor reports/eval_results.csv');
});

t.test('a summary saved by an older version, without its completeness, is made again from the results', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const { run_id } = (await startRun(app, { inquiries: ['Can I print the return label at home?'], models: ['retrieval'] })).json();
  await waitForRun(app, run_id);
  const path = join(reportsDir, 'runs', run_id, 'summary.json');
  const { completeness, ...older } = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify(older));
  const reply = await app.inject(`/evaluate/${run_id}`);
  t.equal(reply.statusCode, 200);
  t.same(reply.json().summary.completeness, completeness);
  t.same(completeness, { run_status: 'completed', items: 1, finished: 1, partial: false });
});

t.test('two upstream models, a prompt set, contamination flags and the gain', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    answer: (request) =>
      (request.body.model as string).startsWith('ft:')
        ? "Go to 'Your Orders', select the order, then choose 'Return or replace items'. Most items can be returned within 30 days of delivery."
        : 'You may want to contact customer service.',
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const { run_id } = (await startRun(app, { prompt_set: 'eval_inquiries', scorer: 'heuristic' })).json();
  const run = await waitForRun(app, run_id);
  const items = JSON.parse(readFileSync('data/prompt_sets/eval_inquiries.json', 'utf8')).length;
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: items * 2, done: items * 2, failed: 0 });
  t.equal(fake.requests.length, items * 2, 'one call per (item, model); the heuristic calls nothing');
  const [fineTuned, baseline] = run.summary.all.models;
  t.equal(fineTuned.alias, 'fine-tuned');
  t.ok(fineTuned.means.actionability > baseline.means.actionability, 'the step-by-step model wins on actionability');
  const [gain] = run.summary.all.comparisons;
  t.equal(gain.first, 'fine-tuned');
  t.equal(gain.second, 'baseline');
  const weighted = gain.measures.weighted;
  const withReference = JSON.parse(readFileSync('data/prompt_sets/eval_inquiries.json', 'utf8')).filter((item: { reference?: string }) => typeof item === 'object' && item.reference).length;
  t.equal(weighted.n_pairs, withReference, 'paired over the items scored for both: those with a reference');
  t.ok(weighted.mean_difference > 0 && weighted.ci95_bootstrap.low > 0, 'a clear gain, with an interval above 0');
  t.equal(weighted.p_method, 'monte_carlo_sign_flip');
  t.ok(fineTuned.estimated_cost_usd > 0, 'list prices apply to the default models');
  const markdown = (await app.inject(`/evaluate/${run_id}/summary.md`)).body;
  t.match(markdown, `**fine-tuned vs baseline, weighted score: ${gain.headline}**`);
  t.match(gain.headline, new RegExp(`^\\+\\d\\.\\d\\d \\(95% CI \\+\\d\\.\\d\\d to \\+\\d\\.\\d\\d, ${withReference} pairs, W/T/L \\d+/\\d+/\\d+, p [<=] 0\\.\\d+\\)$`));

  // The wide CSV puts the two answers side by side; its per-item differences average to the paired gain.
  const wideRows = csvRows((await app.inject(`/evaluate/${run_id}/results-wide.csv`)).body);
  t.equal(wideRows.length, items);
  const differences = wideRows.map((row) => row['fine-tuned_minus_baseline_score_pondere']).filter((value) => value !== '').map(Number);
  t.equal(differences.length, weighted.n_pairs);
  t.ok(Math.abs(differences.reduce((sum, value) => sum + value, 0) / differences.length - weighted.mean_difference) < 1e-3, 'the mean of the differences is the gain');
  t.ok(wideRows.every((row) => row['fine-tuned_answer']?.startsWith("Go to 'Your Orders'") && row.baseline_answer === 'You may want to contact customer service.'));
  t.same(run.summary.completeness, { run_status: 'completed', items, finished: items, partial: false });
  t.notMatch(markdown, 'Partial');

  // The summary saved when the run ended is the one recomputed from its results, byte for byte.
  const recomputed = await app.inject(`/evaluate/${run_id}`);
  t.same(recomputed.json().summary, run.summary);
});

t.test('never more upstream calls in flight than the run allows, judge calls included', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    latencyMs: 30,
    structured: () => ({
      accuracy: { rationale: 'ok', score: 4 },
      actionability: { rationale: 'ok', score: 4 },
      completeness: { rationale: 'ok', score: 4 },
      safety_tone: { rationale: 'ok', score: 5 },
    }),
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const inquiries = Array.from({ length: 20 }, (_, i) => `Question number ${i} about my order`);
  const { run_id } = (await startRun(app, { inquiries, concurrency: 3, scorer: 'judge' })).json();
  const run = await waitForRun(app, run_id);
  t.equal(run.status, 'completed');
  t.equal(fake.requests.length, 80, '40 answers and 40 judge calls');
  t.equal(fake.maxInFlight, 3, 'the bound is reached and never exceeded');
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(warnings.includes('MaxListenersExceededWarning'), "the SDK's abort listeners, never removed, do not pile up on any signal");
  t.equal(run.summary.all.models[0].means.weighted, 0.4 * 4 + 0.25 * 4 + 0.25 * 4 + 0.1 * 5);
});

t.test('a judge reply that does not parse fails the item with its reason, never a fallback score', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    behaviour: (request) => ((request.body.text as { format?: { type?: string } } | undefined)?.format?.type === 'json_schema' ? { text: 'I think it is good' } : undefined),
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const { run_id } = (await startRun(app, { inquiries: ['Where is my order?'], models: ['fine-tuned'], scorer: 'judge' })).json();
  const run = await waitForRun(app, run_id);
  t.same(run.progress, { total: 1, done: 1, failed: 1 });
  t.match(run.summary.all.models[0], { n: 1, scored: 0, failed: 1, means: null });
  const [row] = csvRows((await app.inject(`/evaluate/${run_id}/results.csv`)).body);
  t.match(row, { outcome: 'failed', exactitude: '', answer: /Fake answer/, error: /^score\/judge_unparsable: / });
});

t.test('formula-looking answers cannot run in a spreadsheet', async (t) => {
  const answers = ['=HYPERLINK("http://evil.example","click")', '+1+1', '-2+3', '@SUM(A1:A2)'];
  let call = 0;
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: () => answers[call++ % answers.length] as string });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const { run_id } = (await startRun(app, { inquiries: ['=1+2', 'b', 'c', 'd'], models: ['fine-tuned'], scorer: 'none', concurrency: 1 })).json();
  await waitForRun(app, run_id);
  const rows = csvRows((await app.inject(`/evaluate/${run_id}/results.csv`)).body);
  t.same(
    rows.map((row) => row.answer),
    answers.map((answer) => `'${answer}`),
  );
  t.equal(rows[0]?.inquiry, "'=1+2");
  t.ok(rows.every((row) => row.outcome === 'unscored' && row.score_pondere === ''));
});

t.test('cancelling keeps the finished items and stops calling the upstream', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 40 });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const inquiries = Array.from({ length: 60 }, (_, i) => `Inquiry ${i}`);
  const { run_id } = (await startRun(app, { inquiries, models: ['fine-tuned'], scorer: 'heuristic', concurrency: 2 })).json();
  await waitForRun(app, run_id, (run) => run.progress.done >= 4);
  t.match((await app.inject(`/evaluate/${run_id}/summary.md`)).body, /^# Evaluation run \S+\n\n\*\*Partial: \d+ of 60 items finished; the run is running\.\*\*/);

  const cancelled = await app.inject({ method: 'DELETE', url: `/evaluate/${run_id}` });
  t.equal(cancelled.statusCode, 200);
  t.equal(cancelled.json().status, 'cancelled');
  const callsAtCancel = fake.requests.length;
  const { done } = cancelled.json().progress;
  t.ok(done >= 4 && done < 60);
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.equal(fake.requests.length, callsAtCancel, 'no call after the cancellation');
  t.equal(csvRows((await app.inject(`/evaluate/${run_id}/results.csv`)).body).length, done, 'finished items are kept');
  const run = (await app.inject(`/evaluate/${run_id}`)).json();
  t.equal(run.summary.all.models[0].n, done);
  t.same(run.summary.completeness, { run_status: 'cancelled', items: 60, finished: done, partial: true });
  const markdown = (await app.inject(`/evaluate/${run_id}/summary.md`)).body;
  t.ok(markdown.startsWith(`# Evaluation run ${run_id}\n\n**Partial: ${done} of 60 items finished; the run was cancelled.**`), markdown.slice(0, 160));
  t.match((await app.inject(`/evaluate/${run_id}/chart.svg`)).body, `Partial: ${done} of 60 items finished; the run was cancelled.`);
  t.equal(csvRows((await app.inject(`/evaluate/${run_id}/results-wide.csv`)).body).length, done, 'the wide CSV has a row per finished item');

  const again = await app.inject({ method: 'DELETE', url: `/evaluate/${run_id}` });
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'run_finished');
});

t.test('a restart in the middle of a run resumes it without repeating finished items', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 30 });
  t.teardown(() => fake.close());
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-restart-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, REPORTS_DIR: reportsDir };

  const first = await buildTestApp(t, env);
  const inquiries = Array.from({ length: 30 }, (_, i) => `Resume question ${i}`);
  const { run_id } = (await startRun(first.app, { inquiries, scorer: 'heuristic', concurrency: 2 })).json();
  await waitForRun(first.app, run_id, (run) => run.progress.done >= 10);
  await first.app.close();

  const resultsFile = join(reportsDir, 'runs', run_id, 'results.jsonl');
  const finishedBefore = readFileSync(resultsFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { inquiry: string; model_id: string });
  t.equal(JSON.parse(readFileSync(join(reportsDir, 'runs', run_id, 'run.json'), 'utf8')).status, 'running', 'left running on disk');
  const callsBefore = fake.requests.length;

  const second = await buildTestApp(t, env);
  const run = await waitForRun(second.app, run_id);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 60, done: 60, failed: 0 });
  const callsAfter = fake.requests.slice(callsBefore);
  const repeated = callsAfter.filter((call) => finishedBefore.some((done) => call.userText === `Inquiry: "${done.inquiry}"` && call.body.model === done.model_id));
  t.equal(repeated.length, 0, 'no finished item is sent upstream again');
  t.equal(callsAfter.length, 60 - finishedBefore.length, 'exactly the unfinished pairs are called (in-flight ones abandoned at shutdown included)');
  const keys = readFileSync(resultsFile, 'utf8').trim().split('\n').map((line) => {
    const result = JSON.parse(line) as { item_id: string; model_alias: string };
    return `${result.item_id}/${result.model_alias}`;
  });
  t.equal(new Set(keys).size, 60, 'no duplicate rows');
});

t.test('a partial last line left by a crash is repaired before resuming', async (t) => {
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-partial-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const first = await buildTestApp(t, { REPORTS_DIR: reportsDir });
  const { run_id } = (await startRun(first.app, { inquiries: ['a', 'b', 'c'], models: ['retrieval'] })).json();
  await waitForRun(first.app, run_id);
  await first.app.close();
  // Simulate a crash: mark it running again and leave half a line at the end of results.jsonl.
  const dir = join(reportsDir, 'runs', run_id);
  const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'results.jsonl'), `${lines.slice(0, 2).join('\n')}\n${(lines[2] as string).slice(0, 20)}`);
  const record = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...record, status: 'running', finished_at: null }));

  const second = await buildTestApp(t, { REPORTS_DIR: reportsDir });
  const run = await waitForRun(second.app, run_id);
  t.same(run.progress, { total: 3, done: 3, failed: 0 });
  t.equal(readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').length, 3);
});

t.test('bad requests are refused before anything is spent', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const cases: Array<[object, number, string, RegExp?]> = [
    [{}, 400, 'validation_error', /exactly one of prompt_set and inquiries/],
    [{ prompt_set: 'eval_inquiries', inquiries: ['a'] }, 400, 'validation_error'],
    [{ prompt_set: '../secrets' }, 400, 'validation_error', /prompt_set/],
    [{ prompt_set: 'nope.json' }, 400, 'unknown_prompt_set', /eval_inquiries\.json/],
    [{ inquiries: [] }, 400, 'validation_error'],
    [{ inquiries: Array.from({ length: 5001 }, () => 'q') }, 400, 'validation_error', /5000/],
    [{ inquiries: ['a'], models: ['a', 'b', 'c', 'd', 'e'] }, 400, 'validation_error'],
    [{ inquiries: ['a'], models: ['baseline', 'gpt-4.1-mini-2025-04-14'] }, 400, 'duplicate_model'],
    [{ inquiries: ['a'], models: ['gpt-9'] }, 400, 'unknown_model'],
    [{ inquiries: ['a'], concurrency: 65 }, 400, 'validation_error'],
    [{ inquiries: ['a'], scorer: 'vibes' }, 400, 'validation_error'],
    [{ inquiries: [{ id: 'x', inquiry: 'a' }, { id: 'x', inquiry: 'b' }] }, 400, 'duplicate_item_id'],
    [{ inquiries: [{ inquiry: 'a', extra: 1 }] }, 400, 'validation_error'],
    [{ inquiries: ['a'], judge_samples: 6 }, 400, 'validation_error', /judge_samples/],
    [{ inquiries: ['a'], judge_samples: 0 }, 400, 'validation_error', /judge_samples/],
    [{ inquiries: ['a'], models: ['fine-tuned'], scorer: 'pairwise' }, 400, 'pairwise_needs_two_models', /at least two models/],
  ];
  for (const [body, status, code, message] of cases) {
    const reply = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
    t.equal(reply.statusCode, status, JSON.stringify(body).slice(0, 80));
    t.equal(reply.json().error.code, code);
    if (message) t.match(reply.json().error.message, message);
  }
  t.equal(fake.requests.length, 0);
  t.equal((await app.inject('/evaluate')).json().runs.length, 0, 'no run was created');

  const noKey = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const refused = await noKey.app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: ['a'] } });
  t.equal(refused.statusCode, 503);
  t.match(refused.json().error, { code: 'missing_api_key', message: /OPENAI_API_KEY/ });
  const judgeless = await noKey.app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: ['a'], models: ['retrieval'], scorer: 'judge' } });
  t.equal(judgeless.statusCode, 503);

  t.equal((await app.inject('/evaluate/run_nope')).statusCode, 404);
  t.equal((await app.inject('/evaluate/run_nope')).json().error.code, 'run_not_found');
  t.equal((await app.inject('/evaluate/..%2Fetc')).statusCode, 400);
  t.equal((await app.inject('/evaluate/run_nope/results.csv')).statusCode, 404);
  t.equal((await app.inject({ method: 'DELETE', url: '/evaluate/run_nope' })).statusCode, 404);
});

/** A pairwise reply preferring one label on every aspect. */
const pairwiseReply = (preference: 'A' | 'B' | 'tie') =>
  Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone', 'overall'].map((aspect) => [aspect, { rationale: aspect, preference }]));
const STEPS = "Go to 'Your Orders', select the order, then choose 'Return or replace items'.";
/** A blind judge that prefers the step-by-step answer wherever it is shown. */
const prefersSteps = (request: { userText: string }) => pairwiseReply(request.userText.indexOf(STEPS) > request.userText.indexOf('<answer_b>') ? 'B' : 'A');

t.test('a pairwise run: every item answered by both models, judged in both orders; the summary reports the win rate with its interval', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    answer: (request) => ((request.body.model as string).startsWith('ft:') ? STEPS : 'You may want to contact customer service.'),
    structured: prefersSteps,
  });
  t.teardown(() => fake.close());
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const inquiries = ['Return a speaker', 'Return a TV', 'Return a phone', trainingInquiry(3)];
  const { run_id, total } = (await startRun(app, { inquiries, scorer: 'pairwise', concurrency: 2 })).json();
  t.equal(total, 4 * 2 + 4, 'two answers and one verdict per item');
  const run = await waitForRun(app, run_id);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 12, done: 12, failed: 0 });
  t.equal(fake.requests.length, 8 + 8, 'eight answers, eight judge calls (two orders per item)');
  t.ok(fake.maxInFlight <= 2);
  t.equal(run.summary.provenance.scorer, 'pairwise');
  t.equal(run.summary.headline, 'unseen');
  const [pair] = run.summary.unseen.pairwise;
  t.match(pair, { first: 'fine-tuned', second: 'baseline', judged: 3, failed: 0, overall: { wins: 3, ties: 0, losses: 0, inconsistent: 0 } });
  t.equal(pair.overall.win_rate.value, 1);
  t.ok(pair.overall.win_rate.low > 0.3 && pair.overall.win_rate.high === 1, 'Wilson interval for 3/3');
  t.equal(run.summary.all.pairwise[0].judged, 4);
  const markdown = (await app.inject(`/evaluate/${run_id}/summary.md`)).body;
  t.match(markdown, '**Pairwise judge, fine-tuned vs baseline: fine-tuned preferred on 100% of 3 items');
  const verdicts = readFileSync(join(reportsDir, 'runs', run_id, 'verdicts.jsonl'), 'utf8').trim().split('\n');
  t.equal(verdicts.length, 4);
  const rows = csvRows((await app.inject(`/evaluate/${run_id}/results.csv`)).body);
  t.equal(rows.length, 8);
  t.ok(rows.every((row) => row.outcome === 'unscored' && row.judge_alias === 'judge' && /^[0-9a-f]{64}$/.test(row.prompt_sha256 ?? '')), 'every row says what judged the run');
});

t.test('a pairwise run resumes after a restart without asking any model or the judge again for finished work', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    latencyMs: 25,
    answer: (request) => ((request.body.model as string).startsWith('ft:') ? STEPS : 'Contact support.'),
    structured: prefersSteps,
  });
  t.teardown(() => fake.close());
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-pairwise-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, REPORTS_DIR: reportsDir };
  const first = await buildTestApp(t, env);
  const inquiries = Array.from({ length: 12 }, (_, i) => `Pairwise question ${i}`);
  const { run_id } = (await startRun(first.app, { inquiries, scorer: 'pairwise', concurrency: 2 })).json();
  await waitForRun(first.app, run_id, (run) => run.progress.done >= 10);
  await first.app.close();
  const second = await buildTestApp(t, env);
  const run = await waitForRun(second.app, run_id);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 36, done: 36, failed: 0 });
  const dir = join(reportsDir, 'runs', run_id);
  const answers = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n');
  const verdicts = readFileSync(join(dir, 'verdicts.jsonl'), 'utf8').trim().split('\n');
  t.equal(new Set(answers.map((line) => { const r = JSON.parse(line); return `${r.item_id}/${r.model_alias}`; })).size, 24);
  t.equal(answers.length, 24, 'no answer written twice');
  t.equal(verdicts.length, 12, 'no verdict written twice');
  // 24 answers and 12 × 2 judge calls in all. What a worker had under way at shutdown is done again: an answer
  // call, or a verdict whose first order was in but not its second (a verdict is written whole), so at most
  // two calls per worker.
  t.ok(fake.requests.length <= 48 + 2 * 2, `${fake.requests.length} calls: finished answers and verdicts were not asked for again`);
  t.equal(run.summary.all.pairwise[0].overall.wins, 12);
});

t.test('the judge asked three times per answer: means, spread and provenance in the summary and the CSV', async (t) => {
  let judgeCall = 0;
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    structured: () => {
      // Samples of 4, 5, 4 on every criterion, per answer.
      const score = [4, 5, 4][judgeCall++ % 3] as number;
      return Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone'].map((criterion) => [criterion, { rationale: 'r', score }]));
    },
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const { run_id } = (await startRun(app, { inquiries: ['Where is my order?', 'Can I return a TV?'], models: ['fine-tuned'], scorer: 'judge', judge_samples: 3, concurrency: 1 })).json();
  const run = await waitForRun(app, run_id);
  t.equal(fake.requests.length, 2 + 6);
  t.equal(run.judge_samples, 3);
  t.equal(run.summary.provenance.judge_samples, 3);
  t.ok(Math.abs(run.summary.all.models[0].means.accuracy - 13 / 3) < 1e-9, 'the mean of the samples');
  const [row] = csvRows((await app.inject(`/evaluate/${run_id}/results.csv`)).body);
  t.equal(row?.judge_samples, '3');
  t.ok(Math.abs(Number(row?.sample_sd_weighted) - Math.sqrt(1 / 3)) < 1e-3, `sample SD ${row?.sample_sd_weighted}`);
  t.match(row?.rationale, '(3 samples: 4, 5, 4)');
});

t.test('a paraphrase of a training inquiry is contamination too: marked near, with its training line, and left out of the headline', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const exact = trainingInquiry(1);
  const paraphrase = `${exact.replace(/\?$/, '')} please?`;
  const { run_id } = (await startRun(app, { inquiries: [exact, paraphrase, 'How do I bake a chocolate cake?'], models: ['retrieval'] })).json();
  const run = await waitForRun(app, run_id);
  t.same(run.summary.contamination, { exact: 1, near: 1, none: 1 });
  t.equal(run.summary.unseen.items, 1);
  const rows = csvRows((await app.inject(`/evaluate/${run_id}/results.csv`)).body);
  t.same(rows.map((row) => [row.in_training, row.training_line]), [['exact', '1'], ['near', '1'], ['none', rows[2]?.training_line ?? '']]);
});

t.test('the bundled prompt set offline, retrieval against the hand-off floor: a paired headline with interval, W/T/L, safety gate and provenance', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const { run_id } = (await startRun(app, { prompt_set: 'eval_inquiries', models: ['retrieval', 'handoff'] })).json();
  const run = await waitForRun(app, run_id);
  t.equal(run.status, 'completed');
  t.equal(run.scorer, 'heuristic');
  const items = JSON.parse(readFileSync('data/prompt_sets/eval_inquiries.json', 'utf8')) as Array<string | { reference?: string }>;
  const withReference = items.filter((item) => typeof item === 'object' && item.reference).length;
  t.same(run.summary.reference_coverage, { with_reference: withReference, items: items.length });
  const [gain] = run.summary[run.summary.headline].comparisons;
  t.match(gain, { first: 'retrieval', second: 'handoff' });
  t.equal(gain.measures.weighted.n_pairs, withReference);
  t.match(gain.headline, /^[+-]?\d\.\d\d \(95% CI [+-]?\d\.\d\d to [+-]?\d\.\d\d, \d+ pairs, W\/T\/L \d+\/\d+\/\d+, p [<=] [\d.]+\)$/);
  t.ok(gain.measures.actionability.n_pairs === items.length, 'actionability is paired on every item, reference or not');
  for (const model of run.summary.all.models) t.match(model.safety_gate, { max_level: 2, count: Number, item_ids: Array });
  t.match(run.summary.provenance, { scorer: 'heuristic', prompt_sha256: /^[0-9a-f]{64}$/, bootstrap: { seed: Number, resamples: 10_000, method: 'bca' }, service_version: '0.2.0' });
  const markdown = (await app.inject(`/evaluate/${run_id}/summary.md`)).body;
  t.match(markdown, `**retrieval vs handoff, weighted score: ${gain.headline}**`);
  t.match(markdown, '**Safety gate**');
  t.match(markdown, 'Intervals: paired bootstrap (10,000 resamples, BCa, seed');
});

t.test('a prompt set that links out of data/prompt_sets is refused, and no reply quotes a file', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'data-links-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { cpSync, mkdirSync, symlinkSync } = await import('node:fs');
  cpSync('data/amazon_electronics_adapted_train.jsonl', join(dataDir, 'amazon_electronics_adapted_train.jsonl'));
  mkdirSync(join(dataDir, 'prompt_sets'));
  const secret = join(dataDir, 'passwd');
  writeFileSync(secret, 'root:x:0:0:root:/root:/bin/bash\n');
  symlinkSync(secret, join(dataDir, 'prompt_sets', 'outside.json'));
  symlinkSync(join(dataDir, 'nothing-here'), join(dataDir, 'prompt_sets', 'dangling.json'));
  writeFileSync(join(dataDir, 'prompt_sets', 'broken.json'), 'root:x:0:0:secret-looking content');
  writeFileSync(join(dataDir, 'prompt_sets', 'inside.json'), JSON.stringify(['Where is my order?']));
  symlinkSync(join(dataDir, 'prompt_sets', 'inside.json'), join(dataDir, 'prompt_sets', 'alias.json'));
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '', DATA_DIR: dataDir });
  for (const [name, message] of [
    ['outside.json', /link to a file outside data\/prompt_sets/],
    ['dangling.json', /cannot be read/],
    ['broken.json', /is not valid JSON\.$/],
  ] as const) {
    const reply = await app.inject({ method: 'POST', url: '/evaluate', payload: { prompt_set: name, models: ['retrieval'] } });
    t.equal(reply.statusCode, 400, name);
    t.equal(reply.json().error.code, 'invalid_prompt_set');
    t.match(reply.json().error.message, message);
    t.notMatch(reply.body, /root:x/, 'the file content is never in the reply');
  }
  const inside = await app.inject({ method: 'POST', url: '/evaluate', payload: { prompt_set: 'alias.json', models: ['retrieval'] } });
  t.equal(inside.statusCode, 202, 'a link within the folder is fine');
  await waitForRun(app, inside.json().run_id);
});

t.test('two processes on one reports folder: only one executes a run, and no pair is called twice', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 30 });
  t.teardown(() => fake.close());
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-shared-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, REPORTS_DIR: reportsDir };
  const first = await buildTestApp(t, env);
  const inquiries = Array.from({ length: 20 }, (_, i) => `Shared folder question ${i}`);
  const { run_id } = (await startRun(first.app, { inquiries, scorer: 'heuristic', concurrency: 2 })).json();
  await waitForRun(first.app, run_id, (run) => run.progress.done >= 4);

  // A second instance starts on the same folder while the run is going: it finds the run "running" and leaves it alone.
  const second = await buildTestApp(t, env);
  t.ok(second.logs().some((line) => line.msg === 'evaluation run left alone: another process sharing the run store is executing it' && line.run_id === run_id));
  const run = await waitForRun(first.app, run_id);
  t.equal(run.status, 'completed');
  t.equal(fake.requests.length, 40, 'every pair called once');
  const lines = readFileSync(join(reportsDir, 'runs', run_id, 'results.jsonl'), 'utf8').trim().split('\n');
  t.equal(lines.length, 40, 'no result written twice');
  // The lock is released just after the run reads as completed.
  for (let wait = 0; wait < 100 && existsSync(join(reportsDir, 'runs', run_id, 'run.lock')); wait += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  t.notOk(existsSync(join(reportsDir, 'runs', run_id, 'run.lock')), 'the lock goes with the run');
});

t.test('GET /evaluate pages through the runs, newest first, with a cursor', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const ids: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const { run_id } = (await startRun(app, { inquiries: [`Page question ${i}`], models: ['retrieval'] })).json();
    await waitForRun(app, run_id);
    ids.unshift(run_id);
  }
  const first = (await app.inject('/evaluate?limit=2')).json();
  t.same(first.runs.map((run: { run_id: string }) => run.run_id), ids.slice(0, 2));
  t.equal(first.next_cursor, ids[1]);
  const second = (await app.inject(`/evaluate?limit=2&cursor=${first.next_cursor}`)).json();
  t.same(second.runs.map((run: { run_id: string }) => run.run_id), ids.slice(2, 4));
  const last = (await app.inject(`/evaluate?limit=2&cursor=${second.next_cursor}`)).json();
  t.same(last.runs.map((run: { run_id: string }) => run.run_id), ids.slice(4));
  t.equal(last.next_cursor, null);
  t.equal((await app.inject('/evaluate')).json().runs.length, 5, 'the default page holds 20');
  for (const [query, code] of [
    ['limit=0', 'validation_error'],
    ['limit=101', 'validation_error'],
    ['cursor=..%2Fetc', 'validation_error'],
    ['cursor=run_nope', 'invalid_cursor'],
    ['page=2', 'validation_error'],
  ] as const) {
    const reply = await app.inject(`/evaluate?${query}`);
    t.equal(reply.statusCode, 400, query);
    t.equal(reply.json().error.code, code, query);
  }
});

t.test('at most MAX_RUNNING_RUNS runs execute at once: the others wait as queued, start oldest first, and can be cancelled while waiting', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 40 });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, MAX_RUNNING_RUNS: '1' });
  const inquiries = (tag: string) => Array.from({ length: 6 }, (_, i) => `${tag} question ${i}`);
  const first = (await startRun(app, { inquiries: inquiries('first'), models: ['fine-tuned'], scorer: 'heuristic', concurrency: 2 })).json();
  const second = (await startRun(app, { inquiries: inquiries('second'), models: ['fine-tuned'], scorer: 'heuristic', concurrency: 2 })).json();
  const third = (await startRun(app, { inquiries: inquiries('third'), models: ['fine-tuned'], scorer: 'heuristic', concurrency: 2 })).json();
  t.same([first.status, second.status, third.status], ['queued', 'queued', 'queued'], 'accepted at once');
  t.equal((await app.inject(`/evaluate/${second.run_id}`)).json().status, 'queued', 'the second waits while the first runs');

  const cancelled = await app.inject({ method: 'DELETE', url: `/evaluate/${third.run_id}` });
  t.equal(cancelled.statusCode, 200);
  t.match(cancelled.json(), { status: 'cancelled', progress: { done: 0 } });
  t.equal((await app.inject(`/evaluate/${third.run_id}/results.csv`)).statusCode, 200, 'a run cancelled while waiting still has its (empty) exports');

  const done = await waitForRun(app, second.run_id);
  t.equal(done.status, 'completed');
  t.equal((await app.inject(`/evaluate/${first.run_id}`)).json().status, 'completed');
  t.ok(fake.maxInFlight <= 2, `never more than one run's calls at once (${fake.maxInFlight})`);
  const order = fake.requests.map((request) => (request.userText.includes('first') ? 'first' : request.userText.includes('second') ? 'second' : 'third'));
  t.equal(order.lastIndexOf('first') < order.indexOf('second'), true, 'the second started after the first ended');
  t.notOk(order.includes('third'), 'nothing was spent on the cancelled run');
});

t.test('a run that fills its connections never makes an interactive call queue behind it', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 600 });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, OPENAI_MAX_CONNECTIONS: '2' });
  const inquiries = Array.from({ length: 12 }, (_, i) => `Batch question ${i}`);
  const { run_id } = (await startRun(app, { inquiries, models: ['fine-tuned'], scorer: 'none', concurrency: 8 })).json();
  // The run holds both of its connections, with six more calls waiting for them.
  while (fake.inFlight < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  const sent = Date.now();
  const reply = app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'An interactive question' } });
  while (!fake.requests.some((request) => request.userText.includes('An interactive question'))) await new Promise((resolve) => setTimeout(resolve, 5));
  const reached = (fake.requests.find((request) => request.userText.includes('An interactive question'))?.at ?? 0) - sent;
  t.ok(reached < 300, `the interactive call reached the upstream after ${reached} ms, not after a run's call (600 ms) freed a connection`);
  t.equal((await reply).statusCode, 200);
  await waitForRun(app, run_id);
});
