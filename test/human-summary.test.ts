import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { runEvaluate } from '../src/cli/evaluate.js';
import { NOT_CALIBRATED, summarizeHuman, type HumanSummaryInput, type PairwisePreference } from '../src/export/summary-human.js';
import { blindOrder } from '../src/runs/blinding.js';
import type { StoredRating } from '../src/runs/rating.js';
import { DEFAULT_RUBRIC_WEIGHTS, weightedScore, type Measure } from '../src/scoring/rubric.js';
import { exactAgreement, krippendorffAlpha, quadraticWeightedKappa, spearman } from '../src/stats/agreement.js';
import { buildTestApp } from './helpers/build-app.js';

const all = (level: number) => ({ accuracy: level, actionability: level, completeness: level, safety_tone: level });
const scored = (levels: { accuracy: number; actionability: number; completeness: number; safety_tone: number }) => ({
  ...levels,
  weighted: weightedScore(levels, DEFAULT_RUBRIC_WEIGHTS),
});
const rating = (rater: string, item: string, m1: number, m2: number, preference: string | null): StoredRating => ({
  run_id: 'run_x',
  rater,
  item_id: item,
  scores: { m1: scored(all(m1)), m2: scored(all(m2)) },
  preference,
  comment: null,
  shown: ['m1', 'm2'],
  rated_at: '2026-11-25T00:00:00.000Z',
});

/** Three items, two raters on the first: small enough to work out every number by hand. */
function handInput(overrides: Partial<HumanSummaryInput> = {}): HumanSummaryInput {
  const machine = (levels: { accuracy: number; actionability: number; completeness: number; safety_tone: number }) => scored(levels) as Record<Measure, number | null>;
  return {
    models: [
      { alias: 'm1', model_id: 'model-one' },
      { alias: 'm2', model_id: 'model-two' },
    ],
    scorer: 'heuristic',
    provenance: { bootstrap: { seed: 20_250_414, resamples: 2000, method: 'bca' }, weighted_tie_band: 0.2, target_half_width: 0.25 },
    ratings: [rating('alice', 'i1', 4, 2, 'm1'), rating('bob', 'i1', 5, 3, 'm1'), rating('alice', 'i2', 3, 3, 'tie'), rating('alice', 'i3', 5, 2, 'm2')],
    automated: new Map([
      ['i1', new Map([['m1', machine({ ...all(4), safety_tone: 5 })], ['m2', machine({ ...all(2), safety_tone: 5 })]])],
      ['i2', new Map([['m1', machine({ ...all(3), safety_tone: 5 })], ['m2', machine({ ...all(3), safety_tone: 5 })]])],
      ['i3', new Map([['m1', machine(all(5))], ['m2', machine({ ...all(1), safety_tone: 5 })]])],
    ]),
    verdicts: new Map(),
    ...overrides,
  };
}

t.test('the human section by hand: means, the paired gain, agreement with the scorer and between raters, preferences', async (t) => {
  const { human, calibration } = summarizeHuman(handInput());
  t.same(human.raters, ['alice', 'bob']);
  t.equal(human.ratings, 4);
  t.equal(human.items_rated, 3);
  // Each item counts once, with the mean of its raters: i1 is (4 + 5) / 2 for m1 and (2 + 3) / 2 for m2.
  t.equal(human.models[0]?.means.weighted?.toFixed(10), ((4.5 + 3 + 5) / 3).toFixed(10));
  t.equal(human.models[1]?.means.accuracy?.toFixed(10), ((2.5 + 3 + 2) / 3).toFixed(10));
  t.same(human.models.map((model) => [model.answers_rated, model.means_n.weighted]), [
    [4, 3],
    [4, 3],
  ]);
  const gain = human.comparisons[0]?.measures.weighted;
  t.equal(gain?.n_pairs, 3);
  t.equal(gain?.mean_difference?.toFixed(10), (5 / 3).toFixed(10), 'differences 2, 0 and 3');
  t.same([gain?.wins, gain?.ties, gain?.losses], [2, 1, 0]);
  t.match(human.comparisons[0]?.headline, /^\+1\.67 \(/);

  // Pairs (scorer, rater) on accuracy, item then rater then model: i1 alice (4,4) (2,2); i1 bob (4,5) (2,3); i2 (3,3) (3,3); i3 (5,5) (1,2).
  const machine = [4, 2, 4, 2, 3, 3, 5, 1];
  const person = [4, 2, 5, 3, 3, 3, 5, 2];
  const accuracy = human.scorer_agreement.criteria?.accuracy;
  t.same(accuracy, {
    n: 8,
    items: 3,
    weighted_kappa: quadraticWeightedKappa(machine, person).value,
    spearman: spearman(machine, person).value,
    exact: 5 / 8,
    within_one: 1,
  });
  t.equal(exactAgreement(machine, person).value, 5 / 8);
  t.equal(human.scorer_agreement.criteria?.safety_tone.weighted_kappa, 0, 'a scorer that always says 5 agrees no better than chance');
  t.equal(human.scorer_agreement.criteria?.safety_tone.spearman, null, 'and has no ranks');

  // Units rated twice: i1's two answers, (4, 5) and (2, 3) on every criterion.
  t.same(human.inter_rater, {
    raters: 2,
    metric: 'ordinal',
    criteria: Object.fromEntries(
      ['accuracy', 'actionability', 'completeness', 'safety_tone'].map((criterion) => [criterion, { alpha: krippendorffAlpha([[4, 5], [2, 3]], 'ordinal').value, units: 2, values: 4 }]),
    ),
  });

  // Scorer: i1 first (4.1 vs 2.3), i2 tie (3.2 vs 3.2), i3 first (5 vs 1.4). People: first, first, tie, second.
  t.match(human.preference_agreement, [{ first: 'm1', second: 'm2', automated: 'weighted_difference', tie_band: 0.2, n: 4, items: 3, agree: 3, rate: 0.75 }]);
  t.ok((human.preference_agreement[0]?.ci95?.low ?? 1) < 0.75);
  t.match(calibration, /^heuristic vs 2 raters on 3 items: weighted kappa -?\d\.\d\d accuracy, -?\d\.\d\d actionability, -?\d\.\d\d completeness, 0\.00 safety\/tone; preference agreement 75% of 4 ratings$/);
});

t.test("the pairwise judge's verdicts are what the people's preferences are compared with", async (t) => {
  const verdict = (preference: PairwisePreference) => new Map([['m2', preference]]);
  const verdicts = new Map([
    ['i1', verdict('first')],
    ['i2', verdict('second')],
    ['i3', verdict('second')],
  ]);
  const { human, calibration } = summarizeHuman(handInput({ scorer: 'pairwise', automated: new Map(), verdicts }));
  t.equal(human.scorer_agreement.criteria, null, 'no criterion scores to compare');
  t.match(human.preference_agreement, [{ automated: 'pairwise_verdict', tie_band: null, n: 4, agree: 3, rate: 0.75 }], 'i2: tie against second is the one miss');
  t.equal(calibration, 'pairwise judge vs 2 raters on 3 items: preference agreement 75% of 4 ratings');
});

t.test('a human-only run (scorer none), a rater who preferred a third model, and nothing to compare', async (t) => {
  const none = summarizeHuman(handInput({ scorer: 'none' }));
  t.equal(none.human.scorer_agreement.criteria, null);
  t.same(none.human.preference_agreement, []);
  t.equal(none.calibration, 'not calibrated: no automated scorer (scorer none); the summary is human: 2 raters on 3 items');
  t.equal(none.human.comparisons[0]?.measures.weighted.n_pairs, 3, 'the paired gain comes from the ratings alone');

  const three = summarizeHuman(
    handInput({
      models: [
        { alias: 'm1', model_id: 'a' },
        { alias: 'm2', model_id: 'b' },
        { alias: 'm3', model_id: 'c' },
      ],
      ratings: [{ ...rating('alice', 'i1', 4, 2, 'm3'), scores: { m1: scored(all(4)), m2: scored(all(2)), m3: scored(all(5)) } }],
    }),
  );
  t.same(
    three.human.preference_agreement.map((pair) => [pair.second, pair.n]),
    [
      ['m2', 0],
      ['m3', 0],
    ],
    'preferring m3 says nothing about m1 against m2; m3 has no automated score here',
  );
  t.equal(three.human.inter_rater, null, 'one rater: no inter-rater agreement');

  const unscored = summarizeHuman(handInput({ automated: new Map() }));
  t.equal(unscored.calibration, 'not calibrated: no item has both a human rating and a heuristic verdict (2 raters on 3 items)');
  t.equal(NOT_CALIBRATED, 'not calibrated: no human ratings');
});

t.test('the same ratings in any order give the same section, byte for byte', async (t) => {
  const input = handInput();
  const reference = JSON.stringify(summarizeHuman(input));
  for (const order of [[3, 2, 1, 0], [1, 3, 0, 2]]) {
    t.equal(JSON.stringify(summarizeHuman({ ...input, ratings: order.map((at) => input.ratings[at] as StoredRating) })), reference);
  }
});

const INQUIRIES = [
  { id: 'ret-1', inquiry: 'How long do I have to return a TV?', reference: 'Most electronics can be returned within 30 days of delivery.' },
  { id: 'ret-2', inquiry: 'Can I print the return label at home?', reference: "Yes: start the return in 'Your Orders' and print the label." },
  { id: 'bt-1', inquiry: 'My wireless earbuds will not pair with my laptop', reference: 'Reset the earbuds, then pair them again from Settings > Bluetooth.' },
  { id: 'pay-1', inquiry: 'Why was my card charged twice?', reference: 'A pending authorisation drops off within a few days; only one charge posts.' },
];
const MODELS = ['retrieval', 'handoff'];

async function completedRun(app: FastifyInstance, scorer: string): Promise<string> {
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: INQUIRIES, models: MODELS, scorer } });
  const runId = created.json().run_id as string;
  for (let polls = 0; polls < 1000; polls += 1) {
    if ((await app.inject(`/evaluate/${runId}`)).json().status === 'completed') return runId;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${runId} did not complete`);
}

/** Rates every item as a person who likes retrieval's answers better: by the keys this rater is shown. */
async function rateAll(app: FastifyInstance, runId: string, rater: string, retrieval: number, handoff: number) {
  for (const { id } of INQUIRIES) {
    const order = blindOrder(runId, id, rater, MODELS);
    const levelsOf = (alias: string) => all(alias === 'retrieval' ? retrieval : handoff);
    const reply = await app.inject({
      method: 'POST',
      url: `/evaluate/${runId}/ratings`,
      payload: { rater, item_id: id, answers: { A: levelsOf(order[0] as string), B: levelsOf(order[1] as string) }, preference: ['A', 'B'][order.indexOf('retrieval')] },
    });
    if (reply.statusCode !== 201) throw new Error(`rating: ${reply.statusCode} ${reply.body}`);
  }
}

t.test('a rated run: the summary gains its human section, in the API, summary.json and summary.md; older summaries read as before', async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app, 'heuristic');
  const files = join(reportsDir, 'runs', runId);

  const before = (await app.inject(`/evaluate/${runId}`)).json().summary;
  t.equal(before.calibration, NOT_CALIBRATED);
  t.notOk('human' in before);
  t.match((await app.inject(`/evaluate/${runId}/summary.md`)).body, '**Calibration:** not calibrated: no human ratings.');
  const unrated = readFileSync(join(files, 'summary.json'), 'utf8');

  await rateAll(app, runId, 'alice', 4, 2);
  await rateAll(app, runId, 'bob', 5, 1);
  const summary = (await app.inject(`/evaluate/${runId}`)).json().summary;
  t.match(summary.human, { raters: ['alice', 'bob'], ratings: 8, items_rated: 4, scorer_agreement: { scorer: 'heuristic' }, inter_rater: { raters: 2, metric: 'ordinal' } });
  t.same(summary.human.models.map((model: { means: { weighted: number } }) => model.means.weighted), [4.5, 1.5]);
  t.equal(summary.human.comparisons[0].measures.weighted.mean_difference, 3);
  t.match(summary.calibration, /^heuristic vs 2 raters on 4 items: weighted kappa .+ accuracy, .+ actionability, .+ completeness, .+ safety\/tone; preference agreement \d+% of \d+ ratings$/);

  // The numbers are the ones the agreement functions give on the pairs, read back from the files.
  const results = readFileSync(join(files, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  const machine: number[] = [];
  const person: number[] = [];
  for (const { id } of INQUIRIES) {
    for (const [rater, levels] of [
      ['alice', { retrieval: 4, handoff: 2 }],
      ['bob', { retrieval: 5, handoff: 1 }],
    ] as const) {
      for (const alias of MODELS) {
        const result = results.find((line) => line.item_id === id && line.model_alias === alias);
        if (typeof result?.scores?.actionability !== 'number') continue;
        machine.push(result.scores.actionability);
        person.push(levels[alias as 'retrieval' | 'handoff']);
      }
    }
  }
  t.same(summary.human.scorer_agreement.criteria.actionability, {
    n: machine.length,
    items: 4,
    weighted_kappa: quadraticWeightedKappa(machine, person).value,
    spearman: spearman(machine, person).value,
    exact: exactAgreement(machine, person).value,
    within_one: summary.human.scorer_agreement.criteria.actionability.within_one,
  });

  const saved = JSON.parse(readFileSync(join(files, 'summary.json'), 'utf8'));
  t.same(saved.human, summary.human, 'summary.json holds the section');
  t.equal(saved.calibration, summary.calibration);
  const markdown = readFileSync(join(files, 'summary.md'), 'utf8');
  t.match(markdown, `**Calibration:** ${summary.calibration}.`);
  t.match(markdown, /## Human ratings \(2 raters, 4 items\)[\s\S]*\*\*retrieval vs handoff, weighted score as people rated it: \+3\.00 /);
  t.match(markdown, /\| Criterion \| Weighted kappa \| Spearman \| Exact \| Within one \| Pairs \| Raters’ alpha \(ordinal\) \| Answers \|/);
  t.ok(markdown.indexOf('## Human ratings') > markdown.indexOf('## Headline'), 'after the automated headline');
  t.equal((await app.inject(`/evaluate/${runId}/summary.md`)).body, markdown, 'the file is what the API serves');

  // A summary written before ratings existed, of a run nobody rated, reads as it was written.
  const oldRun = `${runId}o`;
  cpSync(files, join(reportsDir, 'runs', oldRun), { recursive: true });
  rmSync(join(reportsDir, 'runs', oldRun, 'ratings.jsonl'));
  const { calibration: _dropped, ...older } = JSON.parse(unrated);
  writeFileSync(join(reportsDir, 'runs', oldRun, 'summary.json'), `${JSON.stringify({ ...older }, null, 2)}\n`);
  writeFileSync(join(reportsDir, 'runs', oldRun, 'run.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(files, 'run.json'), 'utf8')), run_id: oldRun }));
  const old = (await app.inject(`/evaluate/${oldRun}`)).json().summary;
  t.notOk('calibration' in old);
  t.notOk('human' in old);
  t.equal(readFileSync(join(reportsDir, 'runs', oldRun, 'summary.json'), 'utf8'), `${JSON.stringify({ ...older }, null, 2)}\n`, 'and its file is left alone');
});

t.test('the same results, ratings and seed give a byte-identical summary.json, whatever the order the ratings were written in', async (t) => {
  const first = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(first.app, 'heuristic');
  const files = join(first.reportsDir, 'runs', runId);
  const unrated = readFileSync(join(files, 'summary.json'), 'utf8');
  await rateAll(first.app, runId, 'alice', 4, 2);
  await rateAll(first.app, runId, 'bob', 3, 3);
  await first.app.inject(`/evaluate/${runId}`);
  const rated = readFileSync(join(files, 'summary.json'), 'utf8');
  t.match(rated, '"human"');

  // Another service, another folder: the run's results as they were, its ratings in the reverse order, its summary from before the ratings.
  const otherDir = mkdtempSync(join(tmpdir(), 'reports-copy-'));
  t.teardown(() => rmSync(otherDir, { recursive: true, force: true }));
  cpSync(files, join(otherDir, 'runs', runId), { recursive: true });
  const lines = readFileSync(join(files, 'ratings.jsonl'), 'utf8').split('\n').filter(Boolean);
  writeFileSync(join(otherDir, 'runs', runId, 'ratings.jsonl'), `${lines.reverse().join('\n')}\n`);
  writeFileSync(join(otherDir, 'runs', runId, 'summary.json'), unrated);
  const second = await buildTestApp(t, { OPENAI_API_KEY: '', REPORTS_DIR: otherDir });
  t.equal((await second.app.inject(`/evaluate/${runId}`)).statusCode, 200);
  t.equal(readFileSync(join(otherDir, 'runs', runId, 'summary.json'), 'utf8'), rated);

  // And from the results alone, with no summary.json at all.
  rmSync(join(otherDir, 'runs', runId, 'summary.json'));
  const fromResults = await second.app.inject(`/evaluate/${runId}`);
  t.same(fromResults.json().summary, JSON.parse(rated));
});

t.test('a human-only run (scorer none): its summary comes from the ratings, first in summary.md', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const runId = await completedRun(app, 'none');
  await rateAll(app, runId, 'alice', 5, 2);
  const summary = (await app.inject(`/evaluate/${runId}`)).json().summary;
  t.equal(summary.all.models[0].means, null, 'nothing was scored automatically');
  t.same(summary.human.models.map((model: { means: { accuracy: number } }) => model.means.accuracy), [5, 2]);
  t.equal(summary.human.comparisons[0].measures.weighted.mean_difference, 3);
  t.equal(summary.human.comparisons[0].measures.weighted.n_pairs, 4);
  t.equal(summary.human.scorer_agreement.criteria, null);
  t.equal(summary.calibration, 'not calibrated: no automated scorer (scorer none); the summary is human: 1 rater on 4 items');
  const markdown = (await app.inject(`/evaluate/${runId}/summary.md`)).body;
  t.ok(markdown.indexOf('## Human ratings') < markdown.indexOf('## Headline'), 'the human section is the headline');
  t.notMatch(markdown, 'Agreement of the', 'one rater, no scorer: no agreement table');
});

t.test('the command line prints the calibration sentence', async (t) => {
  const dir = t.testdir({ 'prompts.json': JSON.stringify(['Where is my order?']) });
  let stdout = '';
  let stderr = '';
  const code = await runEvaluate(['--prompts', join(dir, 'prompts.json'), '--models', 'retrieval,handoff', '--scorer', 'heuristic'], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    isTerminal: false,
    env: { REPORTS_DIR: join(dir, 'reports'), OPENAI_API_KEY: '' },
  });
  t.equal(code, 0, stderr);
  t.match(stderr, /^Calibration: not calibrated: no human ratings$/m);
  t.match(stdout, '**Calibration:** not calibrated: no human ratings.');
});

t.test("a pairwise run: the judge's verdicts on disk are what the people's preferences are compared with", async (t) => {
  const { app, reportsDir } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const source = await completedRun(app, 'none');
  // The run as the pairwise scorer would have left it: unscored answers, and a verdict per item in verdicts.jsonl.
  const runId = `${source}p`;
  const dir = join(reportsDir, 'runs', runId);
  cpSync(join(reportsDir, 'runs', source), dir, { recursive: true });
  const record = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...record, run_id: runId, scorer: 'pairwise', provenance: { ...record.provenance, scorer: 'pairwise' } }));
  const aspects = (value: string | boolean) => ({ accuracy: value, actionability: value, completeness: value, safety_tone: value, overall: value });
  const overall = ['first', 'first', 'tie', 'second'];
  writeFileSync(
    join(dir, 'verdicts.jsonl'),
    INQUIRIES.map((item, at) => {
      const preference = { ...aspects('tie'), overall: overall[at] };
      const verdict = { first: 'retrieval', second: 'handoff', preference, inconsistent: aspects(false), orders: { first_as_a: preference, second_as_a: preference }, rationale: 'r', samples: 1 };
      return `${JSON.stringify({ run_id: runId, item_id: item.id, in_training: 'none', first: 'retrieval', second: 'handoff', verdict, outcome: 'judged', error: null, finished_at: '2026-11-25T00:00:00.000Z' })}\n`;
    }).join(''),
  );
  rmSync(join(dir, 'summary.json'));
  await rateAll(app, runId, 'alice', 4, 2); // prefers retrieval every time: agrees on the two items the judge gave retrieval
  const summary = (await app.inject(`/evaluate/${runId}`)).json().summary;
  t.match(summary.human.preference_agreement, [{ first: 'retrieval', second: 'handoff', automated: 'pairwise_verdict', n: 4, agree: 2, rate: 0.5 }]);
  t.equal(summary.human.scorer_agreement.criteria, null);
  t.equal(summary.calibration, 'pairwise judge vs 1 rater on 4 items: preference agreement 50% of 4 ratings');
  const markdown = (await app.inject(`/evaluate/${runId}/summary.md`)).body;
  t.match(markdown, "- Preferences, retrieval vs handoff: people and the pairwise judge's verdict agree on 2 of 4 ratings (50%, 95% CI");
  t.notMatch(markdown, 'Weighted kappa', 'no criterion scores, no kappa table');
});
