/**
 * Neither the upstream key nor a service key may leak: not into logs (captured at trace level), not into
 * error replies, not into the CSV or the run's files, even when the upstream echoes the key back.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

const UPSTREAM_KEY = 'sk-upstream-SECRET-aaaa1111bbbb2222';
const SERVICE_KEY = 'svc-SECRET-cccc3333dddd4444';
const SECRET_PARTS = [UPSTREAM_KEY, SERVICE_KEY, 'SECRET-aaaa1111', 'cccc3333dddd4444'];

t.test('keys never appear in logs, replies, CSVs or run files', async (t) => {
  // A careless upstream that quotes the key it was given in its error messages.
  const fake = await startFakeOpenAI({
    apiKey: UPSTREAM_KEY,
    behaviour: (request) => {
      if (request.userText.includes('echo-500')) {
        return { status: 500, errorBody: { error: { message: `Internal error for ${request.authorization}`, type: 'server_error', param: null, code: null } } };
      }
      if (request.userText.includes('echo-401')) {
        return { status: 401, errorBody: { error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } };
      }
      return undefined;
    },
  });
  t.teardown(() => fake.close());
  const { app, rawLogs, reportsDir } = await buildTestApp(t, {
    OPENAI_API_KEY: UPSTREAM_KEY,
    OPENAI_BASE_URL: fake.url,
    SERVICE_API_KEYS: `other-key-000000,${SERVICE_KEY}`,
    LOG_LEVEL: 'trace',
  });
  const auth = { authorization: `Bearer ${SERVICE_KEY}` };
  const replies: string[] = [];
  const call = async (options: InjectOptions) => {
    const reply = await app.inject(options);
    replies.push(`${reply.statusCode} ${JSON.stringify(reply.headers)} ${reply.body}`);
    return reply;
  };

  t.equal((await call({ method: 'POST', url: '/answer', headers: auth, payload: { inquiry: 'Where is my order?' } })).statusCode, 200);
  t.equal((await call({ method: 'POST', url: '/answer', headers: auth, payload: { inquiry: 'echo-500 please' } })).statusCode, 502);
  t.equal((await call({ method: 'POST', url: '/answer', headers: auth, payload: { inquiry: 'echo-401 please' } })).statusCode, 502);
  t.equal((await call({ method: 'POST', url: '/answer', headers: { authorization: `Bearer ${SERVICE_KEY}x` }, payload: { inquiry: 'x' } })).statusCode, 401);
  t.equal((await call({ method: 'POST', url: '/answer', headers: { authorization: `Basic ${SERVICE_KEY}` }, payload: { inquiry: 'x' } })).statusCode, 401);
  await call({ method: 'POST', url: '/compare', headers: auth, payload: { inquiry: 'echo-500 compare', scorer: 'heuristic' } });
  await call({ method: 'GET', url: '/models', headers: auth });
  await call({ method: 'GET', url: '/docs/json' });

  const created = await call({
    method: 'POST',
    url: '/evaluate',
    headers: auth,
    payload: { inquiries: ['Where is my order?', 'echo-500 in a run', 'echo-401 in a run'], scorer: 'heuristic' },
  });
  t.equal(created.statusCode, 202);
  const { run_id } = created.json();
  for (let i = 0; i < 500; i += 1) {
    if ((await app.inject({ url: `/evaluate/${run_id}`, headers: auth })).json().status === 'completed') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const csv = await call({ method: 'GET', url: `/evaluate/${run_id}/results.csv`, headers: auth });
  t.match(csv.body, /answer\/upstream_error: .*Internal error for Bearer sk-\*\*\*/, 'the upstream message is kept, the key masked');
  await call({ method: 'GET', url: `/evaluate/${run_id}`, headers: auth });
  await call({ method: 'GET', url: `/evaluate/${run_id}/summary.md`, headers: auth });

  const files = readdirSync(join(reportsDir, 'runs', run_id)).map((name) => readFileSync(join(reportsDir, 'runs', run_id, name), 'utf8'));
  const logs = rawLogs();
  t.ok(logs.length > 1000, 'trace-level logs were captured');
  t.ok(fake.requests.every((request) => request.authorization === `Bearer ${UPSTREAM_KEY}`), 'the upstream did receive the key');
  for (const secret of SECRET_PARTS) {
    t.notOk(logs.includes(secret), `logs do not contain ${secret.slice(0, 8)}…`);
    t.notOk(replies.some((reply) => reply.includes(secret)), `replies do not contain ${secret.slice(0, 8)}…`);
    t.notOk(files.some((file) => file.includes(secret)), `run files and the CSV do not contain ${secret.slice(0, 8)}…`);
  }
});
