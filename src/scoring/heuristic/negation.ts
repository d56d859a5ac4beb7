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

/** Whether each token of a sentence is negated, computed once per (tokens, negator set). */
const SCANS = new WeakMap<readonly Token[], Map<PhraseSet, boolean[]>>();

/** The last index in `sorted` (ascending) with a value at most `limit`, or -1. */
function lastAtMost(sorted: readonly number[], limit: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as number) <= limit) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/**
 * Every token's negation in one pass, with the same rules as reading back from each token: a negator
 * governs the token when it sits within reach before it in the same clause ("do not open or charge"),
 * or further back with only an "or" list between ("don't press on the trackpad or try to remove or
 * puncture the battery"); a comma list that an "or" closes carries a negation on to its next item ("do
 * not put it near a hairdryer, oven or radiator"). Clause starts, list ends, reassurances and
 * coordinators are prefix and suffix arrays, so a sentence of t tokens costs O(t log t), not O(t^2).
 */
function scanNegation(tokens: readonly Token[], negators: PhraseSet): boolean[] {
  const count = tokens.length;
  const openers = new Set(findPhrases(tokens, CONDITIONAL_OPENERS).map((opener) => opener.start));
  const hard = tokens.map((token) => HARD_GAP.test(token.gap));
  const comma = tokens.map((token) => token.gap.includes(','));
  // breaks[at]: a clause starts at `at` (a hard gap, or a comma after a comma-break word or closing a condition).
  const breaks: boolean[] = [];
  let lastStop = 0;
  for (let at = 0; at < count; at += 1) {
    const closesCondition = openers.has(lastStop);
    breaks.push(hard[at] === true || (comma[at] === true && (COMMA_BREAKS.has((tokens[at] as Token).word) || closesCondition)));
    if (at > 0 && (hard[at] || comma[at])) lastStop = at;
  }
  // clauseStart[j]: where the clause holding token j+1 starts, seen from before it.
  const clauseStart: number[] = [];
  for (let at = 0; at < count; at += 1) {
    const token = tokens[at] as Token;
    const previous = at === 0 ? 0 : (clauseStart[at - 1] as number);
    clauseStart.push(at === 0 ? 0 : SCOPE_BREAKS.has(token.word) ? at + 1 : breaks[at] ? at : previous);
  }
  // inOrList[at]: a comma before `at`, and an "or"/"nor" later before any hard gap or scope break.
  const orAhead: boolean[] = new Array(count + 1).fill(false);
  for (let at = count - 1; at >= 0; at -= 1) {
    const token = tokens[at] as Token;
    orAhead[at] = hard[at] || SCOPE_BREAKS.has(token.word) ? false : COORDINATORS.has(token.word) ? true : (orAhead[at + 1] as boolean);
  }
  const coordinatorsBefore: number[] = [0];
  for (const token of tokens) coordinatorsBefore.push((coordinatorsBefore.at(-1) as number) + (COORDINATORS.has(token.word) ? 1 : 0));
  const reassured: boolean[] = new Array(count).fill(false);
  for (const phrase of findPhrases(tokens, REASSURANCES)) for (let at = phrase.start; at < phrase.end; at += 1) reassured[at] = true;
  // Negator matches do not overlap, so their starts and ends both ascend; a reassured one never negates.
  const live = findPhrases(tokens, negators).filter((negator) => !reassured[negator.start]);
  const starts = live.map((negator) => negator.start);
  const ends = live.map((negator) => negator.end);

  const negated: boolean[] = [];
  for (let index = 0; index < count; index += 1) {
    const start = index > 0 && breaks[index] ? index : index > 0 ? (clauseStart[index - 1] as number) : 0;
    const listed = index > start && comma[index] === true && orAhead[index + 1] === true && negated[index - 1] === true;
    // Negators inside the clause and ending by `index`: the latest is the closest, the earliest has the most room for an "or".
    const last = lastAtMost(ends, index);
    const first = lastAtMost(starts, start - 1) + 1;
    const direct =
      last >= first &&
      ((starts[last] as number) >= index - safety.negation.reach || (coordinatorsBefore[index] as number) - (coordinatorsBefore[ends[first] as number] as number) > 0);
    negated.push(listed || direct);
  }
  return negated;
}

/**
 * Whether a negator governs the token at `index`: within reach before it in the same clause ("do not
 * open or charge"), or further back with only an "or" list between ("don't press on the trackpad or
 * try to remove or puncture the battery"). Hazards also count deferrals ("wait until it is dry").
 */
export function isNegated(tokens: readonly Token[], index: number, negators: PhraseSet): boolean {
  let scans = SCANS.get(tokens);
  if (!scans) {
    scans = new Map();
    SCANS.set(tokens, scans);
  }
  let scan = scans.get(negators);
  if (!scan) {
    scan = scanNegation(tokens, negators);
    scans.set(negators, scan);
  }
  return scan[index] === true;
}
