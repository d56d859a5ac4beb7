import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { parseTrainingExamples } from '../src/knowledge/knowledge-base.js';
import { knownUiLabelsOf, scoreWithHeuristic } from '../src/scoring/heuristic/score-heuristic.js';
import { type AgreementReport, type ValidationPair, measureAgreement, readValidationPairs } from '../src/scoring/heuristic/validation.js';
import { CRITERIA, DEFAULT_RUBRIC_WEIGHTS, type RubricScores } from '../src/scoring/rubric.js';

const DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));
const TRAINING = `${DATA_DIR}/amazon_electronics_adapted_train.jsonl`;
const CALIBRATION = `${DATA_DIR}/scorer_validation/calibration_pairs.json`;
const DEVELOPMENT = `${DATA_DIR}/scorer_validation/development_pairs.json`;
const HOLDOUT = `${DATA_DIR}/scorer_validation/holdout_pairs.json`;

/**
 * What we commit to, at or a little below what was measured. Calibration (86 pairs): the file the rules
 * were first tuned on; measured 85/86 (98.8%), the one miss acc-12 ("pairs with an iPhone" vs "don't work
 * with iPhone": no shared words to compare). Development (48 pairs, written to vary the wording): measured
 * 25/48 (52.1%) before the second round of general rules, and 45/48 (93.8%) after it, once 7 pairs whose
 * label contradicted their own `why` were corrected (dev-acc-11, dev-act-04, dev-act-05, dev-act-07,
 * dev-com-02, dev-com-03, dev-com-08; their answers swapped so the preferred side stays balanced). Holdout
 * (32 pairs): never read, never tuned on; measured once after each round: 23/32 (71.9%; accuracy 5/8,
 * actionability 7/8, completeness 7/8, safety 4/8) both times, every miss a tie. Every file: no safety pair reversed.
 */
const THRESHOLDS = {
  calibration: { overall: 0.95, accuracy: 0.9, actionability: 0.95, completeness: 0.95, safety_tone: 0.95 },
  development: { overall: 0.9, accuracy: 0.7, actionability: 0.95, completeness: 0.95, safety_tone: 0.95 },
  holdout: { overall: 0.7, accuracy: 0.6, actionability: 0.85, completeness: 0.85, safety_tone: 0.5 },
} as const;

const knownUiLabels = knownUiLabelsOf(parseTrainingExamples(TRAINING, readFileSync(TRAINING, 'utf8')).map((example) => example.answer));
const score = (inquiry: string, answer: string, reference: string | null) => scoreWithHeuristic({ inquiry, answer, reference, knownUiLabels }, DEFAULT_RUBRIC_WEIGHTS);

const percent = (share: number | null) => (share === null ? 'n/a' : `${(share * 100).toFixed(1)}%`);

function table(report: AgreementReport): string {
  const rows = [...CRITERIA.map((criterion) => [criterion, report.byCriterion[criterion]] as const), ['overall', report.overall] as const];
  return [
    '| criterion | pairs | agreed | tied | reversed | agreement |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(([name, counts]) => `| ${name} | ${counts.pairs} | ${counts.agreed} | ${counts.tied} | ${counts.reversed} | ${percent(counts.agreement)} |`),
  ].join('\n');
}

function checkThresholds(t: Test, report: AgreementReport, thresholds: Record<(typeof CRITERIA)[number] | 'overall', number>) {
  t.ok((report.overall.agreement ?? 0) >= thresholds.overall, `overall agreement ${percent(report.overall.agreement)} >= ${percent(thresholds.overall)}`);
  for (const criterion of CRITERIA) {
    const agreement = report.byCriterion[criterion].agreement ?? 0;
    t.ok(agreement >= thresholds[criterion], `${criterion} agreement ${percent(agreement)} >= ${percent(thresholds[criterion])}`);
  }
  t.equal(report.byCriterion.safety_tone.reversed, 0, 'no safety pair is reversed');
}

t.test('calibration pairs: the heuristic prefers what a person preferred', async (t) => {
  const report = measureAgreement(readValidationPairs(CALIBRATION), score);
  t.comment(`Calibration agreement (${CALIBRATION.split('/').slice(-2).join('/')}):\n${table(report)}`);
  for (const miss of report.misses) t.comment(`miss ${miss.id} (${miss.pattern}, ${miss.criterion}): ${miss.outcome}, preferred ${miss.preferred}, other ${miss.other}`);
  checkThresholds(t, report, THRESHOLDS.calibration);
});

t.test('development pairs: other wording of the same problems, tuned on after a first measurement', async (t) => {
  const report = measureAgreement(readValidationPairs(DEVELOPMENT), score);
  t.comment(`Development agreement (${DEVELOPMENT.split('/').slice(-2).join('/')}):\n${table(report)}`);
  for (const miss of report.misses) t.comment(`miss ${miss.id} (${miss.pattern}, ${miss.criterion}): ${miss.outcome}, preferred ${miss.preferred}, other ${miss.other}`);
  checkThresholds(t, report, THRESHOLDS.development);
});

t.test('holdout pairs: measured, never tuned on', async (t) => {
  const report = measureAgreement(readValidationPairs(HOLDOUT), score);
  // Only the counts are printed: the holdout's contents must not leak into tuning.
  t.comment(`Holdout agreement (${HOLDOUT.split('/').slice(-2).join('/')}):\n${table(report)}`);
  checkThresholds(t, report, THRESHOLDS.holdout);
});

const scoresOf = (values: Partial<Record<(typeof CRITERIA)[number], number | null>>) => values as unknown as RubricScores;
const pair = (overrides: Partial<ValidationPair>): ValidationPair => ({
  id: 'p1',
  criterion: 'accuracy',
  pattern: 'wrong_number',
  inquiry: 'q',
  reference: 'r',
  a: 'good',
  b: 'bad',
  preferred: 'a',
  why: 'because',
  ...overrides,
});

t.test('measureAgreement counts agreed, tied and reversed pairs per criterion, pattern and overall', async (t) => {
  const levels: Record<string, number | null> = { good: 5, bad: 2, same: 2, unscored: null };
  const score = (_inquiry: string, answer: string) => scoresOf({ accuracy: levels[answer] ?? null, safety_tone: levels[answer] ?? null });
  const report = measureAgreement(
    [
      pair({ id: 'agreed' }),
      pair({ id: 'preferred b', a: 'bad', b: 'good', preferred: 'b' }),
      pair({ id: 'tied', a: 'bad', b: 'same' }),
      pair({ id: 'reversed', criterion: 'safety_tone', pattern: 'condescension', a: 'bad', b: 'good' }),
      pair({ id: 'unscored', a: 'unscored', b: 'unscored' }),
    ],
    score,
  );
  t.same(report.byCriterion.accuracy, { pairs: 4, agreed: 2, tied: 2, reversed: 0, agreement: 0.5 });
  t.same(report.byCriterion.safety_tone, { pairs: 1, agreed: 0, tied: 0, reversed: 1, agreement: 0 });
  t.same(report.byCriterion.completeness, { pairs: 0, agreed: 0, tied: 0, reversed: 0, agreement: null });
  t.same(report.overall, { pairs: 5, agreed: 2, tied: 2, reversed: 1, agreement: 0.4 });
  t.same(report.byPattern.condescension, { pairs: 1, agreed: 0, tied: 0, reversed: 1, agreement: 0 });
  t.same(
    report.misses.map((miss) => [miss.id, miss.outcome, miss.preferred, miss.other]),
    [
      ['tied', 'tied', 2, 2],
      ['reversed', 'reversed', 2, 5],
      ['unscored', 'tied', null, null],
    ],
  );
});

t.test('readValidationPairs validates the file and names the problem', async (t) => {
  const dir = t.testdir({
    'good.json': JSON.stringify([pair({})]),
    'not-json.json': '[{',
    'bad-criterion.json': JSON.stringify([pair({ criterion: 'speed' as never })]),
    'duplicate.json': JSON.stringify([pair({}), pair({})]),
    'not-array.json': JSON.stringify({ pairs: [] }),
  });
  t.same(readValidationPairs(`${dir}/good.json`), [pair({})]);
  t.throws(() => readValidationPairs(`${dir}/not-json.json`), /not-json\.json: /);
  t.throws(() => readValidationPairs(`${dir}/bad-criterion.json`), /bad-criterion\.json: 0\.criterion: /);
  t.throws(() => readValidationPairs(`${dir}/duplicate.json`), /duplicate\.json: 1\.id: id p1 is used twice/);
  t.throws(() => readValidationPairs(`${dir}/not-array.json`), /not-array\.json: \(root\): /);
  t.throws(() => readValidationPairs(`${dir}/missing.json`), /missing\.json: ENOENT/);
  writeFileSync(`${dir}/good.json`, '[]');
  t.same(readValidationPairs(`${dir}/good.json`), [], 'an empty list is valid');
});
