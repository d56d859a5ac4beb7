/**
 * A flapping upstream: 30% of calls answer 500 or 429, 2% hang. An evaluation run must still end
 * with every item scored or failed with its reason, once each, without calling the upstream more
 * than items × (retries + 1) times in each of its two passes (a pair the upstream failed is tried
 * once more at the end). An outage: the run waits out the open breaker instead of failing pairs.
 */
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type Behaviour } from './helpers/fake-openai.js';
import { seededRandom } from './helpers/seeded-random.js';

const KEY = 'sk-fault-injection-0123456789';
const INQUIRIES = 200;
const MODELS = ['fine-tuned', 'baseline'];
const MAX_RETRIES = 2;

t.test('a run of 200 inquiries × 2 models survives an upstream that fails 30% of calls and hangs on 2%', async (t) => {
  const random = seededRandom(20261124);
  const injected = { errors: 0, hangs: 0 };
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    behaviour: (): Behaviour | undefined => {
      const roll = random();
      if (roll < 0.02) {
        injected.hangs += 1;
        return { hang: true };
      }
      if (roll < 0.32) {
        injected.errors += 1;
        // retry-after-ms keeps the SDK's backoff short so the test stays fast; the path is the same.
        return { status: roll < 0.17 ? 500 : 429, headers: { 'retry-after-ms': '5' } };
      }
      return undefined;
    },
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, {
    OPENAI_API_KEY: KEY,
    OPENAI_BASE_URL: fake.url,
    OPENAI_MAX_RETRIES: String(MAX_RETRIES),
    OPENAI_TIMEOUT_MS: '300',
  });

  const inquiries = Array.from({ length: INQUIRIES }, (_, i) => ({ id: `q${i}`, inquiry: `Flaky upstream question ${i}` }));
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries, models: MODELS, scorer: 'heuristic', concurrency: 16 } });
  t.equal(created.statusCode, 202);
  const { run_id } = created.json();

  const deadline = Date.now() + 90_000;
  let run;
  do {
    await new Promise((resolve) => setTimeout(resolve, 50));
    run = (await app.inject(`/evaluate/${run_id}`)).json();
  } while (run.status === 'running' || run.status === 'queued' ? Date.now() < deadline : false);

  const pairs = INQUIRIES * MODELS.length;
  t.equal(run.status, 'completed', 'the run completes');
  t.equal(run.progress.done, pairs, 'every pair finished');
  t.ok(injected.errors > 0.2 * pairs && injected.hangs > 0, `faults were injected (${injected.errors} errors, ${injected.hangs} hangs)`);

  const rows = parse((await app.inject(`/evaluate/${run_id}/results.csv`)).body, { columns: true }) as Record<string, string>[];
  t.equal(rows.length, pairs, 'one row per (item, model)');
  t.equal(new Set(rows.map((row) => `${row.item_id}/${row.model_alias}`)).size, pairs, 'no duplicate rows');
  const failed = rows.filter((row) => row.outcome === 'failed');
  t.ok(rows.every((row) => row.outcome === 'scored' || (row.outcome === 'failed' && /^answer\/[a-z_]+: .+/.test(row.error ?? ''))), 'scored, or failed with a reason');
  t.equal(failed.length, run.progress.failed);
  t.equal(run.summary.all.models[0].failed + run.summary.all.models[1].failed, failed.length, 'failures are counted in the summary');
  // A pair the upstream failed gets one more try at the end of the run, with its own retries.
  t.ok(fake.requests.length <= 2 * pairs * (MAX_RETRIES + 1), `the upstream saw ${fake.requests.length} calls, at most ${2 * pairs * (MAX_RETRIES + 1)}`);
  const reasons: Record<string, number> = {};
  for (const row of failed) reasons[row.error?.split(':')[0] ?? ''] = (reasons[row.error?.split(':')[0] ?? ''] ?? 0) + 1;
  t.comment(`calls ${fake.requests.length}, failed items ${failed.length}: ${JSON.stringify(reasons)}`);
});

t.test('an outage of a second during a run: the run waits out the open breaker and retries, and no pair fails', async (t) => {
  let outageEnds = 0;
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    latencyMs: 20,
    behaviour: (): Behaviour | undefined => (Date.now() < outageEnds ? { status: 500 } : undefined),
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, {
    OPENAI_API_KEY: KEY,
    OPENAI_BASE_URL: fake.url,
    OPENAI_MAX_RETRIES: '0',
    CIRCUIT_BREAKER_FAILURES: '3',
    CIRCUIT_BREAKER_COOLDOWN_MS: '300',
  });
  const inquiries = Array.from({ length: 60 }, (_, i) => `Outage question ${i}`);
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries, models: MODELS, scorer: 'heuristic', concurrency: 4 } });
  const { run_id } = created.json();
  // The upstream fails every call for a second, a few calls into the run.
  while (fake.requests.length < 10) await new Promise((resolve) => setTimeout(resolve, 5));
  outageEnds = Date.now() + 1000;
  const deadline = Date.now() + 60_000;
  let run;
  do {
    await new Promise((resolve) => setTimeout(resolve, 50));
    run = (await app.inject(`/evaluate/${run_id}`)).json();
  } while (run.status === 'running' && Date.now() < deadline);
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 120, done: 120, failed: 0 }, 'every pair answered once the upstream was back');
  const failedDuringOutage = fake.requests.length - 120;
  t.ok(failedDuringOutage > 0, `${failedDuringOutage} calls failed during the outage and were made again`);
});
