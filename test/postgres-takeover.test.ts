import pg from 'pg';
import t from 'tap';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';
import { startTestService, within } from './helpers/server-process.js';

// Real processes on one PostgreSQL server: the process executing a run's jobs is killed (SIGKILL, no goodbye),
// and a worker started afterwards takes its jobs over once their leases lapse, without the killed process coming
// back. Every (item, model) ends up stored exactly once; the calls repeated are only those the killed process had
// in flight.

const KEY = 'sk-test-postgres-takeover-0123456789';

t.test('a worker takes over the run of a replica killed mid-run; every (item, model) is stored exactly once', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 40 });
  t.teardown(() => fake.close());
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RUNS_STORE: 'postgres', DATABASE_URL: db.url };

  const first = await startTestService(t, env);
  const inquiries = Array.from({ length: 100 }, (_, i) => `Question ${i}: my soundbar loses its Bluetooth connection every few minutes`);
  const concurrency = 4;
  const runId = await first.startRun({ inquiries, models: ['fine-tuned', 'baseline'], scorer: 'heuristic', concurrency });
  for (let done = 0; done < 40; await new Promise((resolve) => setTimeout(resolve, 50))) done = (await first.getJson(`/evaluate/${runId}`)).progress.done;
  first.child.kill('SIGKILL');
  const killedAt = Date.now();
  const pool = new pg.Pool({ connectionString: db.url });
  t.teardown(() => pool.end());
  const active = await pool.query<{ jobs: number }>(`select count(*)::int as jobs from pgboss.job where name = $1 and state = 'active'`, [`pairs.${runId}`]);
  t.ok((active.rows[0]?.jobs ?? 0) > 0, `the killed process held ${active.rows[0]?.jobs} jobs under way`);

  const worker = await startTestService(t, { ...env, ROLE: 'worker' });
  t.equal((await fetch(`${worker.base}/evaluate`)).status, 404, 'a worker serves no API');
  t.equal((await fetch(`${worker.base}/ready`)).status, 200, 'but answers its probes');
  const api = await startTestService(t, { ...env, ROLE: 'api' });
  const ended = await within(api.waitForEnd(runId), 60_000, 'the run to end');
  t.equal(ended.status, 'completed', `completed by the worker ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);

  const { rows } = await pool.query<{ results: number; pairs: number; done: number }>(
    `select count(*)::int as results, count(distinct (item_id, model_alias))::int as pairs, (select done from runs where run_id = $1) as done
     from run_results where run_id = $1`,
    [runId],
  );
  t.same(rows[0], { results: 200, pairs: 200, done: 200 }, 'every (item, model) stored and counted exactly once');
  const answerCalls = fake.requests.length;
  t.ok(answerCalls >= 200 && answerCalls <= 200 + concurrency, `calls at the fake: ${answerCalls}, at most the ${concurrency} in flight at the kill repeated`);
  const csv = await (await fetch(`${api.base}/evaluate/${runId}/results.csv`)).text();
  t.equal(csv.trim().split('\n').length, 201, 'the CSV has a row per (item, model)');
});
