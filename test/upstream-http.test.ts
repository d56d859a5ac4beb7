import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, InternalServerError, RateLimitError } from 'openai';
import t, { type Test } from 'tap';
import { Agent } from 'undici';
import { createUpstreamFetch, UpstreamReplyTooLargeError } from '../src/models/upstream-fetch.js';
import { createUpstreamHttp, defaultRetryDelayMs, isRetryable, MAX_RETRY_AFTER_MS, requestedRetryDelayMs, UpstreamDeadlineError } from '../src/models/upstream-http.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

const KEY = 'sk-test-upstream-http-0123456789';
/** Limits far from what these tests reach, unless a test is about them. */
const LIMITS = { totalTimeoutMs: 60_000, maxReplyBytes: 4 * 1024 * 1024 };

function agentFor(t: Test): Agent {
  const agent = new Agent({ connections: 4 });
  t.teardown(() => agent.close());
  return agent;
}

/** A bare HTTP server on 127.0.0.1 for replies the fake never gives (bodies that are not JSON, stalls mid-body). */
async function rawServer(t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Asserts that `promise` rejects with an instance of `errorClass` (tap's rejects matches patterns, not classes). */
async function rejectsWith(t: Test, promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => unknown, message = `rejects with ${errorClass.name}`) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  t.type(error, errorClass, message);
}

const rateLimited = (headers: Record<string, string>, status = 429) => APIError.generate(status, undefined, 'limited', new Headers(headers));

t.test('the wait the upstream asks for: retry-after-ms first, then Retry-After in seconds or as a date', async (t) => {
  const now = Date.parse('2026-11-25T10:00:00Z');
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after-ms': '250.5', 'retry-after': '9' })), 250.5);
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after': '2' })), 2000);
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after': '0.5' })), 500);
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after': 'Wed, 25 Nov 2026 10:00:03 GMT' }), now), 3000);
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after': 'Wed, 25 Nov 2026 09:59:00 GMT' }), now), 0, 'a date in the past means now');
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after': 'soon' })), undefined);
  t.equal(requestedRetryDelayMs(new Headers({ 'retry-after-ms': 'x' })), undefined);
  t.equal(requestedRetryDelayMs(new Headers()), undefined);
  t.equal(requestedRetryDelayMs(undefined), undefined);
});

t.test('the default backoff doubles from 0.5 s up to 8 s, less up to 25% jitter', async (t) => {
  t.same([1, 2, 3, 4, 5, 6].map((retry) => defaultRetryDelayMs(retry, () => 0)), [500, 1000, 2000, 4000, 8000, 8000]);
  t.equal(defaultRetryDelayMs(1, () => 0.999999), 500 * (1 - 0.999999 * 0.25));
  for (let i = 0; i < 100; i += 1) {
    const delay = defaultRetryDelayMs(2);
    t.ok(delay > 750 && delay <= 1000, `jittered delay ${delay} within (750, 1000]`);
  }
});

t.test("what is retried follows the SDK's rule", async (t) => {
  for (const status of [408, 409, 429, 500, 502, 503]) t.ok(isRetryable(rateLimited({}, status)), `${status} is retried`);
  for (const status of [400, 401, 403, 404, 422]) t.notOk(isRetryable(rateLimited({}, status)), `${status} is not`);
  t.ok(isRetryable(rateLimited({ 'x-should-retry': 'true' }, 400)), 'x-should-retry: true wins');
  t.notOk(isRetryable(rateLimited({ 'x-should-retry': 'false' }, 500)), 'x-should-retry: false wins');
  t.ok(isRetryable(rateLimited({ 'retry-after': String(MAX_RETRY_AFTER_MS / 1000) })), 'waiting up to the limit is fine');
  t.notOk(isRetryable(rateLimited({ 'retry-after': String(MAX_RETRY_AFTER_MS / 1000 + 1) })), 'a longer wait goes back to the caller');
  t.ok(isRetryable(new APIConnectionError({ cause: new Error('ECONNRESET') })));
  t.ok(isRetryable(new APIConnectionTimeoutError()));
  t.notOk(isRetryable(new APIUserAbortError()));
  t.notOk(isRetryable(new UpstreamDeadlineError(1000)), 'the total deadline is final');
  t.notOk(isRetryable(new UpstreamReplyTooLargeError(1024)), 'a reply too large would be as large again');
  t.notOk(isRetryable(new Error('something else')));
});

t.test('a call sends the JSON body with our key and returns the parsed reply', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: () => 'Check Your Orders.' });
  t.teardown(() => fake.close());
  const http = createUpstreamHttp({ baseURL: `${fake.url}/`, apiKey: KEY, timeoutMs: 5_000, maxRetries: 2, dispatcher: agentFor(t), ...LIMITS });
  const body = { model: 'gpt-4.1-mini-2025-04-14', input: 'Inquiry: "Where is my parcel?"', store: false };
  const reply = await http.postJson<{ object: string; output: Array<{ content: Array<{ text: string }> }> }>('/responses', body);
  t.equal(reply.attempts, 1);
  t.equal(reply.body.object, 'response');
  t.equal(reply.body.output[0]?.content[0]?.text, 'Check Your Orders.');
  t.equal(fake.requests.length, 1);
  t.same(fake.requests[0]?.body, body, 'the body arrives as sent');
  t.match(reply.requestId, /^req_/, "the upstream's request id comes back with the body");
  t.equal(fake.requests[0]?.authorization, `Bearer ${KEY}`);
});

t.test('retries wait as long as the upstream asks, and give up after the configured number', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const http = createUpstreamHttp({ baseURL: fake.url, apiKey: KEY, timeoutMs: 5_000, maxRetries: 2, dispatcher: agentFor(t), ...LIMITS });
  const body = { model: 'm', input: 'x' };

  fake.queue.push({ status: 503, headers: { 'retry-after-ms': '150' } });
  const started = performance.now();
  const reply = await http.postJson('/responses', body);
  t.equal(reply.attempts, 2);
  t.ok(performance.now() - started >= 145, 'the second attempt waited for the requested 150 ms');

  fake.queue.push(...[1, 2, 3].map(() => ({ status: 500, headers: { 'retry-after-ms': '5' } })));
  const before = fake.requests.length;
  await rejectsWith(t, http.postJson('/responses', body), InternalServerError);
  t.equal(fake.requests.length - before, 3, 'one call and two retries');

  fake.queue.push({ status: 500, headers: { 'x-should-retry': 'false' } });
  const beforeNoRetry = fake.requests.length;
  await rejectsWith(t, http.postJson('/responses', body), InternalServerError);
  t.equal(fake.requests.length - beforeNoRetry, 1, 'x-should-retry: false is obeyed');

  fake.queue.push({ status: 429, headers: { 'retry-after': '120' } });
  const beforeLongWait = fake.requests.length;
  const error = await http.postJson('/responses', body).catch((caught: unknown) => caught);
  t.type(error, RateLimitError);
  t.equal((error as RateLimitError).headers?.get('retry-after'), '120', 'the caller gets the Retry-After to pass on');
  t.equal(fake.requests.length - beforeLongWait, 1, 'a wait of two minutes is not done inside a request');
});

t.test('error replies keep the upstream status, body, request id and headers', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const http = createUpstreamHttp({ baseURL: fake.url, apiKey: KEY, timeoutMs: 5_000, maxRetries: 0, dispatcher: agentFor(t), ...LIMITS });
  const error = (await http.postJson('/responses', { model: 'm', input: 'x', seed: 1 }).catch((caught: unknown) => caught)) as APIError;
  t.type(error, APIError);
  t.equal(error.status, 400);
  t.match(error.error, { code: 'unknown_parameter', param: 'seed' });
  t.match(error.requestID, /^req_/);
});

t.test('replies the fake never gives: a 2xx that is not JSON, an error that is not JSON, a body that stalls', async (t) => {
  const url = await rawServer(t, (req, res) => {
    if (req.url === '/v1/not-json') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>');
    if (req.url === '/v1/error-text') return res.writeHead(418, { 'content-type': 'text/plain' }).end('I am a teapot');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":'); // and never the rest
  });
  const http = createUpstreamHttp({ baseURL: `${url}/v1`, apiKey: KEY, timeoutMs: 200, maxRetries: 0, dispatcher: agentFor(t), ...LIMITS });
  const notJson = (await http.postJson('/not-json', {}).catch((caught: unknown) => caught)) as APIError;
  t.type(notJson, APIError);
  t.match(notJson.message, /not valid JSON/);
  const text = (await http.postJson('/error-text', {}).catch((caught: unknown) => caught)) as APIError;
  t.equal(text.status, 418);
  t.match(text.message, /I am a teapot/);
  await rejectsWith(t, http.postJson('/stall', {}), APIConnectionTimeoutError, 'the timeout covers the body, not just the headers');
});

t.test("the caller's abort ends a call at once and is not retried; an unreachable upstream is a connection error", async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, behaviour: () => ({ hang: true }) });
  t.teardown(() => fake.close());
  const http = createUpstreamHttp({ baseURL: fake.url, apiKey: KEY, timeoutMs: 10_000, maxRetries: 2, dispatcher: agentFor(t), ...LIMITS });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  await rejectsWith(t, http.postJson('/responses', {}, controller.signal), APIUserAbortError);
  t.equal(fake.requests.length, 1);
  await rejectsWith(t, http.postJson('/responses', {}, controller.signal), APIUserAbortError, 'an aborted signal sends nothing');
  t.equal(fake.requests.length, 1);

  const unreachable = createUpstreamHttp({ baseURL: 'http://127.0.0.1:9/v1', apiKey: KEY, timeoutMs: 1_000, maxRetries: 0, dispatcher: agentFor(t), ...LIMITS });
  await rejectsWith(t, unreachable.postJson('/responses', {}), APIConnectionError);
});

t.test("the SDK's fetch: headers both ways, replies without a body, and non-string bodies", async (t) => {
  const url = await rawServer(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/empty') return res.writeHead(204).end();
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, header: req.headers['x-test'] ?? null, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  const upstreamFetch = createUpstreamFetch(agentFor(t), LIMITS.maxReplyBytes);
  const posted = await upstreamFetch(new URL(`${url}/echo`), { method: 'POST', headers: new Headers({ 'x-test': 'yes' }), body: '{"a":1}' });
  t.same(await posted.json(), { method: 'POST', header: 'yes', body: '{"a":1}' });
  t.same(posted.headers.getSetCookie(), ['a=1', 'b=2'], 'repeated headers are all kept');
  const plainHeaders = await upstreamFetch(`${url}/echo`, { headers: { 'x-test': 'plain' } });
  t.match(await plainHeaders.json(), { method: 'GET', header: 'plain', body: '' });
  const empty = await upstreamFetch(`${url}/empty`, { method: 'DELETE' });
  t.equal(empty.status, 204);
  t.equal(empty.body, null);
  const bytes = await upstreamFetch(`${url}/echo`, { method: 'POST', body: new TextEncoder().encode('raw bytes') });
  t.match(await bytes.json(), { method: 'POST', body: 'raw bytes' }, 'a body that is not a string goes through undici fetch');
});

/** A server that streams `chunk` every few ms until the client goes away, and says how much it wrote. */
async function endlessServer(t: Test, chunk: Buffer, headers: Record<string, string> = {}) {
  const state = { written: 0, closed: false };
  const url = await rawServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    const timer = setInterval(() => {
      if (res.destroyed) return;
      res.write(chunk);
      state.written += chunk.length;
    }, 2);
    res.on('close', () => {
      clearInterval(timer);
      state.closed = true;
    });
  });
  return { url, state };
}

t.test('a reply body is read up to maxReplyBytes and no further: the connection is dropped at the cap', async (t) => {
  const { url, state } = await endlessServer(t, Buffer.alloc(16 * 1024, 0x20));
  const http = createUpstreamHttp({ baseURL: url, apiKey: KEY, timeoutMs: 5_000, totalTimeoutMs: 10_000, maxRetries: 2, maxReplyBytes: 64 * 1024, dispatcher: agentFor(t) });
  const error = await http.postJson('/responses', {}).catch((caught: unknown) => caught);
  t.type(error, UpstreamReplyTooLargeError);
  t.equal((error as UpstreamReplyTooLargeError).limitBytes, 64 * 1024);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(state.closed, 'the upstream connection was closed');
  t.ok(state.written < 1024 * 1024, `the upstream stopped after ${state.written} bytes`);
});

t.test('a Content-Length over the cap is refused before the body is read', async (t) => {
  const { url, state } = await endlessServer(t, Buffer.from(' '), { 'content-length': String(50 * 1024 * 1024) });
  const http = createUpstreamHttp({ baseURL: url, apiKey: KEY, timeoutMs: 5_000, totalTimeoutMs: 10_000, maxRetries: 0, maxReplyBytes: 1024 * 1024, dispatcher: agentFor(t) });
  const started = performance.now();
  await rejectsWith(t, http.postJson('/responses', {}), UpstreamReplyTooLargeError);
  t.ok(performance.now() - started < 1_000, 'at once, not after the (slow) body');
  t.ok(state.written < 1024, 'next to nothing was read');
});

t.test('the total deadline: while waiting for headers, and while a body stalls within the per-attempt timeout', async (t) => {
  const url = await rawServer(t, (req, res) => {
    if (req.url === '/v1/no-headers') return; // never answers
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":'); // then stalls, for less than the per-attempt timeout each time it is asked
  });
  const http = createUpstreamHttp({ baseURL: `${url}/v1`, apiKey: KEY, timeoutMs: 2_000, totalTimeoutMs: 300, maxRetries: 3, maxReplyBytes: 1024, dispatcher: agentFor(t) });
  for (const path of ['/no-headers', '/stall']) {
    const started = performance.now();
    const error = await http.postJson(path, {}).catch((caught: unknown) => caught);
    const elapsed = performance.now() - started;
    t.type(error, UpstreamDeadlineError, path);
    t.type(error, APIConnectionTimeoutError, `${path}: a timeout to the circuit breaker`);
    t.match((error as Error).message, /total deadline of 300 ms/);
    t.ok(elapsed >= 290 && elapsed < 1_500, `${path}: ended after ${Math.round(elapsed)} ms, not the 2 s per-attempt timeout`);
  }
});

t.test("the SDK's fetch caps replies too, and fails as the body is read so that the SDK does not retry it", async (t) => {
  const { url } = await endlessServer(t, Buffer.alloc(8 * 1024, 0x20));
  const upstreamFetch = createUpstreamFetch(agentFor(t), 32 * 1024);
  const reply = await upstreamFetch(`${url}/v1/responses`, { method: 'POST', body: '{}' });
  t.equal(reply.status, 200);
  const error = await reply.text().catch((caught: unknown) => caught);
  t.type(error, UpstreamReplyTooLargeError);
});
