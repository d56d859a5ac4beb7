import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { inquiryTerms, oneTypoApart } from '../src/data/inquiry-terms.js';
import {
  buildInquiryIndex,
  inquirySimilarity,
  NEAR_DUPLICATE_THRESHOLD,
  type InquiryEntry,
  type InquiryMatch,
} from '../src/data/near-duplicate.js';
import { extractInquiry, normalizeInquiry } from '../src/data/normalize-inquiry.js';
import { buildKnowledgeBase, loadKnowledgeBase } from '../src/knowledge/knowledge-base.js';
import { seededRandom } from './helpers/seeded-random.js';

const near = (a: string, b: string) => inquirySimilarity(a, b) >= NEAR_DUPLICATE_THRESHOLD;
const round = (value: number) => Math.round(value * 1000) / 1000;

const jsonlInquiries = (path: string): InquiryEntry[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line, index) => ({ line: index + 1, inquiry: extractInquiry(JSON.parse(line).messages[1].content as string) }));
const training = jsonlInquiries('data/amazon_electronics_adapted_train.jsonl');
const validation = jsonlInquiries('data/amazon_electronics_adapted_val.jsonl');
const evaluation = (JSON.parse(readFileSync('data/prompt_sets/eval_inquiries.json', 'utf8')) as (string | { inquiry: string })[]).map(
  (entry, index) => ({ line: index + 1, inquiry: typeof entry === 'string' ? entry : entry.inquiry }),
);
const trainingInquiry = (line: number) => training[line - 1]?.inquiry as string;

t.test('the brief: a paraphrase is near, another intent or another product is not, a copy is exact', async (t) => {
  t.ok(near('How do I set up a new Wi-Fi 6 router?', 'How do I set up a new Wi-Fi router from Amazon?'), 'one qualifier more or less');
  t.notOk(near('How do I return my order?', 'How do I cancel my order?'), 'return and cancel are different intents');
  t.notOk(near('How do I return my headphones?', 'How do I return my TV?'), 'the same intent for another product');
  t.notOk(near('How do I return my Echo Dot?', 'How do I return my Echo Show?'));

  const index = buildInquiryIndex([
    { line: 1, inquiry: 'How do I track my package?' },
    { line: 2, inquiry: 'Hi there!' },
  ]);
  t.same(index.nearest('  HOW do I track my package!! '), {
    in_training: 'exact',
    training_line: 1,
    training_inquiry: 'How do I track my package?',
    similarity: 1,
  });
  t.equal(index.nearest('Can I track my package?').in_training, 'near', 'the same terms, worded differently, are near, not exact');
  t.equal(index.nearest('hi there').in_training, 'exact', 'an inquiry of stopwords only is still an exact copy');
  t.equal(inquirySimilarity('hi there', 'Hi there!'), 1);
  t.equal(inquirySimilarity('hi there', 'hello'), 0, 'two inquiries without terms share nothing');
});

t.test('the measure is symmetric, bounded and deterministic', async (t) => {
  const words = fc.constantFrom('order', 'return', 'router', 'wifi', 'bluetooth', 'bluetoth', 'headphones', 'the', 'my', "won't", 'not', 'echo', 'dot');
  const inquiry = fc.array(words, { maxLength: 8 }).map((list) => list.join(' '));
  fc.assert(
    fc.property(inquiry, inquiry, (a, b) => {
      const similarity = inquirySimilarity(a, b);
      return similarity === inquirySimilarity(b, a) && similarity >= 0 && similarity <= 1 && similarity === inquirySimilarity(a, b);
    }),
    { numRuns: 300 },
  );
  t.pass('symmetric and within 0..1');
});

t.test('typos, negations and filler do not hide a paraphrase', async (t) => {
  t.ok(oneTypoApart('bluetooth', 'bluetoth'), 'a dropped letter');
  t.ok(oneTypoApart('headphon', 'haedphon'), 'two letters swapped');
  t.ok(oneTypoApart('charger', 'chargar'), 'a changed letter');
  t.notOk(oneTypoApart('model', 'modem'), 'short words must match exactly');
  t.notOk(oneTypoApart('charger', 'chxrgxr'), 'two edits');
  t.notOk(oneTypoApart('headphon', 'headphonez1'), 'lengths too far apart');
  t.same(inquiryTerms("My Echo won't pair, doesn't pair, is not pairing"), ['echo', 'not', 'pair'], 'every negation is one term');
  t.same(inquiryTerms('please help, how do I reset my Kindle right now'), ['reset', 'kindl']);
  t.equal(inquirySimilarity("My headphones won't pair", 'headphones not pairing'), 1);
  t.ok(inquirySimilarity('How do I pair my headphones', "My headphones won't pair") < NEAR_DUPLICATE_THRESHOLD, 'a problem report is not the how-to question');
});

t.test('calibration on the real data: the pairs either side of the threshold', async (t) => {
  // Rewordings of real training inquiries, as a customer might type them: just at or above the threshold.
  const above: [string, number, number][] = [
    ['my bluetoth headphones wont pair', 144, 0.8],
    ['fire tv stick not connecting to wifi', 142, 1],
    ['how can i factory reset an echo dot please', 157, 1],
  ];
  for (const [inquiry, line, similarity] of above) {
    t.equal(round(inquirySimilarity(inquiry, trainingInquiry(line))), similarity, `${inquiry} ~ ${trainingInquiry(line)}`);
  }
  // Real pairs just below: two different training questions, and the closest validation and evaluation items.
  t.equal(trainingInquiry(108), 'How do I file an A-to-z claim?');
  t.equal(trainingInquiry(115), 'How long do I have to file an A-to-z claim?');
  t.equal(inquirySimilarity(trainingInquiry(108), trainingInquiry(115)), 0.75, 'the steps and the deadline are different answers');
  t.equal(round(inquirySimilarity('does the protection plan cover if I drop my phone', trainingInquiry(64))), 0.667);
  t.equal(round(inquirySimilarity("where's the contact seller button", trainingInquiry(106))), 0.667);
  t.equal(round(inquirySimilarity('refund to gift card balance or back to my visa, which is quicker', trainingInquiry(34))), 0.625);
});

t.test('calibration on the real data: no validation or evaluation item is near training, nor two training questions', async (t) => {
  const index = buildInquiryIndex(training);
  const closest = (items: InquiryEntry[]) =>
    items
      .map((item) => ({ item: item.line, ...index.nearest(item.inquiry) }))
      .sort((a, b) => (b.similarity ?? 0) - (a.similarity ?? 0) || a.item - b.item);
  const validationMatches = closest(validation);
  const evaluationMatches = closest(evaluation);
  t.equal(validationMatches.length, 54);
  t.equal(evaluationMatches.length, 36);
  t.same(validationMatches.filter((match) => match.in_training !== 'none'), []);
  t.same(evaluationMatches.filter((match) => match.in_training !== 'none'), []);
  t.match(validationMatches.slice(0, 2), [
    { item: 21, training_line: 64, similarity: 0.667 },
    { similarity: 0.5 },
  ]);
  t.match(evaluationMatches.slice(0, 3), [
    { item: 26, training_line: 106, similarity: 0.667 },
    { item: 10, training_line: 34, similarity: 0.625 },
    { similarity: 0.571 },
  ]);

  const trainingPairs = training.flatMap((entry) => index.nearDuplicates(entry.inquiry).filter((match) => match.line !== entry.line));
  t.same(trainingPairs, [], 'the training set has no two near inquiries');
});

const naiveNearest = (entries: readonly InquiryEntry[], inquiry: string): InquiryMatch => {
  const exact = entries.find((entry) => normalizeInquiry(entry.inquiry) !== '' && normalizeInquiry(entry.inquiry) === normalizeInquiry(inquiry));
  if (exact) return { in_training: 'exact', training_line: exact.line, training_inquiry: exact.inquiry, similarity: 1 };
  let best: { entry: InquiryEntry; similarity: number } | null = null;
  for (const entry of entries) {
    const similarity = inquirySimilarity(inquiry, entry.inquiry);
    if (similarity > 0 && (best === null || similarity > best.similarity)) best = { entry, similarity };
  }
  if (best === null) return { in_training: 'none', training_line: null, training_inquiry: null, similarity: null };
  const { entry, similarity } = best;
  return { in_training: similarity >= NEAR_DUPLICATE_THRESHOLD ? 'near' : 'none', training_line: entry.line, training_inquiry: entry.inquiry, similarity: round(similarity) };
};

t.test('the index finds what comparing with every entry finds, typos included', async (t) => {
  // Long nonsense words, so that the stemmer leaves them alone and some are one typo apart.
  const words = ['bqzkwt', 'bqzkwx', 'bqzktw', 'bqzkwtt', 'mrvplk', 'mrvpkl', 'order', 'return', 'echo', 'dot', 'the', 'hi', 'not'];
  const inquiry = fc.array(fc.constantFrom(...words), { maxLength: 7 }).map((list) => list.join(' '));
  fc.assert(
    fc.property(fc.array(inquiry, { maxLength: 30 }), fc.array(inquiry, { minLength: 1, maxLength: 10 }), (texts, queries) => {
      const entries = texts.map((text, index) => ({ line: index + 1, inquiry: text }));
      const index = buildInquiryIndex(entries);
      return queries.every((query) => {
        const expectedNear = entries
          .map((entry) => ({ ...entry, similarity: round(inquirySimilarity(query, entry.inquiry)) }))
          .filter((entry) => entry.similarity >= NEAR_DUPLICATE_THRESHOLD)
          .sort((a, b) => b.similarity - a.similarity || a.line - b.line);
        return JSON.stringify(index.nearest(query)) === JSON.stringify(naiveNearest(entries, query)) && JSON.stringify(index.nearDuplicates(query)) === JSON.stringify(expectedNear);
      });
    }),
    { numRuns: 300 },
  );
  t.pass('same answers as the quadratic comparison');
});

t.test('the nearest entry is returned below the threshold; nothing shared gives nulls; ties go to the first', async (t) => {
  const index = buildInquiryIndex([
    { line: 3, inquiry: 'How do I return my Echo Dot?' },
    { line: 7, inquiry: 'How do I return my Echo Show?' },
    { line: 9, inquiry: 'Where is my order?' },
  ]);
  t.same(index.nearest('Can I return an Echo Pop?'), {
    in_training: 'none',
    training_line: 3,
    training_inquiry: 'How do I return my Echo Dot?',
    similarity: 0.5,
  });
  t.same(index.nearest('How do I bake a cake?'), { in_training: 'none', training_line: null, training_inquiry: null, similarity: null });
  t.same(index.nearest('how do i?'), { in_training: 'none', training_line: null, training_inquiry: null, similarity: null });
  t.same(index.nearDuplicates('where is my ORDER'), [{ line: 9, inquiry: 'Where is my order?', similarity: 1 }]);
  t.same(index.nearDuplicates('how do i?'), [], 'no terms and no exact copy');
  t.same(buildInquiryIndex([]).nearest('Where is my order?').training_line, null);
});

t.test('a 10,000-entry index answers 1,000 lookups, near ones included', async (t) => {
  const random = seededRandom(11);
  const word = () => `w${Math.floor(random() * 20_000).toString(36)}`;
  const entries = Array.from({ length: 10_000 }, (_, index) => ({ line: index + 1, inquiry: Array.from({ length: 6 }, word).join(' ') }));
  const index = buildInquiryIndex(entries);
  const lookups = Array.from({ length: 1000 }, (_, n) => `${entries[n * 10]?.inquiry} ${n % 2 === 0 ? 'please' : 'extra'}`);
  const matches = lookups.map((lookup) => index.nearest(lookup));
  t.equal(matches.filter((match, n) => match.training_line === n * 10 + 1).length, 1000, 'each finds the entry it extends');
  t.same(new Set(matches.map((match) => match.in_training)), new Set(['near']), 'a filler word changes nothing; one extra word in six is still near');
  t.equal(matches[1]?.similarity, round(6 / 7));
});

t.test('the knowledge base tells a run whether the fine-tune saw an inquiry, exactly or as a paraphrase', async (t) => {
  const kb = loadKnowledgeBase('data/amazon_electronics_adapted_train.jsonl');
  t.match(kb.trainingMatch('how do i track my package'), { in_training: 'exact', training_line: 1, similarity: 1 });
  t.match(kb.trainingMatch('my bluetoth headphones wont pair'), { in_training: 'near', training_line: 144, similarity: 0.8 });
  t.match(kb.trainingMatch('does the protection plan cover if I drop my phone'), { in_training: 'none', training_line: 64, similarity: 0.667 });
  t.ok(kb.contains('How do I track my package'), 'contains stays exact');
  t.notOk(kb.contains('my bluetoth headphones wont pair'));

  const small = buildKnowledgeBase('inline', [{ line: 4, inquiry: 'Where is my order?', answer: 'Check Your Orders.' }]);
  t.same(small.trainingMatch('How do I bake a cake?'), { in_training: 'none', training_line: null, training_inquiry: null, similarity: null });
});
