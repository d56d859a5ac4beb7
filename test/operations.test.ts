import { readFileSync } from 'node:fs';
import { compileErrors, validate } from '@readme/openapi-parser';
import t from 'tap';
import { generateOpenApiDocument, OPENAPI_PATH } from '../src/cli/openapi.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { freePort, startServerProcess } from './helpers/server-process.js';

t.test('health, readiness and model list work with no API key', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  t.same((await app.inject('/health')).json(), { status: 'ok' });
  t.same((await app.inject('/ready')).json(), { status: 'ready', models: 5, available_models: 2 });
  const models = (await app.inject('/models')).json().models;
  t.match(models, [
    { alias: 'fine-tuned', kind: 'openai', api_style: 'responses', api_key_env: 'OPENAI_API_KEY', available: false },
    { alias: 'baseline', available: false },
    { alias: 'judge', model_id: 'gpt-4.1-2025-04-14', available: false, defaults: { temperature: 0 } },
    { alias: 'retrieval', kind: 'retrieval', api_style: null, api_key_env: null, defaults: null, available: true },
  ]);
});

t.test('the model list never shows a key', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: 'sk-secret-value-123456' });
  const reply = await app.inject('/models');
  t.equal(reply.json().models[0].available, true);
  t.notMatch(reply.body, /sk-secret-value/);
});

t.test('unknown routes answer 404 in the error shape', async (t) => {
  const { app } = await buildTestApp(t);
  const reply = await app.inject('/nope?x=1');
  t.equal(reply.statusCode, 404);
  t.same(reply.json(), { error: { code: 'not_found', message: 'No route GET /nope. See /docs for the API.' } });
});

t.test('Swagger UI is served at /docs and the document at /docs/json', async (t) => {
  const { app } = await buildTestApp(t);
  const html = await app.inject('/docs');
  t.equal(html.statusCode, 200);
  t.match(html.headers['content-type'], /text\/html/);
  t.match(html.body, /swagger-ui/i);
  const document = (await app.inject('/docs/json')).json();
  t.equal(document.openapi, '3.1.0');
  for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, { summary?: string; description?: string }>>)) {
    for (const [method, operation] of Object.entries(methods)) {
      t.ok(operation.summary && operation.description, `${method.toUpperCase()} ${path} has a summary and a description`);
    }
  }
  const answer = document.paths['/answer'].post;
  const media = (content: { example?: unknown; examples?: unknown }) => content.example ?? content.examples;
  t.ok(media(answer.requestBody.content['application/json']), 'request examples');
  t.ok(media(answer.responses['200'].content['application/json']), 'response example');
  t.ok(media(answer.responses['503'].content['application/json']), 'error example');
  t.equal(answer.responses['200'].description, 'The answer.');
});

t.test('the committed OpenAPI document is what the code generates, and it is valid', async (t) => {
  const generated = await generateOpenApiDocument();
  const committed = readFileSync(OPENAPI_PATH, 'utf8');
  t.equal(committed, generated, 'openapi/openapi.json is stale: run `npm run openapi`');
  const result = await validate(JSON.parse(generated));
  t.ok(result.valid, result.valid ? 'valid OpenAPI 3.1' : compileErrors(result));
});

t.test('a bad setting stops the process with a message naming the variable', async (t) => {
  const server = startServerProcess({ PORT: 'eighty', HOST: '127.0.0.1' });
  t.equal(await server.exited, 1);
  t.match(server.output(), /PORT/);
  t.notMatch(server.output(), /\n\s+at /, 'no stack trace');
});

t.test('a missing training file stops the process naming the file', async (t) => {
  const server = startServerProcess({ DATA_DIR: 'no-such-dir', HOST: '127.0.0.1' });
  t.equal(await server.exited, 1);
  t.match(server.output(), /no-such-dir\/amazon_electronics_adapted_train\.jsonl: file not found/);
});

t.test('SIGTERM lets an in-flight request finish, then exits 0', async (t) => {
  const fake = await startFakeOpenAI({ latencyMs: 600 });
  t.teardown(() => fake.close());
  const port = await freePort();
  const server = startServerProcess({ PORT: String(port), HOST: '127.0.0.1', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url });
  t.teardown(() => server.child.kill('SIGKILL'));
  await server.listening;

  const inFlight = fetch(`http://127.0.0.1:${port}/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inquiry: 'Where is my order?' }),
  });
  while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  server.child.kill('SIGTERM');

  const reply = await inFlight;
  t.equal(reply.status, 200, 'the in-flight request completed');
  t.equal(await server.exited, 0);
  await t.rejects(fetch(`http://127.0.0.1:${port}/health`), 'no longer accepting');
});

t.test('SIGTERM with a request longer than the grace period: it is answered 503, and the process exits 0', async (t) => {
  const fake = await startFakeOpenAI({ latencyMs: 5000 });
  t.teardown(() => fake.close());
  const port = await freePort();
  const server = startServerProcess({ PORT: String(port), HOST: '127.0.0.1', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url, SHUTDOWN_GRACE_MS: '300' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await server.listening;

  const inFlight = fetch(`http://127.0.0.1:${port}/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inquiry: 'Where is my order?' }),
  });
  while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  server.child.kill('SIGTERM');

  const reply = await inFlight;
  t.equal(reply.status, 503);
  t.equal(reply.headers.get('retry-after'), '1');
  t.match(await reply.json(), { error: { code: 'shutting_down', message: /shutting down/ } });
  t.equal(await server.exited, 0, 'the shutdown went as designed');
  t.match(server.output(), /grace period over: requests still going were answered 503/);
});

t.test('a REPORTS_DIR that cannot be created or written stops the boot, naming the variable', async (t) => {
  const dir = t.testdir({ 'a-file': 'not a folder' });
  const server = startServerProcess({ PORT: String(await freePort()), REPORTS_DIR: `${dir}/a-file/reports` });
  t.equal(await server.exited, 1);
  t.match(server.output(), /REPORTS_DIR: .*a-file\/reports cannot be created or written \(ENOTDIR\)\. Point REPORTS_DIR at a writable folder\./);
  t.notMatch(server.output(), /\n\s+at /, 'no stack trace');
});

t.test('at boot: one readable line per model, the docs address and the reports folder; pretty on request, JSON by default off a terminal', async (t) => {
  const dir = t.testdir();
  const key = 'AzureKey0123456789abcdefSECRET';
  const fake = await startFakeOpenAI({
    behaviour: (request) => ({ status: 500, errorBody: { error: { message: `Internal error for ${request.authorization}`, type: 'server_error', param: null, code: null } } }),
  });
  t.teardown(() => fake.close());
  const port = await freePort();
  const pretty = startServerProcess({ PORT: String(port), HOST: '127.0.0.1', REPORTS_DIR: dir, LOG_FORMAT: 'pretty', OPENAI_API_KEY: key, OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '0' });
  t.teardown(() => pretty.child.kill('SIGKILL'));
  await pretty.listening;
  const failed = await fetch(`http://127.0.0.1:${port}/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inquiry: 'Where is my order?' }) });
  t.equal(failed.status, 502);
  pretty.child.kill('SIGTERM');
  t.equal(await pretty.exited, 0);
  const lines = pretty.output();
  t.match(lines, /INFO: model fine-tuned \(ft:gpt-4\.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd\): ready \(upstream\)/);
  t.match(lines, /INFO: model retrieval \(bm25:amazon_electronics_adapted_train\): ready \(offline\)/);
  t.match(lines, new RegExp(`INFO: API docs and "Try it out": http://127\\.0\\.0\\.1:${port}/docs`));
  t.match(lines, `INFO: evaluation runs are kept in ${dir}`);
  t.notMatch(lines, /^\{"level"/m, 'no JSON lines');
  t.match(lines, /upstream/, 'the failed upstream call is logged');
  t.notOk(lines.includes(key) || lines.includes('abcdefSECRET'), 'pretty lines are scrubbed of secrets too');

  const plainPort = await freePort();
  const plain = startServerProcess({ PORT: String(plainPort), HOST: '0.0.0.0', REPORTS_DIR: dir });
  t.teardown(() => plain.child.kill('SIGKILL'));
  await plain.listening;
  plain.child.kill('SIGTERM');
  await plain.exited;
  const json = plain
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string });
  t.ok(json.some((line) => line.msg === 'model fine-tuned (ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd): not available: Set OPENAI_API_KEY.'), 'off a terminal the same lines are JSON');
  t.ok(json.some((line) => line.msg === 'model handoff (handoff:safe-reply): ready (offline)'));
  t.ok(json.some((line) => line.msg === `API docs and "Try it out": http://localhost:${plainPort}/docs`), 'bound to every interface, the docs are shown at localhost');
});
