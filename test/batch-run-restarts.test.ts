/**
 * Batch runs survive restarts at every step: an upload or a batch create whose reply was lost, a stop between the
 * answer and the judge (or verdict) batches, a stop while a batch's results (or verdicts) are recorded; neither
 * the upload nor the batch is done twice and no result counts twice (checked at the fake). Cancel cancels the
 * batches upstream.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { batchUploads, inquiries, pairwiseFake, pollRun, resultsOf, setup, startRun, until, verdictLinesOf } from './helpers/batch-runs.js';

t.setTimeout(240_000);

t.test('restarts after an upload and after a batch create whose replies were lost: nothing done twice', async (t) => {
  // The fake loses the reply of the first upload, then (once asked to) of the first batch create.
  let lose: 'upload' | 'create' | null = 'upload';
  const { fake, app, start, reportsDir } = await setup(
    t,
    {
      lifecycleBehaviour: (request) => {
        const lost = request.method === 'POST' && ((lose === 'upload' && request.path === '/v1/files') || (lose === 'create' && request.path === '/v1/batches'));
        if (lost) lose = null;
        return lost ? { loseReply: true } : undefined;
      },
    },
    { BATCH_POLL_MS: '400' },
  );
  const runId = await startRun(app, { inquiries: inquiries(5), models: ['fine-tuned'], scorer: 'heuristic' });
  await until(() => batchUploads(fake).length === 1, 'the upload');
  await app.close();
  t.match(JSON.parse(readFileSync(join(reportsDir, 'runs', runId, 'run.json'), 'utf8')).batch.parts, [{ step: 'uploading', file_id: null }], 'stopped with the upload unconfirmed');

  lose = 'create';
  const second = await start();
  await until(() => fake.batches.created.length === 1, 'the batch');
  await second.close();
  t.match(JSON.parse(readFileSync(join(reportsDir, 'runs', runId, 'run.json'), 'utf8')).batch.parts, [{ step: 'creating', batch_id: null, file_id: /^file-/ }], 'stopped with the batch unconfirmed');

  const third = await start();
  fake.batches.autoAdvance = true;
  const run = await pollRun(third, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 5, done: 5, failed: 0 });
  t.equal(batchUploads(fake).length, 1, 'one upload at the fake');
  t.equal(fake.batches.created.length, 1, 'one batch at the fake');
  t.equal(fake.requests.length, 0);
  t.equal(resultsOf(reportsDir, runId).length, 5);
});

t.test('a restart between the answer batch and the judge batch: the judge phase goes on from the answers upstream', async (t) => {
  const { fake, app, start, reportsDir } = await setup(t);
  const runId = await startRun(app, { inquiries: inquiries(3), models: ['fine-tuned'], scorer: 'judge' });
  await until(() => fake.batches.created.length === 1, 'the answer batch');
  fake.batches.advance(fake.batches.created[0]?.id as string, 'completed');
  await until(() => fake.batches.created.length === 2, 'the judge batch');
  await app.close();
  const resultsFile = join(reportsDir, 'runs', runId, 'results.jsonl');
  t.equal(existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8').trim() : '', '', 'nothing is recorded before the verdicts');

  const second = await start();
  fake.batches.autoAdvance = true;
  const run = await pollRun(second, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 3, done: 3, failed: 0 });
  t.same(batchUploads(fake).map((file) => file.filename).sort(), [`${runId}-answer-fine-tuned-0.jsonl`, `${runId}-judge-fine-tuned-0.jsonl`]);
  t.equal(fake.batches.created.length, 2, 'one answer batch and one judge batch');
  t.ok(resultsOf(reportsDir, runId).every((result) => result.outcome === 'scored' && result.answer.startsWith('Answer to')));
});

t.test('a restart between the answer batches and the verdict batch: no upload or batch twice, each verdict once', async (t) => {
  const { fake, app, start, reportsDir } = await setup(t, pairwiseFake);
  const runId = await startRun(app, { inquiries: inquiries(3), models: ['fine-tuned', 'baseline'], scorer: 'pairwise' });
  await until(() => fake.batches.created.length === 2, 'the answer batches');
  for (const batch of fake.batches.created) fake.batches.advance(batch.id, 'completed');
  await until(() => fake.batches.created.length === 3, 'the verdict batch');
  await app.close();
  const verdictsFile = join(reportsDir, 'runs', runId, 'verdicts.jsonl');
  t.equal(existsSync(verdictsFile) ? readFileSync(verdictsFile, 'utf8').trim() : '', '', 'no verdict before the verdict batch has finished');
  t.equal(resultsOf(reportsDir, runId).length, 6, 'the answers are recorded');

  const second = await start();
  fake.batches.autoAdvance = true;
  const run = await pollRun(second, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 9, done: 9, failed: 0 });
  t.same(
    batchUploads(fake).map((file) => file.filename).sort(),
    ['answer-baseline-0', 'answer-fine-tuned-0', 'verdict-baseline-0'].map((name) => `${runId}-${name}.jsonl`),
    'each file uploaded once',
  );
  t.equal(fake.batches.created.length, 3, 'two answer batches and one verdict batch');
  t.equal(fake.requests.length, 0, 'no synchronous judge call');
  const verdicts = verdictLinesOf(reportsDir, runId);
  t.same(verdicts.map((line) => line.item_id).sort(), ['q0', 'q1', 'q2'], 'each verdict once');
  t.ok(verdicts.every((line) => line.outcome === 'judged'));
  t.equal(run.summary.all.pairwise[0].judged, 3, 'the summary counts each verdict once');
});

t.test('a restart while a completed batch’s results are being recorded: each result once, progress right', async (t) => {
  const items = 300;
  const { fake, app, start, reportsDir } = await setup(t);
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(items), models: ['fine-tuned'], scorer: 'heuristic' });
  const partial = await pollRun(app, runId, (run) => run.progress.done > 0);
  await app.close();
  const recorded = resultsOf(reportsDir, runId).length;
  t.ok(partial.progress.done > 0 && recorded < items, `stopped with ${recorded} of ${items} recorded`);

  const second = await start();
  const run = await pollRun(second, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: items, done: items, failed: 0 });
  const results = resultsOf(reportsDir, runId);
  t.equal(results.length, items);
  t.equal(new Set(results.map((result) => result.item_id)).size, items, 'each result once');
  t.equal(fake.batches.created.length, 1);
  t.equal(batchUploads(fake).length, 1);
  t.equal(run.summary.all.models[0].n, items, 'the summary counts each result once');
});

t.test('a restart while a verdict batch’s verdicts are being recorded: each verdict once, progress right', async (t) => {
  const items = 300;
  const { fake, app, start, reportsDir } = await setup(t, pairwiseFake);
  fake.batches.autoAdvance = true;
  const runId = await startRun(app, { inquiries: inquiries(items), models: ['fine-tuned', 'baseline'], scorer: 'pairwise' });
  await pollRun(app, runId, (run) => run.progress.done > 2 * items);
  await app.close();
  const recorded = verdictLinesOf(reportsDir, runId).length;
  t.ok(recorded > 0 && recorded < items, `stopped with ${recorded} of ${items} verdicts recorded`);

  const second = await start();
  const run = await pollRun(second, runId);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 3 * items, done: 3 * items, failed: 0 });
  const verdicts = verdictLinesOf(reportsDir, runId);
  t.equal(new Set(verdicts.map((line) => line.item_id)).size, items);
  t.equal(verdicts.length, items, 'each verdict once');
  t.equal(fake.batches.created.length, 3);
  t.equal(batchUploads(fake).length, 3);
  t.equal(fake.requests.length, 0);
  t.equal(run.summary.all.pairwise[0].judged, items, 'the summary counts each verdict once');
});

t.test('cancel: the batch still going is cancelled upstream and the run ends cancelled', async (t) => {
  const { fake, app } = await setup(t);
  const runId = await startRun(app, { inquiries: inquiries(3), models: ['fine-tuned', 'retrieval'], scorer: 'heuristic' });
  await until(() => fake.batches.created.length === 1, 'the batch');
  const [batch] = fake.batches.created;
  fake.batches.advance(batch?.id as string);
  await pollRun(app, runId, (run) => run.batch?.parts[0]?.step === 'created');
  const cancelled = await app.inject({ method: 'DELETE', url: `/evaluate/${runId}` });
  t.equal(cancelled.statusCode, 200);
  const run = await pollRun(app, runId);
  t.equal(run.status, 'cancelled');
  t.same(run.progress, { total: 6, done: 3, failed: 0 }, 'the offline answers stay');
  t.ok(fake.lifecycleRequests.some((request) => request.method === 'POST' && request.path === `/v1/batches/${batch?.id}/cancel`), 'cancelled upstream');
  t.equal(batch?.status, 'cancelling');
  t.equal(run.batch?.parts[0]?.status, 'cancelling');
});

t.test('cancel while the upstream refuses to cancel the batch: the run still ends cancelled', async (t) => {
  const { fake, app } = await setup(t, { lifecycleBehaviour: (request) => (request.path.endsWith('/cancel') ? { status: 500 } : undefined) });
  const runId = await startRun(app, { inquiries: inquiries(2), models: ['fine-tuned'], scorer: 'heuristic' });
  await pollRun(app, runId, (run) => run.batch?.parts[0]?.step === 'created');
  t.equal((await app.inject({ method: 'DELETE', url: `/evaluate/${runId}` })).statusCode, 200);
  const run = await pollRun(app, runId);
  t.equal(run.status, 'cancelled');
  t.equal(fake.batches.created[0]?.status, 'validating', 'the upstream kept it');
});
