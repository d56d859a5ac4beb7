import { parse } from 'csv-parse/sync';
import pg from 'pg';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';
import { startTestService, within } from './helpers/server-process.js';

// The deployment with real processes: PostgreSQL, two API replicas and two workers. A run is created through
// one API replica and followed through the other; one worker is killed (SIGKILL, no goodbye) mid-run and the
// other takes its jobs over once their leases lapse. Every (item, model) ends up stored exactly once, the calls
// made again are only those the killed worker had under way, and the CSV has the rows a file-store run of the
// same items has. A second run is cancelled through the replica it was not created on.

const KEY = 'sk-test-postgres-e2e-0123456789';
const ITEMS = 300;

/** The CSV's rows without what differs between two runs of the same items (ids, times, latencies). */
function stableRows(text: string): Record<string, string>[] {
  const rows = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  return rows
    .map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !/^(run_id|finished_at|latency_ms)$/.test(column))))
    .sort((a, b) => `${a.item_id}\u0000${a.model_alias}`.localeCompare(`${b.item_id}\u0000${b.model_alias}`));
}

t.test('two API replicas and two workers on PostgreSQL: a worker killed mid-run, every (item, model) stored once, cancel through the other replica', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 30 });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_STATUS_POLL_MS: '200' };
  const [api1, api2, worker1, worker2] = await Promise.all([
    startTestService(t, { ...env, ROLE: 'api' }),
    startTestService(t, { ...env, ROLE: 'api' }),
    startTestService(t, { ...env, ROLE: 'worker' }),
    startTestService(t, { ...env, ROLE: 'worker' }),
  ]);
  t.equal((await fetch(`${worker1.base}/evaluate`)).status, 404, 'a worker serves no API');
  t.equal((await fetch(`${worker1.base}/ready`)).status, 200, 'but answers its probes');
  // Each worker counts the live workers at its heartbeat (every 3 s): from then on each takes its share.
  await new Promise((resolve) => setTimeout(resolve, 3500));

  const inquiries = Array.from({ length: ITEMS }, (_, i) => `Question ${i}: my soundbar loses its Bluetooth connection every few minutes`);
  const request = { inquiries, models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency: 8 };
  const runId = await api1.startRun(request);
  for (let done = 0; done < 150; await new Promise((resolve) => setTimeout(resolve, 50))) done = (await api2.getJson(`/evaluate/${runId}`)).progress.done;

  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  worker1.child.kill('SIGKILL');
  const killedAt = Date.now();
  const active = await pool.query<{ jobs: number }>(`select count(*)::int as jobs from pgboss.job where name = $1 and state = 'active'`, [`pairs.${runId}`]);
  const underWay = active.rows[0]?.jobs ?? 0;
  t.ok(underWay > 0, `jobs under way when the worker was killed: ${underWay} (both workers')`);

  const ended = await within(api2.waitForEnd(runId), 90_000, 'the run to end');
  t.equal(ended.status, 'completed', `completed through the other worker, ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  const { rows } = await pool.query<{ results: number; pairs: number; done: number }>(
    `select count(*)::int as results, count(distinct (item_id, model_alias))::int as pairs, (select done from runs where run_id = $1) as done
     from run_results where run_id = $1`,
    [runId],
  );
  t.same(rows[0], { results: 2 * ITEMS, pairs: 2 * ITEMS, done: 2 * ITEMS }, 'every (item, model) stored and counted exactly once');
  const calls = fake.requests.length;
  t.ok(calls >= 2 * ITEMS && calls <= 2 * ITEMS + underWay, `calls at the fake: ${calls} for ${2 * ITEMS} pairs; at most the ${underWay} under way at the kill made again`);
  t.ok(fake.maxInFlight <= 8, `the run's concurrency held across the workers (at most ${fake.maxInFlight} of 8 calls at once)`);

  const csv = await (await fetch(`${api1.base}/evaluate/${runId}/results.csv`)).text();
  t.equal(csv, await (await fetch(`${api2.base}/evaluate/${runId}/results.csv`)).text(), 'the same CSV from either API replica');
  const fileStore = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const fileRun = (await fileStore.app.inject({ method: 'POST', url: '/evaluate', payload: request })).json() as { run_id: string };
  for (let status = 'queued'; status === 'queued' || status === 'running'; await new Promise((resolve) => setTimeout(resolve, 50))) {
    status = (await fileStore.app.inject(`/evaluate/${fileRun.run_id}`)).json().status;
  }
  const fileCsv = (await fileStore.app.inject(`/evaluate/${fileRun.run_id}/results.csv`)).body;
  t.same(stableRows(csv), stableRows(fileCsv), 'the same rows as a file-store run of the same items');

  // A run created on one replica, cancelled through the other: the remaining worker stops its calls.
  const second = await api1.startRun({ ...request, inquiries: inquiries.slice(0, 200) });
  for (let done = 0; done < 20; await new Promise((resolve) => setTimeout(resolve, 50))) done = (await api2.getJson(`/evaluate/${second}`)).progress.done;
  const cancel = await fetch(`${api2.base}/evaluate/${second}`, { method: 'DELETE' });
  t.equal(cancel.status, 200);
  const callsAtCancel = fake.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const settled = fake.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.equal(fake.requests.length, settled, 'no more calls once the worker has seen the cancel');
  t.ok(settled - callsAtCancel <= 8, `at most a run's concurrency of calls after the cancel (${settled - callsAtCancel})`);
  const cancelled = await api1.getJson(`/evaluate/${second}`);
  t.equal(cancelled.status, 'cancelled');
  t.ok(cancelled.progress.done >= 20 && cancelled.progress.done < 400, `finished items kept: ${cancelled.progress.done} of 400`);
  const exported = parse(await (await fetch(`${api1.base}/evaluate/${second}/results.csv`)).text(), { columns: true }) as unknown[];
  t.equal(exported.length, cancelled.progress.done, 'its CSV holds every finished item');
  t.match((await api1.getJson(`/evaluate/${second}`)).summary, { completeness: { run_status: 'cancelled', partial: true } }, 'its summary says it was cancelled part way');
  let exports = 0;
  for (const deadline = Date.now() + 20_000; exports < 3 && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    exports = (await pool.query<{ n: number }>('select count(*)::int as n from run_exports where run_id = $1', [second])).rows[0]?.n ?? 0;
  }
  t.equal(exports, 3, 'the finalising job stored its summary, Markdown and chart');
});
