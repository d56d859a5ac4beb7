import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_BASELINE_MODEL_ID, DEFAULT_FT_MODEL_ID, TRAINED_SYSTEM_PROMPT } from '../src/config.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type FakeOpenAI } from './helpers/fake-openai.js';

const KEY = 'sk-test-upstream-secret-0123456789';

async function setup(t: Test, env: Record<string, string> = {}, fakeOptions: Parameters<typeof startFakeOpenAI>[0] = {}) {
  const fake = await startFakeOpenAI({ apiKey: KEY, ...fakeOptions });
  t.teardown(() => fake.close());
  const testApp = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, ...env });
  return { fake, ...testApp };
}

const post = (app: Awaited<ReturnType<typeof setup>>['app'], body: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/answer', payload: body as object, headers });

const lastBody = (fake: FakeOpenAI) => fake.requests.at(-1)?.body as Record<string, unknown>;

t.test('the fine-tuned alias is the default and resolves to its model id, with the trained prompt and defaults', async (t) => {
  const { app, fake } = await setup(t);
  const reply = await post(app, { inquiry: '  How do I return a defective speaker?  ' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.equal(body.model, 'fine-tuned');
  t.equal(body.model_id, DEFAULT_FT_MODEL_ID);
  t.equal(body.status, 'completed');
  t.match(body.answer, /Fake answer from ft:gpt-4\.1-mini/);
  t.match(body.response_id, /^resp_/);
  t.type(body.latency_ms, 'number');
  t.ok(body.usage.input_tokens > 0 && body.usage.output_tokens > 0);
  t.equal(body.usage.total_tokens, body.usage.input_tokens + body.usage.output_tokens);

  t.equal(fake.requests.length, 1);
  t.equal(fake.requests[0]?.path, '/v1/responses');
  t.equal(fake.requests[0]?.authorization, `Bearer ${KEY}`);
  t.same(lastBody(fake), {
    model: DEFAULT_FT_MODEL_ID,
    input: [
      { role: 'system', content: TRAINED_SYSTEM_PROMPT },
      { role: 'user', content: 'Inquiry: "How do I return a defective speaker?"' },
    ],
    max_output_tokens: 300,
    store: false,
    temperature: 0.2,
  });
  t.notOk('seed' in lastBody(fake), 'the Responses API has no seed');
});

t.test('baseline by alias and by model id; overridden parameters reach the upstream', async (t) => {
  const { app, fake } = await setup(t);
  let reply = await post(app, { inquiry: 'Is this SSD PS5 compatible?', model: 'baseline', temperature: 0, max_output_tokens: 120 });
  t.equal(reply.statusCode, 200);
  t.equal(reply.json().model_id, DEFAULT_BASELINE_MODEL_ID);
  t.match(lastBody(fake), { model: DEFAULT_BASELINE_MODEL_ID, temperature: 0, max_output_tokens: 120 });

  reply = await post(app, { inquiry: 'Is this SSD PS5 compatible?', model: DEFAULT_BASELINE_MODEL_ID });
  t.equal(reply.json().model, 'baseline');
});

t.test('environment settings change the defaults sent upstream', async (t) => {
  const { app, fake } = await setup(t, { FT_MODEL_ID: 'ft:new-model', TEMPERATURE: '0.7', MAX_OUTPUT_TOKENS: '500', SYSTEM_PROMPT: 'Be brief.' });
  await post(app, { inquiry: 'Where is my order?' });
  t.match(lastBody(fake), { model: 'ft:new-model', temperature: 0.7, max_output_tokens: 500, input: [{ role: 'system', content: 'Be brief.' }] });
});

t.test('a stored prompt goes to the prompt parameter, without our system prompt', async (t) => {
  const { app, fake } = await setup(t);
  const prompt = { id: 'pmpt_123', version: '2', variables: { region: 'US' } };
  const reply = await post(app, { inquiry: 'Where is my order?', prompt });
  t.equal(reply.statusCode, 200);
  t.same(lastBody(fake).prompt, prompt);
  t.same(lastBody(fake).input, [{ role: 'user', content: 'Inquiry: "Where is my order?"' }]);
});

t.test('chat style sends messages, max_completion_tokens and the seed', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_API_STYLE: 'chat' });
  const reply = await post(app, { inquiry: 'My charger smells of burning', seed: 7 });
  t.equal(reply.statusCode, 200);
  t.equal(fake.requests[0]?.path, '/v1/chat/completions');
  t.same(lastBody(fake), {
    model: DEFAULT_FT_MODEL_ID,
    messages: [
      { role: 'system', content: TRAINED_SYSTEM_PROMPT },
      { role: 'user', content: 'Inquiry: "My charger smells of burning"' },
    ],
    max_completion_tokens: 300,
    temperature: 0.2,
    seed: 7,
  });
  t.match(reply.json(), { status: 'completed', response_id: /^chatcmpl_/ });

  const withPrompt = await post(app, { inquiry: 'x', prompt: { id: 'pmpt_1' } });
  t.equal(withPrompt.statusCode, 400);
  t.equal(withPrompt.json().error.code, 'prompt_not_supported');
});

t.test('a reply cut by the token limit is marked truncated, in both styles', async (t) => {
  const { app, fake } = await setup(t);
  fake.queue.push({ incomplete: 'max_output_tokens' });
  t.equal((await post(app, { inquiry: 'Explain everything about HDMI' })).json().status, 'truncated');

  const chat = await setup(t, { OPENAI_API_STYLE: 'chat' });
  chat.fake.queue.push({ incomplete: 'max_output_tokens' });
  t.equal((await post(chat.app, { inquiry: 'Explain everything about HDMI' })).json().status, 'truncated');
});

t.test('MODELS_FILE adds aliases on other upstreams and overrides the built-in ones', async (t) => {
  const local = await startFakeOpenAI(); // an OpenAI-compatible server that needs no key
  t.teardown(() => local.close());
  const dir = t.testdir();
  const file = join(dir, 'models.json');
  writeFileSync(
    file,
    JSON.stringify({
      models: {
        'fine-tuned': { model_id: 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:v2' },
        'llama-local': {
          model_id: 'llama3.1:8b',
          base_url: local.url,
          api_key_env: null,
          api_style: 'chat',
          max_tokens_param: 'max_tokens',
          defaults: { temperature: null, seed: null, max_output_tokens: 200 },
        },
      },
    }),
  );
  const { app, fake } = await setup(t, { MODELS_FILE: file });

  await post(app, { inquiry: 'Track my order' });
  t.equal(lastBody(fake).model, 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:v2');

  const reply = await post(app, { inquiry: 'Track my order', model: 'llama-local' });
  t.equal(reply.statusCode, 200);
  t.same(lastBody(local), {
    model: 'llama3.1:8b',
    messages: [
      { role: 'system', content: TRAINED_SYSTEM_PROMPT },
      { role: 'user', content: 'Inquiry: "Track my order"' },
    ],
    max_tokens: 200,
  });

  const models = (await app.inject('/models')).json().models as Array<{ alias: string; available: boolean; api_key_env: string | null }>;
  t.same(
    models.map((m) => m.alias),
    ['fine-tuned', 'baseline', 'judge', 'retrieval', 'handoff', 'llama-local'],
  );
  t.equal(models.find((m) => m.alias === 'llama-local')?.available, true);
});

t.test('retries a 429 and a 500, then succeeds', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_MAX_RETRIES: '2' });
  fake.queue.push({ status: 429, headers: { 'retry-after-ms': '10' } }, { status: 500, headers: { 'retry-after-ms': '10' } });
  const reply = await post(app, { inquiry: 'Where is my refund?' });
  t.equal(reply.statusCode, 200);
  t.equal(fake.requests.length, 3);
});

t.test('a 429 that persists after retries is a 429 with Retry-After', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_MAX_RETRIES: '1' });
  fake.queue.push({ status: 429, headers: { 'retry-after-ms': '10' } }, { status: 429, headers: { 'retry-after': '7' } });
  const reply = await post(app, { inquiry: 'Where is my refund?' });
  t.equal(reply.statusCode, 429);
  t.equal(reply.headers['retry-after'], '7');
  t.match(reply.json().error, { code: 'upstream_rate_limited', upstream_status: 429, upstream_request_id: /^req_/ });
  t.equal(fake.requests.length, 2);
});

t.test('a hanging upstream is a 504', async (t) => {
  const { app } = await setup(t, { OPENAI_TIMEOUT_MS: '200' }, { behaviour: () => ({ hang: true }) });
  const reply = await post(app, { inquiry: 'Where is my refund?' });
  t.equal(reply.statusCode, 504);
  t.equal(reply.json().error.code, 'upstream_timeout');
});

t.test('the upstream rejecting our key is a 502 that does not echo the key', async (t) => {
  const { app, rawLogs } = await setup(t, { OPENAI_API_KEY: 'sk-wrong-key-abcdef123456' });
  const reply = await post(app, { inquiry: 'Where is my refund?' }, { authorization: 'Bearer caller-token-123' });
  t.equal(reply.statusCode, 502);
  t.match(reply.json().error, { code: 'upstream_auth_failed', upstream_status: 401 });
  t.notMatch(reply.body, /sk-wrong-key|abcdef123456/);
  t.notMatch(rawLogs(), /sk-wrong-key|caller-token-123/);
});

t.test('other upstream errors are a 502 with the upstream status', async (t) => {
  const { app, fake } = await setup(t);
  fake.queue.push({ status: 400, errorBody: { error: { message: 'Unknown parameter: x', type: 'invalid_request_error', param: 'x', code: 'unknown_parameter' } } });
  const reply = await post(app, { inquiry: 'Where is my refund?' });
  t.equal(reply.statusCode, 502);
  t.match(reply.json().error, { code: 'upstream_error', upstream_status: 400, message: /Unknown parameter: x/ });
});

t.test('an unreachable upstream is a 502', async (t) => {
  const { app } = await setup(t, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
  const reply = await post(app, { inquiry: 'Where is my refund?' });
  t.equal(reply.statusCode, 502);
  t.equal(reply.json().error.code, 'upstream_unreachable');
});

t.test('without an API key: 503 naming the variable, nothing sent upstream', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_API_KEY: '' });
  const reply = await post(app, { inquiry: 'Where is my refund?' });
  t.equal(reply.statusCode, 503);
  t.match(reply.json().error, { code: 'missing_api_key', message: /OPENAI_API_KEY/ });
  t.equal(fake.requests.length, 0);
  const models = (await app.inject('/models')).json().models;
  t.match(models[0], { available: false, unavailable_reason: 'Set OPENAI_API_KEY.' });
});

t.test('the missing_api_key message names the models that answer now, from the registry', async (t) => {
  const offline = await setup(t, { OPENAI_API_KEY: '' });
  const reply = await post(offline.app, { inquiry: 'Where is my refund?', model: 'baseline' });
  t.match(reply.json().error, {
    message: /Set the OPENAI_API_KEY environment variable and restart the service\. Models that answer now: retrieval, handoff\.$/,
    details: { model: 'baseline', variable: 'OPENAI_API_KEY', available: ['retrieval', 'handoff'] },
  });

  // An alias on a server that needs no key answers too, and is named; the judge's own refusal says the same.
  const modelsFile = join(t.testdir(), 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'llama-local': { model_id: 'llama3.1:8b', api_key_env: null, api_style: 'chat' } } }));
  const withLocal = await setup(t, { OPENAI_API_KEY: '', MODELS_FILE: modelsFile });
  const compared = await withLocal.app.inject({ method: 'POST', url: '/compare', payload: { inquiry: 'Where is my refund?', models: ['retrieval', 'handoff'], scorer: 'judge' } });
  t.equal(compared.statusCode, 503);
  t.match(compared.json().error, { code: 'missing_api_key', message: /Models that answer now: retrieval, handoff, llama-local\.$/, details: { model: 'judge' } });
});

t.test('invalid bodies are 400 in the one error shape', async (t) => {
  const { app, fake } = await setup(t);
  const cases: Array<[unknown, RegExp]> = [
    [{}, /body\.inquiry/],
    [{ inquiry: '   ' }, /inquiry must not be empty/],
    [{ inquiry: 'x'.repeat(4001) }, /at most 4000/],
    [{ inquiry: 'ok', extra: true }, /Unrecognized key/],
    [{ inquiry: 42 }, /body\.inquiry/],
    [{ inquiry: 'ok', temperature: 3 }, /temperature/],
    [{ inquiry: 'ok', max_output_tokens: 1 }, /max_output_tokens/],
    [{ inquiry: 'ok', prompt: { version: '1' } }, /prompt\.id/],
  ];
  for (const [body, message] of cases) {
    const reply = await post(app, body);
    t.equal(reply.statusCode, 400, JSON.stringify(body).slice(0, 60));
    const { error } = reply.json();
    t.equal(error.code, 'validation_error');
    t.match(error.message, message);
    t.ok(Array.isArray(error.details) && error.details.length > 0);
  }
  t.equal(fake.requests.length, 0);

  const badJson = await app.inject({ method: 'POST', url: '/answer', payload: '{"inquiry":', headers: { 'content-type': 'application/json' } });
  t.equal(badJson.statusCode, 400);
  t.equal(badJson.json().error.code, 'invalid_json');

  const wrongType = await app.inject({ method: 'POST', url: '/answer', payload: 'inquiry=hi', headers: { 'content-type': 'text/plain' } });
  t.equal(wrongType.statusCode, 415);
  t.equal(wrongType.json().error.code, 'unsupported_media_type');
  for (const headers of [{ 'content-type': 'application/x-www-form-urlencoded' }, {}]) {
    const refused = await app.inject({ method: 'POST', url: '/answer', payload: 'inquiry=hi', headers });
    t.equal(refused.statusCode, 415, `content-type ${headers['content-type'] ?? 'missing'}`);
    t.same(refused.json(), {
      error: { code: 'unsupported_media_type', message: 'Unsupported media type: send the body as JSON, with the header `content-type: application/json`.' },
    });
  }
});

t.test('an unknown model is a 400 that lists the allowed ones', async (t) => {
  const { app, fake } = await setup(t);
  const reply = await post(app, { inquiry: 'hello', model: 'gpt-5-pro' });
  t.equal(reply.statusCode, 400);
  t.match(reply.json().error, { code: 'unknown_model', message: /fine-tuned, baseline/ });
  t.ok(reply.json().error.details.allowed.includes(DEFAULT_FT_MODEL_ID));
  t.equal(fake.requests.length, 0);
});

t.test('request ids are kept or generated, and each upstream call is logged once', async (t) => {
  const { app, logs } = await setup(t);
  const kept = await post(app, { inquiry: 'hello' }, { 'x-request-id': 'support-tool-42' });
  t.equal(kept.headers['x-request-id'], 'support-tool-42');
  const generated = await post(app, { inquiry: 'hello' }, { 'x-request-id': 'bad id with spaces' });
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/);

  const calls = logs().filter((line) => line.msg === 'upstream call');
  t.equal(calls.length, 2);
  t.match(calls[0], { request_id: 'support-tool-42', alias: 'fine-tuned', model_id: DEFAULT_FT_MODEL_ID, outcome: 'completed', latency_ms: Number });
  t.ok((calls[0] as { usage: { output_tokens: number } }).usage.output_tokens > 0);
});
