import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { buildTestApp } from './helpers/build-app.js';

const KEY_A = 'limits-key-alpha-0123456789';
const KEY_B = 'limits-key-bravo-0123456789';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

t.test('the limits default to the documented values', async (t) => {
  const config = loadConfig({});
  t.equal(config.RATE_LIMIT_MAX, 120);
  t.equal(config.RATE_LIMIT_WINDOW_MS, 60_000);
  t.equal(config.BODY_LIMIT_BYTES, 1024 * 1024);
  t.equal(config.MAX_EVENT_LOOP_DELAY_MS, 1000);
  t.equal(config.MAX_EVENT_LOOP_UTILIZATION, 0, 'off by default: a busy offline run must not shut the API');
  t.throws(() => loadConfig({ RATE_LIMIT_MAX: '-1' }), /RATE_LIMIT_MAX/);
  t.throws(() => loadConfig({ BODY_LIMIT_BYTES: '10' }), /BODY_LIMIT_BYTES/);
  t.throws(() => loadConfig({ MAX_EVENT_LOOP_UTILIZATION: '1.5' }), /MAX_EVENT_LOOP_UTILIZATION/);
});

t.test('over the rate limit: 429 in the error shape with Retry-After; health and readiness are not limited', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
  const first = await app.inject('/models');
  t.equal(first.statusCode, 200);
  t.equal(first.headers['x-ratelimit-limit'], '2');
  t.equal((await app.inject('/models')).statusCode, 200);

  const limited = await app.inject('/models');
  t.equal(limited.statusCode, 429);
  const retryAfter = Number(limited.headers['retry-after']);
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']} s`);
  t.same(Object.keys(limited.json()), ['error']);
  t.match(limited.json().error, { code: 'rate_limited', message: /at most 2 requests per 60 s\. Retry in \d+ s\./ });
  t.equal((await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'hi' } })).statusCode, 429, 'one budget across routes');

  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject('/health')).statusCode, 200);
    t.equal((await app.inject('/ready')).statusCode, 200);
  }
  // The report pages' shells and assets hold no data: loading them never spends the caller's budget.
  const shell = await app.inject('/');
  const asset = /src="(\/ui\/[^"]+\.js)"/.exec(shell.body)?.[1];
  t.ok(asset, 'the run list names its script');
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject('/')).statusCode, 200);
    t.equal((await app.inject('/evaluate/run_20261124T235900Z_ab12cd/report')).statusCode, 200);
    t.equal((await app.inject(asset as string)).statusCode, 200);
  }
});

t.test('with keys, each key has its own budget', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: `${KEY_A},${KEY_B}`, RATE_LIMIT_MAX: '2' });
  const get = (key: string) => app.inject({ url: '/models', headers: bearer(key) });
  t.equal((await get(KEY_A)).statusCode, 200);
  t.equal((await get(KEY_A)).statusCode, 200);
  t.equal((await get(KEY_A)).statusCode, 429);
  t.equal((await get(KEY_B)).statusCode, 200, 'the second key is not affected');
  t.equal((await get(KEY_B)).statusCode, 200);
  t.equal((await get(KEY_B)).statusCode, 429);
});

t.test('without keys, each client address has its own budget', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_MAX: '1' });
  const get = (remoteAddress: string) => app.inject({ url: '/models', remoteAddress });
  t.equal((await get('10.0.0.1')).statusCode, 200);
  t.equal((await get('10.0.0.1')).statusCode, 429);
  t.equal((await get('10.0.0.2')).statusCode, 200);
});

t.test('RATE_LIMIT_MAX=0 turns rate limiting off', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_MAX: '0' });
  for (let i = 0; i < 5; i++) {
    const reply = await app.inject('/models');
    t.equal(reply.statusCode, 200);
    t.notOk(reply.headers['x-ratelimit-limit']);
  }
});

t.test('a body over BODY_LIMIT_BYTES is a 413 in the error shape; POST /evaluate keeps its own limit', async (t) => {
  const { app } = await buildTestApp(t, { BODY_LIMIT_BYTES: '1024' });
  const tooLarge = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'x'.repeat(2000) } });
  t.equal(tooLarge.statusCode, 413);
  t.same(Object.keys(tooLarge.json()), ['error']);
  t.match(tooLarge.json().error, { code: 'payload_too_large', message: String });

  const withinRoute = await app.inject({ method: 'POST', url: '/evaluate', payload: { unexpected: 'x'.repeat(2000) } });
  t.equal(withinRoute.statusCode, 400, 'read and validated, not refused for its size');
  t.equal(withinRoute.json().error.code, 'validation_error');
});

/** Blocks the event loop, as a CPU-bound request would. */
function blockEventLoop(ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

// Sampling is periodic and the machine may be busy: block, wait until a sample has seen the block,
// then ask. A few attempts absorb the case where the next sample lands between the two.
async function whileOverloaded(app: FastifyInstance, ask: () => Promise<Array<Awaited<ReturnType<FastifyInstance['inject']>>>>) {
  let replies = await ask();
  for (let attempt = 0; attempt < 10 && replies[0]?.statusCode !== 503; attempt++) {
    blockEventLoop(300);
    for (let waited = 0; waited < 100 && !app.isUnderPressure(); waited++) await sleep(5);
    replies = await ask();
  }
  return replies;
}

t.test('a saturated event loop sheds requests with 503 and Retry-After; /health still answers', async (t) => {
  const { app } = await buildTestApp(t, { MAX_EVENT_LOOP_DELAY_MS: '1', EVENT_LOOP_SAMPLE_INTERVAL_MS: '10' });
  const [shed, health] = await whileOverloaded(app, () => Promise.all([app.inject('/models'), app.inject('/health')]));
  t.equal(shed?.statusCode, 503);
  t.equal(shed?.headers['retry-after'], '1');
  t.same(shed?.json(), { error: { code: 'overloaded', message: 'The service is overloaded. Retry shortly.' } });
  t.equal(health?.statusCode, 200, 'liveness is not shed');
});

t.test('load shedding can be turned off', async (t) => {
  const { app } = await buildTestApp(t, { MAX_EVENT_LOOP_DELAY_MS: '0', MAX_EVENT_LOOP_UTILIZATION: '0', EVENT_LOOP_SAMPLE_INTERVAL_MS: '10' });
  blockEventLoop(300);
  await sleep(50);
  t.equal((await app.inject('/models')).statusCode, 200);
});
