import { ACTIONABILITY_BANDS, ACTIONABILITY_POINTS, levelFor } from './bands.js';
import { type AnswerContext, type CriterionResult, plural, quote } from './criterion.js';
import { penaliseGaming } from './gaming-signals.js';
import actionVerbs from './lexicon/action-verbs.json' with { type: 'json' };
import hedges from './lexicon/hedges.json' with { type: 'json' };
import steps from './lexicon/steps.json' with { type: 'json' };
import { type PhraseSet, compilePhrases, findPhrases, matchedText, phraseEntries } from './phrases.js';
import type { Sentence } from './text-features.js';
import { type Token, stem } from './tokens.js';
import { showLabel } from './ui-labels.js';

const ACTION_STEMS: ReadonlySet<string> = new Set(actionVerbs.verbs.map((verb) => stem(verb)));
const HEDGES = compilePhrases(phraseEntries('hedge', hedges.phrases));
/** Words that may come before the verb of a step: "1.", "Step 2", "then", "next", "you can", "please". */
const STEP_PREFIX: ReadonlySet<string> = new Set(steps.step_prefixes);
const IN_ORDER = compilePhrases(phraseEntries('in order', steps.in_order));
const OUT_OF_ORDER = compilePhrases(phraseEntries('out of order', steps.out_of_order));
const FALLBACKS = compilePhrases(phraseEntries('fallback', steps.fallbacks));
const CONTROL_STEMS: ReadonlySet<string> = new Set(steps.controls.map((word) => stem(word)));
const CONTROL_NAMES: ReadonlySet<string> = new Set(steps.control_names);
const CLAUSE_WORDS: ReadonlySet<string> = new Set(steps.clause_words);
const CLAUSE_GAP = /[,;:]/;
// Indentation is spaces and tabs within the line: /^\s*/ would rescan a run of blank lines from each of its lines.
const LIST_ITEM = /^[^\S\r\n\u2028\u2029]*(?:\d+[.)]|[-*•])\s+/gm;
/** "1. Open 'Your Orders'. 2. Select the order." written on one line. */
const INLINE_NUMBER = /(?:^|\s)\d{1,2}[.)]\s+(?=[A-Z])/g;

/** Distinct clauses that start with an instruction verb; a repeated step counts once. */
function instructionClauses(sentences: readonly Sentence[]): Set<string> {
  const steps = new Set<string>();
  for (const sentence of sentences) {
    let clause: Token[] = [];
    const close = () => {
      const start = clause.findIndex((token) => !STEP_PREFIX.has(token.word) && !/^\d/.test(token.word));
      const verb = clause[start];
      if (verb !== undefined && ACTION_STEMS.has(verb.stem)) steps.add(clause.map((token) => token.word).join(' '));
      clause = [];
    };
    for (const token of sentence.tokens) {
      if (CLAUSE_GAP.test(token.gap) || CLAUSE_WORDS.has(token.word)) close();
      clause.push(token);
    }
    close();
  }
  return steps;
}

/** "the power button", "the HDMI port": a named physical control, which a step can point to as it would to a page. */
function namedControls(sentences: readonly Sentence[]): string[] {
  const controls: string[] = [];
  for (const { tokens } of sentences) {
    tokens.forEach((token, at) => {
      const name = tokens[at - 1];
      if (CONTROL_STEMS.has(token.stem) && name !== undefined && CONTROL_NAMES.has(name.word) && !/[,;:]/.test(token.gap)) controls.push(`${name.word} ${token.word}`);
    });
  }
  return [...new Set(controls)];
}

const phrasesIn = (sentences: readonly Sentence[], set: PhraseSet) => sentences.flatMap((sentence) => findPhrases(sentence.tokens, set).map((match) => matchedText(sentence.tokens, match)));

/** Actionability: instruction steps, verified page and setting names, order, a fallback, hedges; lowered by gaming. */
export function scoreActionability({ answer, ui, gaming }: AnswerContext): CriterionResult {
  const stepCount = instructionClauses(answer.sentences).size;
  const controls = namedControls(answer.sentences);
  const named = ui.verified.length > 0 || controls.length > 0;
  const listItems = Math.max(answer.text.match(LIST_ITEM)?.length ?? 0, answer.text.match(INLINE_NUMBER)?.length ?? 0);
  const jumbled = [...new Set(phrasesIn(answer.sentences, OUT_OF_ORDER))];
  const ordered = jumbled.length === 0 && (listItems >= 2 || (stepCount >= 2 && phrasesIn(answer.sentences, IN_ORDER).length > 0));
  const fallback = stepCount > 0 && phrasesIn(answer.sentences, FALLBACKS).length > 0;
  const hedged = [...new Set(phrasesIn(answer.sentences, HEDGES))];
  const points =
    Math.min(stepCount, ACTIONABILITY_POINTS.maxSteps) +
    (named ? ACTIONABILITY_POINTS.namedUi : 0) +
    (ordered ? ACTIONABILITY_POINTS.ordered : 0) +
    (fallback ? ACTIONABILITY_POINTS.fallback : 0) -
    Math.min(ui.unverified.length, ACTIONABILITY_POINTS.maxUnverifiedUi) * ACTIONABILITY_POINTS.perUnverifiedUi -
    Math.min(hedged.length, ACTIONABILITY_POINTS.maxHedges) * ACTIONABILITY_POINTS.perHedge;
  const banded = levelFor(ACTIONABILITY_BANDS, points);
  const level = named ? banded : Math.min(banded, ACTIONABILITY_POINTS.capWithoutNames);

  const parts = [stepCount === 0 ? 'No concrete steps' : plural(stepCount, 'concrete step')];
  if (named) parts.push(`names UI (${[...ui.verified.map(showLabel), ...controls].slice(0, 2).join(', ')})`);
  else parts.push('names no page, setting or control');
  if (ui.unverified.length > 0) parts.push(`unverified UI, in neither the knowledge base nor the reference: earns nothing and costs a point (${ui.unverified.slice(0, 3).map(showLabel).join(', ')})`);
  if (ordered) parts.push('in order');
  if (jumbled.length > 0) parts.push(`out of order (${jumbled.map((phrase) => quote(phrase)).join(', ')})`);
  if (fallback) parts.push('with a fallback');
  if (hedged.length > 0) parts.push(`hedged (${hedged.map((hedge) => quote(hedge)).join(', ')})`);
  const penalised = penaliseGaming('actionability', level, gaming);
  return { score: penalised.score, rationale: `${parts.join(', ')}.${penalised.note}` };
}
