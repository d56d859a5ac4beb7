import type { Contradiction } from './contradictions.js';
import { quote } from './criterion.js';
import lexicon from './lexicon/contradictions.json' with { type: 'json' };
import { HARD_GAP } from './negation.js';
import { compilePhrases, findPhrases, phraseEntries } from './phrases.js';
import type { Sentence, TextFeatures } from './text-features.js';
import { type Token, stem } from './tokens.js';

/** Words that deny what follows them; the exclusive-fact check uses them too ("not as a gift card"). */
export const POLARITY_NEGATORS = compilePhrases(phraseEntries('negator', lexicon.negators));
const LIST_WORDS: ReadonlySet<string> = new Set(lexicon.list_words);
/** Words that may sit between a list's comma or "or" and the item's head: "or try to open it". */
const LIST_FILLERS: ReadonlySet<string> = new Set(lexicon.list_fillers);
/** Negators that start a prohibition, whose reach extends over an "or" list. */
const IMPERATIVE_NEGATION: ReadonlySet<string> = new Set(lexicon.imperative_negators);
const NEGATIVE_WORDS: ReadonlyMap<string, string> = new Map(Object.entries(lexicon.negative_words).map(([negative, positive]) => [negative, stem(positive)]));
const CLAUSE_BREAK_WORDS: ReadonlySet<string> = new Set(lexicon.clause_breaks);
const PERMISSIONS: ReadonlySet<string> = new Set(lexicon.permissions.map((word) => stem(word)));
const CONDITIONALS = compilePhrases(phraseEntries('conditional', lexicon.conditionals));
const CLAUSE_GAP = /[,;:()]/;
/** A negator governs the first content word this close after it: "cannot usually be returned". */
const NEGATION_REACH = lexicon.negation_reach;

/** One content word as a sentence states it: said or denied, with the clause it sits in. */
interface Claim {
  stem: string;
  negated: boolean;
  clause: ReadonlySet<string>;
  sentence: string;
}

/**
 * For each token, whether an "or" list goes on from it in the same clause ("don't charge it, press on it
 * or open it"): one pass from the end, where a scan per negator would cost O(t) each.
 */
function orListsAhead(tokens: readonly Token[]): boolean[] {
  const ahead: boolean[] = new Array(tokens.length + 1).fill(false);
  for (let at = tokens.length - 1; at >= 0; at -= 1) {
    const token = tokens[at] as Token;
    ahead[at] = HARD_GAP.test(token.gap) || CLAUSE_BREAK_WORDS.has(token.word) ? false : LIST_WORDS.has(token.word) || (ahead[at + 1] as boolean);
  }
  return ahead;
}

/**
 * A clause's topic is its first this many distinct content stems. Support sentences have far fewer; the
 * cap bounds the comparison of two texts' claims to O(claims x cap) (polarityContradictions).
 */
const MAX_CLAUSE_STEMS = 32;

/**
 * The content words a text states outright, each said or denied. A negator governs the next content
 * word in its clause; an imperative one ("don't", "never") also governs the heads of an "or" list after
 * it ("don't charge it, press on it or try to open it"). A denied permission ("returns are not
 * accepted", "ineligible for a return") denies its whole clause, unless the clause sets a condition
 * ("not accepted after 30 days"). Words after a conditional in their clause ("once they have been
 * opened"), and everything after a clause that opens with one ("If the order hasn't shipped, ..."), are
 * conditions rather than claims: left out, though they still tell what the clause is about.
 */
function claimsOf(features: TextFeatures): Claim[] {
  const claims: Claim[] = [];
  for (const sentence of features.sentences) {
    const { tokens } = sentence;
    const conditionalStarts = new Set(findPhrases(tokens, CONDITIONALS).map((conditional) => conditional.start));
    const negatorEnds = new Map(findPhrases(tokens, POLARITY_NEGATORS).map((negator) => [negator.start, negator.end]));
    const orAhead = orListsAhead(tokens);
    let clause = new Set<string>();
    let clauseClaims: Claim[] = [];
    let clauseStart = 0;
    let clauseConditional = false;
    let deniedPermission = false;
    let conditioned = false;
    let restConditioned = false;
    let negatedUntil = -1;
    let listNegated = false;
    let listHeadFrom = -1;
    const closeClause = () => {
      const denied = deniedPermission && !clauseConditional;
      for (const claim of clauseClaims) claims.push(denied ? { ...claim, negated: true } : claim);
      clause = new Set();
      clauseClaims = [];
      clauseConditional = false;
      deniedPermission = false;
    };
    for (let at = 0; at < tokens.length; at += 1) {
      const token = tokens[at] as Token;
      const breaksList = HARD_GAP.test(token.gap) || CLAUSE_BREAK_WORDS.has(token.word);
      if (breaksList || CLAUSE_GAP.test(token.gap)) {
        closeClause();
        clauseStart = at;
        conditioned = restConditioned;
        negatedUntil = -1;
      }
      if (breaksList) listNegated = false;
      if (token.gap.includes(',') || LIST_WORDS.has(token.word)) listHeadFrom = at;
      if (conditionalStarts.has(at)) {
        conditioned = true;
        clauseConditional = true;
        if (at - clauseStart <= 1) restConditioned = true;
      }
      const negatorEnd = negatorEnds.get(at);
      if (negatorEnd !== undefined) {
        negatedUntil = negatorEnd - 1 + NEGATION_REACH;
        listNegated = false;
        if (at - clauseStart <= 2 && IMPERATIVE_NEGATION.has(token.word)) listNegated = orAhead[at + 1] as boolean;
        at = negatorEnd - 1;
        continue;
      }
      const positive = NEGATIVE_WORDS.get(token.word);
      const word = positive ?? (token.stop || token.word.length < 2 ? null : token.stem);
      if (word === null) continue;
      if (clause.size < MAX_CLAUSE_STEMS) clause.add(word);
      const listHead = listNegated && listHeadFrom >= 0 && tokens.slice(listHeadFrom, at).every((between) => LIST_FILLERS.has(between.word));
      const negated = positive !== undefined || at <= negatedUntil || listHead;
      if (negated && PERMISSIONS.has(word)) deniedPermission = true;
      negatedUntil = -1;
      listHeadFrom = -1;
      if (!conditioned) clauseClaims.push({ stem: word, negated, clause, sentence: sentence.text });
    }
    closeClause();
  }
  return claims;
}

/** The first reference claim (in reference order) of each polarity, per pair of its stem and another stem of its clause. */
interface TopicIndex {
  first: Map<string, { negated?: Claim; stated?: Claim; negatedAt: number; statedAt: number }>;
}

const topicKey = (stem: string, other: string) => `${stem}\u0000${other}`;

/** Two claims are about the same thing when they share a stem and their clauses share another content word. */
function topicIndex(claims: readonly Claim[]): TopicIndex {
  const first: TopicIndex['first'] = new Map();
  claims.forEach((claim, order) => {
    for (const other of claim.clause) {
      if (other === claim.stem) continue;
      const key = topicKey(claim.stem, other);
      const entry = first.get(key) ?? { negatedAt: Infinity, statedAt: Infinity };
      if (claim.negated && order < entry.negatedAt) Object.assign(entry, { negated: claim, negatedAt: order });
      if (!claim.negated && order < entry.statedAt) Object.assign(entry, { stated: claim, statedAt: order });
      first.set(key, entry);
    }
  });
  return { first };
}

/** The first reference claim on the same topic with the other polarity, unless one on that topic agrees. */
function opposed(claim: Claim, index: TopicIndex): Claim | null {
  let opposite: Claim | null = null;
  let oppositeAt = Infinity;
  for (const other of claim.clause) {
    if (other === claim.stem) continue;
    const entry = index.first.get(topicKey(claim.stem, other));
    if (!entry) continue;
    if ((claim.negated ? entry.negated : entry.stated) !== undefined) return null;
    const candidate = claim.negated ? entry.stated : entry.negated;
    const at = claim.negated ? entry.statedAt : entry.negatedAt;
    if (candidate && at < oppositeAt) {
      opposite = candidate;
      oppositeAt = at;
    }
  }
  return opposite;
}

const LEADING_ANSWER: ReadonlySet<string> = new Set(lexicon.leading_answers);
const leadingAnswer = (features: TextFeatures) => {
  const first = features.sentences[0]?.tokens[0]?.word;
  return first !== undefined && LEADING_ANSWER.has(first) ? first : null;
};

/**
 * The answer denies what the reference states about the same thing ("non-returnable" where the reference
 * says opened items "can be returned"), or states what it denies, or opens with the other yes/no.
 */
export function polarityContradictions(answer: TextFeatures, reference: TextFeatures): Contradiction[] {
  const contradictions: Contradiction[] = [];
  const said = leadingAnswer(answer);
  const expected = leadingAnswer(reference);
  if (said !== null && expected !== null && said !== expected) {
    contradictions.push({ kind: 'polarity', sentence: (answer.sentences[0] as Sentence).text, detail: `answers "${said}" where the reference answers "${expected}"` });
  }
  const referenceTopics = topicIndex(claimsOf(reference));
  const reported = new Set<string>();
  for (const claim of claimsOf(answer)) {
    if (reported.has(claim.sentence)) continue;
    const opposite = opposed(claim, referenceTopics);
    if (!opposite) continue;
    reported.add(claim.sentence);
    contradictions.push({ kind: 'polarity', sentence: claim.sentence, detail: `${claim.negated ? 'denies' : 'states'} what the reference ${claim.negated ? 'states' : 'denies'} in ${quote(opposite.sentence)}` });
  }
  return contradictions;
}
