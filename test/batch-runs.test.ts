/**
 * Batch runs (`mode: "batch"`) against the fake upstream's files and batches: one upload and one batch per
 * model (and part), each result recorded once whatever the order of the output file, failed and missing lines
 * retried or failed as asked, the judge's and the pairwise judge's verdicts in batches of their own, the 400 of
 * an upstream with no Batch API, parts over the request limit, and the cost at batch prices. Restarts and cancel: batch-run-restarts.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_FT_MODEL_ID, loadConfig } from '../src/config.js';
import { buildModelRegistry } from '../src/models/registry.js';
import { listPriceFor } from '../src/models/pricing.js';
import { answerCustomId, verdictCustomId } from '../src/runs/batch-lines.js';
import { requireBatchApi } from '../src/runs/batch-support.js';
import { answerOf, batchUploads, defaultVerdict, inquiries, KEY, linesOf, pairwiseFake, pollRun, resultsOf, setup, startRun, until, verdictLinesOf } from './helpers/batch-runs.js';
import { buildTestApp } from './helpers/build-app.js';
import type { FakeOpenAIOptions } from './helpers/fake-openai.js';
import type { BatchLineFate } from './helpers/fake-openai-jobs.js';

// Each test builds an app or two: on a machine busy with the whole suite, the file takes a while.
t.setTimeout(240_000);

t.test('heuristic scorer end to end: one upload and one batch per model, each result once, as the fake answered', async (t) => {
  const { fake, app, reportsDir } = await setup(t);
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(6), models: ['fine-tuned', 'baseline', 'retrieval'], scorer: 'heuristic' });
  const run = await pollRun(app, runId);
  t.equal(run.status, 'completed');
  t.equal(run.mode, 'batch');
  t.same(run.progress, { total: 18, done: 18, failed: 0 });
  t.equal(fake.requests.length, 0, 'no synchronous call: the offline model answers locally');

  const uploads = batchUploads(fake);
  t.same(uploads.map((file) => file.filename).sort(), [`${runId}-answer-baseline-0.jsonl`, `${runId}-answer-fine-tuned-0.jsonl`], 'one upload per upstream model');
  t.equal(fake.batches.created.length, 2, 'one batch per upstream model');
  for (const batch of fake.batches.created) {
    t.match(batch.request, { endpoint: '/v1/responses', completion_window: '24h', metadata: { run_id: runId, part: /^answer:(fine-tuned|baseline):0$/ } });
  }
  const fineTunedLines = linesOf(uploads.find((file) => file.filename.includes('fine-tuned'))?.content as Buffer);
  t.equal(fineTunedLines.length, 6);
  t.match(fineTunedLines[0], { custom_id: answerCustomId('q0', 'fine-tuned'), method: 'POST', url: '/v1/responses', body: { model: DEFAULT_FT_MODEL_ID, store: false } });

  const results = resultsOf(reportsDir, runId);
  t.equal(results.length, 18);
  t.notOk(readFileSync(join(reportsDir, 'runs', runId, 'run.json'), 'utf8').includes(KEY), 'the key is not in the stored record');
  t.notOk(uploads.some((file) => file.content.includes(KEY)), 'nor in what was uploaded');
  t.equal(new Set(results.map((result) => `${result.item_id}/${result.model_alias}`)).size, 18, 'each (item, model) once');
  for (const result of results.filter((result) => result.model_alias !== 'retrieval')) {
    t.equal(result.answer, answerOf(`Inquiry: "${result.inquiry}"`), `${result.item_id} ${result.model_alias}: the fake's answer`);
    t.equal(result.outcome, 'scored');
    t.type(result.tokens_in, 'number');
    t.equal(result.latency_ms, null, 'a batch answer has no latency of its own');
  }
  t.same(
    run.batch?.parts.map((part) => [part.phase, part.alias, part.part, part.lines, part.step, part.status, part.request_counts]),
    [
      ['answer', 'fine-tuned', 0, 6, 'collected', 'completed', { total: 6, completed: 6, failed: 0 }],
      ['answer', 'baseline', 0, 6, 'collected', 'completed', { total: 6, completed: 6, failed: 0 }],
    ],
  );
});

t.test('judge scorer: the verdicts go through a second batch, one line per answer and sample', async (t) => {
  const { fake, app, reportsDir } = await setup(t);
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(4), models: ['fine-tuned', 'baseline'], scorer: 'judge', judge_samples: 2 });
  const run = await pollRun(app, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 8, done: 8, failed: 0 });
  t.equal(fake.requests.length, 0, 'nothing synchronous');
  t.same(batchUploads(fake).map((file) => file.filename).sort(), ['answer-baseline-0', 'answer-fine-tuned-0', 'judge-baseline-0', 'judge-fine-tuned-0'].map((name) => `${runId}-${name}.jsonl`));
  t.equal(fake.batches.created.length, 4);
  const judgeFile = batchUploads(fake).find((file) => file.filename.includes('judge-fine-tuned')) as { content: Buffer };
  const judgeLines = linesOf(judgeFile.content);
  t.equal(judgeLines.length, 8, 'two samples per answer');
  t.match(judgeLines[0], { custom_id: /^j:q\d:fine-tuned:[01]$/, url: '/v1/responses', body: { model: 'gpt-4.1-2025-04-14', text: { format: { type: 'json_schema', name: 'rubric_verdict' } } } });
  t.match(judgeLines[0]?.body.input[1].content, /Answer to Inquiry/, 'the judge sees the batch answer');
  const results = resultsOf(reportsDir, runId);
  t.equal(results.length, 8);
  for (const result of results) t.match(result, { outcome: 'scored', scores: { scorer: 'judge', provenance: { judge_samples: 2 } } });
});

t.test('judge lines that failed: recorded failed at stage score (fail), or judged synchronously (retry); a bad verdict fails as live', async (t) => {
  const judgeLineFailing = (customId: string) => customId === 'j:q1:fine-tuned:0';
  const options: FakeOpenAIOptions = {
    batchLine: ({ customId }) => (judgeLineFailing(customId) ? { status: 500 } : undefined),
    structured: (request, schema) => (request.customId === 'j:q2:fine-tuned:0' ? { accuracy: 'great' } : undefined) ?? defaultVerdict(schema),
  };
  for (const failures of ['fail', 'retry'] as const) {
    const { fake, app, reportsDir } = await setup(t, options);
    fake.batches.autoAdvance = true;
    const runId = await startRun(app, { inquiries: inquiries(3), models: ['fine-tuned'], scorer: 'judge', batch_failures: failures });
    const run = await pollRun(app, runId);
    t.equal(run.status, 'completed', failures);
    const byItem = new Map(resultsOf(reportsDir, runId).map((result) => [result.item_id, result]));
    t.match(byItem.get('q0'), { outcome: 'scored' }, `${failures}: judged in the batch`);
    t.match(byItem.get('q2'), { outcome: 'failed', answer: /^Answer to/, error: { stage: 'score', code: 'judge_unparsable' } }, `${failures}: a verdict off the schema fails the score`);
    if (failures === 'fail') {
      t.match(byItem.get('q1'), { outcome: 'failed', answer: /^Answer to/, error: { stage: 'score', code: String, message: String } }, 'the judge line’s reason');
      t.equal(fake.requests.length, 0);
    } else {
      t.match(byItem.get('q1'), { outcome: 'scored' }, 'judged synchronously');
      t.same(fake.requests.map((request) => request.body.model), ['gpt-4.1-2025-04-14'], 'one synchronous judge call');
    }
  }
});

t.test('chat-style aliases and judge: their batches go to /v1/chat/completions, read as chat replies', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'models-chat-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const modelsFile = join(dir, 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'chat-mini': { model_id: 'gpt-4.1-mini-2025-04-14', api_style: 'chat' }, judge: { api_style: 'chat' } } }));
  const { fake, app, reportsDir } = await setup(t, {}, { MODELS_FILE: modelsFile });
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(2), models: ['chat-mini'], scorer: 'judge' });
  const run = await pollRun(app, runId);
  t.same(run.progress, { total: 2, done: 2, failed: 0 });
  t.same(fake.batches.created.map((batch) => batch.request.endpoint), ['/v1/chat/completions', '/v1/chat/completions']);
  t.ok(resultsOf(reportsDir, runId).every((result) => result.outcome === 'scored' && result.answer.startsWith('Answer to')));
});

t.test('pairwise scorer: the verdicts go through one batch per other model, each the same as a live run gives', async (t) => {
  const { fake, app, reportsDir } = await setup(t, pairwiseFake);
  fake.batches.autoAdvance = true;
  const request = { inquiries: inquiries(4), models: ['fine-tuned', 'baseline', 'retrieval'], scorer: 'pairwise', judge_samples: 2 };
  const runId = await startRun(app, request);
  const run = await pollRun(app, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 20, done: 20, failed: 0 }, 'twelve answers and eight verdicts');
  t.equal(fake.requests.length, 0, 'no synchronous call: neither an answer nor a judge call');
  t.same(
    batchUploads(fake).map((file) => file.filename).sort(),
    ['answer-baseline-0', 'answer-fine-tuned-0', 'verdict-baseline-0', 'verdict-retrieval-0'].map((name) => `${runId}-${name}.jsonl`),
    'one upload per answering model and per model compared with the first',
  );
  t.equal(fake.batches.created.length, 4);
  t.match(run.batch?.parts.filter((part) => part.phase === 'verdict'), [
    { alias: 'baseline', part: 0, items: 4, lines: 16, step: 'collected' },
    { alias: 'retrieval', part: 0, items: 4, lines: 16, step: 'collected' },
  ]);
  const verdictFile = batchUploads(fake).find((file) => file.filename.includes('verdict-baseline')) as { content: Buffer };
  const lines = linesOf(verdictFile.content);
  t.same(
    lines.slice(0, 4).map((line) => line.custom_id),
    [verdictCustomId('q0', 'baseline', 'first_as_a', 0), verdictCustomId('q0', 'baseline', 'second_as_a', 0), verdictCustomId('q0', 'baseline', 'first_as_a', 1), verdictCustomId('q0', 'baseline', 'second_as_a', 1)],
    "an item's lines together: each sample in both orders",
  );
  t.equal(new Set(lines.map((line) => line.custom_id)).size, lines.length, 'custom_ids unique in the file');
  t.match(lines[0], { method: 'POST', url: '/v1/responses', body: { model: 'gpt-4.1-2025-04-14', store: false, temperature: 0.7, text: { format: { type: 'json_schema', name: 'pairwise_verdict' } } } });
  t.match(lines[0]?.body.input[1].content, /<answer_a>\s*FT answer[\s\S]*<answer_b>\s*BASE answer/, 'first as A: the fine-tuned answer shown first');
  t.match(lines[1]?.body.input[1].content, /<answer_a>\s*BASE answer[\s\S]*<answer_b>\s*FT answer/, 'second as A: the other way round');

  const live = await app.inject({ method: 'POST', url: '/evaluate', payload: { ...request, mode: 'live' } });
  const liveRun = await pollRun(app, live.json().run_id);
  t.equal(liveRun.status, 'completed');
  t.equal(fake.requests.filter((call) => call.body.model === 'gpt-4.1-2025-04-14').length, 32, 'the live run asks the same 32 judge calls synchronously');
  t.same(run.summary.all.pairwise, liveRun.summary.all.pairwise, 'the same wins, ties and losses as the live run');
  t.match(run.summary.all.pairwise, [{ second: 'baseline', overall: { wins: 1, ties: 2, losses: 1, inconsistent: 1 } }, { second: 'retrieval' }]);
  const verdictsOf = (id: string) =>
    verdictLinesOf(reportsDir, id)
      .map((line) => ({ item: line.item_id, second: line.second, verdict: line.verdict }))
      .sort((a, b) => `${a.item}/${a.second}`.localeCompare(`${b.item}/${b.second}`));
  t.same(verdictsOf(runId), verdictsOf(live.json().run_id), 'each verdict as the live run gave it');
  t.equal(verdictsOf(runId).length, 8, 'each verdict once');
});

t.test('verdict lines that failed: judged synchronously (retry) or failed with the line’s reason (fail); a bad verdict fails as live; no answer, no judge', async (t) => {
  const fates = new Map<string, BatchLineFate>([
    [verdictCustomId('q1', 'baseline', 'second_as_a', 0), { status: 500 }],
    [verdictCustomId('q4', 'baseline', 'first_as_a', 0), 'unexecuted'],
    [answerCustomId('q3', 'fine-tuned'), 'unexecuted'],
  ]);
  const options: FakeOpenAIOptions = {
    ...pairwiseFake,
    batchLine: ({ customId }) => fates.get(customId),
    structured: (request, schema) => (request.customId === verdictCustomId('q2', 'baseline', 'first_as_a', 0) ? { overall: 'first' } : pairwiseFake.structured?.(request, schema)),
  };
  for (const failures of ['fail', 'retry'] as const) {
    const { fake, app, reportsDir } = await setup(t, options);
    fake.batches.autoAdvance = true;
    const runId = await startRun(app, { inquiries: inquiries(5), models: ['fine-tuned', 'baseline'], scorer: 'pairwise', batch_failures: failures });
    const run = await pollRun(app, runId);
    t.equal(run.status, 'completed', failures);
    const byItem = new Map(verdictLinesOf(reportsDir, runId).map((line) => [line.item_id, line]));
    t.equal(byItem.size, 5, `${failures}: a verdict per item`);
    t.match(byItem.get('q0'), { outcome: 'judged', verdict: { first: 'fine-tuned', second: 'baseline', preference: { overall: 'first' }, samples: 1 } }, `${failures}: judged in the batch`);
    t.match(byItem.get('q2'), { outcome: 'failed', verdict: null, error: { stage: 'score', code: 'judge_unparsable' } }, `${failures}: a verdict off the schema fails`);
    const judgeCalls = fake.requests.filter((call) => call.body.model === 'gpt-4.1-2025-04-14');
    if (failures === 'fail') {
      t.match(byItem.get('q1'), { outcome: 'failed', verdict: null, error: { stage: 'score', code: String, message: String } }, 'the verdict line’s reason');
      t.match(byItem.get('q3'), { outcome: 'failed', error: { stage: 'answer', code: 'no_answer' } }, 'a model that gave no answer: no verdict');
      t.match(byItem.get('q4'), { outcome: 'failed', error: { stage: 'score', code: 'batch_line_missing' } }, 'a line that never came back');
      t.equal(fake.requests.length, 0, 'nothing synchronous');
      t.same(run.progress, { total: 15, done: 15, failed: 5 });
    } else {
      t.match(byItem.get('q1'), { outcome: 'judged', verdict: { preference: { overall: 'second' } } }, 'judged synchronously');
      t.match(byItem.get('q3'), { outcome: 'judged' }, 'the answer asked again, then judged in the batch');
      t.match(byItem.get('q4'), { outcome: 'judged', verdict: { preference: { overall: 'tie' } } }, 'a line that never came back, judged synchronously');
      t.equal(judgeCalls.length, 4, 'both orders of the two verdicts whose lines failed, asked synchronously');
      t.same(run.progress, { total: 15, done: 15, failed: 1 });
    }
  }
});

t.test('a batch that failed upstream: its lines are answered synchronously (retry)', async (t) => {
  const { fake, app, reportsDir } = await setup(t);
  const runId = await startRun(app, { inquiries: inquiries(2), models: ['fine-tuned'], scorer: 'none' });
  await until(() => fake.batches.created.length === 1, 'the batch');
  fake.batches.advance(fake.batches.created[0]?.id as string, 'failed');
  const run = await pollRun(app, runId);
  t.same(run.progress, { total: 2, done: 2, failed: 0 });
  t.match(run.batch?.parts[0], { status: 'failed', step: 'collected' });
  t.equal(fake.requests.length, 2, 'each line answered synchronously');
  t.ok(resultsOf(reportsDir, runId).every((result) => result.outcome === 'unscored' && result.answer.startsWith('Answer to')));
});

t.test('a step the upstream refuses for good (a 400) fails the run with the reason; a 500 is tried again', async (t) => {
  let createFailures: Array<{ status: number }> = [{ status: 500 }, { status: 500 }];
  const { fake, app } = await setup(t, {
    lifecycleBehaviour: (request) => (request.method === 'POST' && request.path === '/v1/batches' ? createFailures.shift() : undefined),
  });
  fake.batches.autoAdvance = true;
  const flaky = await startRun(app, { inquiries: inquiries(2), models: ['fine-tuned'], scorer: 'none' });
  t.equal((await pollRun(app, flaky)).status, 'completed', 'a 500 on a step is tried again at the next poll');
  t.equal(fake.batches.created.length, 1);

  createFailures = [{ status: 400 }];
  const refused = await startRun(app, { inquiries: inquiries(2), models: ['baseline'], scorer: 'none' });
  const run = await pollRun(app, refused);
  t.equal(run.status, 'failed');
  t.match(run.error, /baseline/);
  t.equal(fake.batches.created.length, 1, 'nothing created for the refused run');
});

t.test('failed and missing lines with batch_failures retry: answered synchronously afterwards', async (t) => {
  const { fake, app, reportsDir } = await setup(t, {
    batchLine: ({ customId }) => (customId === answerCustomId('q1', 'fine-tuned') ? { status: 500 } : customId === answerCustomId('q2', 'fine-tuned') ? 'unexecuted' : undefined),
  });
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(4), models: ['fine-tuned'], scorer: 'heuristic' });
  const run = await pollRun(app, runId);
  t.same(run.progress, { total: 4, done: 4, failed: 0 });
  t.same(fake.requests.map((request) => request.userText).sort(), ['Inquiry: "Batch question 1"', 'Inquiry: "Batch question 2"'], 'only the two lines, synchronously');
  t.match(run.batch?.parts[0], { status: 'completed', request_counts: { total: 4, completed: 2, failed: 1 } });
  const results = resultsOf(reportsDir, runId);
  t.equal(results.length, 4);
  t.ok(results.every((result) => result.outcome === 'scored' && result.answer.startsWith('Answer to')));
});

t.test('failed and missing lines with batch_failures fail: recorded failed with the line’s reason', async (t) => {
  const fates = new Map<string, BatchLineFate>([
    [answerCustomId('q1', 'fine-tuned'), { status: 500 }],
    [answerCustomId('q2', 'fine-tuned'), 'unexecuted'],
    [answerCustomId('q3', 'fine-tuned'), { status: 200, body: { object: 'response', output: 'not a list' } }],
  ]);
  const { fake, app, reportsDir } = await setup(t, { batchLine: ({ customId }) => fates.get(customId) });
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(4), models: ['fine-tuned'], scorer: 'heuristic', batch_failures: 'fail' });
  const run = await pollRun(app, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 4, done: 4, failed: 3 });
  t.equal(fake.requests.length, 0, 'nothing retried');
  const byItem = new Map(resultsOf(reportsDir, runId).map((result) => [result.item_id, result]));
  t.match(byItem.get('q1'), { outcome: 'failed', answer: null, error: { stage: 'answer', code: String, message: String } });
  t.match(byItem.get('q2'), { outcome: 'failed', error: { stage: 'answer', code: 'batch_line_missing' } });
  t.match(byItem.get('q3'), { outcome: 'failed', error: { stage: 'answer', code: 'upstream_invalid_reply', message: /does not have the expected shape/ } }, 'a reply off the shape fails as it would live');
  t.match(byItem.get('q0'), { outcome: 'scored' });
});

t.test('an expired batch: what ran is recorded, the rest failed as expired (fail) ', async (t) => {
  const { fake, app, reportsDir } = await setup(t, { batchLine: ({ customId }) => (customId === answerCustomId('q3', 'fine-tuned') ? 'unexecuted' : undefined) });
  const runId = await startRun(app, { inquiries: inquiries(4), models: ['fine-tuned'], scorer: 'heuristic', batch_failures: 'fail' });
  await until(() => fake.batches.created.length === 1, 'the batch');
  const [batch] = fake.batches.created;
  fake.batches.advance(batch?.id as string);
  fake.batches.advance(batch?.id as string, 'expired');
  const run = await pollRun(app, runId);
  t.same(run.progress, { total: 4, done: 4, failed: 1 });
  t.match(run.batch?.parts[0], { status: 'expired', step: 'collected' });
  const byItem = new Map(resultsOf(reportsDir, runId).map((result) => [result.item_id, result]));
  t.match(byItem.get('q3'), { outcome: 'failed', error: { code: 'batch_expired' } });
});

t.test('an alias with its own base_url has no Batch API: 400 batch_unsupported, nothing stored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'models-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const modelsFile = join(dir, 'models.json');
  writeFileSync(
    modelsFile,
    JSON.stringify({
      models: {
        'llama-local': { model_id: 'llama3.1:8b', base_url: 'http://127.0.0.1:9/v1', api_key_env: null, api_style: 'chat' },
        'vllm-batch': { model_id: 'qwen', base_url: 'http://127.0.0.1:9/v1', api_key_env: null, batch_api: true },
        judge: { base_url: 'http://127.0.0.1:9/v1' },
      },
    }),
  );
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: KEY, MODELS_FILE: modelsFile });
  const refused = await app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries: ['Where is my order?'], models: ['fine-tuned', 'llama-local'], scorer: 'heuristic' } });
  t.equal(refused.statusCode, 400);
  t.match(refused.json(), { error: { code: 'batch_unsupported', message: /Model 'llama-local'.*no Batch API.*mode "live"/, details: { model: 'llama-local' } } });
  const judged = await app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries: ['Where is my order?'], models: ['fine-tuned'], scorer: 'judge' } });
  t.match(judged.json(), { error: { code: 'batch_unsupported', message: /The judge .*needed by the judge scorer/, details: { model: 'judge' } } });
  const paired = await app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries: ['Where is my order?'], models: ['fine-tuned', 'baseline'], scorer: 'pairwise' } });
  t.equal(paired.statusCode, 400, 'the pairwise verdicts go through the Batch API too');
  t.match(paired.json(), { error: { code: 'batch_unsupported', message: /The judge \('judge', needed by the pairwise scorer\)/, details: { model: 'judge' } } });
  t.same((await app.inject('/evaluate')).json().runs, [], 'nothing stored');
  void reportsDir;
  const accepted = await app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries: ['Where is my order?'], models: ['vllm-batch'], scorer: 'none' } });
  t.equal(accepted.statusCode, 202, 'batch_api: true opts an alias in');
  await app.inject({ method: 'DELETE', url: `/evaluate/${accepted.json().run_id}` });
  const live = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: ['Where is my order?'], models: ['llama-local'], scorer: 'none' } });
  t.equal(live.statusCode, 202, 'a live run of the same alias is fine');
  await app.inject({ method: 'DELETE', url: `/evaluate/${live.json().run_id}` });
});

t.test('the Batch API is required of the run’s own judge when it names one', async (t) => {
  const registry = buildModelRegistry(loadConfig({ OPENAI_API_KEY: KEY }), {
    models: {
      judge: { base_url: 'http://127.0.0.1:9/v1' },
      'judge-batch': { model_id: 'gpt-4.1-2025-04-14', base_url: 'http://127.0.0.1:9/v1', api_key_env: null, batch_api: true },
    },
  });
  const entries = [registry.resolve('fine-tuned'), registry.resolve('baseline')];
  t.throws(() => requireBatchApi(registry, entries, 'pairwise'), { code: 'batch_unsupported', message: /The judge \('judge', needed by the pairwise scorer\)/ });
  t.doesNotThrow(() => requireBatchApi(registry, entries, 'pairwise', 'judge-batch'), 'a judge alias with the Batch API');
  t.throws(() => requireBatchApi(registry, entries, 'judge', 'judge'), { code: 'batch_unsupported' });
  t.doesNotThrow(() => requireBatchApi(registry, entries, 'heuristic'), 'no judge, no judge upstream');
});

t.test('an output file larger than UPSTREAM_MAX_REPLY_BYTES is read line by line, whole', async (t) => {
  const { fake, app, reportsDir } = await setup(t, {}, { UPSTREAM_MAX_REPLY_BYTES: '4096' });
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(12), models: ['fine-tuned'], scorer: 'heuristic' });
  const run = await pollRun(app, runId);
  const outputFile = await fetch(`${fake.url}/files/${run.batch?.parts[0]?.output_file_id}/content`, { headers: { authorization: `Bearer ${KEY}` } });
  const bytes = (await outputFile.arrayBuffer()).byteLength;
  t.ok(bytes > 4096, `the output file has ${bytes} bytes`);
  t.same(run.progress, { total: 12, done: 12, failed: 0 });
  t.equal(resultsOf(reportsDir, runId).length, 12);
});

t.test('over the request limit: several parts, each its own file and batch', async (t) => {
  const { fake, app, reportsDir } = await setup(t, {}, { BATCH_MAX_REQUESTS: '2' });
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(5), models: ['fine-tuned'], scorer: 'heuristic' });
  const run = await pollRun(app, runId);
  t.same(run.progress, { total: 5, done: 5, failed: 0 });
  t.same(batchUploads(fake).map((file) => file.filename), [0, 1, 2].map((part) => `${runId}-answer-fine-tuned-${part}.jsonl`));
  t.same(batchUploads(fake).map((file) => linesOf(file.content).length), [2, 2, 1]);
  t.equal(fake.batches.created.length, 3);
  t.same(run.batch?.parts.map((part) => [part.part, part.first_item, part.items]), [[0, 0, 2], [1, 2, 2], [2, 4, 1]]);
  t.equal(resultsOf(reportsDir, runId).length, 5);
});

t.test('the estimated cost of a batch run is at batch prices: half the list price', async (t) => {
  const { fake, app, reportsDir } = await setup(t);
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(3), models: ['baseline'], scorer: 'heuristic' });
  const run = await pollRun(app, runId);
  const results = resultsOf(reportsDir, runId);
  const price = listPriceFor('gpt-4.1-mini-2025-04-14') as { input_per_million: number; output_per_million: number };
  const tokensIn = results.reduce((sum, result) => sum + result.tokens_in, 0);
  const tokensOut = results.reduce((sum, result) => sum + result.tokens_out, 0);
  const listCost = (tokensIn / 1e6) * price.input_per_million + (tokensOut / 1e6) * price.output_per_million;
  t.ok(listCost > 0);
  t.equal(Math.abs(run.summary.all.models[0].estimated_cost_usd - listCost / 2) < 1e-12, true, `${run.summary.all.models[0].estimated_cost_usd} is half of ${listCost}`);
});
