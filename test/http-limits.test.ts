import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildTestApp } from './helpers/build-app.js';

/** Sends raw bytes on a new connection and resolves with everything the server writes back until it closes. */
function rawExchange(port: number, write: (socket: ReturnType<typeof connect>) => void): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => write(socket));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('close', () => resolve({ text, ms: Date.now() - started }));
    socket.on('error', reject);
  });
}

async function listening(t: Test, env: Record<string, string> = {}) {
  const { app } = await buildTestApp(t, env);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as { port: number }).port };
}

t.test('a body dripped a byte at a time is cut off at REQUEST_TIMEOUT_MS with 408 in the error shape', async (t) => {
  const { port } = await listening(t, { REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '1000' });
  let drip: NodeJS.Timeout | undefined;
  const { text, ms } = await rawExchange(port, (socket) => {
    socket.write('POST /answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    drip = setInterval(() => socket.writable && socket.write(' '), 200);
  });
  clearInterval(drip);
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.match(text, /Content-Type: application\/json/);
  t.match(text.split('\r\n\r\n')[1], /^\{"error":\{"code":"request_timeout","message":"The request did not arrive in time/);
  t.ok(ms < 5000, `closed after ${ms} ms, not when the client chose`);
});

t.test("errors of Node's HTTP parser answer in our error shape", async (t) => {
  const { port } = await listening(t);
  const bad = await rawExchange(port, (socket) => socket.write('NOT HTTP AT ALL\r\n\r\n'));
  t.match(bad.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.match(bad.text, /\{"error":\{"code":"bad_request","message":"The request is not valid HTTP\."\}\}$/);
  const mismatch = await rawExchange(port, (socket) => socket.write('POST /answer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'));
  t.match(mismatch.text, /"code":"bad_request"/);
  const huge = await rawExchange(port, (socket) => socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
  t.match(huge.text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  t.match(huge.text, /"code":"headers_too_large"/);
});

t.test('connections past MAX_CONNECTIONS are closed at once; the server keeps serving', async (t) => {
  const { app, port } = await listening(t, { MAX_CONNECTIONS: '2' });
  t.equal(app.server.maxConnections, 2);
  const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
  await Promise.all(held.map((socket) => new Promise((resolve) => socket.on('connect', resolve))));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const refused = await rawExchange(port, (socket) => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.equal(refused.text, '', 'the third connection is closed without a reply');
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
});

t.test('JSON nested deeper than 64 levels is refused before parsing, in the error shape', async (t) => {
  const { app } = await buildTestApp(t);
  const deep = await app.inject({ method: 'POST', url: '/answer', headers: { 'content-type': 'application/json' }, payload: '['.repeat(1_000_000) });
  t.equal(deep.statusCode, 400);
  t.match(deep.json(), { error: { code: 'invalid_json', message: /deeper than 64 levels/ } });
  const fine = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'How do I track my package?', model: 'retrieval' } });
  t.equal(fine.statusCode, 200);
  const poisoned = await app.inject({ method: 'POST', url: '/answer', headers: { 'content-type': 'application/json' }, payload: '{"inquiry":"x","__proto__":{"a":1}}' });
  t.equal(poisoned.statusCode, 400, 'prototype poisoning is still refused');
  t.equal(nestsDeeperThan(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`, MAX_JSON_DEPTH), false);
  t.equal(nestsDeeperThan(`${'['.repeat(MAX_JSON_DEPTH + 1)}`, MAX_JSON_DEPTH), true);
  t.equal(nestsDeeperThan(`{"a":"${'['.repeat(500)}\\"["}`, MAX_JSON_DEPTH), false, 'brackets inside strings do not count');
});

t.test('the timeouts are validated at boot', async (t) => {
  t.throws(() => loadConfig({ REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '5000' }), /HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS/);
  t.throws(() => loadConfig({ MAX_CONNECTIONS: '0' }), /MAX_CONNECTIONS/);
});
