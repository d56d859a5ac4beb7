import t, { type Test } from 'tap';
import { ERROR_CODES, type ErrorCode } from '../src/error-codes.js';
import { ErrorResponseSchema } from '../src/schemas/error.js';
import { buildTestApp } from './helpers/build-app.js';

interface MediaType {
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  responses: Record<string, { description: string; content?: Record<string, MediaType> }>;
}
type Paths = Record<string, Record<string, Operation>>;
type ErrorBody = { error: { code: string; message: string; details?: unknown } };

async function documentPaths(t: Test): Promise<Paths> {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  return (app.swagger() as unknown as { paths: Paths }).paths;
}

const errorReplies = (paths: Paths) =>
  Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).flatMap(([method, operation]) =>
      Object.entries(operation.responses)
        .filter(([status]) => Number(status) >= 400)
        .map(([status, response]) => ({ where: `${method.toUpperCase()} ${path} ${status}`, path, method, status: Number(status), response })),
    ),
  );

const examplesOf = (operation: Operation | undefined, status: number) => operation?.responses[String(status)]?.content?.['application/json']?.examples ?? {};
const firstExampleCode = (operation: Operation | undefined, status: number) => Object.keys(examplesOf(operation, status))[0];

t.test('every error reply is documented as JSON, with examples of its own status', async (t) => {
  const replies = errorReplies(await documentPaths(t));
  t.ok(replies.length > 40, `error replies are documented (${replies.length})`);
  const messages = new Set<string>();
  for (const { where, status, response } of replies) {
    t.same(Object.keys(response.content ?? {}), ['application/json'], `${where}: application/json only`);
    const examples = response.content?.['application/json']?.examples ?? {};
    t.ok(Object.keys(examples).length > 0, `${where}: has examples`);
    for (const [code, { value }] of Object.entries(examples)) {
      t.equal((ERROR_CODES as Record<string, { status: number }>)[code]?.status, status, `${where}: ${code} is a listed code of this status`);
      t.ok(ErrorResponseSchema.safeParse(value).success, `${where}: the ${code} example has the error shape`);
      t.equal((value as ErrorBody).error.code, code, `${where}: the ${code} example is named by its code`);
      t.match(response.description, `\`${code}\`: ${ERROR_CODES[code as ErrorCode].meaning}`, `${where}: the description says what ${code} means`);
      messages.add((value as ErrorBody).error.message);
    }
  }
  t.ok(messages.size > 25, `the examples differ (${messages.size} messages)`);
});

t.test('each status shows its most common code first', async (t) => {
  const paths = await documentPaths(t);
  const expected: Array<[string, string, number, ErrorCode]> = [
    ['/answer', 'post', 400, 'validation_error'],
    ['/answer', 'post', 401, 'unauthorized'],
    ['/answer', 'post', 413, 'payload_too_large'],
    ['/answer', 'post', 415, 'unsupported_media_type'],
    ['/answer', 'post', 429, 'rate_limited'],
    ['/answer', 'post', 502, 'upstream_error'],
    ['/answer', 'post', 503, 'missing_api_key'],
    ['/answer', 'post', 504, 'upstream_timeout'],
    ['/compare', 'post', 503, 'missing_api_key'],
    ['/evaluate', 'post', 429, 'rate_limited'],
    ['/evaluate', 'post', 507, 'insufficient_storage'],
    ['/evaluate/{run_id}', 'get', 404, 'run_not_found'],
    ['/evaluate/{run_id}', 'delete', 409, 'run_finished'],
  ];
  for (const [path, method, status, code] of expected) t.equal(firstExampleCode(paths[path]?.[method], status), code, `${method.toUpperCase()} ${path} ${status}`);
  t.ok('too_many_runs' in examplesOf(paths['/evaluate']?.post, 429), 'POST /evaluate lists the per-caller run limit');
  t.notOk(paths['/evaluate']?.post?.responses['502'], 'POST /evaluate calls no model before it answers: no 502');
});

t.test("the exports' 404 is JSON, not CSV, Markdown or SVG", async (t) => {
  const paths = await documentPaths(t);
  for (const [file, type] of [
    ['results.csv', 'text/csv'],
    ['summary.md', 'text/markdown'],
    ['chart.svg', 'image/svg+xml'],
  ] as const) {
    const operation = paths[`/evaluate/{run_id}/${file}`]?.get;
    t.same(Object.keys(operation?.responses['200']?.content ?? {}), [type], `${file}: 200 is ${type}`);
    t.same(Object.keys(operation?.responses['404']?.content ?? {}), ['application/json'], `${file}: 404 is JSON`);
    t.equal(firstExampleCode(operation, 404), 'run_not_found');
  }
});

/** Run ids and numbers vary from reply to reply (limits, waits); the rest of a message is the contract. */
const normalised = (body: unknown) =>
  JSON.stringify(body)
    .replace(/run_[A-Za-z0-9_]+/g, 'run_…')
    .replace(/\d+/g, '#');

t.test('the documented examples are what the service answers', async (t) => {
  const paths = await documentPaths(t);
  const example = (path: string, method: string, code: ErrorCode) => examplesOf(paths[path]?.[method], ERROR_CODES[code].status)[code]?.value;
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
  const runId = 'run_20261124T235900Z_ab12cd';

  const replies: Array<[string, string, ErrorCode, { statusCode: number; json(): unknown }]> = [
    ['/answer', 'post', 'validation_error', await post('/answer', { inquiry: '' })],
    ['/answer', 'post', 'invalid_json', await app.inject({ method: 'POST', url: '/answer', payload: '{"inquiry":', headers: { 'content-type': 'application/json' } })],
    ['/answer', 'post', 'unknown_model', await post('/answer', { inquiry: 'Where is my order?', model: 'gpt-5' })],
    ['/answer', 'post', 'unsupported_media_type', await app.inject({ method: 'POST', url: '/answer', payload: 'inquiry=hi', headers: { 'content-type': 'text/plain' } })],
    ['/answer', 'post', 'payload_too_large', await post('/answer', { inquiry: 'x'.repeat(1_100_000) })],
    ['/answer', 'post', 'missing_api_key', await post('/answer', { inquiry: 'Where is my order?' })],
    ['/compare', 'post', 'duplicate_model', await post('/compare', { inquiry: 'Where is my order?', models: ['retrieval', 'retrieval'] })],
    ['/evaluate', 'post', 'pairwise_needs_two_models', await post('/evaluate', { inquiries: ['Where is my order?'], models: ['retrieval'], scorer: 'pairwise' })],
    ['/evaluate', 'post', 'unknown_prompt_set', await post('/evaluate', { prompt_set: 'holiday.json', models: ['retrieval'] })],
    [
      '/evaluate',
      'post',
      'duplicate_item_id',
      await post('/evaluate', { inquiries: [{ id: 'ssd-1', inquiry: 'Is it fast?' }, { id: 'ssd-1', inquiry: 'Does it fit?' }], models: ['retrieval'] }),
    ],
    ['/evaluate', 'get', 'invalid_cursor', await app.inject(`/evaluate?cursor=${runId}`)],
    ['/evaluate/{run_id}', 'get', 'run_not_found', await app.inject(`/evaluate/${runId}`)],
  ];

  const created = await post('/evaluate', { inquiries: ['Where is my order?'], models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  const ended = created.json().run_id as string;
  for (let polls = 0; polls < 200 && (await app.inject(`/evaluate/${ended}`)).json().status !== 'completed'; polls += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  replies.push(['/evaluate/{run_id}', 'delete', 'run_finished', await app.inject({ method: 'DELETE', url: `/evaluate/${ended}` })]);

  const guarded = await buildTestApp(t, { SERVICE_API_KEYS: 'test-key-0123456789abcdef', RATE_LIMIT_MAX: '1' });
  const withKey = { authorization: 'Bearer test-key-0123456789abcdef' };
  replies.push(['/models', 'get', 'unauthorized', await guarded.app.inject('/models')]);
  await guarded.app.inject({ url: '/models', headers: withKey });
  replies.push(['/models', 'get', 'rate_limited', await guarded.app.inject({ url: '/models', headers: withKey })]);

  for (const [path, method, code, reply] of replies) {
    const documented = example(path, method, code);
    t.ok(documented, `${method.toUpperCase()} ${path} documents ${code}`);
    t.equal(reply.statusCode, ERROR_CODES[code].status, `${code}: status`);
    t.equal(normalised(reply.json()), normalised(documented), `${code}: the example is the reply`);
  }
});
