import t from 'tap';
import { MAX_ANSWER_CHARS, knownUiLabelsOf, scoreWithHeuristic } from '../src/scoring/heuristic/score-heuristic.js';
import { CRITERIA, DEFAULT_RUBRIC_WEIGHTS } from '../src/scoring/rubric.js';

// The scorer runs on the service's event loop, so its cost must grow no faster than its input. Wall
// clock is noisy on a shared machine, so the test compares the time of an input four times larger than
// another, in the same process. The largest sizes are the API's limits: a reference of 8,000 characters,
// an inquiry of 4,000.
const KNOWN = knownUiLabelsOf(["Go to 'Your Orders', select the order, then choose 'Return or replace items'."]);
// Four times the size: near-linear work takes about 4-5 times as long, quadratic work 16 times. A limit
// of 8 leaves room for a noisy machine on either side, which a doubling (2 against 4) would not.
const SMALL = 2_000;
const LARGE = 8_000;
const MAX_RATIO = 8;

/** Short tokens that each start a unit, a label, a path, a negation, a list or a sentence: every one was quadratic somewhere. */
const ADVERSARIAL: Record<string, (size: number) => string> = {
  'units ("1w ")': (size) => fill('1w ', size),
  'prices ("$1 ")': (size) => fill('$1 ', size),
  'time windows ("5 days ")': (size) => fill('5 days a week $5 ', size),
  'quoted words': (size) => fill("'a' \"ab\" ", size),
  'quoted labels': (size) => fill('"Your Orders" ', size),
  'paths ("a > ")': (size) => fill('a > ', size),
  negators: (size) => fill('not ', size),
  'negated lists': (size) => fill("don't open it, charge it or press it, ", size),
  'comma lists that an "or" closes': (size) => `${fill('do not heat the battery, ', size - 10)} or oven.`,
  'conditions before commas': (size) => fill('x if, ', size),
  numbers: (size) => fill('12 1,000 ', size),
  'many sentences': (size) => fill('Open it. ', size),
  'one long word in a path': (size) => `a > ${'x'.repeat(size - 8)} > b`,
  'a run of punctuation in a path': (size) => `a > ${'.'.repeat(size - 9)}x > b`,
  'a run of spaces': (size) => `a${' '.repeat(size - 2)}b`,
  'a run of blank lines': (size) => `a${'\n'.repeat(size - 2)}b`,
};

function fill(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

const scoreOnce = (text: string) =>
  scoreWithHeuristic({ inquiry: text.slice(0, text.length / 2), answer: text, reference: text, knownUiLabels: KNOWN }, DEFAULT_RUBRIC_WEIGHTS);

/** The fastest of a few runs of `batch` scorings: the least disturbed by other processes and by garbage collection. */
function fastest(text: string, runs: number, batch: number): number {
  let best = Infinity;
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    for (let call = 0; call < batch; call += 1) scoreOnce(text);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** Enough scorings per measurement that the small input takes about 20 ms: shorter spans are mostly timer and GC noise. */
function batchFor(text: string): number {
  const started = performance.now();
  scoreOnce(text);
  return Math.max(1, Math.min(50, Math.ceil(20 / Math.max(0.05, performance.now() - started))));
}

/** Time at 2n over time at n, after both have been run once (compiled, caches warm); measured again once if it looks superlinear. */
function growth(make: (size: number) => string): { small: number; large: number; ratio: number } {
  const small = make(SMALL);
  const large = make(LARGE);
  scoreOnce(large);
  const batch = batchFor(small);
  let measured = { small: fastest(small, 5, batch), large: fastest(large, 5, batch) };
  if (measured.large / measured.small >= MAX_RATIO) measured = { small: fastest(small, 9, batch), large: fastest(large, 9, batch) };
  return { ...measured, ratio: measured.large / measured.small };
}

t.test('scoring cost grows near-linearly with the input on adversarial texts', async (t) => {
  for (const [name, make] of Object.entries(ADVERSARIAL)) {
    const { small, large, ratio } = growth(make);
    t.ok(ratio < MAX_RATIO, `${name}: ${LARGE} chars took ${ratio.toFixed(2)}x the time of ${SMALL} (${large.toFixed(1)} ms vs ${small.toFixed(1)} ms)`);
  }
});

t.test(`an answer is read up to ${MAX_ANSWER_CHARS} characters, and the rationale says so`, async (t) => {
  const answer = fill("Go to 'Your Orders', select the order and print the label. ", MAX_ANSWER_CHARS * 3);
  const reference = "Go to 'Your Orders', select the order, then choose 'Return or replace items'.";
  const scores = scoreWithHeuristic({ inquiry: 'How do I return it?', answer, reference, knownUiLabels: KNOWN }, DEFAULT_RUBRIC_WEIGHTS);
  const read = scoreWithHeuristic({ inquiry: 'How do I return it?', answer: answer.slice(0, MAX_ANSWER_CHARS), reference, knownUiLabels: KNOWN }, DEFAULT_RUBRIC_WEIGHTS);
  for (const criterion of CRITERIA) {
    t.equal(scores[criterion], read[criterion], `${criterion}: scored on what was read`);
    t.match(scores.rationale[criterion], /Only the first 20,000 of the answer's 60,000 characters were read\.$/);
    t.notMatch(read.rationale[criterion], /were read/, 'an answer within the cap says nothing about it');
  }
});

t.test('an unscored criterion of an overlong answer says only why it is unscored', async (t) => {
  const scores = scoreWithHeuristic({ inquiry: 'Hi', answer: fill('Open the app. ', MAX_ANSWER_CHARS + 1), reference: null, knownUiLabels: KNOWN }, DEFAULT_RUBRIC_WEIGHTS);
  t.equal(scores.accuracy, null);
  t.notMatch(scores.rationale.accuracy, /were read/);
  t.match(scores.rationale.actionability, /Only the first 20,000 of the answer's 20,001 characters were read\.$/);
});
