/**
 * What comes back from an upstream is checked before it is used: its shape (issue finding 9), its
 * size (7) and how long it takes in all (6).
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import type { AppError } from '../src/errors.js';
import { scoreWithJudge } from '../src/scoring/judge.js';
import { DEFAULT_RUBRIC_WEIGHTS } from '../src/scoring/rubric.js';
import { closeServices, createServices } from '../src/services.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type Behaviour } from './helpers/fake-openai.js';

const KEY = 'sk-test-upstream-replies-0123456789';

async function setup(t: Test, env: Record<string, string> = {}) {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const testApp = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, ...env });
  return { fake, ...testApp };
}

const ask = (app: FastifyInstance) => app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'Where is my refund?' } });

const withField = (path: string[], value: unknown) => (body: Record<string, unknown>) => {
  const copy = structuredClone(body);
  let target = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path.at(-1) as string] = value;
  return copy;
};

const RESPONSES_OFF_SHAPE: Array<[string, Behaviour['reshape'], RegExp]> = [
  ['usage counts as strings', withField(['usage', 'input_tokens'], '12'), /usage\.input_tokens/],
  ['usage counts as floats', withField(['usage', 'output_tokens'], 4.5), /usage\.output_tokens/],
  ['a negative usage count', withField(['usage', 'total_tokens'], -1), /usage\.total_tokens/],
  ['output as a string', withField(['output'], 'Check Your Orders.'), /output: .*array/],
  ['output as null', withField(['output'], null), /output: .*array/],
  ['output as an array of strings', withField(['output'], ['Check Your Orders.']), /output\.0: .*object/],
  ['a message whose content is not an array', withField(['output'], [{ type: 'message', content: 'Check Your Orders.' }]), /output\.0\.content/],
  ['an output_text part without text', withField(['output'], [{ type: 'message', content: [{ type: 'output_text', text: 7 }] }]), /output\.0\.content\.0\.text/],
  ['a status that is not a string', withField(['status'], 1), /status/],
];

t.test('Responses replies of the wrong shape are a 502 upstream_invalid_reply naming the field', async (t) => {
  const { app, fake } = await setup(t);
  for (const [name, reshape, field] of RESPONSES_OFF_SHAPE) {
    fake.queue.push({ reshape });
    const reply = await ask(app);
    t.equal(reply.statusCode, 502, name);
    t.match(
      reply.json(),
      { error: { code: 'upstream_invalid_reply', message: field, upstream_request_id: /^req_/, details: { issues: [{ path: String, message: String }] } } },
      `${name}: the code, the field in the message, the upstream request id and the issues`,
    );
  }
});

const CHAT_OFF_SHAPE: Array<[string, Behaviour['reshape'], RegExp]> = [
  ['usage counts as strings', withField(['usage', 'prompt_tokens'], '12'), /usage\.prompt_tokens/],
  ['usage counts as floats', withField(['usage', 'completion_tokens'], 0.5), /usage\.completion_tokens/],
  ['no choices', withField(['choices'], []), /choices/],
  ['choices as a string', withField(['choices'], 'Check Your Orders.'), /choices/],
  ['content that is not a string', withField(['choices'], [{ index: 0, message: { role: 'assistant', content: ['Check'] }, finish_reason: 'stop' }]), /choices\.0\.message\.content/],
  ['a choice without a message', withField(['choices'], [{ index: 0, finish_reason: 'stop' }]), /choices\.0\.message/],
];

t.test('Chat Completions replies of the wrong shape are a 502 upstream_invalid_reply naming the field', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_API_STYLE: 'chat' });
  for (const [name, reshape, field] of CHAT_OFF_SHAPE) {
    fake.queue.push({ reshape });
    const reply = await ask(app);
    t.equal(reply.statusCode, 502, name);
    t.match(reply.json().error, { code: 'upstream_invalid_reply', message: field }, name);
  }
});

t.test('a reply with many problems lists the first three and counts the rest', async (t) => {
  const { app, fake } = await setup(t);
  fake.queue.push({ reshape: withField(['usage'], { input_tokens: 'a', output_tokens: 'b', total_tokens: 'c', extra: 1 }) });
  fake.queue.push({ reshape: () => ({ id: 1, status: 2, output: 3, usage: { input_tokens: 'a' } }) });
  t.match((await ask(app)).json(), { error: { message: /^(?!.*more).*usage\.input_tokens.*usage\.output_tokens.*usage\.total_tokens/ } }, 'three problems are all shown');
  const many = (await ask(app)).json();
  t.match(many, { error: { message: /and 1 more$/ } });
  t.equal(many.error?.details?.issues?.length, 4);
});

t.test('what the real API sends is still accepted: other fields, other item and part types, absent or null usage', async (t) => {
  const { app, fake } = await setup(t);
  const extras = (body: Record<string, unknown>) => {
    const copy = structuredClone(body) as Record<string, unknown> & { output: Array<{ type: string; content?: unknown[] }> };
    copy.some_future_field = { nested: true };
    copy.output[0]?.content?.unshift({ type: 'refusal', refusal: 'no' }, { type: 'future_part', text: 3 });
    copy.output.unshift({ type: 'reasoning', id: 'rs_1', summary: [] } as { type: string }, { type: 'future_item', content: 'anything' } as { type: string });
    return copy;
  };
  fake.queue.push({ reshape: extras, text: 'Check Your Orders.' });
  const reply = await ask(app);
  t.equal(reply.statusCode, 200);
  t.equal(reply.json().answer, 'Check Your Orders.');

  fake.queue.push({ reshape: withField(['usage'], null) }, { reshape: (body) => ({ ...body, usage: undefined }) });
  for (const label of ['null usage', 'no usage']) {
    const noUsage = await ask(app);
    t.equal(noUsage.statusCode, 200, label);
    t.same(noUsage.json().usage, { input_tokens: null, output_tokens: null, total_tokens: null }, label);
  }

  const chat = await setup(t, { OPENAI_API_STYLE: 'chat' });
  chat.fake.queue.push({ reshape: withField(['usage', 'prompt_tokens_details'], { cached_tokens: 0, future: 'x' }) }, { refusal: "I can't help with that." });
  t.equal((await ask(chat.app)).statusCode, 200, 'chat: other usage fields');
  t.match((await ask(chat.app)).json(), { answer: '', status: 'completed' }, 'chat: a refusal has null content');
});

t.test('in a run, an off-shape reply fails its item with the reason, and the run and its totals stay whole', async (t) => {
  const { app, fake } = await setup(t);
  fake.queue.push({ reshape: withField(['usage', 'output_tokens'], '41') });
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: ['Where is my refund?', 'Can I return a TV?'], models: ['fine-tuned'], scorer: 'none', concurrency: 1 } });
  t.equal(created.statusCode, 202);
  const { run_id } = created.json();
  let run: { status: string; progress: { failed: number }; summary?: unknown } = { status: 'queued', progress: { failed: 0 } };
  for (let tries = 0; tries < 500 && !['completed', 'failed'].includes(run.status); tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const got = await app.inject(`/evaluate/${run_id}`);
    t.equal(got.statusCode, 200, 'GET of the run is never a 500');
    run = got.json();
  }
  t.equal(run.status, 'completed');
  t.equal(run.progress.failed, 1);
  const csv = (await app.inject(`/evaluate/${run_id}/results.csv`)).body;
  t.match(csv, /upstream_invalid_reply/, 'the failed item carries the code');
  const tokens = JSON.stringify(run.summary).match(/"tokens":\{"input":([^,]+),"output":([^}]+)\}/);
  t.ok(tokens && Number.isInteger(JSON.parse(tokens[1] as string)) && Number.isInteger(JSON.parse(tokens[2] as string)), `token totals are integers: ${tokens?.[0]}`);
});

t.test('a reply over UPSTREAM_MAX_REPLY_BYTES is a 502 upstream_reply_too_large, in both styles', async (t) => {
  for (const style of ['responses', 'chat']) {
    const { app, fake } = await setup(t, { OPENAI_API_STYLE: style, UPSTREAM_MAX_REPLY_BYTES: String(64 * 1024) });
    fake.queue.push({ text: 'x'.repeat(200 * 1024) });
    const reply = await ask(app);
    t.equal(reply.statusCode, 502, style);
    t.match(reply.json().error, { code: 'upstream_reply_too_large', message: /65536 bytes \(UPSTREAM_MAX_REPLY_BYTES\)/ }, style);
    t.equal(fake.requests.length, 1, `${style}: not retried`);
    fake.queue.push({ text: 'x'.repeat(60 * 1024) });
    t.equal((await ask(app)).statusCode, 200, `${style}: a reply under the cap is read`);
  }
});

t.test('a reply that trickles in forever ends at the total deadline with a 504 saying so', { timeout: 10_000 }, async (t) => {
  const { app, fake } = await setup(t, { OPENAI_TIMEOUT_MS: '200', OPENAI_TOTAL_TIMEOUT_MS: '400', OPENAI_MAX_RETRIES: '2' });
  fake.queue.push({ drip: { intervalMs: 20 } });
  const started = performance.now();
  const reply = await ask(app);
  const elapsed = performance.now() - started;
  t.equal(reply.statusCode, 504);
  t.match(reply.json().error, { code: 'upstream_timeout', message: /total deadline of 400 ms \(OPENAI_TOTAL_TIMEOUT_MS\)/ });
  t.ok(elapsed >= 390 && elapsed < 2_000, `ended after ${Math.round(elapsed)} ms`);
  t.equal(fake.requests.length, 1, 'not retried');
});

t.test('the total deadline covers every attempt and the backoff between them', { timeout: 10_000 }, async (t) => {
  const { app, fake } = await setup(t, { OPENAI_TIMEOUT_MS: '200', OPENAI_TOTAL_TIMEOUT_MS: '600', OPENAI_MAX_RETRIES: '5' });
  fake.queue.push(...Array.from({ length: 6 }, () => ({ hang: true })));
  const started = performance.now();
  const reply = await ask(app);
  const elapsed = performance.now() - started;
  t.equal(reply.statusCode, 504);
  t.equal(reply.json().error.code, 'upstream_timeout');
  t.ok(elapsed < 1_500, `ended after ${Math.round(elapsed)} ms, not 6 attempts and 15 s of backoff`);
  t.ok(fake.requests.length <= 3, `${fake.requests.length} attempts`);
});

t.test('a retry whose wait would cross the deadline is not waited for: the caller gets the failure at once', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_TIMEOUT_MS: '200', OPENAI_TOTAL_TIMEOUT_MS: '500', OPENAI_MAX_RETRIES: '2' });
  fake.queue.push({ status: 503, headers: { 'retry-after-ms': '1000' } });
  const started = performance.now();
  const reply = await ask(app);
  t.ok(performance.now() - started < 400, 'no wait');
  t.match(reply.json().error, { code: 'upstream_error', upstream_status: 503 });
  t.equal(fake.requests.length, 1);
});

t.test("the judge's replies are capped too, and a reply too large is not asked for again", async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, structured: () => ({ padding: 'x'.repeat(200 * 1024) }) });
  t.teardown(() => fake.close());
  const services = createServices(loadConfig({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '2', UPSTREAM_MAX_REPLY_BYTES: String(64 * 1024) }));
  t.teardown(() => closeServices(services));
  const input = { inquiry: 'Where is my refund?', answer: 'Check Your Orders.', reference: 'Refunds take 3 to 5 days.' };
  const error = (await scoreWithJudge(services, input, DEFAULT_RUBRIC_WEIGHTS, { log: pino({ level: 'silent' }) }).catch((caught: unknown) => caught)) as AppError;
  t.match(error, { statusCode: 502, code: 'upstream_reply_too_large', message: /judge/ });
  t.equal(fake.requests.length, 1);
});

t.test('the limits are configured at boot: defaults, bounds, and a total deadline no shorter than one attempt', async (t) => {
  const config = loadConfig({});
  t.equal(config.UPSTREAM_MAX_REPLY_BYTES, 4 * 1024 * 1024);
  t.equal(config.OPENAI_TOTAL_TIMEOUT_MS, 45_000);
  t.ok(config.OPENAI_TOTAL_TIMEOUT_MS >= config.OPENAI_TIMEOUT_MS);
  t.equal(loadConfig({ UPSTREAM_MAX_REPLY_BYTES: '1048576', OPENAI_TOTAL_TIMEOUT_MS: '60000' }).OPENAI_TOTAL_TIMEOUT_MS, 60_000);
  t.throws(() => loadConfig({ UPSTREAM_MAX_REPLY_BYTES: '100' }), { name: 'ConfigError', message: /UPSTREAM_MAX_REPLY_BYTES/ });
  t.throws(() => loadConfig({ UPSTREAM_MAX_REPLY_BYTES: '4MB' }), { name: 'ConfigError', message: /UPSTREAM_MAX_REPLY_BYTES/ });
  t.throws(() => loadConfig({ OPENAI_TOTAL_TIMEOUT_MS: '10' }), { name: 'ConfigError', message: /OPENAI_TOTAL_TIMEOUT_MS/ });
  t.throws(() => loadConfig({ OPENAI_TIMEOUT_MS: '60000' }), ConfigError, 'a per-attempt timeout over the default total deadline needs the deadline raised too');
  t.throws(() => loadConfig({ OPENAI_TIMEOUT_MS: '2000', OPENAI_TOTAL_TIMEOUT_MS: '1000' }), { message: /OPENAI_TOTAL_TIMEOUT_MS: must be at least OPENAI_TIMEOUT_MS \(2000\)/ });
});
