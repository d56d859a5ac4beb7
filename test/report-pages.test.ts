/**
 * The run list (/), a run's report (/evaluate/{run_id}/report) and its rating page (/evaluate/{run_id}/rate) as
 * the service serves them: public shells without data, a strict Content-Security-Policy, cacheable assets, and
 * a JSON API that still needs the key. What the pages do in a browser is test/report-browser.test.ts and
 * test/rate-browser.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isPublicRoute } from '../src/plugins/access-control.js';
import { assetsDigest, PUBLIC_DIR, REPORT_PAGE_CSP } from '../src/routes/report-pages.js';
import { buildTestApp } from './helpers/build-app.js';

const KEY = 'report-key-0123456789abcdef';
const RUN_ID = 'run_20260101T000000Z_abcdef';
const SHELLS = ['/', `/evaluate/${RUN_ID}/report`, `/evaluate/${RUN_ID}/rate`];

const directives = (policy: string) => new Map(policy.split(';').map((directive) => directive.trim().split(/\s+/)).map(([name = '', ...values]) => [name, values]));
const assetsOf = (html: string) => [...html.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((match) => match[1] as string);

t.test('the pages are HTML shells with a strict Content-Security-Policy and no inline script or style', async (t) => {
  const { app } = await buildTestApp(t);
  for (const url of SHELLS) {
    const page = await app.inject(url);
    t.equal(page.statusCode, 200, url);
    t.match(page.headers['content-type'], /^text\/html; charset=utf-8/, url);
    t.equal(page.headers['cache-control'], 'no-cache', `${url}: asked for again each time, so a new release shows at once`);
    const csp = directives(String(page.headers['content-security-policy']));
    t.same(csp.get('script-src'), ["'self'"], `${url}: scripts from this origin only`);
    t.same(csp.get('script-src-attr'), ["'none'"], `${url}: no event-handler attributes`);
    t.same(csp.get('style-src'), ["'self'"], `${url}: no inline style`);
    t.same(csp.get('img-src'), ["'self'", 'blob:'], `${url}: the chart through a blob: URL, nothing else`);
    t.same(csp.get('default-src'), ["'none'"]);
    t.same(csp.get('connect-src'), ["'self'"], `${url}: fetches reach this service only`);
    t.same(csp.get('form-action'), ["'none'"], `${url}: no form submits anywhere (the key form is a dialog form)`);
    t.same(csp.get('require-trusted-types-for'), ["'script'"], `${url}: innerHTML with a string throws`);
    t.notMatch(String(page.headers['content-security-policy']), /unsafe-inline|unsafe-eval|upgrade-insecure-requests/);
    t.equal(page.headers['x-content-type-options'], 'nosniff', `${url}: helmet's headers stay`);
    t.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
    t.equal(page.headers['referrer-policy'], 'no-referrer');
    t.equal(page.headers['cross-origin-opener-policy'], 'same-origin');

    const html = page.body;
    t.notMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, `${url}: every script has a src`);
    t.notMatch(html, /\sstyle=|<style|\son[a-z]+=/i, `${url}: no style attribute, style element or event handler`);
    t.notMatch(html, /{{/, `${url}: every placeholder is filled`);
    t.ok(assetsOf(html).length >= 3, `${url}: names its script, style sheet and icon`);
  }
  t.equal(REPORT_PAGE_CSP, String((await app.inject('/')).headers['content-security-policy']));
});

t.test("the pages' assets are served with their type and cached for good under a digest of their content", async (t) => {
  const { app } = await buildTestApp(t);
  const digest = assetsDigest();
  t.match(digest, /^[0-9a-f]{12}$/);
  const html = (await app.inject(`/evaluate/${RUN_ID}/report`)).body;
  const assets = assetsOf(html);
  for (const asset of assets) t.ok(asset.startsWith(`/ui/${digest}/`), `${asset} is under the digest`);
  const types: Record<string, RegExp> = { js: /^(?:text|application)\/javascript/, css: /^text\/css/, svg: /^image\/svg\+xml/ };
  // The scripts the pages load, and the modules they import.
  const modules = readdirSync(join(PUBLIC_DIR, 'assets')).map((file) => `/ui/${digest}/${file}`);
  for (const asset of new Set([...assets, ...modules])) {
    const reply = await app.inject(asset);
    t.equal(reply.statusCode, 200, asset);
    t.match(reply.headers['content-type'], types[asset.split('.').pop() as string] ?? /^$/, `${asset}: its type`);
    t.match(reply.headers['cache-control'], /max-age=31536000/, `${asset}: a year`);
    t.match(reply.headers['cache-control'], /immutable/, `${asset}: never revalidated`);
    t.equal(reply.headers['x-content-type-options'], 'nosniff');
  }
  t.equal((await app.inject(`/ui/${digest}/nope.js`)).statusCode, 404);
  t.equal((await app.inject(`/ui/${digest}/../../package.json`)).statusCode, 404, 'nothing outside the assets folder');
  t.equal((await app.inject('/ui/000000000000/report.css')).statusCode, 404, "another release's URL");
});

t.test('the shells hold no data: the same page whatever the run, existing or not', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const created = await app.inject({
    method: 'POST',
    url: '/evaluate',
    payload: { inquiries: [{ id: 'secret-item', inquiry: 'A very particular inquiry about a toaster', category: 'kitchen' }], models: ['retrieval'], scorer: 'heuristic' },
  });
  const { run_id: runId } = created.json() as { run_id: string };
  for (const page of ['report', 'rate']) {
    const real = await app.inject(`/evaluate/${runId}/${page}`);
    const missing = await app.inject(`/evaluate/${RUN_ID}/${page}`);
    t.equal(real.body, missing.body, `${page}: a run that does not exist gets the same page: only the API says which runs exist`);
    for (const text of [runId, 'secret-item', 'toaster', 'kitchen', 'retrieval', 'bm25:']) t.notOk(real.body.includes(text), `the ${page} page does not carry ${text}`);
    const malformed = await app.inject(`/evaluate/not-a-run/${page}`);
    t.equal(malformed.statusCode, 400);
    t.equal(malformed.json().error.code, 'validation_error');
  }
  for (const text of [runId, 'secret-item', 'toaster', 'kitchen']) t.notOk((await app.inject('/')).body.includes(text), `the run list does not carry ${text}`);
});

t.test('with SERVICE_API_KEYS the pages and their assets are public, the JSON API behind them is not', async (t) => {
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: KEY, OPENAI_API_KEY: '' });
  const html = (await app.inject('/')).body;
  for (const url of [...SHELLS, ...assetsOf(html), ...assetsOf((await app.inject(SHELLS[1] as string)).body)]) {
    t.equal((await app.inject(url)).statusCode, 200, `${url} without a key`);
  }
  const created = await app.inject({ method: 'POST', url: '/evaluate', headers: { authorization: `Bearer ${KEY}` }, payload: { inquiries: ['Where is my order?'], models: ['retrieval'] } });
  t.equal(created.statusCode, 202);
  const { run_id: runId } = created.json() as { run_id: string };
  for (const url of ['/evaluate', `/evaluate/${runId}`, `/evaluate/${runId}/items`, `/evaluate/${runId}/results.csv`, `/evaluate/${runId}/chart.svg`, `/evaluate/${runId}/summary.md`, '/rubric']) {
    const anonymous = await app.inject(url);
    t.equal(anonymous.statusCode, 401, `${url} without a key`);
    t.equal(anonymous.json().error.code, 'unauthorized');
    t.equal((await app.inject({ url, headers: { authorization: `Bearer ${KEY}` } })).statusCode, 200, `${url} with the key`);
  }
  t.equal((await app.inject('/ui/')).statusCode, 401, 'no route under /ui/ but the assets: a 404 would tell an anonymous caller which routes exist');
});

t.test('only the shells and their assets are public routes', async (t) => {
  for (const url of ['/', '/evaluate/:run_id/report', '/evaluate/:run_id/rate', '/ui/0123456789ab/*', '/health', '/ready', '/docs', '/docs/json']) t.ok(isPublicRoute(url), url);
  const api = ['/evaluate/:run_id/rating-items', '/evaluate/:run_id/ratings', '/evaluate/:run_id/ratings.csv', '/rubric'];
  for (const url of [undefined, '/evaluate', '/evaluate/:run_id', '/evaluate/:run_id/items', '/evaluate/:run_id/results.csv', '/evaluate/:run_id/chart.svg', ...api, '/models', '/answer', '/uix']) {
    t.notOk(isPublicRoute(url), String(url));
  }
});

t.test('/docs keeps its own policy', async (t) => {
  const { app } = await buildTestApp(t);
  const docs = String((await app.inject('/docs')).headers['content-security-policy']);
  t.not(docs, REPORT_PAGE_CSP);
  t.match(docs, /img-src 'self' data:/, "Swagger UI's data: images (the chart plugin) still load");
  t.notMatch(docs, /trusted-types/);
});

t.test('the pages build every element with DOM APIs: no markup from strings anywhere in their code', async (t) => {
  const dir = join(PUBLIC_DIR, 'assets');
  const scripts = readdirSync(dir).filter((file) => file.endsWith('.js'));
  t.ok(scripts.length >= 5, `the scripts are found (${scripts.join(', ')})`);
  for (const file of scripts) {
    const code = readFileSync(join(dir, file), 'utf8');
    t.notMatch(code, /\.(?:innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|createContextualFragment|\beval\(|new Function/, `${file}: no HTML sink`);
    t.notMatch(code, /\.setAttribute\(\s*['"](?:style|on\w+)['"]/, `${file}: no style or handler attribute`);
    t.notMatch(code, /https?:\/\//, `${file}: no other origin`);
  }
  const css = readdirSync(dir).filter((file) => file.endsWith('.css'));
  t.same(css, ['report.css'], 'one style sheet');
  t.notMatch(readFileSync(join(dir, 'report.css'), 'utf8'), /@import|url\(\s*['"]?https?:/, 'which loads nothing from elsewhere');
});
