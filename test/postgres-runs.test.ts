import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';

// Replicas on one PostgreSQL database: a run created through one is served by any other, a replica that only
// serves the API leaves the work to one that executes, and a cancel through any replica stops the run.

const KEY = 'sk-test-postgres-runs-0123456789';
const ENDED = ['completed', 'failed', 'cancelled'];

interface RunView {
  run_id: string;
  status: string;
  progress: { total: number; done: number; failed: number };
}

async function waitForRun(app: FastifyInstance, runId: string, until: (run: RunView) => boolean = (run) => ENDED.includes(run.status)): Promise<RunView> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = await app.inject(`/evaluate/${runId}`);
    const run = reply.json() as RunView;
    if (reply.statusCode === 200 && until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId}: ${reply.statusCode} ${reply.body}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function startRun(app: FastifyInstance, body: object): Promise<RunView> {
  const reply = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (reply.statusCode !== 202) throw new Error(`POST /evaluate: ${reply.statusCode} ${reply.body}`);
  return reply.json() as RunView;
}

/** The CSV's rows without what differs between two runs of the same items (ids, times, latencies). */
function stableRows(text: string): Record<string, string>[] {
  const rows = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  const volatile = /^(run_id|finished_at|latency_ms)$/;
  return rows
    .map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !volatile.test(column))))
    .sort((a, b) => `${a.item_id}\u0000${a.model_alias}`.localeCompare(`${b.item_id}\u0000${b.model_alias}`));
}

const inquiries = Array.from({ length: 40 }, (_, i) => `My wireless earbuds number ${i} will not pair with my phone after the update`);
const offline = { inquiries, models: ['retrieval', 'handoff'], scorer: 'heuristic', concurrency: 4 };

t.test('a run created through an API-only replica is executed by another and served by both; its CSV matches a file-store run', async (t) => {
  const db = await startTestPostgres(t);
  const env = { OPENAI_API_KEY: '', RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '200' };
  const api = await buildTestApp(t, { ...env, ROLE: 'api' });
  const worker = await buildTestApp(t, { ...env, ROLE: 'all' });

  const created = await startRun(api.app, offline);
  t.equal(created.status, 'queued', 'an API-only replica never executes: the run waits for a replica that does');
  const done = await waitForRun(api.app, created.run_id);
  t.equal(done.status, 'completed', 'taken by the other replica within its sweep, and seen completed through the API replica');
  t.same(done.progress, { total: 80, done: 80, failed: 0 });
  t.same((await worker.app.inject(`/evaluate/${created.run_id}`)).json().status, 'completed');

  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  const { rows } = await pool.query<{ results: number; pairs: number }>(
    'select count(*)::int as results, count(distinct (item_id, model_alias))::int as pairs from run_results where run_id = $1',
    [created.run_id],
  );
  t.same(rows[0], { results: 80, pairs: 80 }, 'every (item, model) stored exactly once');

  const viaApi = await api.app.inject(`/evaluate/${created.run_id}/results.csv`);
  const viaWorker = await worker.app.inject(`/evaluate/${created.run_id}/results.csv`);
  t.equal(viaApi.statusCode, 200);
  t.equal(viaApi.body, viaWorker.body, 'the same CSV from either replica');

  const fileStore = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const fileRun = await startRun(fileStore.app, offline);
  await waitForRun(fileStore.app, fileRun.run_id);
  const fileCsv = (await fileStore.app.inject(`/evaluate/${fileRun.run_id}/results.csv`)).body;
  t.same(stableRows(viaApi.body), stableRows(fileCsv), 'the same rows as the file store gives for the same items');
  t.equal(viaApi.body.split('\n')[0], fileCsv.split('\n')[0], 'the same columns');

  type Summary = { all: { comparisons: unknown[]; models: { means: unknown }[] }; headline: unknown };
  const [viaPostgres, viaFiles] = (await Promise.all([api.app.inject(`/evaluate/${created.run_id}`), fileStore.app.inject(`/evaluate/${fileRun.run_id}`)])).map(
    (reply) => reply.json().summary as Summary,
  );
  t.equal(viaPostgres?.all.comparisons.length, 1, 'one paired comparison');
  t.same(viaPostgres?.all.comparisons, viaFiles?.all.comparisons, 'the same paired gain, intervals and W/T/L as the file-store run');
  t.same(
    viaPostgres?.all.models.map((model) => model.means),
    viaFiles?.all.models.map((model) => model.means),
    'the same means',
  );
  t.same(viaPostgres?.headline, viaFiles?.headline);
  for (const path of ['summary.md', 'chart.svg', 'results-wide.csv', 'items?limit=5']) {
    t.equal((await api.app.inject(`/evaluate/${created.run_id}/${path}`)).statusCode, 200, `${path} through the API replica`);
  }
  const listed = (await api.app.inject('/evaluate')).json() as { runs: RunView[] };
  t.ok(listed.runs.some((run) => run.run_id === created.run_id && run.status === 'completed'), 'listed by the API replica');
});

t.test('a cancel through a replica that does not execute the run stops it on the replica that does; finished items are kept', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 100 });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_STATUS_POLL_MS: '100' };
  const executing = await buildTestApp(t, env);
  const other = await buildTestApp(t, { ...env, ROLE: 'api' });

  const run = await startRun(executing.app, { inquiries: inquiries.slice(0, 30), models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 2 });
  await waitForRun(other.app, run.run_id, (view) => view.progress.done >= 4);
  const cancelled = await other.app.inject({ method: 'DELETE', url: `/evaluate/${run.run_id}` });
  t.equal(cancelled.statusCode, 200);
  t.equal(cancelled.json().status, 'cancelled');

  const callsAtCancel = fake.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 800));
  const settled = fake.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 800));
  t.equal(fake.requests.length, settled, 'no call to the model once the executing replica has seen the cancel');
  t.ok(settled - callsAtCancel <= 4, `at most the calls in flight and one poll's worth finished after the cancel (${settled - callsAtCancel})`);

  const seen = await waitForRun(executing.app, run.run_id);
  t.equal(seen.status, 'cancelled', 'the executing replica ends it as cancelled');
  t.ok(seen.progress.done >= 4 && seen.progress.done < 60, `finished items are kept (${seen.progress.done} of 60)`);
  const csv = parse((await other.app.inject(`/evaluate/${run.run_id}/results.csv`)).body, { columns: true }) as unknown[];
  t.equal(csv.length, seen.progress.done, 'the CSV holds every finished item');
  t.equal((await other.app.inject({ method: 'DELETE', url: `/evaluate/${run.run_id}` })).statusCode, 409, 'an ended run cannot be cancelled again');
});

t.test('the database going away mid-run pauses the run, which goes on by itself when it is back; each result is stored once', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 50 });
  t.teardown(() => fake.close());
  const { app, logs } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, STORAGE_RETRY_MS: '200' });

  const run = await startRun(app, { inquiries: inquiries.slice(0, 30), models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 2 });
  await waitForRun(app, run.run_id, (view) => view.progress.done >= 6);
  await db.stop();
  const paused = await waitForRun(app, run.run_id, (view) => (view as RunView & { paused: unknown }).paused !== null);
  t.match(paused, { status: 'running', paused: { code: 'database_unavailable', message: /DATABASE_URL/ } }, 'paused, with the reason');
  t.equal((await app.inject('/ready')).statusCode, 503, '/ready says the database is away');
  const doneWhilePaused = paused.progress.done;
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.equal((await app.inject(`/evaluate/${run.run_id}`)).json().progress.done, doneWhilePaused, 'nothing counted while nothing can be stored');

  await db.start();
  const done = await waitForRun(app, run.run_id);
  t.equal(done.status, 'completed', 'it went on by itself once the database was back');
  t.same(done.progress, { total: 60, done: 60, failed: 0 });
  t.ok(logs().some((line) => /evaluation run paused: the database cannot be reached/.test(String(line.msg))));

  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  const { rows } = await pool.query<{ results: number; done: number }>(
    'select (select count(*)::int from run_results where run_id = $1) as results, (select done from runs where run_id = $1) as done',
    [run.run_id],
  );
  t.same(rows[0], { results: 60, done: 60 }, 'every (item, model) stored and counted once');
  t.equal((await app.inject('/ready')).statusCode, 200);
});
