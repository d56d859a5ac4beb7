import t from 'tap';
import { loadConfig } from '../src/config.js';
import { withoutUpgradeInsecureRequests } from '../src/plugins/browser-policy.js';
import { buildTestApp } from './helpers/build-app.js';

const ORIGIN = 'https://support.example.com';
const KEY = 'browser-key-0123456789abcdef';

const preflight = (origin: string) => ({
  method: 'OPTIONS' as const,
  url: '/answer',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
});

t.test('without CORS_ORIGINS no CORS header is ever sent', async (t) => {
  const { app } = await buildTestApp(t);
  const reply = await app.inject(preflight(ORIGIN));
  t.notOk(reply.headers['access-control-allow-origin'], 'a preflight is not granted');
  t.notOk(reply.headers['access-control-allow-headers']);
  const get = await app.inject({ url: '/models', headers: { origin: ORIGIN } });
  t.equal(get.statusCode, 200);
  t.notOk(get.headers['access-control-allow-origin']);
});

t.test('with CORS_ORIGINS, listed origins may call with the Authorization header, others may not', async (t) => {
  const { app } = await buildTestApp(t, { CORS_ORIGINS: `${ORIGIN}, http://localhost:5173`, SERVICE_API_KEYS: KEY });
  const granted = await app.inject(preflight(ORIGIN));
  t.equal(granted.statusCode, 204, 'the preflight needs no key');
  t.equal(granted.headers['access-control-allow-origin'], ORIGIN);
  t.match(granted.headers['access-control-allow-headers'], /authorization/);
  t.match(granted.headers['access-control-allow-methods'], /POST/);

  t.notOk((await app.inject(preflight('https://evil.example.com'))).headers['access-control-allow-origin']);

  const call = await app.inject({ url: '/models', headers: { origin: ORIGIN, authorization: `Bearer ${KEY}` } });
  t.equal(call.statusCode, 200);
  t.equal(call.headers['access-control-allow-origin'], ORIGIN);
  t.match(call.headers['access-control-expose-headers'], /x-request-id/);

  const refused = await app.inject({ url: '/models', headers: { origin: ORIGIN } });
  t.equal(refused.statusCode, 401);
  t.equal(refused.headers['access-control-allow-origin'], ORIGIN, 'the browser can read why it was refused');
});

t.test('CORS_ORIGINS=* allows any origin; bad values stop the boot', async (t) => {
  const { app } = await buildTestApp(t, { CORS_ORIGINS: '*' });
  t.equal((await app.inject(preflight('https://anywhere.example.org'))).headers['access-control-allow-origin'], '*');
  t.same(loadConfig({ CORS_ORIGINS: ' https://a.example.com ,, http://127.0.0.1:8080' }).CORS_ORIGINS, ['https://a.example.com', 'http://127.0.0.1:8080']);
  for (const bad of ['support.example.com', 'https://a.example.com/path', '*,https://a.example.com', 'ftp://a.example.com']) {
    t.throws(() => loadConfig({ CORS_ORIGINS: bad }), /CORS_ORIGINS/, bad);
  }
});

t.test('the docs are served with security headers and still load', async (t) => {
  const { app } = await buildTestApp(t);
  const page = await app.inject('/docs');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /swagger-ui-bundle\.js/);
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /default-src 'self'/);
  t.match(csp, /script-src 'self'/);
  t.notMatch(csp, /upgrade-insecure-requests/, 'plain-HTTP deployments can load the assets');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.headers['x-frame-options'], 'SAMEORIGIN');

  const asset = await app.inject('/docs/static/swagger-ui-bundle.js');
  t.equal(asset.statusCode, 200);
  t.equal(asset.headers['x-content-type-options'], 'nosniff');
});

t.test('the JSON API carries the same headers and is unchanged', async (t) => {
  const { app } = await buildTestApp(t);
  const reply = await app.inject('/health');
  t.same(reply.json(), { status: 'ok' });
  t.match(reply.headers['content-type'], /application\/json/);
  t.equal(reply.headers['x-content-type-options'], 'nosniff');
  t.ok(reply.headers['content-security-policy']);
  t.notMatch(String(reply.headers['content-security-policy']), /upgrade-insecure-requests/);
  t.notOk('strict-transport-security' in reply.headers, 'no HSTS from a plain-HTTP service, as the README says');
  const docs = await app.inject('/docs');
  t.notOk('strict-transport-security' in docs.headers);
});

t.test('upgrade-insecure-requests is taken out of a policy, nothing else', async (t) => {
  t.equal(
    withoutUpgradeInsecureRequests("default-src 'self'; upgrade-insecure-requests; img-src 'self' data:;"),
    "default-src 'self'; img-src 'self' data:",
  );
  t.equal(withoutUpgradeInsecureRequests("default-src 'self'"), "default-src 'self'");
});
