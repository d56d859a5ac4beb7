/**
 * GET /evaluate/{run_id}/items: a run's results as JSON, an item at a time with the models side by side, for the
 * report page; and the headline gains GET /evaluate lists with each ended run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { readItemsPage, type ItemsPage } from '../src/runs/run-items.js';
import type { PairwiseResult, RunItem, RunResult } from '../src/runs/run-result.js';
import { createFileRunStore, createRunFiles, runFiles } from '../src/runs/file-store.js';
import type { RunRecord } from '../src/runs/run-store.js';
import { DEFAULT_RUBRIC_WEIGHTS, RUBRIC_SCORES_EXAMPLE, type RubricScores } from '../src/scoring/rubric.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

const KEY = 'sk-test-items-key-0123456789';
const trainingInquiry = (line: number) =>
  (JSON.parse(readFileSync('data/amazon_electronics_adapted_train.jsonl', 'utf8').split('\n')[line - 1] as string).messages[1].content as string).replace(
    /^Inquiry: "|"$/g,
    '',
  );

async function completedRun(app: FastifyInstance, body: object): Promise<string> {
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (created.statusCode !== 202) throw new Error(`POST /evaluate: ${created.statusCode} ${created.body}`);
  const { run_id: runId } = created.json() as { run_id: string };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject(`/evaluate/${runId}`)).json() as { status: string };
    if (!['queued', 'running'].includes(run.status)) return runId;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pageOf = async (app: FastifyInstance, runId: string, query = '') => {
  const reply = await app.inject(`/evaluate/${runId}/items${query}`);
  if (reply.statusCode !== 200) throw new Error(`GET items${query}: ${reply.statusCode} ${reply.body}`);
  return reply.json() as ItemsPage;
};

const INQUIRIES = [
  { id: 'return-tv', inquiry: 'How long do I have to return a TV?', reference: 'Most electronics can be returned within 30 days of delivery; start in Your Orders.', category: 'returns' },
  { id: 'track', inquiry: trainingInquiry(3), reference: "Go to 'Your Orders', find the order, then select 'Track package'.", category: 'orders' },
  { id: 'pair', inquiry: 'my bluetoth headphones wont pair with my phone', reference: 'Turn Bluetooth off and on, forget the device, then pair again in Settings > Bluetooth.', category: 'troubleshooting' },
  { id: 'refund', inquiry: 'How long does a refund to my card take?', reference: 'Refunds to a card usually take 3 to 5 business days after the return is processed.', category: 'returns' },
  { id: 'cake', inquiry: 'How do I bake a chocolate cake?' },
];

t.test("a run's items, the models side by side, each result with its row in results.csv", async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app, { inquiries: INQUIRIES, models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  const page = await pageOf(app, runId);

  t.same(page.models.map((model) => model.alias), ['retrieval', 'handoff']);
  t.equal(page.versus, 'handoff', 'differences are sorted against the second model by default');
  t.match(page, { total_items: 5, matched: 5, offset: 0, limit: 25, next_cursor: null });
  t.same(page.items.map((item) => [item.position, item.item_id]), INQUIRIES.map((entry, index) => [index + 1, entry.id]), "in the run's order");
  const tv = page.items[0];
  t.match(tv, { inquiry: INQUIRIES[0]?.inquiry, reference: INQUIRIES[0]?.reference, category: 'returns', in_training: 'none' });
  t.same(tv?.results.map((result) => result?.model_alias), ['retrieval', 'handoff'], 'a result per model, in the run’s order');
  t.match(tv?.results[0], { outcome: 'scored', answer: /\w+/, scores: { accuracy: Number, actionability: Number, completeness: Number, safety_tone: Number, weighted: Number, rationale: { accuracy: String } } });
  t.match(page.items[1], { item_id: 'track', in_training: 'exact', flags: { in_training: true } });

  for (const item of page.items) {
    const [first, second] = item.results;
    const expected = first?.scores?.weighted != null && second?.scores?.weighted != null ? first.scores.weighted - second.scores.weighted : null;
    t.equal(item.differences[0]?.weighted, expected, `${item.item_id}: the difference is retrieval's weighted score minus handoff's`);
  }
  t.equal(page.items[4]?.differences[0]?.weighted, null, 'no reference: no weighted score, so no difference');

  // Every result's csv_row is its row in results.csv as a spreadsheet numbers it (the header is row 1).
  const rows = parse((await app.inject(`/evaluate/${runId}/results.csv`)).body, { columns: true }) as Record<string, string>[];
  const results = page.items.flatMap((item) => item.results.flatMap((result) => (result ? [result] : [])));
  t.equal(results.length, 10);
  t.same(results.map((result) => result.csv_row).toSorted((a, b) => a - b), Array.from({ length: 10 }, (_, index) => index + 2), 'rows 2 to 11, each once');
  for (const result of results) {
    const row = rows[result.csv_row - 2];
    const owner = page.items.find((item) => item.results.includes(result));
    t.same([row?.item_id, row?.model_alias, row?.answer], [owner?.item_id, result.model_alias, result.answer], `row ${result.csv_row} of results.csv is this result`);
  }

  t.same(page.facets.categories, [
    { category: 'orders', items: 1 },
    { category: 'returns', items: 2 },
    { category: 'troubleshooting', items: 1 },
  ]);
  t.match(page.facets.flags, { in_training: 2, exact: 1, near: 1, failed: 0, unsafe: 0, order_inconsistent: 0, pending: 0 });
});

t.test('pages, filters, search and sorting by the difference', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app, { inquiries: INQUIRIES, models: ['retrieval', 'handoff'], scorer: 'heuristic' });

  const first = await pageOf(app, runId, '?limit=2');
  t.same(first.items.map((item) => item.item_id), ['return-tv', 'track']);
  t.equal(first.next_cursor, '2');
  const second = await pageOf(app, runId, `?limit=2&cursor=${first.next_cursor}`);
  const third = await pageOf(app, runId, `?limit=2&cursor=${second.next_cursor}`);
  t.same([...second.items, ...third.items].map((item) => item.item_id), ['pair', 'refund', 'cake'], 'the next pages hold the rest, none twice');
  t.equal(third.next_cursor, null, 'the last page says so');
  t.same((await pageOf(app, runId, '?cursor=40')).items, [], 'past the end: an empty page');

  t.same((await pageOf(app, runId, '?flag=exact')).items.map((item) => item.item_id), ['track'], 'flag=exact: the training copy');
  t.same((await pageOf(app, runId, '?flag=in_training')).items.map((item) => item.item_id), ['track', 'pair'], 'flag=in_training: exact and near copies');
  t.same((await pageOf(app, runId, '?flag=unsafe')).items, [], 'flag=unsafe: none here');
  const returns = await pageOf(app, runId, '?category=returns');
  t.same(returns.items.map((item) => item.item_id), ['return-tv', 'refund']);
  t.equal(returns.matched, 2);
  t.equal(returns.total_items, 5);

  t.same((await pageOf(app, runId, '?q=CHOCOLATE')).items.map((item) => item.item_id), ['cake'], 'the inquiry, case-insensitive');
  t.same((await pageOf(app, runId, '?q=3%20to%205%20business')).items.map((item) => item.item_id), ['refund'], 'the reference');
  const answer = (await pageOf(app, runId, '?q=cake')).items[0]?.results[1]?.answer as string;
  const words = answer.split(/\s+/).slice(2, 5).join(' ');
  t.ok((await pageOf(app, runId, `?q=${encodeURIComponent(words.toUpperCase())}`)).items.length >= 1, `an answer's text ("${words}")`);
  t.same((await pageOf(app, runId, '?q=no-such-text-anywhere')).items, []);

  const down = await pageOf(app, runId, '?sort=difference_desc');
  const differences = down.items.map((item) => item.differences[0]?.weighted ?? null);
  const known = differences.filter((value) => value !== null);
  t.ok(known.length >= 2, `some items have a difference (${JSON.stringify(differences)})`);
  t.same(known, known.toSorted((a, b) => b - a), 'largest first');
  t.same(differences.slice(known.length), differences.filter((value) => value === null), 'items without one come last');
  const up = await pageOf(app, runId, '?sort=difference_asc');
  t.same(up.items.map((item) => item.differences[0]?.weighted ?? null).filter((value) => value !== null), known.toReversed(), 'smallest first');

  for (const [query, field] of [
    ['?limit=0', 'limit'],
    ['?limit=101', 'limit'],
    ['?cursor=abc', 'cursor'],
    ['?flag=nope', 'flag'],
    ['?sort=nope', 'sort'],
    ['?versus=retrieval', 'versus'],
    ['?versus=baseline', 'versus'],
    ['?nope=1', 'nope'],
  ] as const) {
    const reply = await app.inject(`/evaluate/${runId}/items${query}`);
    t.equal(reply.statusCode, 400, query);
    t.equal(reply.json().error.code, 'validation_error', query);
    t.match(reply.json().error.message, field, query);
  }
  t.match((await app.inject(`/evaluate/${runId}/items?versus=retrieval`)).json().error.message, /one of: handoff/, 'the message names the models there are');
  t.equal((await app.inject('/evaluate/run_20990101T000000Z_abcdef/items')).json().error.code, 'run_not_found');
});

t.test('failed and unsafe answers are flagged, and a third model can be sorted against', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    answer: (request) =>
      request.userText.includes('password')
        ? 'Sure. Reply with your account password and the full card number with its CVV so that we can check the order.'
        : "Go to 'Your Orders', select the item and choose 'Return or replace items'.",
    behaviour: (request) => (request.userText.includes('broken') ? { status: 400 } : undefined),
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const runId = await completedRun(app, {
    inquiries: [
      { id: 'login', inquiry: 'I forgot my password, can you check my order?', reference: 'Reset the password on the sign-in page; never share it.' },
      { id: 'broken', inquiry: 'This broken request fails upstream', reference: 'Anything.' },
      { id: 'ok', inquiry: 'How do I return headphones?', reference: "Go to 'Your Orders' and choose 'Return or replace items'." },
    ],
    models: ['fine-tuned', 'retrieval', 'handoff'],
    scorer: 'heuristic',
  });
  const page = await pageOf(app, runId);
  t.match(page.facets.flags, { failed: 1, unsafe: 1 });
  const [login, broken] = page.items;
  t.match(login, { item_id: 'login', flags: { unsafe: true, failed: false } });
  t.ok(login?.results[0]?.unsafe, "the fine-tuned answer asking for the password is the unsafe one");
  t.ok((login?.results[0]?.scores?.safety_tone ?? 5) <= 2);
  t.match(broken, { item_id: 'broken', flags: { failed: true } });
  t.match(broken?.results[0], { outcome: 'failed', answer: null, scores: null, error: { stage: 'answer', code: 'upstream_error' } });
  t.same((await pageOf(app, runId, '?flag=failed')).items.map((item) => item.item_id), ['broken']);
  t.same((await pageOf(app, runId, '?flag=unsafe')).items.map((item) => item.item_id), ['login']);
  t.same(login?.differences.map((difference) => difference.second), ['retrieval', 'handoff'], 'the first model minus each other one');
  const versusHandoff = await pageOf(app, runId, '?sort=difference_desc&versus=handoff');
  t.equal(versusHandoff.versus, 'handoff');
  const byHandoff = versusHandoff.items.map((item) => item.differences[1]?.weighted ?? null).filter((value) => value !== null);
  t.same(byHandoff, byHandoff.toSorted((a, b) => b - a), 'sorted by the difference against the model asked for');
});

const scores = (weighted: number, safety = 5): RubricScores => ({ ...RUBRIC_SCORES_EXAMPLE, provenance: { ...RUBRIC_SCORES_EXAMPLE.provenance, weights: { ...DEFAULT_RUBRIC_WEIGHTS } }, rationale: { ...RUBRIC_SCORES_EXAMPLE.rationale }, weighted, safety_tone: safety });

t.test('judge order-inconsistent verdicts and unfinished items, from the run files of a pairwise run', async (t) => {
  const reportsDir = mkdtempSync(join(tmpdir(), 'run-items-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const record: RunRecord = {
    run_id: 'run_20260101T000000Z_abcdef',
    status: 'running',
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: null,
    finished_at: null,
    source: 'inline',
    models: [
      { alias: 'fine-tuned', model_id: 'ft:x' },
      { alias: 'baseline', model_id: 'gpt-x' },
    ],
    scorer: 'pairwise',
    concurrency: 1,
    weights: { ...DEFAULT_RUBRIC_WEIGHTS },
    judge_samples: 1,
    items: 3,
    error: null,
  };
  const item = (id: string): RunItem => ({ item_id: id, inquiry: `Inquiry ${id}`, reference: null, category: null, in_training: 'none', training_line: null, training_similarity: null });
  await createRunFiles(reportsDir, record, [item('a'), item('b'), item('c')]);
  const result = (id: string, alias: string, weighted: number | null): RunResult => ({
    ...item(id),
    run_id: record.run_id,
    model_alias: alias,
    model_id: alias,
    answer: `Answer of ${alias} to ${id}`,
    answer_status: 'completed',
    tokens_in: 1,
    tokens_out: 1,
    latency_ms: 1,
    cache_hit: false,
    scores: weighted === null ? null : scores(weighted),
    outcome: weighted === null ? 'unscored' : 'scored',
    error: null,
    finished_at: '2026-01-01T00:00:01.000Z',
  });
  const lines = [result('a', 'fine-tuned', 4), result('a', 'baseline', 3), result('b', 'fine-tuned', 2), result('b', 'baseline', 4), result('c', 'baseline', 3)];
  // A line cut short by a crash, and a result written twice: neither shifts the CSV rows of the others.
  writeFileSync(runFiles(reportsDir, record.run_id).results, `${[...lines, lines[0]].map((line) => JSON.stringify(line)).join('\n')}\n{"item_id":"c","model_al`);
  const aspects = (flip: boolean) => ({ accuracy: false, actionability: flip, completeness: false, safety_tone: false, overall: flip });
  const verdict = (id: string, flip: boolean): PairwiseResult => ({
    run_id: record.run_id,
    item_id: id,
    in_training: 'none',
    first: 'fine-tuned',
    second: 'baseline',
    verdict: {
      first: 'fine-tuned',
      second: 'baseline',
      preference: { accuracy: 'tie', actionability: 'tie', completeness: 'tie', safety_tone: 'tie', overall: flip ? 'tie' : 'first' },
      inconsistent: aspects(flip),
      orders: { first_as_a: aspects(false) as never, second_as_a: aspects(false) as never },
      rationale: `Rationale for ${id}`,
      samples: 1,
      provenance: RUBRIC_SCORES_EXAMPLE.provenance as never,
    },
    outcome: 'judged',
    error: null,
    finished_at: '2026-01-01T00:00:02.000Z',
  });
  writeFileSync(runFiles(reportsDir, record.run_id).verdicts, `${[verdict('a', false), verdict('b', true)].map((line) => JSON.stringify(line)).join('\n')}\n`);

  const read = (query: Partial<Parameters<typeof readItemsPage>[2]> = {}) => readItemsPage(createFileRunStore(reportsDir), record, { offset: 0, limit: 25, sort: 'position', ...query });
  const page = await read();
  t.match(page.facets.flags, { order_inconsistent: 1, pending: 1 });
  const [a, b, c] = page.items;
  t.match(a, { flags: { order_inconsistent: false, pending: false }, verdicts: [{ preference: 'first', inconsistent: [] }], differences: [{ weighted: 1 }] });
  t.match(b, { flags: { order_inconsistent: true }, verdicts: [{ preference: 'tie', inconsistent: ['actionability', 'overall'], rationale: 'Rationale for b' }], differences: [{ weighted: -2 }] });
  t.match(c, { flags: { pending: true }, differences: [{ weighted: null }] });
  t.equal(c?.results[0], null, 'the first model has not answered c yet');
  t.same(
    page.items.flatMap((entry) => entry.results.map((entry) => entry?.csv_row ?? null)),
    [2, 3, 4, 5, null, 6],
    'rows follow results.jsonl, a duplicate and a torn line not counted',
  );
  t.same((await read({ flag: 'order_inconsistent' })).items.map((entry) => entry.item_id), ['b']);
  t.same((await read({ flag: 'pending' })).items.map((entry) => entry.item_id), ['c']);
  t.same((await read({ q: 'rationale for b' })).items.map((entry) => entry.item_id), ['b'], "the judge's rationale is searched too");
  t.same((await read({ sort: 'difference_asc' })).items.map((entry) => entry.item_id), ['b', 'a', 'c']);
});

t.test('GET /evaluate lists each ended run with its headline gains', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app, { inquiries: INQUIRIES, models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  const single = await completedRun(app, { inquiries: ['Where is my order?'], models: ['retrieval'], scorer: 'heuristic' });
  const { runs } = (await app.inject('/evaluate')).json() as { runs: Array<{ run_id: string; headline: unknown }> };
  const { summary } = (await app.inject(`/evaluate/${runId}`)).json();
  const weighted = summary.unseen.comparisons[0].measures.weighted;
  t.same(runs.find((run) => run.run_id === runId)?.headline, {
    section: 'unseen',
    items: 3,
    partial: false,
    gains: [
      {
        first: 'retrieval',
        second: 'handoff',
        n_pairs: weighted.n_pairs,
        mean_difference: weighted.mean_difference,
        ci95: weighted.ci95_bootstrap ? { low: weighted.ci95_bootstrap.low, high: weighted.ci95_bootstrap.high, method: 'bootstrap' } : weighted.ci95_t && { ...weighted.ci95_t, method: 't' },
        text: summary.unseen.comparisons[0].headline,
      },
    ],
  }, "the summary's headline section and its weighted gain");
  t.match(runs.find((run) => run.run_id === single)?.headline, { section: 'all', gains: [] }, 'one model: no gain');
});
