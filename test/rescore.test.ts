import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { DEFAULT_JUDGE_MODEL_ID } from '../src/config.js';
import { storedAnswersOf } from '../src/runs/rescore.js';
import type { RunResult } from '../src/runs/run-result.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type RecordedRequest } from './helpers/fake-openai.js';

// POST /evaluate/{run_id}/rescore: a new run over an ended run's stored answers, with another scorer. No
// answering model is called: that is counted at the fake upstream, which sees every call the service makes.

const KEY = 'sk-test-rescore-key-0123456789';
const ENDED = ['completed', 'failed', 'cancelled'];
const STEPS = "Go to 'Your Orders', select the order, then choose 'Return or replace items'.";
const VAGUE = 'You may want to contact customer service.';

interface RunView {
  run_id: string;
  status: string;
  progress: { total: number; done: number; failed: number };
  [field: string]: unknown;
}

async function waitForRun(app: FastifyInstance, runId: string, until: (run: RunView) => boolean = (run) => ENDED.includes(run.status)): Promise<RunView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject(`/evaluate/${runId}`)).json() as RunView;
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} (${JSON.stringify(run.progress)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function finishedRun(app: FastifyInstance, body: object): Promise<RunView> {
  const reply = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (reply.statusCode !== 202) throw new Error(`POST /evaluate: ${reply.statusCode} ${reply.body}`);
  return waitForRun(app, (reply.json() as RunView).run_id);
}

const rescore = (app: FastifyInstance, runId: string, body: object) => app.inject({ method: 'POST', url: `/evaluate/${runId}/rescore`, payload: body });

async function rescored(app: FastifyInstance, runId: string, body: object): Promise<RunView> {
  const reply = await rescore(app, runId, body);
  if (reply.statusCode !== 202) throw new Error(`POST /evaluate/${runId}/rescore: ${reply.statusCode} ${reply.body}`);
  const created = reply.json() as RunView;
  if (reply.headers.location !== `/evaluate/${created.run_id}`) throw new Error(`Location: ${String(reply.headers.location)}`);
  return waitForRun(app, created.run_id);
}

const csvRows = (text: string) => parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
/** What a rescore keeps of each pair, by item and model: the answer as given, never asked again. */
const ANSWER_COLUMNS = ['item_id', 'model_alias', 'model', 'answer', 'answer_status', 'tokens_in', 'tokens_out', 'latency_ms', 'in_training', 'training_line'];
const answersOf = async (app: FastifyInstance, runId: string) =>
  csvRows((await app.inject(`/evaluate/${runId}/results.csv`)).body)
    .map((row) => Object.fromEntries(ANSWER_COLUMNS.map((column) => [column, row[column]])))
    .sort((a, b) => `${a.item_id}\u0000${a.model_alias}`.localeCompare(`${b.item_id}\u0000${b.model_alias}`));

const isJudgeCall = (request: RecordedRequest) => request.body.model === DEFAULT_JUDGE_MODEL_ID;
const verdict = {
  accuracy: { rationale: 'ok', score: 4 },
  actionability: { rationale: 'ok', score: 4 },
  completeness: { rationale: 'ok', score: 3 },
  safety_tone: { rationale: 'ok', score: 5 },
};
/** Pairwise: a blind judge that prefers whichever answer has the steps (the last ones shown: a reference comes first). */
const pairwiseVerdict = (request: RecordedRequest) => {
  const preference = request.userText.lastIndexOf(STEPS) > request.userText.indexOf('<answer_b>') ? 'B' : 'A';
  return Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone', 'overall'].map((aspect) => [aspect, { rationale: aspect, preference }]));
};

async function fakeUpstream(t: Test, env: Record<string, string> = {}) {
  const fake = await startFakeOpenAI({
    apiKey: KEY,
    answer: (request) => ((request.body.model as string).startsWith('ft:') ? STEPS : VAGUE),
    structured: (request, schema) => ('overall' in ((schema.properties as object | undefined) ?? {}) ? pairwiseVerdict(request) : verdict),
    // The answers to this item are refused upstream (a model the key may not use), every time.
    behaviour: (request) => (request.userText.includes('BROKEN') && !isJudgeCall(request) ? { status: 403 } : undefined),
  });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, ...env });
  return { fake, app };
}

const inquiries = [
  { id: 'return', inquiry: 'How do I return a speaker?', reference: STEPS },
  { id: 'tv', inquiry: 'Return a TV bought last week' },
  { id: 'phone', inquiry: 'Can I send back a phone?' },
];

t.test('a judge run scored again by the heuristic: no call of any kind, the same answers, and the summary names the source run', async (t) => {
  const { fake, app } = await fakeUpstream(t);
  const source = await finishedRun(app, { inquiries, models: ['fine-tuned', 'baseline'], scorer: 'judge', concurrency: 2 });
  t.equal(source.status, 'completed');
  t.equal(fake.requests.filter((request) => !isJudgeCall(request)).length, 6, 'the source run: an answer per (item, model)');
  t.equal(fake.requests.filter(isJudgeCall).length, 6, 'and a judge call per answer');

  const before = fake.requests.length;
  const run = await rescored(app, source.run_id, { scorer: 'heuristic' });
  t.equal(fake.requests.length, before, 'the heuristic rescore makes no upstream call at all: no answer, no judge');
  t.equal(run.status, 'completed');
  t.same(run.progress, { total: 6, done: 6, failed: 0 });
  t.equal(run.rescore_of, source.run_id);
  t.equal(run.scorer, 'heuristic');
  t.same(run.models, source.models, 'the source models, with the model ids that answered there');
  t.equal(run.concurrency, 2, "the source run's concurrency by default");
  t.equal(run.source, source.source);
  t.same(await answersOf(app, run.run_id), await answersOf(app, source.run_id), 'every answer, its status, tokens and latency are the source run’s');
  const rows = csvRows((await app.inject(`/evaluate/${run.run_id}/results.csv`)).body);
  t.ok(rows.every((row) => row.scorer === 'heuristic' && row.outcome === 'scored'), 'scored by the heuristic');

  const summary = run.summary as { provenance: { scorer: string; rescore_of?: string } };
  t.match(summary.provenance, { scorer: 'heuristic', rescore_of: source.run_id }, "the summary's provenance names the run it rescored");
  t.notOk('rescore_of' in (source.summary as { provenance: object }).provenance, 'a run whose models answered says nothing of the kind');
  t.match((await app.inject(`/evaluate/${run.run_id}/summary.md`)).body, `Rescore of run ${source.run_id}: its stored answers, scored again`);
  const listed = (await app.inject('/evaluate')).json().runs as RunView[];
  t.equal(listed.find((entry) => entry.run_id === run.run_id)?.rescore_of, source.run_id, 'the listing says it too');
  t.notOk('rescore_of' in (listed.find((entry) => entry.run_id === source.run_id) ?? {}));
});

t.test('a heuristic run scored again by the judge, and pairwise: only judge calls, in the order of models asked for', async (t) => {
  const { fake, app } = await fakeUpstream(t);
  const source = await finishedRun(app, { inquiries, models: ['fine-tuned', 'baseline'], scorer: 'heuristic' });
  t.equal(fake.requests.length, 6, 'the source run: six answers, and the heuristic calls nothing');

  let before = fake.requests.length;
  const judged = await rescored(app, source.run_id, { scorer: 'judge', models: ['baseline', 'fine-tuned'], judge_samples: 2, concurrency: 3 });
  const judgeCalls = fake.requests.slice(before);
  t.equal(judgeCalls.length, 6 * 2, 'two judge samples per answer');
  t.ok(judgeCalls.every(isJudgeCall), 'and nothing else: no answering model was called');
  t.same(
    (judged.models as { alias: string }[]).map((model) => model.alias),
    ['baseline', 'fine-tuned'],
    'the first model is the one the caller put first',
  );
  t.match(judged, { scorer: 'judge', judge_samples: 2, concurrency: 3, rescore_of: source.run_id, progress: { total: 6, done: 6, failed: 0 } });
  t.same(await answersOf(app, judged.run_id), await answersOf(app, source.run_id));
  const comparison = (judged.summary as { all: { comparisons: { first: string; second: string }[] } }).all.comparisons[0];
  t.match(comparison, { first: 'baseline', second: 'fine-tuned' });

  before = fake.requests.length;
  const pairwise = await rescored(app, source.run_id, { scorer: 'pairwise' });
  t.equal(pairwise.status, 'completed');
  t.same(pairwise.progress, { total: 6 + 3, done: 9, failed: 0 }, 'two answers and a verdict per item');
  t.equal(fake.requests.length - before, 3 * 2, 'two judge calls per item (both orders), nothing else');
  t.ok(fake.requests.slice(before).every(isJudgeCall));
  const [pair] = (pairwise.summary as { all: { pairwise: { first: string; overall: { wins: number } }[] } }).all.pairwise;
  t.match(pair, { first: 'fine-tuned', overall: { wins: 3 } }, 'judged on the stored answers: the steps win every item');
});

t.test('another alias judges when the rescore names one: every judge call goes to its model, and the scores say which judge', async (t) => {
  const modelsFile = join(mkdtempSync(join(tmpdir(), 'rescore-models-')), 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'judge-next': { model_id: 'gpt-judge-next' } } }));
  const { fake, app } = await fakeUpstream(t, { MODELS_FILE: modelsFile });
  const source = await finishedRun(app, { inquiries, models: ['fine-tuned', 'baseline'], scorer: 'heuristic' });

  let before = fake.requests.length;
  const judged = await rescored(app, source.run_id, { scorer: 'judge', judge: 'judge-next' });
  t.equal(fake.requests.length - before, 6);
  t.ok(fake.requests.slice(before).every((request) => request.body.model === 'gpt-judge-next'), 'every call is a judge-next call: no answer, no default judge');
  t.match(judged, { status: 'completed', judge: 'judge-next', progress: { done: 6, failed: 0 } });
  const provenance = { judge_alias: 'judge-next', judge_model_id: 'gpt-judge-next' };
  t.match((judged.summary as { provenance: object }).provenance, { scorer: 'judge', ...provenance, rescore_of: source.run_id });
  const rows = csvRows((await app.inject(`/evaluate/${judged.run_id}/results.csv`)).body);
  t.ok(rows.every((row) => row.judge_alias === 'judge-next' && row.judge_model_id === 'gpt-judge-next' && row.outcome === 'scored'), 'each score names its judge');
  t.match((await app.inject(`/evaluate/${judged.run_id}/summary.md`)).body, '- Scorer: judge; judge: judge-next (gpt-judge-next)');

  before = fake.requests.length;
  const pairwise = await rescored(app, source.run_id, { scorer: 'pairwise', judge: 'judge-next' });
  t.equal(fake.requests.length - before, 6);
  t.ok(fake.requests.slice(before).every((request) => request.body.model === 'gpt-judge-next'));
  t.match((pairwise.summary as { provenance: object }).provenance, { scorer: 'pairwise', ...provenance });

  const refusals: Array<[object, string]> = [
    [{ scorer: 'judge', judge: 'retrieval' }, 'invalid_judge'],
    [{ scorer: 'judge', judge: 'no-such-judge' }, 'unknown_model'],
    [{ scorer: 'heuristic', judge: 'judge-next' }, 'validation_error'],
  ];
  for (const [body, code] of refusals) {
    const reply = await rescore(app, source.run_id, body);
    t.equal(reply.statusCode, 400, JSON.stringify(body));
    t.equal(reply.json().error.code, code, JSON.stringify(body));
  }
  t.equal(
    (await rescore(app, source.run_id, { scorer: 'judge', judge: 'retrieval' })).json().error.message,
    "'retrieval' cannot judge: it is the offline model 'bm25:amazon_electronics_adapted_train', and a judge must be an OpenAI or OpenAI-compatible model.",
  );
});

t.test('a pair whose source answer failed is recorded failed with no_stored_answer, quoting the source failure, and never answered', async (t) => {
  const { fake, app } = await fakeUpstream(t);
  const source = await finishedRun(app, { inquiries: [...inquiries, { id: 'broken', inquiry: 'BROKEN question' }], models: ['fine-tuned', 'baseline'], scorer: 'heuristic' });
  t.same(source.progress, { total: 8, done: 8, failed: 2 });
  const sourceError = csvRows((await app.inject(`/evaluate/${source.run_id}/results.csv`)).body).find((row) => row.item_id === 'broken')?.error as string;
  t.match(sourceError, /^answer\/upstream_auth_failed: /);

  const before = fake.requests.length;
  const run = await rescored(app, source.run_id, { scorer: 'judge' });
  t.equal(fake.requests.length - before, 6, 'a judge call per stored answer');
  t.ok(fake.requests.slice(before).every(isJudgeCall), 'the failed pairs are not answered again');
  t.same(run.progress, { total: 8, done: 8, failed: 2 });
  const failed = csvRows((await app.inject(`/evaluate/${run.run_id}/results.csv`)).body).filter((row) => row.outcome === 'failed');
  t.same(failed.map((row) => `${row.item_id}/${row.model_alias}`).sort(), ['broken/baseline', 'broken/fine-tuned']);
  for (const row of failed) {
    t.match(row.error, `answer/no_stored_answer: Run '${source.run_id}' has no answer of '${row.model_alias}' to item 'broken' to score again: it failed there: upstream_auth_failed: `);
    t.equal(row.answer, '');
  }

  const allFailed = await finishedRun(app, { inquiries: [{ id: 'broken', inquiry: 'BROKEN question' }], models: ['fine-tuned'], scorer: 'heuristic' });
  t.match(allFailed, { status: 'completed', progress: { done: 1, failed: 1 } });
  const nothing = await rescore(app, allFailed.run_id, { scorer: 'judge' });
  t.equal(nothing.statusCode, 409);
  t.match(nothing.json().error, { code: 'nothing_to_rescore', message: `Run '${allFailed.run_id}' ended (completed) with no answer to score again.` });
});

t.test('what cannot be rescored: no such run, a run still going, a run stopped before any answer, models it did not run', async (t) => {
  let hang = true;
  const fake = await startFakeOpenAI({ apiKey: KEY, behaviour: () => (hang ? { hang: true } : undefined) });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });

  const missing = await rescore(app, 'run_20260101T000000Z_abcdef', { scorer: 'heuristic' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().error.code, 'run_not_found');

  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: ['Where is my order?'], models: ['fine-tuned'], scorer: 'heuristic' } });
  const runId = (created.json() as RunView).run_id;
  await waitForRun(app, runId, (run) => run.status === 'running');
  const running = await rescore(app, runId, { scorer: 'heuristic' });
  t.equal(running.statusCode, 409);
  t.match(running.json().error, { code: 'run_not_ended', message: `Run '${runId}' is running: only an ended run's answers can be scored again.` });

  await app.inject({ method: 'DELETE', url: `/evaluate/${runId}` });
  const empty = await rescore(app, runId, { scorer: 'heuristic' });
  t.equal(empty.statusCode, 409);
  t.match(empty.json().error, { code: 'nothing_to_rescore', message: `Run '${runId}' ended (cancelled) with no answer to score again.` });
  hang = false;

  const offline = await finishedRun(app, { inquiries: ['Where is my order?'], models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  const refusals: Array<[object, number, string]> = [
    [{ scorer: 'heuristic', models: ['baseline'] }, 400, 'model_not_in_source_run'],
    [{ scorer: 'heuristic', models: ['handoff', 'handoff'] }, 400, 'duplicate_model'],
    [{ scorer: 'heuristic', models: ['handoff', 'handoff:safe-reply'] }, 400, 'duplicate_model'],
    [{ scorer: 'pairwise', models: ['retrieval'] }, 400, 'pairwise_needs_two_models'],
    [{ scorer: 'none' }, 400, 'validation_error'],
    [{ scorer: 'heuristic', extra: true }, 400, 'validation_error'],
    [{}, 400, 'validation_error'],
  ];
  for (const [body, status, code] of refusals) {
    const reply = await rescore(app, offline.run_id, body);
    t.equal(reply.statusCode, status, JSON.stringify(body));
    t.equal(reply.json().error.code, code, JSON.stringify(body));
  }
  const byModelId = await rescore(app, offline.run_id, { scorer: 'heuristic', models: ['handoff:safe-reply', 'retrieval'] });
  t.same(
    (await waitForRun(app, byModelId.json().run_id)).models,
    [
      { alias: 'handoff', model_id: 'handoff:safe-reply' },
      { alias: 'retrieval', model_id: 'bm25:amazon_electronics_adapted_train' },
    ],
    'a model named by the id that answered in the source run',
  );
  const sameModel = await rescore(app, offline.run_id, { scorer: 'heuristic', models: ['handoff', 'handoff:safe-reply'] });
  t.equal(sameModel.json().error.message, "Invalid request: 'handoff' and 'handoff:safe-reply' are the same model (handoff); each model may appear once.");
  const notRun = await rescore(app, offline.run_id, { scorer: 'heuristic', models: ['baseline'] });
  t.match(notRun.json().error, { message: `Run '${offline.run_id}' has no answers of 'baseline'; pick among its models: retrieval, handoff.`, details: { models: ['retrieval', 'handoff'] } });

  // Without a judge key, a judge rescore is refused before anything is stored, as POST /evaluate is.
  const keyless = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const keylessSource = await finishedRun(keyless.app, { inquiries: ['Where is my order?'], models: ['retrieval'], scorer: 'heuristic' });
  const noJudge = await rescore(keyless.app, keylessSource.run_id, { scorer: 'judge' });
  t.equal(noJudge.statusCode, 503);
  t.equal(noJudge.json().error.code, 'missing_api_key');
  const listed = (await keyless.app.inject('/evaluate')).json().runs as RunView[];
  t.equal(listed.length, 1, 'no run was created');

  const offlineRescore = await rescored(keyless.app, keylessSource.run_id, { scorer: 'heuristic' });
  t.equal(offlineRescore.status, 'completed', 'a rescore needs no key for the models that answered');
});

t.test('a pair the source run never answered (it was cancelled first) fails with no_stored_answer, saying so', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, behaviour: (request) => (request.userText.includes('SLOW') ? { hang: true } : undefined) });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url });
  const created = await app.inject({
    method: 'POST',
    url: '/evaluate',
    payload: { inquiries: [{ id: 'quick', inquiry: 'Where is my order?' }, { id: 'slow', inquiry: 'SLOW question' }], models: ['fine-tuned'], scorer: 'heuristic', concurrency: 2 },
  });
  const runId = (created.json() as RunView).run_id;
  await waitForRun(app, runId, (run) => run.progress.done === 1);
  t.equal((await app.inject({ method: 'DELETE', url: `/evaluate/${runId}` })).json().status, 'cancelled');

  const before = fake.requests.length;
  const run = await rescored(app, runId, { scorer: 'heuristic' });
  t.equal(fake.requests.length, before, 'no call');
  t.same(run.progress, { total: 2, done: 2, failed: 1 });
  const rows = csvRows((await app.inject(`/evaluate/${run.run_id}/results.csv`)).body);
  t.match(rows.find((row) => row.item_id === 'quick'), { outcome: 'scored', answer: /Fake answer/ });
  t.match(rows.find((row) => row.item_id === 'slow'), {
    outcome: 'failed',
    error: `answer/no_stored_answer: Run '${runId}' has no answer of 'fine-tuned' to item 'slow' to score again: it was never answered there (the run ended first).`,
  });
});

t.test('stored answers are read from the store once, and read again after the store failed to answer', async (t) => {
  const stored = (overrides: Partial<RunResult>): RunResult => ({
    run_id: 'run_source',
    item_id: 'a',
    inquiry: 'Where is my order?',
    reference: null,
    category: null,
    in_training: 'none',
    training_line: null,
    training_similarity: null,
    model_alias: 'fine-tuned',
    model_id: 'ft:model',
    answer: 'In Your Orders.',
    answer_status: 'completed',
    tokens_in: 10,
    tokens_out: 5,
    latency_ms: 120,
    scores: null,
    outcome: 'unscored',
    error: null,
    finished_at: '2026-12-01T00:00:00.000Z',
    ...overrides,
  } as RunResult);
  let reads = 0;
  const store = {
    async *results(runId: string) {
      reads += 1;
      t.equal(runId, 'run_source');
      if (reads === 1) throw new Error('the database went away');
      yield stored({});
      yield stored({ item_id: 'b', answer_status: null, tokens_in: null, latency_ms: null });
    },
  };
  const answers = storedAnswersOf(store, 'run_source');
  await t.rejects(answers.answerOf('a', 'fine-tuned'), { message: 'the database went away' });
  t.same(await answers.answerOf('a', 'fine-tuned'), {
    answer: 'In Your Orders.',
    model: 'fine-tuned',
    model_id: 'ft:model',
    usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    latency_ms: 120,
    response_id: null,
    status: 'completed',
  });
  t.match(await answers.answerOf('b', 'fine-tuned'), { usage: { input_tokens: null, output_tokens: 5, total_tokens: null }, status: 'completed' });
  await t.rejects(answers.answerOf('a', 'baseline'), { code: 'no_stored_answer' });
  t.equal(reads, 2, 'one failed read, then one read for every pair');
});
