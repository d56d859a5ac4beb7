import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { FineTuneAliases } from '../src/fine-tunes/job-steps.js';
import { waitForJob, type Job } from './helpers/fine-tune-jobs.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';

// Two replicas on one PostgreSQL database follow the same fine-tuning job: either serves it, and of the two
// followers exactly one registers its model and starts its evaluation.

const KEY = 'sk-test-postgres-fine-tunes-0123456789';
const BASE = 'gpt-4.1-mini-2025-04-14';

t.test('two replicas on one database: one upload per file, one job, registered and evaluated exactly once', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY });
  const dir = mkdtempSync(join(tmpdir(), 'postgres-fine-tunes-'));
  t.teardown(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const modelsFile = join(dir, 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'fine-tuned-next': { model_id: `ft:${BASE}:fake-org:next:x` } } }));
  const assigned: unknown[] = [];
  // Both replicas register through one recorder: a second registration would show here.
  const aliases: FineTuneAliases = { assign: async (input) => void assigned.push(input) };
  const replica = async (name: string) => {
    const config = loadConfig({
      OPENAI_API_KEY: KEY,
      OPENAI_BASE_URL: fake.url,
      OPENAI_MAX_RETRIES: '0',
      RATE_LIMIT_MAX: '0',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      FINE_TUNE_POLL_MS: '10',
      RUNS_STORE: 'postgres',
      DATABASE_URL: db.url,
      REPORTS_DIR: join(dir, name),
      MODELS_FILE: modelsFile,
    });
    const app = await buildApp({ config, logger: false, fineTuneAliases: aliases });
    t.teardown(() => app.close());
    await app.ready();
    return app;
  };
  const [a, b] = [await replica('a'), await replica('b')];

  const reply = await a.inject({
    method: 'POST',
    url: '/fine-tunes',
    payload: {
      training: { file: 'amazon_electronics_adapted_train.jsonl' },
      register_as: 'fine-tuned-next',
      evaluate: { prompt_set: 'eval_inquiries.json', scorer: 'heuristic' },
    },
  });
  t.equal(reply.statusCode, 202, reply.body.slice(0, 500));
  const created = reply.json() as Job;
  const seen = await waitForJob(b, created.id, (job) => job.upstream_job_id !== null);
  t.equal(seen.upstream_job_id, fake.fineTuning.created[0]?.id, 'the other replica serves the job');

  fake.fineTuning.advance(seen.upstream_job_id, 'succeeded');
  const done = await waitForJob(b, created.id, (job) => job.step === 'done');
  t.match(done, { status: 'succeeded', registered_alias: 'fine-tuned-next', evaluation_run_id: /^run_/ });
  // A few more polls of both replicas: nothing is done twice.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(assigned.length, 1, 'registered once');
  const runs = (await a.inject('/evaluate')).json().runs as Job[];
  t.same(runs.map((run) => run.run_id), [done.evaluation_run_id], 'one evaluation run');
  t.equal(fake.files.length, 1, 'one upload');
  t.equal(fake.fineTuning.created.length, 1, 'one job');

  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  const { rows } = await pool.query<{ status: string; record: string }>('select status, record::text as record from fine_tune_jobs');
  t.equal(rows.length, 1);
  t.equal(rows[0]?.status, 'succeeded', 'the status column follows the record');
  t.notMatch(rows[0]?.record, KEY, 'the API key is never in the record');

  const newer = (await b.inject({ method: 'POST', url: '/fine-tunes', payload: { training: { file: 'amazon_electronics_adapted_train.jsonl' }, register_as: 'fine-tuned-next' } })).json() as Job;
  const first = (await a.inject('/fine-tunes?limit=1')).json();
  t.same(first.fine_tunes.map((job: Job) => job.id), [newer.id], 'newest first');
  const second = (await a.inject(`/fine-tunes?limit=1&cursor=${first.next_cursor}`)).json();
  t.same(second.fine_tunes.map((job: Job) => job.id), [created.id]);
  t.equal(second.next_cursor, null);
  t.equal((await b.inject('/fine-tunes?cursor=ftjob_20261202T070000Z_ab12cd')).json().error.code, 'invalid_cursor');
});
