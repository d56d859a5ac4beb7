import t, { type Test } from 'tap';
import { DEFAULT_BASELINE_MODEL_ID, DEFAULT_FT_MODEL_ID, DEFAULT_JUDGE_MODEL_ID } from '../src/config.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type FakeOpenAIOptions, type RecordedRequest } from './helpers/fake-openai.js';

const KEY = 'sk-test-upstream-secret-0123456789';

const INQUIRY = 'How do I return a defective Bluetooth speaker?';
const REFERENCE =
  "You can return a defective Bluetooth speaker within 30 days of delivery. Go to 'Your Orders', select the speaker and choose 'Return or replace items'. " +
  "Pick 'Defective' as the reason, then print the prepaid label and drop the parcel off. The refund is issued within 3 to 5 business days after the return arrives.";
const STEP_BY_STEP =
  "You can return a defective speaker within 30 days of delivery:\n1. Go to 'Your Orders' and select the speaker.\n2. Choose 'Return or replace items'.\n" +
  "3. Pick 'Defective' as the reason.\n4. Print the prepaid label and drop the parcel off.\nThe refund is issued within 3 to 5 business days after the return arrives.";
const VAGUE = 'It depends. You may want to contact support about it at some point.';

const isJudgeCall = (request: RecordedRequest) => (request.body.text as { format?: { type?: string } } | undefined)?.format?.type === 'json_schema';
const answerCalls = (requests: RecordedRequest[]) => requests.filter((request) => !isJudgeCall(request));
const judgeCalls = (requests: RecordedRequest[]) => requests.filter(isJudgeCall);

/** The fine-tuned model answers step by step, every other model vaguely. */
const answerByModel = (request: RecordedRequest) => (request.body.model === DEFAULT_FT_MODEL_ID ? STEP_BY_STEP : VAGUE);

async function setup(t: Test, env: Record<string, string> = {}, fakeOptions: FakeOpenAIOptions = {}) {
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: answerByModel, ...fakeOptions });
  t.teardown(() => fake.close());
  const testApp = await buildTestApp(t, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, ...env });
  return { fake, ...testApp };
}

const compare = (app: Awaited<ReturnType<typeof setup>>['app'], body: unknown) => app.inject({ method: 'POST', url: '/compare', payload: body as object });

const CRITERIA = ['accuracy', 'actionability', 'completeness', 'safety_tone', 'weighted'] as const;

const verdict = (score: number) =>
  Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone'].map((criterion) => [criterion, { rationale: `${criterion} looks like ${score}.`, score }]));

t.test('heuristic with a reference: both answers scored at once, the step-by-step one wins, deltas are first minus second', async (t) => {
  const { app, fake } = await setup(t, {}, { latencyMs: 100 });
  const reply = await compare(app, { inquiry: `  ${INQUIRY} `, reference: REFERENCE, scorer: 'heuristic' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.equal(body.inquiry, INQUIRY);
  t.equal(body.scorer, 'heuristic');
  t.equal(body.reference_source, 'given');

  const [fineTuned, baseline] = body.results;
  t.match(fineTuned, { model: 'fine-tuned', model_id: DEFAULT_FT_MODEL_ID, answer: STEP_BY_STEP, status: 'completed', response_id: /^resp_/, error: null, score_error: null });
  t.match(baseline, { model: 'baseline', model_id: DEFAULT_BASELINE_MODEL_ID, answer: VAGUE, status: 'completed', error: null, score_error: null });
  t.ok(fineTuned.usage.total_tokens > 0 && typeof fineTuned.latency_ms === 'number');
  t.match(fineTuned.scores, { scorer: 'heuristic', reference_source: 'given', rationale: { accuracy: String } });
  t.match(baseline.scores, { scorer: 'heuristic', reference_source: 'given' });
  t.ok(fineTuned.scores.weighted > baseline.scores.weighted, 'the step-by-step answer scores higher');

  t.equal(body.winner, 'fine-tuned');
  t.equal(body.deltas.first, 'fine-tuned');
  t.equal(body.deltas.second, 'baseline');
  for (const criterion of CRITERIA) t.equal(body.deltas[criterion], fineTuned.scores[criterion] - baseline.scores[criterion], criterion);
  t.ok(body.deltas.weighted > 0);

  t.equal(fake.requests.length, 2, 'one call per model, no judge call');
  t.same(fake.requests.map((request) => request.body.model).sort(), [DEFAULT_BASELINE_MODEL_ID, DEFAULT_FT_MODEL_ID].sort());
  t.equal(judgeCalls(fake.requests).length, 0);
  t.equal(fake.maxInFlight, 2, 'the models are called concurrently');
});

t.test('results follow the request order, and equal weighted scores are a tie', async (t) => {
  const { app } = await setup(t, {}, { answer: () => STEP_BY_STEP });
  const reply = await compare(app, { inquiry: INQUIRY, models: ['baseline', 'fine-tuned'], reference: REFERENCE, scorer: 'heuristic' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.same(
    body.results.map((result: { model: string }) => result.model),
    ['baseline', 'fine-tuned'],
  );
  t.equal(body.winner, 'tie');
  t.same(body.deltas, { first: 'baseline', second: 'fine-tuned', accuracy: 0, actionability: 0, completeness: 0, safety_tone: 0, weighted: 0 });
  t.equal(body.tie_band, 0.2);
  t.match(body.provenance, { scorer: 'heuristic', judge_alias: null, prompt_sha256: /^[0-9a-f]{64}$/, service_version: '0.2.0' });
});

t.test('a difference within the tie band is a tie, not a win', async (t) => {
  // Two levels of safety and tone apart (0.2 weighted) and nothing else: no reader of the rubric calls that a preference.
  const { app } = await setup(t, {}, { structured: (request) => ({ ...verdict(4), safety_tone: { rationale: 's', score: request.userText.includes("'Return or replace items'") ? 5 : 3 } }) });
  const body = (await compare(app, { inquiry: INQUIRY, scorer: 'judge' })).json();
  t.ok(Math.abs(body.deltas.weighted - 0.2) < 1e-9);
  t.equal(body.winner, 'tie');
});

t.test('with a key and no scorer given, the judge scores each answer as soon as it arrives', async (t) => {
  const { app, fake } = await setup(
    t,
    {},
    {
      // The baseline is slow, so the fine-tuned answer's judge call must not wait for it.
      behaviour: (request) => (request.body.model === DEFAULT_BASELINE_MODEL_ID ? { latencyMs: 400 } : undefined),
      structured: (request) => verdict(request.userText.includes("'Return or replace items'") ? 5 : 2),
    },
  );
  const reply = await compare(app, { inquiry: INQUIRY });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.equal(body.scorer, 'judge');
  t.equal(body.reference_source, 'none');
  t.match(body.provenance, { scorer: 'judge', judge_alias: 'judge', judge_model_id: DEFAULT_JUDGE_MODEL_ID, judge_samples: 1, prompt_sha256: /^[0-9a-f]{64}$/ });
  const [fineTuned, baseline] = body.results;
  t.match(fineTuned.scores, { scorer: 'judge', accuracy: 5, actionability: 5, completeness: 5, safety_tone: 5, weighted: 5, rationale: { accuracy: /accuracy looks like 5\./ } });
  t.match(fineTuned.scores.rationale.accuracy, 'No reference answer was given', 'the judge says it graded without a reference');
  t.match(baseline.scores, { scorer: 'judge', accuracy: 2, weighted: 2 });
  t.equal(body.winner, 'fine-tuned');
  t.same(body.deltas, { first: 'fine-tuned', second: 'baseline', accuracy: 3, actionability: 3, completeness: 3, safety_tone: 3, weighted: 3 });

  t.equal(answerCalls(fake.requests).length, 2);
  const judged = judgeCalls(fake.requests);
  t.equal(judged.length, 2);
  t.ok(judged.every((request) => request.body.model === DEFAULT_JUDGE_MODEL_ID));
  const baselineCall = fake.requests.find((request) => request.body.model === DEFAULT_BASELINE_MODEL_ID);
  const fineTunedJudged = judged.find((request) => request.userText.includes("'Return or replace items'"));
  t.ok(baselineCall && fineTunedJudged && fineTunedJudged.at < baselineCall.at + 400, 'the fine-tuned answer was judged while the baseline was still answering');
});

t.test('a judge verdict that cannot be parsed leaves the answer in place, without scores', async (t) => {
  const { app, fake } = await setup(t, {}, { structured: () => ({ accuracy: 'excellent' }) });
  const reply = await compare(app, { inquiry: INQUIRY, scorer: 'judge' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  for (const result of body.results) {
    t.match(result, { answer: String, status: 'completed', scores: null, error: null, score_error: { code: 'judge_unparsable', message: String } });
  }
  t.equal(body.winner, null);
  t.equal(body.deltas, null);
  t.notOk('reference_source' in body, 'nothing was scored');
  t.equal(judgeCalls(fake.requests).length, 2);
});

t.test('scorer none: answers only, no scores, no winner, no deltas', async (t) => {
  const { app, fake } = await setup(t);
  const reply = await compare(app, { inquiry: INQUIRY, reference: REFERENCE, scorer: 'none' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.equal(body.scorer, 'none');
  t.same(
    body.results.map((result: { answer: string; scores: unknown }) => [result.answer, result.scores]),
    [
      [STEP_BY_STEP, null],
      [VAGUE, null],
    ],
  );
  t.equal(body.winner, null);
  t.equal(body.deltas, null);
  t.notOk('reference_source' in body);
  t.equal(fake.requests.length, 2);
});

t.test('without an API key: the offline model answers and is scored by the heuristic, the other entry carries missing_api_key', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_API_KEY: '' });
  const reply = await compare(app, { inquiry: 'How do I track my package?', models: ['retrieval', 'fine-tuned'] });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.equal(body.scorer, 'heuristic', 'the heuristic is the default when the judge has no key');
  const [retrieval, fineTuned] = body.results;
  t.match(retrieval, { model: 'retrieval', model_id: /^bm25:/, answer: /'Track package'/, status: 'completed', match: { line: 1 }, error: null });
  // Never graded against its own training answer: without a given reference only actionability and safety are scored.
  t.match(retrieval.scores, { scorer: 'heuristic', reference_source: 'none', unscored_reason: 'no_reference', accuracy: null, completeness: null, weighted: null });
  t.match(retrieval.scores.rationale.accuracy, /reference/i);
  t.ok(retrieval.scores.actionability >= 1 && retrieval.scores.safety_tone >= 1);
  t.same(fineTuned, {
    model: 'fine-tuned',
    model_id: DEFAULT_FT_MODEL_ID,
    answer: null,
    usage: null,
    latency_ms: null,
    response_id: null,
    status: null,
    scores: null,
    score_error: null,
    error: { code: 'missing_api_key', message: fineTuned.error.message },
  });
  t.match(fineTuned.error.message, /OPENAI_API_KEY/);
  t.equal(body.winner, null, 'one scored model is no contest');
  t.equal(body.deltas, null);
  t.equal(fake.requests.length, 0);
});

t.test('asking for the judge when it has no key is a 503 before any model is called', async (t) => {
  const { app, fake } = await setup(t, { OPENAI_API_KEY: '' });
  const reply = await compare(app, { inquiry: 'How do I track my package?', models: ['retrieval', 'fine-tuned'], scorer: 'judge' });
  t.equal(reply.statusCode, 503);
  t.match(reply.json().error, { code: 'missing_api_key', message: /'judge'.*OPENAI_API_KEY/ });
  t.equal(fake.requests.length, 0);
});

t.test('one model failing upstream is a partial result: its entry carries the error, the other is scored', async (t) => {
  const { app, fake } = await setup(t, {}, { behaviour: (request) => (request.body.model === DEFAULT_BASELINE_MODEL_ID ? { status: 500 } : undefined) });
  const reply = await compare(app, { inquiry: INQUIRY, reference: REFERENCE, scorer: 'heuristic' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  const [fineTuned, baseline] = body.results;
  t.match(fineTuned, { answer: STEP_BY_STEP, error: null, scores: { scorer: 'heuristic' } });
  t.match(baseline, {
    model: 'baseline',
    model_id: DEFAULT_BASELINE_MODEL_ID,
    answer: null,
    scores: null,
    error: { code: 'upstream_error', message: /baseline/, upstream_status: 500, upstream_request_id: /^req_/ },
  });
  t.equal(body.winner, null);
  t.equal(body.deltas, null);
  t.equal(body.reference_source, 'given');
  t.equal(fake.requests.length, 2);
});

t.test("when every model fails, the reply is the first model's error", async (t) => {
  const { app } = await setup(
    t,
    {},
    {
      behaviour: (request) =>
        request.body.model === DEFAULT_FT_MODEL_ID ? { status: 429, headers: { 'retry-after': '7' } } : { status: 500 },
    },
  );
  const reply = await compare(app, { inquiry: INQUIRY, scorer: 'heuristic' });
  t.equal(reply.statusCode, 429);
  t.equal(reply.headers['retry-after'], '7');
  t.match(reply.json(), { error: { code: 'upstream_rate_limited', message: /fine-tuned/, upstream_status: 429, upstream_request_id: /^req_/ } });
  t.same(Object.keys(reply.json()), ['error']);

  const noKey = await setup(t, { OPENAI_API_KEY: '' });
  const missing = await compare(noKey.app, { inquiry: INQUIRY });
  t.equal(missing.statusCode, 503);
  t.match(missing.json().error, { code: 'missing_api_key', details: { model: 'fine-tuned', variable: 'OPENAI_API_KEY' } });
});

t.test('invalid requests are a 400 in the one error shape, with nothing sent upstream', async (t) => {
  const { app, fake } = await setup(t);
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['one model', { inquiry: INQUIRY, models: ['fine-tuned'] }, 'validation_error', /at least 2 models/],
    ['five models', { inquiry: INQUIRY, models: ['fine-tuned', 'baseline', 'retrieval', 'judge', 'x'] }, 'validation_error', /at most 4 models/],
    ['an alias and its model id', { inquiry: INQUIRY, models: ['baseline', DEFAULT_BASELINE_MODEL_ID] }, 'duplicate_model', /'baseline' and 'gpt-4\.1-mini-2025-04-14' are the same model/],
    ['the same alias twice', { inquiry: INQUIRY, models: ['fine-tuned', 'fine-tuned'] }, 'duplicate_model', /'fine-tuned' is listed twice/],
    ['an unknown model', { inquiry: INQUIRY, models: ['fine-tuned', 'gpt-5-pro'] }, 'unknown_model', /Unknown model 'gpt-5-pro'/],
    ['an unknown field', { inquiry: INQUIRY, model: 'fine-tuned' }, 'validation_error', /Unrecognized key/],
    ['a bad scorer', { inquiry: INQUIRY, scorer: 'gpt' }, 'validation_error', /body\.scorer/],
    ['too many judge samples', { inquiry: INQUIRY, judge_samples: 6 }, 'validation_error', /body\.judge_samples/],
    ['an empty reference', { inquiry: INQUIRY, reference: '   ' }, 'validation_error', /reference must not be empty/],
    ['a reference too long', { inquiry: INQUIRY, reference: 'x'.repeat(8001) }, 'validation_error', /at most 8000/],
    ['no inquiry', { models: ['fine-tuned', 'baseline'] }, 'validation_error', /body\.inquiry/],
  ];
  for (const [name, body, code, message] of cases) {
    const reply = await compare(app, body);
    t.equal(reply.statusCode, 400, name);
    const { error } = reply.json();
    t.equal(error.code, code, name);
    t.match(error.message, message, name);
  }
  t.equal(fake.requests.length, 0);
});

t.test('the OpenAPI document describes POST /compare with examples', async (t) => {
  const { app } = await setup(t);
  const document = (await app.inject('/docs/json')).json();
  const operation = document.paths['/compare'].post;
  t.same(operation.tags, ['compare']);
  t.match(operation.description, /Partial failure/);
  t.ok(operation.requestBody.content['application/json'].examples, 'request examples');
  t.ok(operation.responses['200'].content['application/json'].examples, 'response examples');
  t.same(Object.keys(operation.responses).sort(), ['200', '400', '401', '413', '415', '429', '502', '503', '504']);
  t.ok(document.tags.some((tag: { name: string }) => tag.name === 'compare'));
});

/** A pairwise reply preferring one label on every aspect. */
const pairwiseReply = (preference: 'A' | 'B' | 'tie') =>
  Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone', 'overall'].map((aspect) => [aspect, { rationale: `${aspect}: ${preference}`, preference }]));
const isPairwise = (schema: Record<string, unknown>) => 'overall' in ((schema.properties ?? {}) as object);
const STEP_MARK = "1. Go to 'Your Orders'";
const showsStepByStep = (request: RecordedRequest) => request.userText.includes(STEP_MARK);
/** The label under which the step-by-step answer is shown. */
const stepByStepLabel = (request: RecordedRequest) => {
  const text = request.userText;
  return text.indexOf(STEP_MARK) > text.indexOf('<answer_b>') ? 'B' : 'A';
};

t.test('pairwise: both orders judged blind, a consistent preference names the winner, with provenance', async (t) => {
  const { app, fake } = await setup(t, {}, { structured: (request, schema) => (isPairwise(schema) ? pairwiseReply(stepByStepLabel(request)) : verdict(3)) });
  const reply = await compare(app, { inquiry: INQUIRY, reference: REFERENCE, scorer: 'pairwise' });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.equal(body.scorer, 'pairwise');
  t.equal(body.reference_source, 'given');
  t.equal(body.winner, 'fine-tuned');
  t.same(body.results.map((result: { scores: unknown }) => result.scores), [null, null], 'no pointwise scores');
  const [verdictOf] = body.pairwise;
  t.match(verdictOf, { first: 'fine-tuned', second: 'baseline', preference: { overall: 'first', accuracy: 'first' }, inconsistent: { overall: false } });
  t.same(verdictOf.orders.first_as_a.overall, 'first');
  t.same(verdictOf.orders.second_as_a.overall, 'first');
  t.match(body.provenance, { scorer: 'pairwise', judge_alias: 'judge', judge_model_id: DEFAULT_JUDGE_MODEL_ID, prompt_sha256: verdictOf.provenance.prompt_sha256 });
  const judged = judgeCalls(fake.requests);
  t.equal(judged.length, 2, 'one call per order');
  for (const request of judged) {
    const sent = JSON.stringify(request.body);
    t.notMatch(sent, 'fine-tuned', 'no alias reaches the judge');
    t.notMatch(sent, DEFAULT_FT_MODEL_ID, 'nor a model id of the answers');
  }
  t.same(judged.map(stepByStepLabel).sort(), ['A', 'B'], 'the step-by-step answer was shown once as A and once as B');
});

t.test('pairwise: a judge that always prefers the first position flips with the order, which is a tie, counted as inconsistent', async (t) => {
  const { app } = await setup(t, {}, { structured: () => pairwiseReply('A') });
  const body = (await compare(app, { inquiry: INQUIRY, scorer: 'pairwise', judge_samples: 2 })).json();
  t.equal(body.winner, 'tie');
  t.match(body.pairwise[0], { preference: { overall: 'tie' }, inconsistent: { overall: true }, samples: 2 });
});

t.test('pairwise with three models: every pair judged, the winner beats both others; a failed judgement is reported', async (t) => {
  let calls = 0;
  const { app, fake } = await setup(
    t,
    {},
    {
      structured: (request) => {
        calls += 1;
        // The pairs without the step-by-step answer get a reply that is not a verdict.
        if (!showsStepByStep(request)) return { overall: 'A' };
        return pairwiseReply(stepByStepLabel(request));
      },
    },
  );
  const body = (await compare(app, { inquiry: INQUIRY, scorer: 'pairwise', models: ['baseline', 'fine-tuned', 'retrieval'] })).json();
  t.equal(judgeCalls(fake.requests).length, 5, 'two pairs judged in both orders; the failing pair stopped at its first call');
  t.equal(calls, 5);
  t.equal(body.pairwise.length, 2);
  t.equal(body.winner, 'fine-tuned');
  t.same(body.pairwise_errors.map((error: { first: string; second: string; code: string }) => [error.first, error.second, error.code]), [['baseline', 'retrieval', 'judge_unparsable']]);
});
