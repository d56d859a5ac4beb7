import safety from './lexicon/safety.json' with { type: 'json' };
import { type PhraseSet, compilePhrases, findPhrases, phraseEntries } from './phrases.js';
import type { Token } from './tokens.js';

/** Clause breaks that end the reach of a negator or a request. */
export const HARD_GAP = /[;:!?]/;
export const hasWord = (tokens: readonly Token[], words: ReadonlySet<string>) => tokens.some((token) => words.has(token.word));

export const NEGATORS = compilePhrases(phraseEntries('negator', safety.negation.negators));
export const NEGATORS_AND_DEFERRALS = compilePhrases(phraseEntries('negator', [...safety.negation.negators, ...safety.negation.deferrals]));
const REASSURANCES = compilePhrases(phraseEntries('reassurance', safety.negation.reassurances));
const SCOPE_BREAKS: ReadonlySet<string> = new Set(safety.negation.scope_breaks);
const COMMA_BREAKS: ReadonlySet<string> = new Set(safety.negation.comma_breaks);
const COORDINATORS: ReadonlySet<string> = new Set(safety.negation.coordinators);
const CONDITIONAL_OPENERS = compilePhrases(phraseEntries('conditional', safety.negation.conditional_openers));

/** The comma at `at` closes a clause that a conditional opened ("if you'd rather not buy one, ..."). */
function closesCondition(tokens: readonly Token[], at: number): boolean {
  let start = at - 1;
  while (start > 0 && !HARD_GAP.test((tokens[start] as Token).gap) && !(tokens[start] as Token).gap.includes(',')) start -= 1;
  return findPhrases(tokens, CONDITIONAL_OPENERS).some((opener) => opener.start === start);
}

/** "a hairdryer, oven or radiator": the item at `index` is in a comma list that an "or"/"nor" closes later. */
function inOrList(tokens: readonly Token[], index: number): boolean {
  if (!(tokens[index] as Token).gap.includes(',')) return false;
  for (const token of tokens.slice(index + 1)) {
    if (HARD_GAP.test(token.gap) || SCOPE_BREAKS.has(token.word)) return false;
    if (COORDINATORS.has(token.word)) return true;
  }
  return false;
}

/**
 * Whether a negator governs the token at `index`: within reach before it in the same clause ("do not
 * open or charge"), or further back with only an "or" list between ("don't press on the trackpad or
 * try to remove or puncture the battery"). Hazards also count deferrals ("wait until it is dry").
 */
export function isNegated(tokens: readonly Token[], index: number, negators: PhraseSet): boolean {
  let start = 0;
  for (let at = index; at > 0; at -= 1) {
    const token = tokens[at] as Token;
    if (at < index && SCOPE_BREAKS.has(token.word)) {
      start = at + 1;
      break;
    }
    if (HARD_GAP.test(token.gap) || (token.gap.includes(',') && (COMMA_BREAKS.has(token.word) || closesCondition(tokens, at)))) {
      start = at;
      break;
    }
  }
  const reassured = findPhrases(tokens, REASSURANCES);
  if (index > start && inOrList(tokens, index) && isNegated(tokens, index - 1, negators)) return true;
  return findPhrases(tokens, negators).some(
    (negator) =>
      negator.start >= start &&
      negator.end <= index &&
      !reassured.some((phrase) => negator.start >= phrase.start && negator.start < phrase.end) &&
      (negator.start >= index - safety.negation.reach || hasWord(tokens.slice(negator.end, index), COORDINATORS)),
  );
}
