import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';

// A rescore through the job queue (RUNS_STORE=postgres): the workers read the source run's answers from the
// database and call only the judge, here another alias than `judge`.

const KEY = 'sk-test-postgres-rescore-0123456789';
const ENDED = ['completed', 'failed', 'cancelled'];

interface RunView {
  run_id: string;
  status: string;
  progress: { total: number; done: number; failed: number };
  rescore_of?: string;
  summary: { provenance: { rescore_of?: string; judge_alias: string | null } } | null;
}

async function waitForRun(app: FastifyInstance, runId: string): Promise<RunView> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = await app.inject(`/evaluate/${runId}`);
    const run = reply.json() as RunView;
    if (reply.statusCode === 200 && ENDED.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId}: ${reply.statusCode} ${reply.body}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const answers = async (app: FastifyInstance, runId: string) =>
  (parse((await app.inject(`/evaluate/${runId}/results.csv`)).body, { columns: true, skip_empty_lines: true }) as Record<string, string>[])
    .map((row) => [row.item_id, row.model_alias, row.model, row.answer, row.tokens_in, row.tokens_out, row.latency_ms, row.error?.split(':')[0]].join('|'))
    .sort();

t.test('a rescore on PostgreSQL: the source answers from the database, judge calls only, a failed source answer kept failed', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    answer: (request) => `Answer of ${String(request.body.model)} to ${request.userText.slice(0, 20)}`,
    behaviour: (request) => (request.userText.includes('BROKEN') && request.body.model !== 'gpt-judge-next' ? { status: 403 } : undefined),
  });
  t.teardown(() => fake.close());
  const modelsFile = join(mkdtempSync(join(tmpdir(), 'rescore-models-')), 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'judge-next': { model_id: 'gpt-judge-next' } } }));
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, MODELS_FILE: modelsFile, RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '200' };
  const { app } = await buildTestApp(t, env);

  const inquiries = ['Where is my order?', 'Can I return a TV?', 'BROKEN question', 'My earbuds will not pair'];
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries, models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 4 } });
  const source = await waitForRun(app, (created.json() as RunView).run_id);
  t.same(source.progress, { total: 8, done: 8, failed: 2 });
  t.equal(fake.requests.length, 8, 'a refused key is not worth another try: the broken answers were asked once');
  const before = fake.requests.length;

  const reply = await app.inject({ method: 'POST', url: `/evaluate/${source.run_id}/rescore`, payload: { scorer: 'judge', judge: 'judge-next' } });
  t.equal(reply.statusCode, 202);
  const run = await waitForRun(app, (reply.json() as RunView).run_id);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 8, done: 8, failed: 2 });
  const calls = fake.requests.slice(before);
  t.equal(calls.length, 6, 'a judge call per stored answer');
  t.ok(calls.every((request) => request.body.model === 'gpt-judge-next'), 'no answering model was called, nor the default judge');
  t.equal(run.rescore_of, source.run_id);
  t.match(run.summary?.provenance, { rescore_of: source.run_id, judge_alias: 'judge-next', judge_model_id: 'gpt-judge-next' });

  const sourceAnswers = await answers(app, source.run_id);
  const rescoredAnswers = await answers(app, run.run_id);
  t.same(
    rescoredAnswers.map((line) => line.replace(/\|answer\/no_stored_answer$/, '|answer/upstream_auth_failed')),
    sourceAnswers,
    'the same answers, tokens and latencies; the failed pairs fail again with no_stored_answer',
  );
  t.equal(rescoredAnswers.filter((line) => line.endsWith('|answer/no_stored_answer')).length, 2);
});
