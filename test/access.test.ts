import t from 'tap';
import { LOG_REDACT_PATHS, loggableUrl } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { AUTH_FAILURE_WINDOW_MS, AUTH_FAILURES_MAX, createApiKeyVerifier, createAuthFailureTally } from '../src/plugins/access-control.js';
import { buildTestApp } from './helpers/build-app.js';

const KEY_A = 'svc-key-alpha-0123456789abcdef';
const KEY_B = 'svc-key-bravo-fedcba9876543210';
const WRONG_KEY = 'svc-key-wrong-0000000000000000';
const KEYS = `${KEY_A}, ${KEY_B}`;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

t.test('without SERVICE_API_KEYS every endpoint is open', async (t) => {
  const { app } = await buildTestApp(t);
  t.equal((await app.inject('/models')).statusCode, 200);
  t.equal((await app.inject({ url: '/models', headers: bearer(WRONG_KEY) })).statusCode, 200, 'a stray header is ignored');
  t.equal((await app.inject('/evaluate')).statusCode, 200);
});

t.test('with keys, a request without a valid key is a 401 in the error shape with WWW-Authenticate', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: KEYS });
  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    ['no header', {}, 'Bearer', /Missing API key.*Authorization: Bearer/],
    ['a wrong key', bearer(WRONG_KEY), 'Bearer error="invalid_token"', /^Invalid API key\.$/],
    ['a prefix of a key', bearer(KEY_A.slice(0, -1)), 'Bearer error="invalid_token"', /Invalid API key/],
    ['another scheme', { authorization: `Basic ${Buffer.from(`user:${KEY_A}`).toString('base64')}` }, 'Bearer error="invalid_token"', /Invalid API key/],
    ['an empty bearer', { authorization: 'Bearer ' }, 'Bearer error="invalid_token"', /Invalid API key/],
  ];
  for (const [what, headers, challenge, message] of cases) {
    const reply = await app.inject({ url: '/models', headers });
    t.equal(reply.statusCode, 401, what);
    t.equal(reply.headers['www-authenticate'], challenge, what);
    t.same(Object.keys(reply.json()), ['error'], what);
    t.equal(reply.json().error.code, 'unauthorized', what);
    t.match(reply.json().error.message, message, what);
    t.ok(reply.headers['x-request-id'], `${what}: the request id is still returned`);
  }
});

t.test('with keys, either configured key opens every protected endpoint', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: KEYS });
  for (const key of [KEY_A, KEY_B]) {
    t.equal((await app.inject({ url: '/models', headers: bearer(key) })).statusCode, 200);
    t.equal((await app.inject({ url: '/evaluate', headers: bearer(key) })).statusCode, 200);
  }
  t.equal((await app.inject({ url: '/models', headers: { authorization: `bearer ${KEY_B}` } })).statusCode, 200, 'the scheme is case-insensitive');
});

t.test('authentication comes before validation and before routing', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: KEYS });
  const invalidBody = await app.inject({ method: 'POST', url: '/answer', payload: { nope: true } });
  t.equal(invalidBody.statusCode, 401, 'an anonymous caller learns nothing about the schema');
  t.equal((await app.inject({ method: 'POST', url: '/answer', payload: { nope: true }, headers: bearer(KEY_A) })).statusCode, 400);
  t.equal((await app.inject('/no-such-route')).statusCode, 401, 'nor which routes exist');
  t.equal((await app.inject({ url: '/no-such-route', headers: bearer(KEY_A) })).statusCode, 404);
});

t.test('with keys, health, readiness and the docs stay open', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: KEYS });
  for (const url of ['/health', '/ready', '/docs', '/docs/', '/docs/json', '/docs/yaml', '/docs/static/swagger-ui.css']) {
    t.equal((await app.inject(url)).statusCode, 200, url);
  }
});

t.test('neither a presented nor a configured key reaches the logs', async (t) => {
  const { app, rawLogs } = await buildTestApp(t, { SERVICE_API_KEYS: KEYS });
  t.equal((await app.inject({ url: '/models', headers: bearer(WRONG_KEY) })).statusCode, 401);
  t.equal((await app.inject({ url: '/models', headers: bearer(KEY_A) })).statusCode, 200);
  // A line that does carry the headers, as a debugging statement might.
  app.log.info({ headers: bearer(KEY_B) }, 'request headers');

  const logs = rawLogs();
  t.match(logs, /Invalid API key/, 'the rejection is logged');
  t.match(logs, /\[redacted\]/, 'the headers were logged, redacted');
  for (const key of [WRONG_KEY, KEY_A, KEY_B]) t.notOk(logs.includes(key), 'no key in the logs');
  t.ok(LOG_REDACT_PATHS.includes('req.headers.authorization'));
});

t.test('SERVICE_API_KEYS is a trimmed comma-separated list, validated at boot without echoing it', async (t) => {
  t.same(loadConfig({}).SERVICE_API_KEYS, []);
  t.same(loadConfig({ SERVICE_API_KEYS: ` ,${KEY_A} ,, ${KEY_B}, ` }).SERVICE_API_KEYS, [KEY_A, KEY_B]);
  t.same(loadConfig({ SERVICE_API_KEYS: ' , ' }).SERVICE_API_KEYS, []);
  for (const bad of ['short-key', `${KEY_A},has space in it 0123`, `${KEY_A};semicolon-0123456`]) {
    const error = t.throws(() => loadConfig({ SERVICE_API_KEYS: bad }), { name: 'ConfigError', message: /SERVICE_API_KEYS: every key must be at least 16/ }) as Error;
    t.notOk(error.message.includes(bad), 'the value is not quoted');
  }
  t.throws(() => loadConfig({ ALLOW_ANONYMOUS: 'yes' }), /ALLOW_ANONYMOUS/);
});

t.test('production refuses to start without keys unless ALLOW_ANONYMOUS=true', async (t) => {
  const error = t.throws(() => loadConfig({ NODE_ENV: 'production' }), { name: 'ConfigError' }) as Error;
  t.match(error.message, /SERVICE_API_KEYS/);
  t.match(error.message, /ALLOW_ANONYMOUS=true/);
  t.throws(() => loadConfig({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'false' }), /SERVICE_API_KEYS/);
  t.same(loadConfig({ NODE_ENV: 'production', SERVICE_API_KEYS: KEY_A }).SERVICE_API_KEYS, [KEY_A]);
  t.equal(loadConfig({ NODE_ENV: 'development' }).ALLOW_ANONYMOUS, false, 'outside production no decision is needed');
  for (const production of ['Production', 'PRODUCTION', 'prod', ' production ']) {
    t.throws(() => loadConfig({ NODE_ENV: production }), /SERVICE_API_KEYS/, `${JSON.stringify(production)} is production`);
  }
  t.equal(loadConfig({ NODE_ENV: 'Prod', SERVICE_API_KEYS: KEY_A }).NODE_ENV, 'production');
  t.equal(loadConfig({ NODE_ENV: 'DEV' }).NODE_ENV, 'development');
  for (const unknown of ['staging', 'prodution', 'live']) {
    t.throws(() => loadConfig({ NODE_ENV: unknown }), /NODE_ENV: expected one of development, dev, production, prod, test/, `${unknown} is refused`);
  }

  const { app } = await buildTestApp(t, { NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' });
  t.equal((await app.inject('/models')).statusCode, 200, 'an explicitly anonymous production service starts and is open');
});

t.test('the key check matches whole keys only', async (t) => {
  const verify = createApiKeyVerifier([KEY_A, KEY_B]);
  const idA = verify(KEY_A);
  t.match(idA, /^[0-9a-f]{64}$/);
  t.not(verify(KEY_B), idA, 'each key has its own id');
  t.notOk(idA?.includes(KEY_A));
  for (const near of ['', KEY_A.slice(0, -1), `${KEY_A}x`, KEY_A.toUpperCase(), `${KEY_A},${KEY_B}`]) t.equal(verify(near), null, JSON.stringify(near));
  t.equal(createApiKeyVerifier([])(KEY_A), null);
});

t.test('the OpenAPI document offers the bearer scheme, whatever the environment', async (t) => {
  const open = await buildTestApp(t);
  const secured = await buildTestApp(t, { SERVICE_API_KEYS: KEYS });
  const document = (await open.app.inject('/docs/json')).json();
  t.same((await secured.app.inject('/docs/json')).json(), document, 'the document does not depend on the keys');

  t.match(document.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: /only when .*SERVICE_API_KEYS/ });
  t.match(document.info.description, /SERVICE_API_KEYS/);
  const operations = Object.entries(document.paths as Record<string, Record<string, { security?: unknown }>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, security: operation.security })),
  );
  t.ok(operations.length > 5);
  for (const { path, method, security } of operations) {
    const expected = path === '/health' || path === '/ready' ? [] : [{ bearerAuth: [] }];
    t.same(security, expected, `${method.toUpperCase()} ${path}`);
  }
});

t.test('wrong or missing keys from one address are limited: after 10 in a minute, 429 with Retry-After, even for a right key', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: `${KEY_A},${KEY_B}` });
  const attempt = (key?: string) => app.inject({ url: '/models', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  for (let i = 0; i < 10; i += 1) t.equal((await attempt(i % 2 ? undefined : `wrong-key-${i}-0123456789`)).statusCode, 401);
  const refused = await attempt('another-wrong-key-0123456789');
  t.equal(refused.statusCode, 429);
  t.match(refused.json(), { error: { code: 'too_many_auth_failures' } });
  t.ok(Number(refused.headers['retry-after']) >= 1);
  t.equal((await attempt(KEY_A)).statusCode, 429, 'guessing right after the limit does not get in');
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'probes are unaffected');
  const elsewhere = await app.inject({ url: '/models', headers: { authorization: `Bearer ${KEY_A}` }, remoteAddress: '10.0.0.7' });
  t.equal(elsewhere.statusCode, 200, 'another address is not blocked');
});

t.test('the failure tally forgets a window once it ends, and the oldest addresses first when full', async (t) => {
  let clock = 0;
  const tally = createAuthFailureTally(() => clock);
  for (let i = 0; i < AUTH_FAILURES_MAX; i += 1) tally.fail('1.2.3.4');
  t.ok((tally.blockedFor('1.2.3.4') ?? 0) >= 60);
  clock += AUTH_FAILURE_WINDOW_MS - 1500;
  t.equal(tally.blockedFor('1.2.3.4'), 2);
  clock += 1500;
  t.equal(tally.blockedFor('1.2.3.4'), null, 'a new window');
  for (let i = 0; i < AUTH_FAILURES_MAX - 1; i += 1) tally.fail('victim');
  for (let i = 0; i < 10_000; i += 1) tally.fail(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  tally.fail('victim');
  t.equal(tally.blockedFor('victim'), null, 'the oldest entry was forgotten when the tally filled up, so its count started again');
});

t.test('a key sent in the query string never reaches the logs, configured or not', async (t) => {
  const { app, rawLogs } = await buildTestApp(t, { SERVICE_API_KEYS: KEYS, LOG_LEVEL: 'trace' });
  await app.inject({ url: `/models?api_key=${WRONG_KEY}&page=2&access_token=tok-0123456789abcdef&%ZZ=1` });
  await app.inject({ url: `/models?token=${KEY_A}`, headers: bearer(KEY_B) });
  const logs = rawLogs();
  t.notMatch(logs, WRONG_KEY);
  t.notMatch(logs, 'tok-0123456789abcdef');
  t.notMatch(logs, KEY_A);
  t.match(logs, '/models?api_key=[redacted]&page=2&access_token=[redacted]&%ZZ=1', 'other parameters stay readable');
  t.equal(loggableUrl('/evaluate'), '/evaluate');
  t.equal(loggableUrl('/x?Signature=abc&flag'), '/x?Signature=[redacted]&flag');
});
