import lexicon from './lexicon/contradictions.json' with { type: 'json' };
import { type PhraseMatch, type PhraseSet, compilePhrases, findPhrases, phraseEntries } from './phrases.js';
import { POLARITY_NEGATORS, polarityContradictions } from './polarity.js';
import { type Quantity, overlapsAny } from './quantities.js';
import type { Sentence, TextFeatures } from './text-features.js';
import type { Token } from './tokens.js';

/** An answer sentence that says something the reference rules out. */
export interface Contradiction {
  kind: 'number' | 'polarity' | 'fact';
  sentence: string;
  /** What differs, e.g. "14 days (reference: 30 days)". */
  detail: string;
}

/**
 * An answer number contradicts the reference when the reference gives a different number in the
 * same unit about the same thing (a content word in common nearby). A bare number ("You have 14 days.")
 * has no context to compare, so any same-unit mismatch counts. Time units are compared in hours.
 * The reference is indexed by unit and by (unit, context stem), so each answer number costs O(log q).
 */
function numberContradictions(answer: TextFeatures, reference: TextFeatures, inquiry: TextFeatures | null): Contradiction[] {
  const contradictions: Contradiction[] = [];
  const seen = new Set<string>();
  const firstOfUnit = new Map<string, Quantity>();
  // The first reference quantity (in reference order) of a unit that has a stem in its context.
  const firstWithStem = new Map<string, { order: number; quantity: Quantity }>();
  reference.quantities.forEach((expected, order) => {
    if (!firstOfUnit.has(expected.unit)) firstOfUnit.set(expected.unit, expected);
    for (const stem of expected.context) {
      const key = `${expected.unit}\u0000${stem}`;
      if (!firstWithStem.has(key)) firstWithStem.set(key, { order, quantity: expected });
    }
  });
  for (const said of answer.quantities) {
    // "at six weeks you are still in time" restates the customer's own figure: it is not a claim about the policy.
    if (inquiry !== null && overlapsAny(inquiry.quantities, said)) continue;
    const first = firstOfUnit.get(said.unit);
    if (first === undefined || overlapsAny(reference.quantities, said)) continue;
    let expected: Quantity | undefined = said.context.size === 0 ? first : undefined;
    let order = Infinity;
    for (const stem of said.context) {
      const candidate = firstWithStem.get(`${said.unit}\u0000${stem}`);
      if (candidate && candidate.order < order) ({ order, quantity: expected } = candidate);
    }
    const key = `${said.low}-${said.high}-${said.unit}`;
    if (expected && !seen.has(key)) {
      seen.add(key);
      contradictions.push({ kind: 'number', sentence: (answer.sentences[said.sentence] as Sentence).text, detail: `${said.text} (reference: ${expected.text})` });
    }
  }
  return contradictions;
}

// ---- exclusive facts ------------------------------------------------------------------------

interface ExclusiveFact {
  id: string;
  description: string;
  topic: PhraseSet;
  options: PhraseSet;
}

const EXCLUSIVE_FACTS: ExclusiveFact[] = lexicon.exclusive_facts.map((fact) => ({
  id: fact.id,
  description: fact.description,
  topic: compilePhrases(phraseEntries(fact.id, fact.topic)),
  options: compilePhrases(fact.options.flatMap((option) => option.phrases.map((phrase) => ({ id: option.id, phrase })))),
}));
const OPTION_NEGATION_REACH = lexicon.option_negation_reach;

const EXCLUSIVE_MARKERS: ReadonlySet<string> = new Set(lexicon.exclusive_markers);
const hasWord = (tokens: readonly Token[], words: ReadonlySet<string>) => tokens.some((token) => words.has(token.word));

/** The options of `fact` a text states (not negated), with the sentence each is in and whether it is said to be the only one. */
function statedOptions(features: TextFeatures, fact: ExclusiveFact, needTopic: boolean): Array<{ option: string; sentence: string; only: boolean }> {
  const stated: Array<{ option: string; sentence: string; only: boolean }> = [];
  for (const sentence of features.sentences) {
    if (needTopic && findPhrases(sentence.tokens, fact.topic).length === 0) continue;
    const negators = findPhrases(sentence.tokens, POLARITY_NEGATORS);
    let before = -1;
    for (const match of findPhrases(sentence.tokens, fact.options)) {
      const from = match.start - OPTION_NEGATION_REACH;
      // Matches come in token order and negators do not overlap: the last negator that ends before the option is the closest.
      while (before + 1 < negators.length && (negators[before + 1] as PhraseMatch).end <= match.start) before += 1;
      if (before >= 0 && (negators[before] as PhraseMatch).start >= from) continue;
      stated.push({ option: match.id, sentence: sentence.text, only: hasWord(sentence.tokens.slice(Math.max(0, from), match.start), EXCLUSIVE_MARKERS) });
    }
  }
  return stated;
}

/**
 * The reference names one option of an exclusive fact ("original payment method") and the answer
 * another ("gift card"), or the answer says one option is the only one where the reference names more.
 */
function factContradictions(answer: TextFeatures, reference: TextFeatures): Contradiction[] {
  const contradictions: Contradiction[] = [];
  for (const fact of EXCLUSIVE_FACTS) {
    const expected = new Set(statedOptions(reference, fact, false).map((stated) => stated.option));
    if (expected.size === 0) continue;
    const reported = new Set<string>();
    for (const stated of statedOptions(answer, fact, true)) {
      const others = [...expected].filter((option) => option !== stated.option);
      const wrong = !expected.has(stated.option) || (stated.only && others.length > 0);
      if (!wrong || reported.has(stated.option)) continue;
      reported.add(stated.option);
      const said = stated.only ? `only ${stated.option}` : stated.option;
      contradictions.push({ kind: 'fact', sentence: stated.sentence, detail: `${fact.description}: ${said} (reference: ${[...expected].join(' or ')})` });
    }
  }
  return contradictions;
}

export function findContradictions(answer: TextFeatures, reference: TextFeatures, inquiry: TextFeatures | null = null): Contradiction[] {
  return [...numberContradictions(answer, reference, inquiry), ...polarityContradictions(answer, reference), ...factContradictions(answer, reference)];
}
