/**
 * Batch runs with RUNS_STORE=postgres: two processes execute runs, one drives the batch run at a time (its lease
 * in the store), the queue's workers leave it alone, and when the driving process stops the other takes over
 * without uploading or creating anything twice.
 */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';
import { pollRun } from './helpers/batch-runs.js';

const KEY = 'sk-test-batch-postgres-0123456789';

const waitForRun = (app: FastifyInstance, runId: string, until: Parameters<typeof pollRun>[2]) => pollRun(app, runId, until, 60_000);

t.test('two processes, one drive: one upload and one batch per model, taken over when the driver stops', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: (request) => `Answer to ${request.userText}` });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '100', BATCH_POLL_MS: '20' };
  const api = await buildTestApp(t, { ...env, ROLE: 'api' });
  const first = await buildTestApp(t, { ...env, ROLE: 'all' });
  const second = await buildTestApp(t, { ...env, ROLE: 'all' });

  const inquiries = Array.from({ length: 12 }, (_, i) => ({ id: `p${i}`, inquiry: `Postgres batch question ${i}` }));
  const created = await api.app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries, models: ['fine-tuned', 'baseline'], scorer: 'heuristic' } });
  t.equal(created.statusCode, 202);
  const runId = (created.json() as { run_id: string }).run_id;

  await waitForRun(api.app, runId, (run) => run.batch?.parts.length === 2 && run.batch.parts.every((part) => part.step === 'created'));
  // Both processes sweep several times meanwhile: only the lease holder drives.
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.equal(fake.batches.created.length, 2, 'one batch per model');
  t.equal(fake.files.filter((file) => file.purpose === 'batch').length, 2, 'one upload per model');
  t.equal(fake.requests.length, 0, 'the queue’s workers do not answer a batch run');

  // The driving process stops; the other takes the run over once the lease is released.
  const driver = first.logs().some((line) => line.msg === 'batch run: driving it' && line.run_id === runId) ? first : second;
  await driver.app.close();
  fake.batches.autoAdvance = true;
  const run = await waitForRun(api.app, runId, (current) => current.status === 'completed');
  t.same(run.progress, { total: 24, done: 24, failed: 0 });
  t.equal(fake.batches.created.length, 2, 'still one batch per model');
  t.equal(fake.files.filter((file) => file.purpose === 'batch').length, 2, 'still one upload per model');
  t.equal(fake.requests.length, 0);
  const csv = (await api.app.inject(`/evaluate/${runId}/results.csv`)).body.trim().split('\n');
  t.equal(csv.length, 25, 'a row per (item, model), each once');
  t.ok(csv.slice(1).every((row) => row.includes('Answer to Inquiry')), 'the answers are the fake’s');
});

t.test('cancel through the API replica: the batch is cancelled upstream by the process driving it', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '100', BATCH_POLL_MS: '20', RUN_STATUS_POLL_MS: '100' };
  const api = await buildTestApp(t, { ...env, ROLE: 'api' });
  await buildTestApp(t, { ...env, ROLE: 'all' });
  const created = await api.app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries: ['Where is my order?', 'Can I return it?'], models: ['baseline'], scorer: 'none' } });
  const runId = (created.json() as { run_id: string }).run_id;
  await waitForRun(api.app, runId, (run) => run.batch?.parts[0]?.step === 'created');
  const cancelled = await api.app.inject({ method: 'DELETE', url: `/evaluate/${runId}` });
  t.equal(cancelled.statusCode, 200);
  const deadline = Date.now() + 30_000;
  while (fake.batches.created[0]?.status !== 'cancelling' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(fake.batches.created[0]?.status, 'cancelling', 'cancelled upstream');
  const run = await waitForRun(api.app, runId, (current) => current.status === 'cancelled');
  t.same(run.progress, { total: 2, done: 0, failed: 0 });
});

t.test('a batch the upstream refuses for good fails the run, whichever process drove it', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, lifecycleBehaviour: (request) => (request.method === 'POST' && request.path === '/v1/batches' ? { status: 400 } : undefined) });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '100', BATCH_POLL_MS: '20' };
  const { app } = await buildTestApp(t, { ...env, ROLE: 'all' });
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', inquiries: ['Where is my order?'], models: ['baseline'], scorer: 'none' } });
  const runId = (created.json() as { run_id: string }).run_id;
  const run = await waitForRun(app, runId, (current) => current.status !== 'running' && current.status !== 'queued');
  t.equal(run.status, 'failed');
  t.match(run.error, /baseline/);
  t.equal(fake.batches.created.length, 0);
});
