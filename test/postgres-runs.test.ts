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
  t.equal(created.status, 'running', 'its jobs are in the queue as soon as it is created, whichever replica took the request');
  const done = await waitForRun(api.app, created.run_id);
  t.equal(done.status, 'completed', 'executed by the other replica (an api replica executes nothing), and seen completed through the API replica');
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

t.test('the database going away mid-run: a clear 503 meanwhile, the run waits and goes on by itself when it is back; each result is stored once', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 50 });
  t.teardown(() => fake.close());
  const { app, logs } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, STORAGE_RETRY_MS: '200' });

  const run = await startRun(app, { inquiries: inquiries.slice(0, 30), models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 2 });
  await waitForRun(app, run.run_id, (view) => view.progress.done >= 6);
  await db.stop();
  const away = await app.inject(`/evaluate/${run.run_id}`);
  t.equal(away.statusCode, 503, 'its status cannot be read while the database is away: a clear 503, not a 500');
  t.match(away.json(), { error: { code: 'database_unavailable', message: /DATABASE_URL/ } });
  t.equal((await app.inject('/ready')).statusCode, 503, '/ready says the database is away');
  t.equal(away.headers['retry-after'], '5');
  // The calls under way finish and wait to be stored; nothing new starts meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const callsWhileAway = fake.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.equal(fake.requests.length, callsWhileAway, 'no new call while nothing can be stored');

  await db.start();
  const done = await waitForRun(app, run.run_id);
  t.equal(done.status, 'completed', 'it went on by itself once the database was back');
  t.same(done.progress, { total: 60, done: 60, failed: 0 });
  // Whether a result was waiting to be stored or the worker was looking for work when the database went.
  t.ok(
    logs().some((line) => /evaluation run paused: the database cannot be reached|job queue: could not look for work/.test(String(line.msg))),
    'the worker said why it waited',
  );
  t.ok(fake.requests.length <= 60 + 2, `calls at the fake: ${fake.requests.length} for 60 pairs, at most the 2 under way when the database went asked again`);

  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  const { rows } = await pool.query<{ results: number; done: number }>(
    'select (select count(*)::int from run_results where run_id = $1) as results, (select done from runs where run_id = $1) as done',
    [run.run_id],
  );
  t.same(rows[0], { results: 60, done: 60 }, 'every (item, model) stored and counted once');
  t.equal((await app.inject('/ready')).statusCode, 200);
});

t.test('two workers share a run: its concurrency holds across both, measured at the upstream, and both take jobs', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 60 });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url };
  await buildTestApp(t, { ...env, ROLE: 'worker' });
  await buildTestApp(t, { ...env, ROLE: 'worker' });
  const api = await buildTestApp(t, { ...env, ROLE: 'api' });
  // Each worker counts the live workers at its heartbeat (every 3 s): from then on each takes its share.
  await new Promise((resolve) => setTimeout(resolve, 3500));

  const run = await startRun(api.app, { inquiries: inquiries.slice(0, 40), models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 4 });
  const done = await waitForRun(api.app, run.run_id);
  t.equal(done.status, 'completed');
  t.same(done.progress, { total: 80, done: 80, failed: 0 });
  t.ok(fake.maxInFlight <= 4, `at most the run's 4 calls at once at the upstream (measured ${fake.maxInFlight})`);
  // Each worker's share is ceil(4 / 2) = 2 calls: more than 2 at once means both were calling.
  t.ok(fake.maxInFlight >= 3, `and both workers took jobs: more at once than one worker's share of 2 (measured ${fake.maxInFlight})`);
  t.equal(fake.requests.length, 80, 'every pair called once');
});

t.test('two workers keep each upstream to OPENAI_MAX_CONNECTIONS in all, across runs', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 60 });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, OPENAI_MAX_CONNECTIONS: '4' };
  await buildTestApp(t, { ...env, ROLE: 'worker' });
  await buildTestApp(t, { ...env, ROLE: 'worker' });
  const api = await buildTestApp(t, { ...env, ROLE: 'api' });
  await new Promise((resolve) => setTimeout(resolve, 3500));

  // Two runs of concurrency 8 each: 16 calls at once if each run kept only to its own bound.
  const body = { inquiries: inquiries.slice(0, 20), models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 8 };
  const runs = [await startRun(api.app, body), await startRun(api.app, body)];
  for (const run of runs) t.equal((await waitForRun(api.app, run.run_id)).status, 'completed');
  t.ok(fake.maxInFlight <= 4, `at most OPENAI_MAX_CONNECTIONS (4) calls at once at the upstream (measured ${fake.maxInFlight})`);
  t.ok(fake.maxInFlight >= 3, `and both workers used their share of 2 (measured ${fake.maxInFlight})`);
  t.equal(fake.requests.length, 80);
});

t.test('the sweeps take up what nobody looks after: a run left queued, and a running run whose jobs were lost', async (t) => {
  const db = await startTestPostgres(t);
  const env = { OPENAI_API_KEY: '', RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '200' };
  const api = await buildTestApp(t, { ...env, ROLE: 'api' });
  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());

  // A replica that stopped half-way: one run still queued, its jobs never enqueued; another running, its jobs gone.
  const leftQueued = await startRun(api.app, { ...offline, inquiries: inquiries.slice(0, 10) });
  await pool.query(`delete from pgboss.job where name = $1`, [`pairs.${leftQueued.run_id}`]);
  await pool.query(`update runs set status = 'queued', record = replace(record::text, '"status":"running"', '"status":"queued"')::json where run_id = $1`, [leftQueued.run_id]);
  const lostJobs = await startRun(api.app, { ...offline, inquiries: inquiries.slice(10, 20) });
  await pool.query(`delete from pgboss.job where name = $1`, [`pairs.${lostJobs.run_id}`]);
  t.equal((await api.app.inject(`/evaluate/${leftQueued.run_id}`)).json().status, 'queued');

  const worker = await buildTestApp(t, { ...env, ROLE: 'worker' });
  for (const run of [leftQueued, lostJobs]) {
    const done = await waitForRun(api.app, run.run_id);
    t.equal(done.status, 'completed');
    t.same(done.progress, { total: 20, done: 20, failed: 0 }, 'every pair done once');
  }
  t.ok(worker.logs().some((line) => /a running run had unfinished work and no job for it; enqueued again/.test(String(line.msg)) && line.run_id === lostJobs.run_id));
});

t.test('a pairwise run through the queue: answer jobs on both workers, then a verdict job per item once both answers are in', async (t) => {
  const db = await startTestPostgres(t);
  const steps = "Go to 'Your Orders', select the order, then choose 'Return or replace items'.";
  const reply = (preference: 'A' | 'B') =>
    Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone', 'overall'].map((aspect) => [aspect, { rationale: aspect, preference }]));
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    latencyMs: 20,
    answer: (request) => ((request.body.model as string).startsWith('ft:') ? steps : 'You may want to contact customer service.'),
    // A blind judge that prefers the step-by-step answer wherever it is shown.
    structured: (request) => reply(request.userText.indexOf(steps) > request.userText.indexOf('<answer_b>') ? 'B' : 'A'),
  });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url };
  await buildTestApp(t, { ...env, ROLE: 'worker' });
  const api = await buildTestApp(t, { ...env, ROLE: 'all' });
  const run = await startRun(api.app, { inquiries: inquiries.slice(0, 12), scorer: 'pairwise', concurrency: 4 });
  const done = (await waitForRun(api.app, run.run_id)) as RunView & { summary: { all: { pairwise: { judged: number; overall: { wins: number } }[] } } };
  t.equal(done.status, 'completed');
  t.same(done.progress, { total: 36, done: 36, failed: 0 }, 'two answers and a verdict per item');
  t.equal(fake.requests.length, 24 + 24, 'each answer asked once, each verdict judged once in both orders');
  t.match(done.summary.all.pairwise[0], { judged: 12, overall: { wins: 12 } });
  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  const { rows } = await pool.query<{ verdicts: number }>('select count(*)::int as verdicts from run_verdicts where run_id = $1', [run.run_id]);
  t.equal(rows[0]?.verdicts, 12, 'a verdict per item, stored once');
});
