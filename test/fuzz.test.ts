/**
 * Generated malformed input for every endpoint: whatever arrives, the reply is never a 5xx and every
 * error has the one shape. Valid requests slip through now and then and must succeed like any other.
 */
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

const CASES_PER_ENDPOINT = 1000;
const KEY = 'sk-fuzz-upstream-key-0123456789';

// Strings that have broken parsers before: odd unicode, control characters, huge values, lookalikes of our syntax.
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('', ' ', '\u0000', '\uFEFF', '\uD800', 'é'.normalize('NFD'), '💥'.repeat(3000), 'a'.repeat(4001), '=cmd|/C calc', '../../etc/passwd', '__proto__', 'constructor', 'fine-tuned', 'retrieval', 'run_x'),
);
const anyValue = fc.oneof(fc.anything({ maxDepth: 3 }), nastyString, fc.double(), fc.integer(), fc.constant(null), fc.boolean());

/** A body with the endpoint's own field names, each given a value of a random type; sometimes extra fields. */
const bodyFor = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record(
    Object.fromEntries(Object.entries(fields).map(([name, valid]) => [name, fc.oneof(valid, anyValue)])),
    { requiredKeys: [] },
  ).chain((body) => fc.oneof(fc.constant(body), fc.dictionary(nastyString, anyValue, { maxKeys: 3 }).map((extra) => ({ ...extra, ...body }))));

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', ''];

/** Any of: a JSON body, raw bytes that are not JSON, or a body sent under a wrong content type. */
const payloadFor = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: body.map((value) => ({ payload: JSON.stringify(value) ?? 'null', contentType: 'application/json' })) },
    { weight: 2, arbitrary: fc.record({ payload: fc.oneof(fc.string(), fc.constantFrom('{', '{"inquiry":', '[1,2', '\u0000', 'null', '""', '{"inquiry": "a" "b"}')), contentType: fc.constant('application/json') }) },
    { weight: 2, arbitrary: fc.record({ payload: body.map((value) => JSON.stringify(value) ?? ''), contentType: fc.constantFrom(...CONTENT_TYPES) }) },
  );

const modelName = fc.constantFrom('fine-tuned', 'baseline', 'retrieval', 'judge', 'gpt-4.1-mini-2025-04-14', 'nope');
const inquiry = fc.oneof(fc.constantFrom('Where is my order?', 'My PS5 SSD is not detected'), nastyString);

function checkReply(reply: { statusCode: number; body: string; headers: Record<string, unknown> }, what: string) {
  if (reply.statusCode >= 500) throw new Error(`${what}: ${reply.statusCode} ${reply.body.slice(0, 300)}`);
  if (reply.statusCode >= 400) {
    let body: { error?: { code?: unknown; message?: unknown } };
    try {
      body = JSON.parse(reply.body);
    } catch {
      throw new Error(`${what}: ${reply.statusCode} is not JSON: ${reply.body.slice(0, 200)}`);
    }
    if (typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string') {
      throw new Error(`${what}: ${reply.statusCode} not in the error shape: ${reply.body.slice(0, 200)}`);
    }
    if (/\n\s+at |node_modules/.test(reply.body)) throw new Error(`${what}: a stack trace leaked: ${reply.body.slice(0, 200)}`);
  }
}

async function fuzzPost(t: Test, app: FastifyInstance, url: string, body: fc.Arbitrary<unknown>) {
  const seen = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(payloadFor(body), async ({ payload, contentType }) => {
      const options: InjectOptions = { method: 'POST', url, payload, headers: contentType ? { 'content-type': contentType } : {} };
      const reply = await app.inject(options);
      seen.set(reply.statusCode, (seen.get(reply.statusCode) ?? 0) + 1);
      checkReply(reply, `POST ${url} ${contentType} ${payload.slice(0, 120)}`);
    }),
    { numRuns: CASES_PER_ENDPOINT },
  );
  t.pass(`POST ${url}: ${CASES_PER_ENDPOINT} cases, statuses ${JSON.stringify(Object.fromEntries(seen))}`);
}

t.test('every endpoint answers generated malformed input without a 5xx, in the error shape', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });

  await fuzzPost(t, app, '/answer', bodyFor({
    inquiry,
    model: modelName,
    temperature: fc.double({ min: -1, max: 3 }),
    max_output_tokens: fc.integer({ min: -10, max: 40_000 }),
    seed: fc.integer(),
    prompt: fc.record({ id: nastyString, version: nastyString, variables: fc.dictionary(nastyString, nastyString, { maxKeys: 2 }) }, { requiredKeys: [] }),
  }));

  await fuzzPost(t, app, '/compare', bodyFor({
    inquiry,
    models: fc.array(modelName, { maxLength: 5 }),
    reference: nastyString,
    scorer: fc.constantFrom('judge', 'heuristic', 'none', 'vibes'),
  }));

  const promptEntry = fc.oneof(inquiry, fc.record({ id: nastyString, inquiry, reference: nastyString, category: nastyString }, { requiredKeys: ['inquiry'] }));
  await fuzzPost(t, app, '/evaluate', bodyFor({
    prompt_set: fc.constantFrom('eval_inquiries', 'eval_inquiries.json', 'nope', '../data/x', ''),
    inquiries: fc.array(fc.oneof(promptEntry, anyValue), { maxLength: 4 }),
    models: fc.array(fc.constantFrom('retrieval', 'nope', 'retrieval'), { maxLength: 5 }),
    scorer: fc.constantFrom('heuristic', 'none', 'judge', 'x'),
    concurrency: fc.integer({ min: -5, max: 100 }),
  }));

  // A lone surrogate cannot be percent-encoded; send a malformed escape instead, which is a case worth having too.
  const encoded = (value: string) => {
    try {
      return encodeURIComponent(value);
    } catch {
      return '%E0%A4%A';
    }
  };
  const runId = fc.oneof(nastyString.map(encoded), fc.constantFrom('run_20260101T000000Z_abcdef', 'run_', '%00', '..%2F..', 'run_x%2Fy'));
  const suffix = fc.constantFrom('', '/results.csv', '/summary.md', '/chart.svg', '/nope');
  const seen = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(runId, suffix, fc.constantFrom<'GET' | 'DELETE' | 'PUT'>('GET', 'DELETE', 'PUT'), async (id, tail, method) => {
      const reply = await app.inject({ method, url: `/evaluate/${id}${tail}` });
      seen.set(reply.statusCode, (seen.get(reply.statusCode) ?? 0) + 1);
      checkReply(reply, `${method} /evaluate/${id}${tail}`);
    }),
    { numRuns: CASES_PER_ENDPOINT },
  );
  t.pass(`/evaluate/{run_id}: ${CASES_PER_ENDPOINT} cases, statuses ${JSON.stringify(Object.fromEntries(seen))}`);

  const query = fc.dictionary(fc.string({ maxLength: 10 }), nastyString, { maxKeys: 3 });
  const readOnly = fc.constantFrom('/models', '/health', '/ready', '/evaluate', '/docs/json');
  const seenGet = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(readOnly, query, fc.constantFrom<'GET' | 'POST' | 'DELETE'>('GET', 'POST', 'DELETE'), async (path, params, method) => {
      const reply = await app.inject({ method, url: path, query: params, headers: { 'x-request-id': Object.values(params)[0]?.slice(0, 200) ?? 'x' } });
      seenGet.set(reply.statusCode, (seenGet.get(reply.statusCode) ?? 0) + 1);
      checkReply(reply, `${method} ${path}`);
    }),
    { numRuns: CASES_PER_ENDPOINT },
  );
  t.pass(`read-only endpoints: ${CASES_PER_ENDPOINT} cases, statuses ${JSON.stringify(Object.fromEntries(seenGet))}`);
});
