import t from 'tap';
import {
  CRITERIA,
  DEFAULT_RUBRIC_WEIGHTS,
  RUBRIC,
  RUBRIC_LEVELS,
  RubricScoresSchema,
  RubricWeightsSchema,
  parseRubricWeights,
  WEIGHTED_TIE_BAND,
  byCriterion,
  byMeasure,
  roundForDisplay,
  weightedScore,
} from '../src/scoring/rubric.js';
import { JUDGE_SYSTEM_PROMPT } from '../src/scoring/judge-prompt.js';
import { buildTestApp } from './helpers/build-app.js';

const close = (actual: number, expected: number) => Math.abs(actual - expected) < 1e-9;

const FINE_TUNED_MEANS = { accuracy: 3.62, actionability: 4.74, completeness: 3.24, safety_tone: 4.11 };
const GENERALIST_MEANS = { accuracy: 3.0, actionability: 2.5, completeness: 2.8, safety_tone: 4.0 };

t.test("the case study's published means reproduce its weighted scores", async (t) => {
  const fineTuned = weightedScore(FINE_TUNED_MEANS, DEFAULT_RUBRIC_WEIGHTS);
  const generalist = weightedScore(GENERALIST_MEANS, DEFAULT_RUBRIC_WEIGHTS);
  t.ok(close(fineTuned, 3.854), `fine-tuned ${fineTuned}`);
  t.ok(close(generalist, 2.925), `generalist ${generalist}`);
  t.ok(close(fineTuned - generalist, 0.929), `gain ${fineTuned - generalist}`);

  t.equal(roundForDisplay(fineTuned), 3.85);
  t.equal(roundForDisplay(generalist), 2.92, 'shown as the case study printed it');
  t.equal(roundForDisplay(fineTuned - generalist), 0.93);
  t.ok(close(roundForDisplay(fineTuned) - roundForDisplay(generalist), 0.93), 'the displayed means differ by the displayed gain');
});

t.test('display rounding: two decimals, exact ties to even, never -0', async (t) => {
  const generalist = weightedScore(GENERALIST_MEANS, DEFAULT_RUBRIC_WEIGHTS);
  t.ok(generalist > 2.925, 'the float sum lands just above the tie');
  t.equal(Math.round(generalist * 100) / 100, 2.93, 'which plain half-up rounding would show as 2.93');
  t.equal(roundForDisplay(2.935), 2.94);
  t.equal(roundForDisplay(2.9251), 2.93);
  t.equal(roundForDisplay(2.9249), 2.92);
  t.equal(roundForDisplay(4), 4);
  t.equal(roundForDisplay(-0.125), -0.12);
  t.ok(Object.is(roundForDisplay(-0.001), 0), 'a tiny negative gain shows as 0, not -0');
});

t.test('weightedScore follows the weights it is given', async (t) => {
  const scores = { accuracy: 5, actionability: 1, completeness: 1, safety_tone: 1 };
  t.equal(weightedScore(scores, { accuracy: 1, actionability: 0, completeness: 0, safety_tone: 0 }), 5);
  t.ok(close(weightedScore(scores, DEFAULT_RUBRIC_WEIGHTS), 2.6));
});

t.test('parseRubricWeights reads JSON and name=value lists', async (t) => {
  t.same(parseRubricWeights('{"accuracy":0.4,"actionability":0.25,"completeness":0.25,"safety_tone":0.1}'), DEFAULT_RUBRIC_WEIGHTS);
  t.same(parseRubricWeights('accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.1'), DEFAULT_RUBRIC_WEIGHTS);
  t.same(parseRubricWeights(' accuracy = 0.25 , actionability=0.25, completeness=0.25,safety_tone=0.25 '), {
    accuracy: 0.25,
    actionability: 0.25,
    completeness: 0.25,
    safety_tone: 0.25,
  });
  t.same(parseRubricWeights('accuracy=1,actionability=0,completeness=0,safety_tone=0').accuracy, 1, 'the bounds are allowed');
  const thirds = parseRubricWeights('accuracy=0.3333333,actionability=0.3333333,completeness=0.3333334,safety_tone=0');
  t.ok(close(thirds.completeness, 0.3333334), 'a sum within 1e-6 of 1 is accepted');
});

t.test('parseRubricWeights names the problem', async (t) => {
  t.throws(() => parseRubricWeights('accuracy=0.4,actionability=0.35,completeness=0.25'), /safety_tone is required/);
  t.throws(() => parseRubricWeights('{"accuracy":0.5,"actionability":0.25,"completeness":0.25}'), /safety_tone is required/);
  t.throws(() => parseRubricWeights('accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.2'), /must sum to 1 \(got 1\.1\)/);
  t.throws(
    () => parseRubricWeights('accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.10001'),
    /must sum to 1/,
    'a sum off by more than 1e-6 is rejected',
  );
  t.throws(() => parseRubricWeights('accuracy=-0.1,actionability=0.6,completeness=0.4,safety_tone=0.1'), /accuracy must be between 0 and 1/);
  t.throws(() => parseRubricWeights('accuracy=1.5,actionability=0,completeness=0,safety_tone=-0.5'), /accuracy must be between 0 and 1.*safety_tone/);
  t.throws(() => parseRubricWeights('accuracy=abc,actionability=0.25,completeness=0.25,safety_tone=0.1'), /accuracy must be a number/);
  t.throws(() => parseRubricWeights('{"accuracy":"0.4","actionability":0.25,"completeness":0.25,"safety_tone":0.1}'), /accuracy must be a number/);
  t.throws(() => parseRubricWeights('accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.1,speed=0'), /Unrecognized key.*speed/);
  t.throws(() => parseRubricWeights('accuracy=0.4,accuracy=0.4,completeness=0.1,safety_tone=0.1'), /accuracy is given twice/);
  t.throws(() => parseRubricWeights('heavy on accuracy'), /expected name=value pairs.*"heavy on accuracy"/);
  t.throws(() => parseRubricWeights('{"accuracy":0.4,'), /not valid JSON/);
  t.throws(() => parseRubricWeights('[0.4,0.25,0.25,0.1]'), /expected name=value pairs/);
  t.throws(() => parseRubricWeights('   '), /empty/);
  t.throws(() => parseRubricWeights('{"accuracy":0.4}'), { name: 'Error', message: /^Invalid rubric weights: / });
});

t.test('RubricWeightsSchema is strict and checks the sum', async (t) => {
  t.ok(RubricWeightsSchema.safeParse(DEFAULT_RUBRIC_WEIGHTS).success);
  t.notOk(RubricWeightsSchema.safeParse({ ...DEFAULT_RUBRIC_WEIGHTS, tone: 0 }).success);
  t.notOk(RubricWeightsSchema.safeParse({ ...DEFAULT_RUBRIC_WEIGHTS, accuracy: 0.5 }).success);
});

t.test('the rubric anchors all five levels of every criterion', async (t) => {
  t.same(Object.keys(RUBRIC), CRITERIA);
  for (const criterion of CRITERIA) {
    const definition = RUBRIC[criterion];
    t.ok(definition.title.length > 0 && definition.measures.length > 40, `${criterion} says what it measures`);
    t.same(Object.keys(definition.levels).map(Number), RUBRIC_LEVELS, `${criterion} has levels 1..5`);
    const descriptions = RUBRIC_LEVELS.map((level) => definition.levels[level]);
    t.ok(descriptions.every((description) => description.length > 40), `${criterion} describes each level`);
    t.equal(new Set(descriptions).size, 5, `${criterion} levels are distinct`);
  }
});

t.test('RubricScoresSchema: scores 1..5 (means of samples allowed), accuracy and completeness null only when unscored, provenance required', async (t) => {
  const scores = {
    accuracy: 4,
    actionability: 5,
    completeness: 3,
    safety_tone: 5,
    weighted: 4.1,
    rationale: { accuracy: 'a', actionability: 'b', completeness: 'c', safety_tone: 'd' },
    scorer: 'judge',
    reference_source: 'given',
    unscored_reason: null,
    sample_sd: null,
    provenance: {
      scorer: 'judge',
      judge_alias: 'judge',
      judge_model_id: 'gpt-4.1-2025-04-14',
      judge_samples: 1,
      prompt_sha256: 'f'.repeat(64),
      weights: DEFAULT_RUBRIC_WEIGHTS,
      service_version: '0.2.0',
    },
  };
  t.ok(RubricScoresSchema.safeParse(scores).success);
  t.ok(RubricScoresSchema.safeParse({ ...scores, accuracy: 4.5 }).success, 'the mean of three samples');
  t.ok(RubricScoresSchema.safeParse({ ...scores, accuracy: null, completeness: null, weighted: null, unscored_reason: 'no_reference' }).success);
  t.notOk(RubricScoresSchema.safeParse({ ...scores, actionability: null }).success, 'actionability is always scored');
  t.notOk(RubricScoresSchema.safeParse({ ...scores, safety_tone: 0 }).success);
  t.notOk(RubricScoresSchema.safeParse({ ...scores, scorer: 'human' }).success);
  t.notOk(RubricScoresSchema.safeParse({ ...scores, reference_source: 'knowledge_base' }).success, 'never graded against a training answer');
  t.notOk(RubricScoresSchema.safeParse({ ...scores, provenance: undefined }).success);
});

t.test('weightedScore is null when a criterion is unscored; byCriterion and byMeasure build every key', async (t) => {
  t.equal(weightedScore({ accuracy: null, actionability: 5, completeness: 3, safety_tone: 5 }, DEFAULT_RUBRIC_WEIGHTS), null);
  t.same(byCriterion((criterion) => criterion.length), { accuracy: 8, actionability: 13, completeness: 12, safety_tone: 11 });
  t.same(Object.keys(byMeasure(() => 0)), ['accuracy', 'actionability', 'completeness', 'safety_tone', 'weighted']);
  t.ok(WEIGHTED_TIE_BAND > 2 * DEFAULT_RUBRIC_WEIGHTS.safety_tone - 1e-9 && WEIGHTED_TIE_BAND < DEFAULT_RUBRIC_WEIGHTS.actionability, 'the tie band covers two safety levels and less than one level of anything else');
});

t.test('GET /rubric serves every level of every criterion as the judge is shown it, with the configured weights', async (t) => {
  const weights = { accuracy: 0.5, actionability: 0.2, completeness: 0.2, safety_tone: 0.1 };
  const { app } = await buildTestApp(t, { RUBRIC_WEIGHTS: JSON.stringify(weights) });
  const reply = await app.inject('/rubric');
  t.equal(reply.statusCode, 200);
  const rubric = reply.json() as { criteria: { criterion: string; title: string; measures: string; levels: { level: number; description: string }[] }[]; weights: object };
  t.same(
    rubric.criteria.map((criterion) => criterion.criterion),
    CRITERIA,
    'the four criteria, in their order',
  );
  for (const criterion of rubric.criteria) {
    t.same(criterion.levels.map((level) => level.level), RUBRIC_LEVELS, `${criterion.criterion}: five levels, 1 to 5`);
    const definition = RUBRIC[criterion.criterion as (typeof CRITERIA)[number]];
    t.same({ title: criterion.title, measures: criterion.measures }, { title: definition.title, measures: definition.measures });
    for (const { level, description } of criterion.levels) t.ok(JUDGE_SYSTEM_PROMPT.includes(`${level}: ${description}`), `${criterion.criterion} ${level}: the judge's own words`);
  }
  t.same(rubric.weights, weights, "the service's weights");

  const keyed = await buildTestApp(t, { SERVICE_API_KEYS: 'ana:rubric-key-0123456789abcdef' });
  t.equal((await keyed.app.inject('/rubric')).statusCode, 401, 'behind the key, like the rest of the API');
  t.equal((await keyed.app.inject({ url: '/rubric', headers: { authorization: 'Bearer rubric-key-0123456789abcdef' } })).statusCode, 200);
});
