import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyBaseLogger } from 'fastify';
import t, { type Test } from 'tap';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { answerInquiry } from '../src/models/answer.js';
import { createResponseCache, responseCacheKey, type CachedAnswer, type ResponseCache } from '../src/models/response-cache.js';
import { createFileResponseCacheStorage } from '../src/models/response-cache-file.js';
import { createPostgresResponseCacheStorage } from '../src/models/response-cache-postgres.js';
import { readResults } from '../src/runs/file-store.js';
import { registerSecrets } from '../src/secrets.js';
import { closeServices, createServices, type Services } from '../src/services.js';
import { buildTestApp } from './helpers/build-app.js';
import { runToEnd } from './helpers/evaluation-runs.js';
import { startFakeOpenAI, type FakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';

const KEY = 'sk-test-response-cache-0123456789';
// As the service does at boot: what is stored is redacted of every configured secret.
registerSecrets([KEY]);
const inquiries = ['My earbuds will not pair with my phone', 'Can I return an opened keyboard?', 'The charger gets hot'];

/** A fake whose every answer carries a nonce: an answer asked again upstream never equals the first. */
async function startNoncedFake(t: Test): Promise<FakeOpenAI> {
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: (request) => `Answer to ${request.userText} #${randomBytes(4).toString('hex')}` });
  t.teardown(() => fake.close());
  return fake;
}

/** Logs nothing, and keeps the messages of warnings for the tests that look at them. */
function recordingLog(warnings: string[] = []): FastifyBaseLogger {
  const log = { info() {}, debug() {}, error() {}, warn: (_fields: unknown, message: string) => warnings.push(message), child: () => log };
  return log as unknown as FastifyBaseLogger;
}

const csvRows = (text: string) => parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
const byPair = (rows: Record<string, string>[]) => new Map(rows.map((row) => [`${row.item_id}/${row.model_alias}`, row]));
const answeringCalls = (fake: FakeOpenAI) => fake.requests.filter((request) => request.endpoint === 'responses' || request.endpoint === 'chat').length;
const RUN = { inquiries, models: ['fine-tuned', 'baseline'], scorer: 'none', concurrency: 2 };

t.test('a run repeated with RESPONSE_CACHE_TTL_S reads its answers from the cache: no call upstream, cache_hit in both CSVs, no cost', async (t) => {
  const fake = await startNoncedFake(t);
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RESPONSE_CACHE_TTL_S: '3600' });

  const first = await runToEnd(app, RUN);
  t.equal(answeringCalls(fake), 6, 'the first run asks every (item, model)');
  const second = await runToEnd(app, RUN);
  t.equal(answeringCalls(fake), 6, 'the second run asks nothing');

  const firstRows = byPair(csvRows((await app.inject(`/evaluate/${first}/results.csv`)).body));
  const secondRows = byPair(csvRows((await app.inject(`/evaluate/${second}/results.csv`)).body));
  t.same([...firstRows.values()].map((row) => row.cache_hit), Array(6).fill('false'));
  t.same([...secondRows.values()].map((row) => row.cache_hit), Array(6).fill('true'));
  for (const [pair, row] of secondRows) {
    t.equal(row.answer, firstRows.get(pair)?.answer, `${pair}: the same answer`);
    t.equal(row.tokens_out, firstRows.get(pair)?.tokens_out, `${pair}: the tokens of the original call`);
  }
  const wide = csvRows((await app.inject(`/evaluate/${second}/results-wide.csv`)).body);
  t.same(wide.map((row) => [row['fine-tuned_cache_hit'], row.baseline_cache_hit]), Array(3).fill(['true', 'true']));

  const costs = async (runId: string) => (await app.inject(`/evaluate/${runId}`)).json().summary.all.models.map((model: { estimated_cost_usd: number }) => model.estimated_cost_usd);
  t.ok((await costs(first)).every((cost: number) => cost > 0), 'the first run paid');
  t.same(await costs(second), [0, 0], 'the second run paid nothing');

  const entries = readdirSync(join(reportsDir, 'cache'));
  t.equal(entries.length, 6, 'one file per request');
  for (const name of entries) t.notMatch(readFileSync(join(reportsDir, 'cache', name), 'utf8'), KEY, 'no key in a cache file');

  const ask = () => app.inject({ method: 'POST', url: '/answer', payload: { model: 'fine-tuned', inquiry: inquiries[0] } });
  t.equal((await ask()).statusCode, 200);
  t.equal((await ask()).statusCode, 200);
  t.equal(answeringCalls(fake), 8, 'interactive /answer always asks the model');
});

t.test('with RESPONSE_CACHE_TTL_S=0 (the default) every run asks the model, and nothing is kept', async (t) => {
  const fake = await startNoncedFake(t);
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  await runToEnd(app, RUN);
  const second = await runToEnd(app, RUN);
  t.equal(answeringCalls(fake), 12);
  t.same(csvRows((await app.inject(`/evaluate/${second}/results.csv`)).body).map((row) => row.cache_hit), Array(6).fill('false'));
  t.notOk(existsSync(join(reportsDir, 'cache')));
});

/** The service's answering dependencies on the fake, with a cache on a clock the test moves. */
async function answeringSetup(t: Test, env: Record<string, string> = {}) {
  const fake = await startNoncedFake(t);
  const reportsDir = mkdtempSync(join(tmpdir(), 'response-cache-'));
  const config = loadConfig({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '0', REPORTS_DIR: reportsDir, ...env });
  const services = createServices(config);
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const cache = createResponseCache(createFileResponseCacheStorage(join(reportsDir, 'cache')), { ttlSeconds: 60, maxEntries: 100, log: recordingLog(), now: () => clock.now });
  t.teardown(async () => {
    await cache.close();
    await closeServices(services);
    rmSync(reportsDir, { recursive: true, force: true });
  });
  const ask = (inquiry: string, options: { temperature?: number; lane?: 'batch' | 'interactive'; services?: Services } = {}) =>
    answerInquiry({ ...(options.services ?? services), responseCache: cache }, 'fine-tuned', { inquiry, temperature: options.temperature }, { log: recordingLog(), lane: options.lane ?? 'batch' });
  return { fake, services, cache, clock, ask, reportsDir };
}

t.test('an entry past its TTL is asked again; a hit says so and keeps the usage of the original call', async (t) => {
  const { fake, clock, ask } = await answeringSetup(t);
  const fresh = await ask('Where is my order?');
  t.equal(fresh.cache_hit, undefined);
  const hit = await ask('Where is my order?');
  t.equal(answeringCalls(fake), 1);
  t.match(hit, { cache_hit: true, answer: fresh.answer, usage: fresh.usage, model_id: fresh.model_id, status: 'completed', model: 'fine-tuned' });
  clock.now += 59_000;
  await ask('Where is my order?');
  t.equal(answeringCalls(fake), 1, 'still fresh after 59 s');
  clock.now += 2000;
  const renewed = await ask('Where is my order?');
  t.equal(answeringCalls(fake), 2, 'expired after 61 s: asked again');
  t.not(renewed.answer, fresh.answer);
  t.equal((await ask('Where is my order?')).answer, renewed.answer, 'and the new answer is kept');
});

t.test('errors, truncated and filtered answers are not kept; interactive calls neither read nor write the cache', async (t) => {
  const { fake, ask } = await answeringSetup(t);
  fake.queue.push({ status: 500 });
  await t.rejects(ask('Is this covered?'), { code: 'upstream_error' });
  await ask('Is this covered?');
  t.equal(answeringCalls(fake), 2, 'the failed call was not kept');
  await ask('Is this covered?');
  t.equal(answeringCalls(fake), 2, 'the answer that followed was');

  fake.queue.push({ incomplete: 'max_output_tokens' }, { incomplete: 'content_filter' });
  t.equal((await ask('A long question')).status, 'truncated');
  t.equal((await ask('A long question')).status, 'content_filtered');
  t.equal((await ask('A long question')).status, 'completed');
  t.equal(answeringCalls(fake), 5, 'neither the truncated nor the filtered answer was reused');

  await ask('Asked interactively', { lane: 'interactive' });
  await ask('Asked interactively', { lane: 'interactive' });
  t.equal(answeringCalls(fake), 7);
  await ask('Asked interactively');
  t.equal(answeringCalls(fake), 8, 'an interactive answer was not kept for a run');
});

t.test('the key is the request: another temperature or system prompt is asked anew, another API key is not', async (t) => {
  const { fake, ask, services } = await answeringSetup(t);
  await ask('Does it ship abroad?', { temperature: 0.2 });
  await ask('Does it ship abroad?', { temperature: 0.7 });
  t.equal(answeringCalls(fake), 2, 'another temperature');
  const otherPrompt = createServices(loadConfig({ ...services.config.secrets, SYSTEM_PROMPT: 'You are a terse assistant.' }));
  t.teardown(() => closeServices(otherPrompt));
  await ask('Does it ship abroad?', { temperature: 0.2, services: otherPrompt });
  t.equal(answeringCalls(fake), 3, 'another system prompt');
  t.same(fake.requests.map((request) => request.body.temperature), [0.2, 0.7, 0.2]);

  const base = { baseUrl: 'https://api.openai.com/v1', modelId: 'gpt-4.1-mini', apiStyle: 'responses' as const, body: { model: 'gpt-4.1-mini', input: 'x', temperature: 0.2 } };
  const key = responseCacheKey(base);
  t.match(key, /^[0-9a-f]{64}$/);
  t.not(responseCacheKey({ ...base, body: { ...base.body, temperature: 0.3 } }), key);
  t.not(responseCacheKey({ ...base, baseUrl: 'http://127.0.0.1:11434/v1' }), key);
  t.not(responseCacheKey({ ...base, apiStyle: 'chat' }), key);
  t.not(responseCacheKey({ ...base, modelId: 'gpt-4.1' }), key);
  t.equal(responseCacheKey(structuredClone(base)), key, 'the same request, the same key');
});

const cached = (answer: string): CachedAnswer => ({
  answer,
  status: 'completed',
  usage: { input_tokens: 12, output_tokens: 34, total_tokens: 46 },
  model_id: 'gpt-4.1-mini-2025-04-14',
  response_id: 'resp_1',
});

/** What both storages promise: round trip, expiry, the cap, and redacted documents. */
async function storageContract(t: Test, makeCache: (now: () => number, maxEntries: number) => ResponseCache) {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const cache = makeCache(() => clock.now, 3);
  await cache.sweep();
  await cache.put('a', cached(`first, quoting ${KEY}`));
  t.same(await cache.get('a'), cached('first, quoting [redacted]'), 'round trip, the key redacted');
  t.equal(await cache.get('nothing'), null);
  await cache.put('a', cached('replaced'));
  t.equal((await cache.get('a'))?.answer, 'replaced');
  clock.now += 30_000;
  for (const key of ['b', 'c', 'd']) {
    clock.now += 1000;
    await cache.put(key, cached(key));
  }
  clock.now += 31_000;
  t.equal(await cache.get('a'), null, "past 'a''s TTL");
  t.equal((await cache.get('b'))?.answer, 'b');
  await cache.sweep();
  clock.now -= 61_000;
  t.equal(await cache.get('a'), null, "the sweep removed 'a', expired");
  clock.now += 61_000;
  t.equal((await cache.get('b'))?.answer, 'b', 'three left: the cap is kept');
  for (const key of ['e', 'f']) {
    clock.now += 1000;
    await cache.put(key, cached(key));
  }
  // A sweep already under way may have listed the entries before the last put.
  await cache.close();
  await cache.sweep();
  t.same(await Promise.all(['b', 'c', 'd', 'e', 'f'].map(async (key) => (await cache.get(key))?.answer ?? null)), [null, null, 'd', 'e', 'f'], 'past the cap, those that expire first go');
  await cache.close();
}

t.test('the file storage: one file per key, swept of expired, surplus and abandoned partial files', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'response-cache-')), 'cache');
  t.teardown(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
  await storageContract(t, (now, maxEntries) => createResponseCache(createFileResponseCacheStorage(dir), { ttlSeconds: 60, maxEntries, log: recordingLog(), now }));
  t.same(readdirSync(dir).sort(), ['d.json', 'e.json', 'f.json']);

  writeFileSync(join(dir, 'x.json.1234.partial'), '{');
  writeFileSync(join(dir, 'notes.txt'), 'not an entry');
  const sweepAt = (now: number) => createResponseCache(createFileResponseCacheStorage(dir), { ttlSeconds: 60, maxEntries: 10, log: recordingLog(), now: () => now }).close();
  await sweepAt(Date.now());
  t.ok(readdirSync(dir).includes('x.json.1234.partial'), 'a partial file being written is left alone');
  // A partial file's age is its ctime, which follows the real clock: to a cache whose clock is an hour ahead it is abandoned.
  await sweepAt(Date.now() + 3_600_000);
  t.same(readdirSync(dir), ['notes.txt'], "expired entries and abandoned partial files go; a file that is not the cache's stays");
});

t.test('a cache that cannot be read or written is logged and ignored: the model is asked and the run goes on', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'response-cache-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const warnings: string[] = [];
  // A file where the folder should be: every read, write and sweep fails.
  writeFileSync(join(root, 'cache'), '');
  const broken = createResponseCache(createFileResponseCacheStorage(join(root, 'cache')), { ttlSeconds: 60, maxEntries: 10, log: recordingLog(warnings) });
  await broken.sweep();
  await broken.put('a', cached('kept?'));
  t.equal(await broken.get('a'), null);
  t.same(warnings, [
    'response cache: the sweep failed; it is tried again later',
    'response cache: could not keep an answer; the run goes on without it',
    'response cache: could not read; the model is asked',
  ]);

  // A folder where an entry should be: the write fails at its rename, and leaves no partial file.
  const blocked = join(root, 'blocked');
  mkdirSync(join(blocked, 'k.json'), { recursive: true });
  const blockedCache = createResponseCache(createFileResponseCacheStorage(blocked), { ttlSeconds: 60, maxEntries: 10, log: recordingLog(warnings) });
  await blockedCache.put('k', cached('kept?'));
  await blockedCache.close();
  t.same(readdirSync(blocked), ['k.json']);
  t.equal(warnings.at(-1), 'response cache: could not keep an answer; the run goes on without it');

  const dir = join(root, 'damaged');
  mkdirSync(dir);
  writeFileSync(join(dir, 'other-release.json'), JSON.stringify({ expires_at: '2999-01-01T00:00:00Z', answer: { text: 'not ours' } }));
  const damaged = createResponseCache(createFileResponseCacheStorage(dir), { ttlSeconds: 60, maxEntries: 10, log: recordingLog() });
  t.equal(await damaged.get('other-release'), null, 'a document of another shape is a miss');
  await damaged.close();
});

t.test('the PostgreSQL storage (migration 7): the same contract, and runs on RUNS_STORE=postgres share it', async (t) => {
  const db = await startTestPostgres(t);
  const database = await openDatabase(db.url, recordingLog());
  t.teardown(() => database.close());
  t.ok(database.schemaVersion >= 7);
  await storageContract(t, (now, maxEntries) => createResponseCache(createPostgresResponseCacheStorage(database.pool), { ttlSeconds: 60, maxEntries, log: recordingLog(), now }));
  const { rows } = await database.pool.query<{ key: string; model_id: string }>('select key, model_id from response_cache order by key');
  t.same(rows, ['d', 'e', 'f'].map((key) => ({ key, model_id: 'gpt-4.1-mini-2025-04-14' })));
  await database.pool.query('delete from response_cache');

  const fake = await startNoncedFake(t);
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, RESPONSE_CACHE_TTL_S: '3600', RUNS_STORE: 'postgres', DATABASE_URL: db.url };
  const { app, reportsDir } = await buildTestApp(t, env);
  const first = await runToEnd(app, RUN);
  const second = await runToEnd(app, RUN);
  t.equal(answeringCalls(fake), 6, 'the second run asked nothing');
  const firstRows = byPair(csvRows((await app.inject(`/evaluate/${first}/results.csv`)).body));
  const secondRows = csvRows((await app.inject(`/evaluate/${second}/results.csv`)).body);
  t.same(secondRows.map((row) => [row.cache_hit, row.answer]), secondRows.map((row) => ['true', firstRows.get(`${row.item_id}/${row.model_alias}`)?.answer]));
  t.equal((await database.pool.query('select count(*)::int as n from response_cache')).rows[0].n, 6);
  t.notOk(existsSync(join(reportsDir, 'cache')), 'nothing in the reports folder');
});

t.test('results stored before the response cache read as cache_hit false', async (t) => {
  const reportsDir = mkdtempSync(join(tmpdir(), 'response-cache-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  mkdirSync(join(reportsDir, 'runs', 'run_old'), { recursive: true });
  const old = { run_id: 'run_old', item_id: 'a', inquiry: 'q', reference: null, category: null, in_training: false, model_alias: 'baseline', model_id: 'm', answer: 'x', answer_status: 'completed', tokens_in: 1, tokens_out: 2, latency_ms: 3, scores: null, outcome: 'unscored', error: null, finished_at: '2025-01-01T00:00:00.000Z' };
  writeFileSync(join(reportsDir, 'runs', 'run_old', 'results.jsonl'), `${JSON.stringify(old)}\n`);
  const results = [];
  for await (const result of readResults(reportsDir, 'run_old')) results.push(result);
  t.match(results, [{ item_id: 'a', cache_hit: false, in_training: 'none' }]);
});
