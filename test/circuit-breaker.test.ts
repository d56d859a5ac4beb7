import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { loadConfig } from '../src/config.js';
import type { AppError } from '../src/errors.js';
import { answerInquiry } from '../src/models/answer.js';
import { closeServices, createServices } from '../src/services.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type FakeOpenAIOptions } from './helpers/fake-openai.js';

const KEY = 'sk-test-breaker-key-0123456789';
const COOLDOWN_MS = 200;
const BREAKER = { OPENAI_MAX_RETRIES: '0', CIRCUIT_BREAKER_FAILURES: '3', CIRCUIT_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS) };

async function setup(t: Test, env: Record<string, string> = {}, fakeOptions: FakeOpenAIOptions = {}) {
  const fake = await startFakeOpenAI({ apiKey: KEY, ...fakeOptions });
  t.teardown(() => fake.close());
  const testApp = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, ...BREAKER, ...env });
  return { fake, ...testApp };
}

const ask = (app: FastifyInstance, model = 'fine-tuned') => app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'Where is my refund?', model } });

async function circuits(app: FastifyInstance): Promise<Record<string, string | null>> {
  const { models } = (await app.inject('/models')).json() as { models: Array<{ alias: string; circuit: string | null }> };
  return Object.fromEntries(models.map((model) => [model.alias, model.circuit]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const afterCooldown = () => sleep(COOLDOWN_MS + 50);

interface RunView {
  run_id: string;
  status: string;
  progress: { total: number; done: number; failed: number };
}

async function runToEnd(app: FastifyInstance, body: object): Promise<RunView> {
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (created.statusCode !== 202) throw new Error(`POST /evaluate: ${created.statusCode} ${created.body}`);
  const { run_id } = created.json() as RunView;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject(`/evaluate/${run_id}`)).json() as RunView;
    if (['completed', 'failed', 'cancelled'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${run_id} still ${run.status}`);
    await sleep(20);
  }
}

const resultRows = async (app: FastifyInstance, runId: string) =>
  parse((await app.inject(`/evaluate/${runId}/results.csv`)).body, { columns: true, skip_empty_lines: true }) as Array<Record<string, string | undefined>>;

async function failThreeTimes(t: Test, app: FastifyInstance, fake: { queue: unknown[] }) {
  fake.queue.push({ status: 500 }, { status: 500 }, { status: 500 });
  for (let i = 0; i < 3; i += 1) t.equal((await ask(app)).json().error.code, 'upstream_error', `failure ${i + 1} reaches the upstream`);
}

t.test('three 500s in a row open the breaker: the next calls fail fast with 503 and Retry-After', async (t) => {
  const { app, fake, logs } = await setup(t);
  t.same(await circuits(app), { 'fine-tuned': null, baseline: null, judge: null, retrieval: null, handoff: null }, 'no breaker before the first call');

  await failThreeTimes(t, app, fake);
  t.equal(fake.requests.length, 3);

  const refused = await ask(app);
  t.equal(refused.statusCode, 503);
  t.equal(refused.headers['retry-after'], '1');
  t.same(refused.json(), {
    error: {
      code: 'upstream_circuit_open',
      message: "The upstream of model 'fine-tuned' failed 3 times in a row; calls are paused for 0.2s. Try again later.",
    },
  });
  const sameUpstream = await ask(app, 'baseline');
  t.equal(sameUpstream.statusCode, 503);
  t.match(sameUpstream.json().error.message, /model 'baseline'/);
  t.equal(fake.requests.length, 3, 'nothing reached the upstream while the breaker is open');

  t.same(await circuits(app), { 'fine-tuned': 'open', baseline: 'open', judge: 'open', retrieval: null, handoff: null });
  const offline = await ask(app, 'retrieval');
  t.equal(offline.statusCode, 200, 'the offline model does not depend on the upstream');

  const failed = logs().filter((line) => line.msg === 'upstream call failed');
  t.same(
    failed.map((line) => line.outcome),
    ['upstream_error', 'upstream_error', 'upstream_error', 'upstream_circuit_open', 'upstream_circuit_open'],
    'still one log line per call',
  );
});

t.test('after the cool-down one probe goes through: a failure opens the breaker again, a success closes it', async (t) => {
  const { app, fake } = await setup(t);
  await failThreeTimes(t, app, fake);
  await afterCooldown();
  t.equal((await circuits(app))['fine-tuned'], 'half_open', 'the next call will be the probe');

  fake.queue.push({ status: 500 });
  t.equal((await ask(app)).json().error.code, 'upstream_error', 'the probe reaches the upstream');
  t.equal(fake.requests.length, 4);
  t.equal((await ask(app)).json().error.code, 'upstream_circuit_open', 'a failed probe opens the breaker again');
  t.equal(fake.requests.length, 4);
  t.equal((await circuits(app))['fine-tuned'], 'open');

  await afterCooldown();
  // The second call waits for the probe instead of reaching the upstream beside it.
  fake.queue.push({ latencyMs: 100 });
  const [probe, waiting] = await Promise.all([ask(app), ask(app)]);
  t.equal(probe.statusCode, 200);
  t.equal(waiting.statusCode, 200);
  t.equal(fake.maxInFlight, 1, 'only the probe was in flight');
  t.equal((await circuits(app))['fine-tuned'], 'closed');

  t.equal((await ask(app)).statusCode, 200);
  t.equal(fake.requests.length, 7, 'calls reach the upstream again');

  // The count starts again from zero once the breaker has closed.
  fake.queue.push({ status: 500 }, { status: 500 });
  await ask(app);
  await ask(app);
  t.equal((await ask(app)).statusCode, 200);
  t.equal((await circuits(app))['fine-tuned'], 'closed');
});

t.test('a 429 that persists after the retries counts as an outage', async (t) => {
  const { app, fake } = await setup(t);
  fake.queue.push({ status: 429 }, { status: 429 }, { status: 429 });
  for (let i = 0; i < 3; i += 1) t.equal((await ask(app)).statusCode, 429);
  t.equal((await ask(app)).json().error.code, 'upstream_circuit_open');
  t.equal(fake.requests.length, 3);
});

t.test('a rejected request or key and an unparsable judge reply are not outages', async (t) => {
  const { app, fake } = await setup(t);
  fake.queue.push({ status: 400 }, { status: 401 }, { status: 403 }, { status: 404 }, { status: 422 });
  const codes = [];
  for (let i = 0; i < 5; i += 1) codes.push((await ask(app)).json().error.code);
  t.same(codes, ['upstream_error', 'upstream_auth_failed', 'upstream_auth_failed', 'upstream_error', 'upstream_error']);

  // The offline model answers, so every call of this run is a judge call.
  fake.queue.push({ text: 'not json' }, { text: '{"accuracy": 9}' }, { text: 'still not json' });
  const inquiries = ['Where is my refund?', 'Can I return a phone?', 'Is this SSD PS5 compatible?'];
  const run = await runToEnd(app, { inquiries, models: ['retrieval'], scorer: 'judge', concurrency: 1 });
  t.same(run.progress, { total: 3, done: 3, failed: 3 });
  t.same(
    (await resultRows(app, run.run_id)).map((row) => row.error?.split(':')[0]),
    ['score/judge_unparsable', 'score/judge_unparsable', 'score/judge_unparsable'],
  );

  t.equal((await ask(app)).statusCode, 200);
  t.equal(fake.requests.length, 9, 'every call reached the upstream');
  t.same(await circuits(app), { 'fine-tuned': 'closed', baseline: 'closed', judge: 'closed', retrieval: null, handoff: null });
});

t.test('breakers are per upstream: an alias on another server keeps working while the first one is open', async (t) => {
  const local = await startFakeOpenAI();
  t.teardown(() => local.close());
  const file = join(t.testdir(), 'models.json');
  writeFileSync(file, JSON.stringify({ models: { 'llama-local': { model_id: 'llama3.1:8b', base_url: local.url, api_key_env: null, api_style: 'chat' } } }));
  const { app, fake } = await setup(t, { MODELS_FILE: file });

  await failThreeTimes(t, app, fake);
  t.equal((await ask(app)).statusCode, 503);
  const other = await ask(app, 'llama-local');
  t.equal(other.statusCode, 200);
  t.equal(local.requests.length, 1);
  t.match(await circuits(app), { 'fine-tuned': 'open', baseline: 'open', 'llama-local': 'closed' });
});

t.test('timeouts of a hanging upstream count as outages', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_TIMEOUT_MS: '100' }, { behaviour: () => ({ hang: true }) });
  for (let i = 0; i < 3; i += 1) t.equal((await ask(app)).json().error.code, 'upstream_timeout');
  t.equal((await ask(app)).json().error.code, 'upstream_circuit_open');
  t.equal(fake.requests.length, 3, 'refused without waiting for another timeout');
});

t.test('an unreachable upstream opens the breaker', async (t) => {
  const { app } = await setup(t, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
  for (let i = 0; i < 3; i += 1) t.equal((await ask(app)).json().error.code, 'upstream_unreachable');
  t.equal((await ask(app)).json().error.code, 'upstream_circuit_open');
});

t.test('CIRCUIT_BREAKER_FAILURES=0 disables the breaker', async (t) => {
  const { app, fake } = await setup(t, { CIRCUIT_BREAKER_FAILURES: '0' }, { behaviour: () => ({ status: 500 }) });
  for (let i = 0; i < 8; i += 1) t.equal((await ask(app)).json().error.code, 'upstream_error');
  t.equal(fake.requests.length, 8, 'every call reached the upstream');
  t.equal((await circuits(app))['fine-tuned'], null);
});

t.test('an evaluation run against an upstream that stays down: each pair waits out the breaker within its budget, then every item fails with its reason, mostly without calling it', async (t) => {
  // A pair waits at most RUN_MAX_OUTAGE_WAIT_MS for the breaker; the upstream never comes back.
  const { app, fake } = await setup(t, { RUN_MAX_OUTAGE_WAIT_MS: '0' }, { behaviour: () => ({ status: 500 }) });
  const inquiries = Array.from({ length: 30 }, (_, i) => `Question ${i} about my order`);
  const run = await runToEnd(app, { inquiries, models: ['fine-tuned'], scorer: 'heuristic', concurrency: 1 });
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 30, done: 30, failed: 30 });

  const rows = await resultRows(app, run.run_id);
  t.ok(rows.every((row) => row.outcome === 'failed'));
  const codes = rows.map((row) => row.error?.split(':')[0]);
  t.ok(codes.every((code) => code === 'answer/upstream_error' || code === 'answer/upstream_circuit_open'), 'every failure has its reason');
  t.equal(codes.filter((code) => code === 'answer/upstream_error').length, fake.requests.length - 3, 'after the first pass, one upstream error per call made');
  t.ok(fake.requests.length < 12, `the upstream saw ${fake.requests.length} calls for 30 items in two passes`);
});

t.test('cancelled calls are not outages, and a cancelled probe keeps the breaker open', async (t) => {
  // Decided per request rather than queued: a call cancelled before it reaches the fake must not leave a hang behind.
  const fake = await startFakeOpenAI({ apiKey: KEY, behaviour: (request) => (request.userText.includes('cancel me') ? { hang: true } : undefined) });
  t.teardown(() => fake.close());
  const services = createServices(loadConfig({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, OPENAI_TIMEOUT_MS: '2000', ...BREAKER }));
  t.teardown(() => closeServices(services));
  const log = pino({ level: 'silent' });
  const fineTuned = services.registry.resolve('fine-tuned');
  const circuit = () => (fineTuned.kind === 'openai' ? services.clients.circuitOf(fineTuned) : undefined);
  const cancelledCall = async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    return answerInquiry(services, 'fine-tuned', { inquiry: 'cancel me' }, { log, signal: controller.signal }).then(
      () => undefined,
      (error: AppError) => error.code,
    );
  };
  const call = () =>
    answerInquiry(services, 'fine-tuned', { inquiry: 'Where is my refund?' }, { log }).then(
      (answer) => answer.status,
      (error: AppError) => error.code,
    );

  for (let i = 0; i < 4; i += 1) t.equal(await cancelledCall(), 'cancelled');
  t.equal(circuit(), 'closed');
  t.equal(await call(), 'completed');

  fake.queue.push({ status: 500 }, { status: 500 }, { status: 500 });
  for (let i = 0; i < 3; i += 1) t.equal(await call(), 'upstream_error');
  t.equal(circuit(), 'open');
  await afterCooldown();
  t.equal(circuit(), 'half_open');
  t.equal(await cancelledCall(), 'cancelled', 'the probe is cancelled by its caller');
  t.equal(circuit(), 'open', 'the probe said nothing about the upstream');
  const calls = fake.requests.length;
  t.equal(await call(), 'upstream_circuit_open');
  t.equal(fake.requests.length, calls);
});
