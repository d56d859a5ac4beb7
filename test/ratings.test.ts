import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { ERROR_CODES, type ErrorCode } from '../src/error-codes.js';
import { ERROR_EXAMPLES } from '../src/schemas/error-examples.js';
import { blindOrder } from '../src/runs/blinding.js';
import { buildTestApp } from './helpers/build-app.js';

const KEY_A = 'svc-key-alpha-0123456789abcdef';
const KEY_B = 'svc-key-bravo-fedcba9876543210';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const INQUIRIES = [
  { id: 'ret-1', inquiry: 'How long do I have to return a TV?', reference: 'Most electronics can be returned within 30 days of delivery.' },
  { id: 'ret-2', inquiry: 'Can I print the return label at home?', reference: "Yes: start the return in 'Your Orders' and print the label." },
  { id: 'bt-1', inquiry: 'My wireless earbuds will not pair with my laptop', reference: 'Reset the earbuds, then pair them again from Settings > Bluetooth.' },
  { id: 'pay-1', inquiry: 'Why was my card charged twice?', reference: 'A pending authorisation drops off within a few days; only one charge posts.' },
  { id: 'ord-1', inquiry: 'Where is my order?', reference: "Open 'Your Orders' and select 'Track package'." },
];

const levels = (value: number) => ({ accuracy: value, actionability: value, completeness: value, safety_tone: value });

async function completedRun(app: FastifyInstance, body: object = {}, headers: Record<string, string> = {}): Promise<string> {
  const created = await app.inject({ method: 'POST', url: '/evaluate', headers, payload: { inquiries: INQUIRIES, models: ['retrieval', 'handoff'], scorer: 'heuristic', ...body } });
  if (created.statusCode !== 202) throw new Error(`POST /evaluate: ${created.statusCode} ${created.body}`);
  const runId = created.json().run_id as string;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject({ url: `/evaluate/${runId}`, headers })).json();
    if (run.status === 'completed') return runId;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Each model's answer to an item, from the run's own results. */
function answerOf(reportsDir: string, runId: string): (itemId: string, alias: string) => string {
  const lines = readFileSync(join(reportsDir, 'runs', runId, 'results.jsonl'), 'utf8').split('\n').filter(Boolean);
  const results = lines.map((line) => JSON.parse(line) as { item_id: string; model_alias: string; answer: string | null });
  return (itemId, alias) => results.find((result) => result.item_id === itemId && result.model_alias === alias)?.answer as string;
}

const MODELS = ['retrieval', 'handoff'];
/** The key a rater sees a model's answer under, when every model answered: its place in the blind order. */
const keyOf = (runId: string, itemId: string, rater: string, alias: string) => ['A', 'B', 'C', 'D'][blindOrder(runId, itemId, rater, MODELS).indexOf(alias)] as string;

const ratingsFile = (reportsDir: string, runId: string) => join(reportsDir, 'runs', runId, 'ratings.jsonl');
const fileLines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)) : []);

t.test('blinded items: keys instead of models, an order of its own per rater and item, the same on every reload', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app);

  const refused = await app.inject(`/evaluate/${runId}/rating-items`);
  t.equal(refused.statusCode, 400, 'without keys, a rater must be named');
  t.equal(refused.json().error.code, 'rater_required');

  const page = await app.inject(`/evaluate/${runId}/rating-items?rater=alice`);
  t.equal(page.statusCode, 200);
  const body = page.json();
  t.equal(body.rater, 'alice', 'the reply says who the items are for');
  t.equal(body.total, 5);
  t.equal(body.rated, 0);
  t.equal(body.first_unrated, 1, 'nothing rated: resume at the first item');
  t.equal(body.next_cursor, null);
  t.same(body.items.map((item: { item_id: string; position: number }) => [item.item_id, item.position]), INQUIRIES.map((item, at) => [item.id, at + 1]));
  t.match(body.items[0], { inquiry: INQUIRIES[0]?.inquiry, reference: INQUIRIES[0]?.reference, category: null, rating: null });
  for (const item of body.items) t.same(item.answers.map((answer: { key: string }) => answer.key), ['A', 'B']);
  t.notMatch(page.body, /retrieval|handoff|bm25|model/, 'neither an alias nor a model id is in the reply');

  const again = await app.inject(`/evaluate/${runId}/rating-items?rater=alice`);
  t.equal(again.body, page.body, 'a reload shows the same order');

  const answer = answerOf(reportsDir, runId);
  const texts = (items: { answers: { text: string }[] }[]) => items.map((item) => item.answers.map((shown) => shown.text));
  const order = (rater: string) => INQUIRIES.map((item) => blindOrder(runId, item.id, rater, MODELS));
  t.same(texts(body.items), order('alice').map((aliases, at) => aliases.map((alias) => answer(INQUIRIES[at]?.id as string, alias))), 'the answers in the seeded order of (run, item, rater)');
  const bob = (await app.inject(`/evaluate/${runId}/rating-items?rater=bob`)).json().items;
  t.same(texts(bob), order('bob').map((aliases, at) => aliases.map((alias) => answer(INQUIRIES[at]?.id as string, alias))));
  t.notSame(order('bob'), order('alice'), 'another rater sees another order');
  // Over the run's five items one model could come first every time (1 chance in 16); over 40 item ids it cannot, but by a
  // broken shuffle.
  const firsts = new Set(Array.from({ length: 40 }, (_, at) => blindOrder(runId, `item_${at}`, 'alice', MODELS)[0]));
  t.same([...firsts].sort(), [...MODELS].sort(), 'either model can be A');

  const paged = await app.inject(`/evaluate/${runId}/rating-items?rater=alice&limit=2`);
  t.same(paged.json().items.map((item: { position: number }) => item.position), [1, 2]);
  t.equal(paged.json().next_cursor, '2');
  const next = (await app.inject(`/evaluate/${runId}/rating-items?rater=alice&limit=2&cursor=2`)).json();
  t.same(next.items.map((item: { position: number }) => item.position), [3, 4]);
  const last = (await app.inject(`/evaluate/${runId}/rating-items?rater=alice&limit=2&cursor=${next.next_cursor}`)).json();
  t.same(last.items.map((item: { position: number }) => item.position), [5]);
  t.equal(last.next_cursor, null);
  t.equal((await app.inject(`/evaluate/${runId}/rating-items?rater=alice&limit=0`)).statusCode, 400);
  t.equal((await app.inject(`/evaluate/${runId}/rating-items?rater=${encodeURIComponent(' alice')}`)).statusCode, 400, 'a name may not start with a space');
  t.equal((await app.inject(`/evaluate/${runId}/rating-items?rater=${encodeURIComponent('a:b')}`)).statusCode, 400);
  t.equal((await app.inject(`/evaluate/${runId}/rating-items?rater=${encodeURIComponent('Zoë Ö.-_ 2')}`)).statusCode, 200, 'letters of any script, digits, space . _ -');
  t.equal((await app.inject('/evaluate/run_20261124T235900Z_ab12cd/rating-items?rater=alice')).json().error.code, 'run_not_found');
});

t.test("first_unrated says where a rater left off, and a cursor of the position before it resumes there", async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app);
  const page = (query = '') => app.inject(`/evaluate/${runId}/rating-items?rater=alice${query}`).then((reply) => reply.json());
  const rate = (itemId: string) =>
    app.inject({ method: 'POST', url: `/evaluate/${runId}/ratings`, payload: { rater: 'alice', item_id: itemId, answers: { A: levels(3), B: levels(4) } } });
  for (const item of [INQUIRIES[0], INQUIRIES[1], INQUIRIES[3]]) t.equal((await rate(item?.id as string)).statusCode, 201);
  const rated = await page();
  t.match(rated, { rated: 3, total: 5, first_unrated: 3 }, 'items 1, 2 and 4 rated: item 3 is where to go on');
  const resumed = await page(`&cursor=${rated.first_unrated - 1}&limit=1`);
  t.same(resumed.items.map((item: { item_id: string; position: number }) => [item.item_id, item.position]), [[INQUIRIES[2]?.id, 3]], 'a page that starts with it');
  for (const item of [INQUIRIES[2], INQUIRIES[4]]) await rate(item?.id as string);
  t.match(await page(), { rated: 5, first_unrated: null }, 'all rated: nowhere left to resume');
  t.equal((await page()).rater, 'alice');
  t.match(await app.inject(`/evaluate/${runId}/rating-items?rater=bob`).then((reply) => reply.json()), { rated: 0, first_unrated: 1 }, "another rater's place is their own");
});

t.test('a rating is mapped back to the models, stored before the reply, revised by posting again, and refused when it does not fit the item', async (t) => {
  const secret = 'sk-test-rating-secret-0123456789';
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: secret });
  const runId = await completedRun(app);
  const items = (await app.inject(`/evaluate/${runId}/rating-items?rater=alice`)).json().items as { item_id: string; answers: { key: string; text: string }[] }[];
  const [first, second] = items as [(typeof items)[number], (typeof items)[number]];
  const key = (alias: string) => keyOf(runId, first.item_id, 'alice', alias);
  const rateFirst = (extra: object = {}) =>
    app.inject({
      method: 'POST',
      url: `/evaluate/${runId}/ratings`,
      payload: {
        rater: 'alice',
        item_id: first.item_id,
        answers: { [key('retrieval')]: levels(5), [key('handoff')]: levels(1) },
        preference: key('retrieval'),
        comment: `the hand-off says nothing; ${secret}`,
        ...extra,
      },
    });
  const created = await rateFirst();
  t.equal(created.statusCode, 201, 'a first rating');
  const onDisk = fileLines(ratingsFile(reportsDir, runId));
  t.equal(onDisk.length, 1, 'the rating is in ratings.jsonl when the reply arrives');
  t.match(onDisk[0], {
    run_id: runId,
    rater: 'alice',
    item_id: first.item_id,
    scores: { retrieval: { ...levels(5), weighted: 5 }, handoff: { ...levels(1), weighted: 1 } },
    preference: 'retrieval',
  });
  t.same(Object.keys(onDisk[0].scores), ['retrieval', 'handoff'], "stored in the run's order of models, whatever the rater saw");
  t.notMatch(readFileSync(ratingsFile(reportsDir, runId), 'utf8'), secret, 'a secret in a comment never reaches the disk');
  const reply = created.json();
  t.same(Object.keys(reply).sort(), ['answers', 'comment', 'item_id', 'preference', 'rated_at', 'rater']);
  t.equal(reply.preference, key('retrieval'), 'the reply speaks in keys');
  t.same(reply.answers[key('handoff')], { ...levels(1), weighted: 1 });
  t.equal(reply.comment, 'the hand-off says nothing; [redacted]');
  t.notMatch(created.body, /retrieval|handoff/);

  const revised = await rateFirst({ answers: { [key('retrieval')]: levels(4), [key('handoff')]: levels(2) }, preference: 'tie', comment: null });
  t.equal(revised.statusCode, 200, 'posting again revises');
  t.equal(fileLines(ratingsFile(reportsDir, runId)).length, 2, 'appended, never rewritten');

  const mine = (await app.inject(`/evaluate/${runId}/rating-items?rater=alice`)).json();
  t.equal(mine.rated, 1);
  t.equal(mine.first_unrated, 2, 'the first item rated: resume at the second');
  t.match(mine.items[0].rating, { rater: 'alice', preference: 'tie', comment: null, answers: { [key('retrieval')]: levels(4) } }, 'the last one wins');
  t.equal((await app.inject(`/evaluate/${runId}/rating-items?rater=bob`)).json().items[0].rating, null, "another rater's items are their own");

  const refusals: Array<[string, object, number, ErrorCode | 'validation_error']> = [
    ['an unknown item', { item_id: 'nope', answers: { A: levels(3) } }, 400, 'unknown_item'],
    ['one answer of two', { answers: { A: levels(3) } }, 400, 'answer_keys_mismatch'],
    ['a key the item does not have', { answers: { A: levels(3), B: levels(3), C: levels(3) } }, 400, 'answer_keys_mismatch'],
    ['a preference the item does not have', { answers: { A: levels(3), B: levels(3) }, preference: 'D' }, 400, 'answer_keys_mismatch'],
    ['a level of 6', { answers: { A: levels(6), B: levels(3) } }, 400, 'validation_error'],
    ['a level of 0', { answers: { A: levels(0), B: levels(3) } }, 400, 'validation_error'],
    ['half a level', { answers: { A: { ...levels(3), accuracy: 2.5 }, B: levels(3) } }, 400, 'validation_error'],
    ['a criterion left out', { answers: { A: { accuracy: 3, actionability: 3, completeness: 3 }, B: levels(3) } }, 400, 'validation_error'],
    ['a comment over 2,000 characters', { answers: { A: levels(3), B: levels(3) }, comment: 'x'.repeat(2001) }, 400, 'validation_error'],
    ['no rater', { rater: undefined, answers: { A: levels(3), B: levels(3) } }, 400, 'rater_required'],
    ['an unknown field', { answers: { A: levels(3), B: levels(3) }, model: 'retrieval' }, 400, 'validation_error'],
  ];
  for (const [what, change, status, code] of refusals) {
    const refused = await app.inject({ method: 'POST', url: `/evaluate/${runId}/ratings`, payload: { rater: 'alice', item_id: second.item_id, answers: {}, ...change } });
    t.equal(refused.statusCode, status, what);
    t.equal(refused.json().error.code, code, what);
  }
  t.equal(fileLines(ratingsFile(reportsDir, runId)).length, 2, 'nothing refused was stored');
  const missing = await app.inject({ method: 'POST', url: '/evaluate/run_20261124T235900Z_ab12cd/ratings', payload: { rater: 'alice', item_id: 'x', answers: { A: levels(3) } } });
  t.equal(missing.json().error.code, 'run_not_found');

  const unblinded = (await app.inject(`/evaluate/${runId}/ratings`)).json();
  t.same(unblinded.ratings, [
    {
      rater: 'alice',
      item_id: first.item_id,
      scores: { retrieval: { ...levels(4), weighted: 4 }, handoff: { ...levels(2), weighted: 2 } },
      preference: 'tie',
      comment: null,
      rated_at: fileLines(ratingsFile(reportsDir, runId))[1].rated_at,
    },
  ]);
});

t.test('the ratings as CSV: a row per rating and model, formulas neutralised', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app);
  for (const rater of ['=cmd|calc', 'bob']) {
    const item = (await app.inject(`/evaluate/${runId}/rating-items?rater=${encodeURIComponent(rater === 'bob' ? 'bob' : 'mallory')}`)).json().items[1];
    await app.inject({
      method: 'POST',
      url: `/evaluate/${runId}/ratings`,
      payload: { rater: rater === 'bob' ? 'bob' : 'mallory', item_id: item.item_id, answers: { A: levels(3), B: levels(4) }, preference: 'B', comment: rater },
    });
  }
  const reply = await app.inject(`/evaluate/${runId}/ratings.csv`);
  t.equal(reply.statusCode, 200);
  t.match(reply.headers['content-type'], /^text\/csv/);
  t.match(reply.headers['content-disposition'], `attachment; filename="${runId}-ratings.csv"`);
  const rows = parse(reply.body, { columns: true }) as Record<string, string>[];
  t.equal(reply.body.split('\n')[0], 'run_id,item_id,rater,model_alias,model_id,shown_as,accuracy,actionability,completeness,safety_tone,weighted,preferred,preference,comment,rated_at');
  t.equal(rows.length, 4, 'two ratings of two answers each');
  t.same(rows.map((row) => [row.rater, row.model_alias]), [
    ['bob', 'retrieval'],
    ['bob', 'handoff'],
    ['mallory', 'retrieval'],
    ['mallory', 'handoff'],
  ]);
  t.ok(rows.every((row) => ['A', 'B'].includes(row.shown_as as string)));
  t.same(rows.filter((row) => row.preferred === 'true').map((row) => row.shown_as), ['B', 'B'], 'the preferred answer is the one shown as B');
  t.equal(rows.find((row) => row.rater === 'mallory')?.comment, "'=cmd|calc", 'a formula in a comment is neutralised');
  t.equal((await app.inject('/evaluate/run_20261124T235900Z_ab12cd/ratings.csv')).statusCode, 404);
});

t.test('an item some model failed on shows the answers there are; a run without answers is 409', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app);
  const source = join(reportsDir, 'runs', runId);

  // A copy of the run in which handoff failed on ret-2 (its answer never came).
  const failedId = `${runId}f`;
  const failed = join(reportsDir, 'runs', failedId);
  cpSync(source, failed, { recursive: true });
  const results = readFileSync(join(failed, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  writeFileSync(
    join(failed, 'results.jsonl'),
    results
      .map((result) =>
        result.item_id === 'ret-2' && result.model_alias === 'handoff'
          ? { ...result, run_id: failedId, answer: null, scores: null, outcome: 'failed', error: { stage: 'answer', code: 'upstream_error', message: 'The upstream failed.' } }
          : { ...result, run_id: failedId },
      )
      .map((result) => `${JSON.stringify(result)}\n`)
      .join(''),
  );
  writeFileSync(join(failed, 'run.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(source, 'run.json'), 'utf8')), run_id: failedId }));
  const item = (await app.inject(`/evaluate/${failedId}/rating-items?rater=alice`)).json().items[1];
  t.equal(item.item_id, 'ret-2');
  t.equal(item.answers.length, 1, 'one answer, the one there is');
  t.equal(item.answers[0].key, 'A', 'and no gap shows where the other failed');
  t.match(item.answers[0].text, /.+/);
  const rated = await app.inject({ method: 'POST', url: `/evaluate/${failedId}/ratings`, payload: { rater: 'alice', item_id: 'ret-2', answers: { A: levels(4) }, preference: 'A' } });
  t.equal(rated.statusCode, 201);
  t.same(Object.keys(fileLines(ratingsFile(reportsDir, failedId))[0].scores), ['retrieval']);

  // A copy still running, before any answer.
  const emptyId = `${runId}e`;
  const empty = join(reportsDir, 'runs', emptyId);
  cpSync(source, empty, { recursive: true });
  writeFileSync(join(empty, 'results.jsonl'), '');
  writeFileSync(join(empty, 'run.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(source, 'run.json'), 'utf8')), run_id: emptyId, status: 'running' }));
  const early = await app.inject(`/evaluate/${emptyId}/rating-items?rater=alice`);
  t.equal(early.statusCode, 409);
  t.equal(early.json().error.code, 'no_answers_yet');
  const earlyPost = await app.inject({ method: 'POST', url: `/evaluate/${emptyId}/ratings`, payload: { rater: 'alice', item_id: 'ret-1', answers: { A: levels(4) } } });
  t.equal(earlyPost.json().error.code, 'no_answers_yet');
});

t.test('with SERVICE_API_KEYS the rater is the key: its label, or a hash of it; another name is refused, and no key is ever shown', async (t) => {
  const { app, reportsDir, rawLogs } = await buildTestApp(t, { OPENAI_API_KEY: '', SERVICE_API_KEYS: `alice:${KEY_A}, ${KEY_B}` });
  const runId = await completedRun(app, {}, bearer(KEY_A));
  const bLabel = `key-${createHash('sha256').update(KEY_B).digest('hex').slice(0, 8)}`;

  t.equal((await app.inject(`/evaluate/${runId}/rating-items`)).statusCode, 401, 'a key is still needed');
  const asAlice = await app.inject({ url: `/evaluate/${runId}/rating-items`, headers: bearer(KEY_A) });
  t.equal(asAlice.statusCode, 200, 'the key names the rater');
  t.equal(asAlice.json().rater, 'alice', "and the reply says so: the key's label, for the rating page to show");
  t.equal((await app.inject({ url: `/evaluate/${runId}/rating-items?rater=alice`, headers: bearer(KEY_A) })).statusCode, 200, 'its own name is fine');
  const mismatch = await app.inject({ url: `/evaluate/${runId}/rating-items?rater=bob`, headers: bearer(KEY_A) });
  t.equal(mismatch.statusCode, 403);
  t.same(mismatch.json().error, { code: 'rater_mismatch', message: "This API key rates as 'alice'; leave `rater` out, or send 'alice'.", details: { rater: 'alice' } });

  const item = asAlice.json().items[0];
  const post = (key: string, rater?: string) =>
    app.inject({ method: 'POST', url: `/evaluate/${runId}/ratings`, headers: bearer(key), payload: { rater, item_id: item.item_id, answers: { A: levels(3), B: levels(4) } } });
  t.equal((await post(KEY_A, 'mallory')).statusCode, 403, 'a key cannot rate under another name');
  t.equal((await post(KEY_A)).statusCode, 201);
  const asB = await app.inject({ url: `/evaluate/${runId}/rating-items`, headers: bearer(KEY_B) });
  const itemForB = asB.json().items[0];
  const posted = await app.inject({
    method: 'POST',
    url: `/evaluate/${runId}/ratings`,
    headers: bearer(KEY_B),
    payload: { item_id: itemForB.item_id, answers: { A: levels(2), B: levels(2) } },
  });
  t.equal(posted.statusCode, 201);
  t.equal(posted.json().rater, bLabel, 'an unlabelled key rates as key- and 8 hex digits of its hash');

  const ratings = (await app.inject({ url: `/evaluate/${runId}/ratings`, headers: bearer(KEY_B) })).json().ratings;
  t.same(ratings.map((rating: { rater: string }) => rating.rater), ['alice', bLabel]);
  for (const text of [readFileSync(ratingsFile(reportsDir, runId), 'utf8'), JSON.stringify(ratings), rawLogs()]) {
    t.notMatch(text, KEY_A);
    t.notMatch(text, KEY_B);
  }
});

t.test('SERVICE_API_KEYS entries may carry a label; every key rule still holds, and no message quotes a key', async (t) => {
  const config = loadConfig({ SERVICE_API_KEYS: ` alice:${KEY_A} , ${KEY_B}, Zoë Ö:${KEY_A.replace('alpha', 'gamma')} ` });
  t.same(config.SERVICE_API_KEYS, [KEY_A, KEY_B, KEY_A.replace('alpha', 'gamma')], 'the keys, without their labels');
  t.same(config.serviceKeyLabels, ['alice', `key-${createHash('sha256').update(KEY_B).digest('hex').slice(0, 8)}`, 'Zoë Ö']);
  t.same(loadConfig({}).serviceKeyLabels, []);
  t.same(loadConfig({ SERVICE_API_KEYS: `alice:${KEY_A},alice:${KEY_B}` }).serviceKeyLabels, ['alice', 'alice'], 'two keys of one rater (a rotation)');
  for (const [entry, message] of [
    [`bad/label:${KEY_A}`, /the label of entry 1 \(before its ':'\) must be 1 to 64 letters/],
    [`:${KEY_A}`, /the label of entry 1/],
    [`${'x'.repeat(65)}:${KEY_A}`, /the label of entry 1/],
    ['alice:short', /every key must be at least 16/],
    [`alice:${KEY_A}:extra`, /every key must be at least 16/],
  ] as const) {
    const error = t.throws(() => loadConfig({ SERVICE_API_KEYS: entry }), { name: 'ConfigError', message }) as Error;
    t.notMatch(error.message, KEY_A, 'the key is not quoted');
    t.notMatch(error.message, 'short');
  }
});

t.test('the documented examples of the rating errors are what the service answers', async (t) => {
  const open = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(open.app);
  const exampleRun = 'run_20261124T235900Z_ab12cd';
  const normalised = (body: unknown) =>
    JSON.stringify(body)
      .replace(/run_[A-Za-z0-9_]+/g, 'run_…')
      .replace(/item-\d+|ret-\d+/g, 'item-…');
  const post = (payload: object) => open.app.inject({ method: 'POST', url: `/evaluate/${runId}/ratings`, payload });
  const keyed = await buildTestApp(t, { OPENAI_API_KEY: '', SERVICE_API_KEYS: `alice:${KEY_A}` });
  const keyedRun = await completedRun(keyed.app, {}, bearer(KEY_A));

  const emptyId = `${runId}e`;
  cpSync(join(open.reportsDir, 'runs', runId), join(open.reportsDir, 'runs', emptyId), { recursive: true });
  writeFileSync(join(open.reportsDir, 'runs', emptyId, 'results.jsonl'), '');
  writeFileSync(join(open.reportsDir, 'runs', emptyId, 'run.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(open.reportsDir, 'runs', runId, 'run.json'), 'utf8')), run_id: emptyId }));

  const replies: Array<[ErrorCode, { statusCode: number; json(): unknown }]> = [
    ['rater_required', await open.app.inject(`/evaluate/${runId}/rating-items`)],
    ['unknown_item', await post({ rater: 'alice', item_id: 'item-99', answers: { A: levels(3) } })],
    ['answer_keys_mismatch', await post({ rater: 'alice', item_id: 'ret-1', answers: { A: levels(3) } })],
    ['rater_mismatch', await keyed.app.inject({ url: `/evaluate/${keyedRun}/rating-items?rater=bob`, headers: bearer(KEY_A) })],
    ['no_answers_yet', await open.app.inject(`/evaluate/${emptyId}/rating-items?rater=alice`)],
  ];
  for (const [code, reply] of replies) {
    t.equal(reply.statusCode, ERROR_CODES[code].status, `${code}: status`);
    t.equal(normalised(reply.json()), normalised((ERROR_EXAMPLES as Record<string, { toBody(): unknown }>)[code]?.toBody()), `${code}: the example is the reply`);
  }
  t.ok(exampleRun);
});

t.test('generated malformed ratings and queries: never a 5xx, always the error shape, nothing invalid stored', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app);
  const nasty = fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constantFrom('', ' ', '\u0000', '\uD800', '=cmd', '__proto__', 'tie', 'A', 'ret-1', 'x'.repeat(2001)));
  const anything = fc.oneof(fc.anything({ maxDepth: 3 }), nasty, fc.double(), fc.integer(), fc.constant(null));
  const level = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double(), anything);
  const levels = fc.oneof(fc.record({ accuracy: level, actionability: level, completeness: level, safety_tone: level }, { requiredKeys: [] }), anything);
  const body = fc.record(
    {
      rater: fc.oneof(fc.constantFrom('alice', 'bob'), nasty, anything),
      item_id: fc.oneof(fc.constantFrom(...INQUIRIES.map((item) => item.id)), nasty),
      answers: fc.oneof(fc.record({ A: levels, B: levels, C: levels }, { requiredKeys: [] }), anything),
      preference: fc.oneof(fc.constantFrom('A', 'B', 'C', 'tie', null), anything),
      comment: fc.oneof(nasty, anything),
    },
    { requiredKeys: [] },
  );
  const seen = new Map<number, number>();
  const check = (reply: { statusCode: number; body: string }, what: string) => {
    seen.set(reply.statusCode, (seen.get(reply.statusCode) ?? 0) + 1);
    if (reply.statusCode >= 500) throw new Error(`${what}: ${reply.statusCode} ${reply.body.slice(0, 300)}`);
    if (reply.statusCode >= 400) {
      const error = (JSON.parse(reply.body) as { error?: { code?: unknown; message?: unknown } }).error;
      if (typeof error?.code !== 'string' || typeof error.message !== 'string') throw new Error(`${what}: not the error shape: ${reply.body.slice(0, 200)}`);
    }
  };
  await fc.assert(
    fc.asyncProperty(body, async (payload) => check(await app.inject({ method: 'POST', url: `/evaluate/${runId}/ratings`, payload }), JSON.stringify(payload).slice(0, 200))),
    { numRuns: 400 },
  );
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.constantFrom('rater', 'cursor', 'limit', 'x'), nasty, { maxKeys: 3 }), async (query) =>
      check(await app.inject({ url: `/evaluate/${runId}/rating-items`, query }), JSON.stringify(query)),
    ),
    { numRuns: 300 },
  );
  t.ok((seen.get(400) ?? 0) > 100, `statuses ${JSON.stringify(Object.fromEntries(seen))}`);
  for (const stored of fileLines(ratingsFile(reportsDir, runId))) {
    for (const scores of Object.values(stored.scores) as Record<string, number>[]) {
      t.ok(['accuracy', 'actionability', 'completeness', 'safety_tone'].every((criterion) => Number.isInteger(scores[criterion]) && scores[criterion]! >= 1 && scores[criterion]! <= 5));
    }
  }
});

t.test('ratings posted at once: each one stored whole, none lost, and the summary files count them all', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app);
  const raters = ['alice', 'bob', 'carol', 'dave'];
  const replies = await Promise.all(
    raters.flatMap((rater) =>
      INQUIRIES.map((item) =>
        app.inject({ method: 'POST', url: `/evaluate/${runId}/ratings`, payload: { rater, item_id: item.id, answers: { A: levels(4), B: levels(2) }, preference: 'A', comment: 'é…'.repeat(400) } }),
      ),
    ),
  );
  t.same([...new Set(replies.map((reply) => reply.statusCode))], [201]);
  const text = readFileSync(ratingsFile(reportsDir, runId), 'utf8');
  t.ok(text.endsWith('\n'));
  t.equal(fileLines(ratingsFile(reportsDir, runId)).length, 20, 'every line whole and parsable');
  const summary = (await app.inject(`/evaluate/${runId}`)).json().summary;
  t.equal(summary.human.ratings, 20);
  t.equal(JSON.parse(readFileSync(join(reportsDir, 'runs', runId, 'summary.json'), 'utf8')).human.ratings, 20);
});
