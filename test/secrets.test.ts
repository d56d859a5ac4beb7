/**
 * Neither an upstream key nor a service key may leak: not into logs (captured at trace level), not into
 * error replies, not into the CSV or the run's files, even when the upstream echoes the key back, and
 * whatever the key looks like. Redaction is by value, so it also holds for keys that are not `sk-...`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { buildModelRegistry } from '../src/models/registry.js';
import { collectSecrets, createRedactor, publicUrl } from '../src/secrets.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type RecordedRequest } from './helpers/fake-openai.js';

// Three shapes of upstream key: OpenAI's project key (with the characters the old `sk-` mask stopped at),
// an Azure-style key and a Hugging Face token.
const OPENAI_KEY = 'sk-proj-AbC_dEf.ghi+jkl/mno=';
const AZURE_KEY = 'AzureKey0123456789abcdefSECRET';
const HF_KEY = 'hf_SeCrEtToKeN0123456789';
const SERVICE_KEY = 'svc-SECRET-cccc3333dddd4444';
const URL_USER = 'proxyuser-SECRET';
const URL_PASSWORD = 'Pr0xy-Passw0rd-SECRET';
const URL_QUERY_KEY = 'QueryKey-SECRET-5555';
const SECRET_PARTS = [OPENAI_KEY, AZURE_KEY, HF_KEY, SERVICE_KEY, URL_USER, URL_PASSWORD, URL_QUERY_KEY, '.ghi+jkl/mno=', 'abcdefSECRET', 'Token0123456789'];

const keyOf = (request: RecordedRequest) => (request.authorization ?? '').replace(/^Bearer /, '');

t.test('keys never appear in logs, replies, CSVs or run files', async (t) => {
  // A careless upstream that quotes the key it was given: in error messages (plainly, URL-encoded, in
  // JSON), and even in an answer.
  const fake = await startFakeOpenAI({
    behaviour: (request) => {
      const key = keyOf(request);
      if (request.userText.includes('echo-500')) {
        return { status: 500, errorBody: { error: { message: `Internal error for ${request.authorization}`, type: 'server_error', param: null, code: null } } };
      }
      if (request.userText.includes('echo-401')) {
        return { status: 401, errorBody: { error: { message: `Incorrect API key provided: ${key}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } };
      }
      if (request.userText.includes('echo-encoded')) {
        const message = `Bad request to /v1?api-key=${encodeURIComponent(key)} with ${JSON.stringify({ key })}`;
        return { status: 400, errorBody: { error: { message, type: 'invalid_request_error', param: null, code: null } } };
      }
      return undefined;
    },
    answer: (request) => (request.userText.includes('echo-answer') ? `Sure! The key I was called with is ${keyOf(request)}.` : 'Check Your Orders for the delivery date.'),
  });
  t.teardown(() => fake.close());
  const credentialsUrl = new URL(fake.url);
  credentialsUrl.username = URL_USER;
  credentialsUrl.password = URL_PASSWORD;
  credentialsUrl.searchParams.set('api-key', URL_QUERY_KEY);
  credentialsUrl.searchParams.set('api-version', '2024-10-21');
  const modelsFile = join(t.testdir(), 'models.json');
  writeFileSync(
    modelsFile,
    JSON.stringify({
      models: {
        azure: { model_id: 'gpt-4.1-mini', base_url: fake.url, api_key_env: 'AZURE_OPENAI_KEY' },
        hf: { model_id: 'meta-llama/Llama-3.1-8B-Instruct', base_url: fake.url, api_key_env: 'HF_TOKEN', api_style: 'chat' },
        proxied: { model_id: 'gpt-4.1-mini', base_url: credentialsUrl.href, api_key_env: null },
      },
    }),
  );
  const { app, rawLogs, reportsDir } = await buildTestApp(t, {
    OPENAI_API_KEY: OPENAI_KEY,
    AZURE_OPENAI_KEY: AZURE_KEY,
    HF_TOKEN: HF_KEY,
    MODELS_FILE: modelsFile,
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
  const answer = (inquiry: string, model: string) => call({ method: 'POST', url: '/answer', headers: auth, payload: { inquiry, model } });

  for (const model of ['fine-tuned', 'azure', 'hf']) {
    t.equal((await answer('Where is my order?', model)).statusCode, 200, `${model} answers`);
    t.equal((await answer('echo-500 please', model)).statusCode, 502, `${model}: a 500 is a 502`);
    const rejected = await answer('echo-401 please', model);
    t.equal(rejected.statusCode, 502, `${model}: a 401 is a 502`);
    t.match(rejected.json().error.message, /Incorrect API key provided: \[redacted\]\./, `${model}: the upstream's message is kept, the key redacted`);
    t.equal((await answer('echo-encoded please', model)).statusCode, 502);
    const echoed = await answer('echo-answer please', model);
    t.match(echoed.json().answer, /called with is \[redacted\]\./, `${model}: a key in an answer is redacted`);
  }
  await answer('Where is my order?', 'proxied');
  t.equal((await call({ method: 'POST', url: '/answer', headers: { authorization: `Bearer ${SERVICE_KEY}x` }, payload: { inquiry: 'x' } })).statusCode, 401);
  t.equal((await call({ method: 'POST', url: '/answer', headers: { authorization: `Basic ${SERVICE_KEY}` }, payload: { inquiry: 'x' } })).statusCode, 401);
  // When every model fails, /compare answers with the first model's error.
  for (const [inquiry, status] of [['echo-500 compare', 502], ['echo-401 compare', 502], ['echo-encoded compare', 502], ['echo-answer compare', 200]] as const) {
    t.equal((await call({ method: 'POST', url: '/compare', headers: auth, payload: { inquiry, models: ['fine-tuned', 'azure', 'hf'], scorer: 'heuristic' } })).statusCode, status, inquiry);
  }
  const models = await call({ method: 'GET', url: '/models', headers: auth });
  const proxied = models.json().models.find((model: { alias: string }) => model.alias === 'proxied');
  t.equal(proxied.base_url, `${fake.url}?api-version=2024-10-21`, '/models shows the base URL without its credentials');
  await call({ method: 'GET', url: '/docs/json' });

  const created = await call({
    method: 'POST',
    url: '/evaluate',
    headers: auth,
    payload: {
      inquiries: ['Where is my order?', 'echo-500 in a run', 'echo-401 in a run', 'echo-encoded in a run', 'echo-answer in a run'],
      models: ['fine-tuned', 'azure', 'hf'],
      scorer: 'heuristic',
    },
  });
  t.equal(created.statusCode, 202);
  const { run_id } = created.json();
  for (let i = 0; i < 500; i += 1) {
    if ((await app.inject({ url: `/evaluate/${run_id}`, headers: auth })).json().status === 'completed') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const csv = await call({ method: 'GET', url: `/evaluate/${run_id}/results.csv`, headers: auth });
  t.match(csv.body, /answer\/upstream_error: .*Internal error for Bearer \[redacted\]/, 'the upstream message is kept, the key redacted');
  t.match(csv.body, /called with is \[redacted\]\./, 'an answer quoting the key is stored redacted');
  await call({ method: 'GET', url: `/evaluate/${run_id}`, headers: auth });
  await call({ method: 'GET', url: `/evaluate/${run_id}/summary.md`, headers: auth });
  await call({ method: 'GET', url: `/evaluate/${run_id}/summary.json`, headers: auth });

  const runDir = join(reportsDir, 'runs', run_id);
  const files = readdirSync(runDir).map((name) => readFileSync(join(runDir, name), 'utf8'));
  t.ok(files.some((file) => file.includes('Incorrect API key provided: [redacted].')), 'results.jsonl keeps the redacted message');
  const logs = rawLogs();
  t.ok(logs.length > 1000, 'trace-level logs were captured');
  t.ok(fake.requests.some((request) => request.authorization === `Bearer ${OPENAI_KEY}`), 'the upstream did receive the OpenAI key');
  t.ok(fake.requests.some((request) => request.authorization === `Bearer ${AZURE_KEY}`), 'the upstream did receive the Azure key');
  t.ok(fake.requests.some((request) => request.authorization === `Bearer ${HF_KEY}`), 'the upstream did receive the HF token');
  for (const secret of SECRET_PARTS) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      t.notOk(logs.includes(form), `logs do not contain ${form.slice(0, 8)}…`);
      t.notOk(replies.some((reply) => reply.includes(form)), `replies do not contain ${form.slice(0, 8)}…`);
      t.notOk(files.some((file) => file.includes(form)), `run files and the CSV do not contain ${form.slice(0, 8)}…`);
    }
  }
});

t.test('redaction replaces every configured secret by value', async (t) => {
  const redact = createRedactor(['AzureKey0123456789abcdefSECRET', 'sk-proj-AbC_dEf.ghi+jkl/mno=', 'short', 'ghi+jkl/mno=XYZW-0000', 'AzureKey0123']);
  t.equal(redact('nothing secret here'), 'nothing secret here', 'text without a secret is returned as it is');
  t.equal(redact('key AzureKey0123456789abcdefSECRET.'), 'key [redacted].');
  t.equal(redact('a short key stays'), 'a short key stays', 'values under 8 characters are ignored');
  t.equal(redact(`q=${encodeURIComponent('sk-proj-AbC_dEf.ghi+jkl/mno=')}&x=1`), 'q=[redacted]&x=1', 'URL-encoded');
  t.equal(redact('q=sk-proj-AbC_dEf.ghi%2bjkl%2fmno%3d'), 'q=[redacted]', 'URL-encoded in lower case');
  t.equal(redact(JSON.stringify({ key: 'sk-proj-AbC_dEf.ghi+jkl/mno=' }).replace('/', '\\/')), '{"key":"[redacted]"}', 'JSON-escaped slashes');
  t.equal(redact('AzureKey0123456789abcdefSECRET and AzureKey0123'), '[redacted] and [redacted]', 'the longest secret wins, the shorter one is still found');
  t.equal(redact('sk-proj-AbC_dEf.ghi+jkl/mno=XYZW-0000'), '[redacted]', 'overlapping secrets are removed whole');
  t.equal(createRedactor([])('sk-anything at all'), 'sk-anything at all', 'no secrets: nothing to do');
  t.equal(createRedactor(['quote"and\\back-slash'])(JSON.stringify({ k: 'quote"and\\back-slash' })), '{"k":"[redacted]"}', 'JSON-escaped quotes and backslashes');
});

t.test('a public URL has no credentials', async (t) => {
  t.equal(publicUrl('https://user:pass@example.com/v1'), 'https://example.com/v1');
  t.equal(publicUrl('https://example.com/v1?api-key=abc&api-version=1&token=x&sig=y'), 'https://example.com/v1?api-version=1');
  t.equal(publicUrl('https://example.com/v1'), 'https://example.com/v1');
  t.equal(publicUrl('not a url'), 'not a url');
});

t.test('the secrets are every key, service key and base URL credential the configuration holds', async (t) => {
  const config = loadConfig({
    OPENAI_API_KEY: OPENAI_KEY,
    AZURE_OPENAI_KEY: AZURE_KEY,
    SERVICE_API_KEYS: SERVICE_KEY,
    // A user that is not valid percent-encoding is kept as written.
    OPENAI_BASE_URL: 'https://us%ZZer-name:pa%40ssword-1234@example.com/v1?api-version=1&sig=SasSignature-0000',
  });
  const registry = buildModelRegistry(config, {
    models: {
      azure: { model_id: 'gpt-4.1-mini', base_url: 'https://azure.example.com/openai/v1?api-key=QueryKey-1111', api_key_env: 'AZURE_OPENAI_KEY' },
      hf: { model_id: 'llama', api_key_env: 'HF_TOKEN' },
      local: { model_id: 'llama', base_url: 'http://127.0.0.1:11434/v1', api_key_env: null },
    },
  });
  const secrets = new Set(collectSecrets(config, registry));
  for (const secret of [OPENAI_KEY, AZURE_KEY, SERVICE_KEY, 'us%ZZer-name', 'pa%40ssword-1234', 'pa@ssword-1234', 'SasSignature-0000', 'QueryKey-1111']) {
    t.ok(secrets.has(secret), secret);
  }
  t.notOk(secrets.has('1'), 'other query parameters are not secrets');
  t.notOk(secrets.has('no-key-needed'), 'a keyless upstream has no secret');
});
