import { type Criterion, type RubricScores, type RubricWeights, byCriterion, rubricScores } from '../rubric.js';
import { scoreAccuracy } from './accuracy.js';
import { scoreActionability } from './actionability.js';
import { scoreCompleteness } from './completeness.js';
import type { AnswerContext } from './criterion.js';
import { detectGaming } from './gaming-signals.js';
import { HEURISTIC_RULES_SHA256 } from './rules.js';
import { scoreSafetyTone } from './safety-tone.js';
import { textFeatures } from './text-features.js';
import { type KnownUiLabels, checkUiNames } from './ui-labels.js';

export { HEURISTIC_RULES_SHA256 } from './rules.js';
export { type KnownUiLabels, knownUiLabelsOf } from './ui-labels.js';

export interface HeuristicInput {
  inquiry: string;
  answer: string;
  /** The reference answer the caller gave; null or blank leaves accuracy and completeness unscored. */
  reference: string | null;
  /** Page, button and setting names that exist (knownUiLabelsOf the knowledge-base answers). */
  knownUiLabels: KnownUiLabels;
}

interface Verdict {
  score: number | null;
  rationale: string;
}

/**
 * Cost. With n the characters of answer + reference + inquiry, every step is O(n log n) or better:
 * tokenising and sentence splitting are linear regexes (no pattern backtracks over a run of spaces,
 * punctuation or a long word); phrases are matched per token against lexicons of fixed size; quantities
 * are compared through a sorted index (quantities.ts overlapsAny); negation is read once per sentence
 * (negation.ts); claims are compared through a (stem, topic stem) index over clauses capped at 32 stems
 * (polarity.ts); label look-ups are at most 100 distinct segments of at most 60 characters per text
 * (labels.ts), O(n) each. test/heuristic-cost.test.ts checks it. On top of that the answer is read up to
 * MAX_ANSWER_CHARS, so one score takes a bounded time however long the model's answer.
 */
/** 2.5 times the longest reference: a support answer is rarely a fifth of it, and a longer one is already "long" for safety and tone. */
export const MAX_ANSWER_CHARS = 20_000;

const PROVENANCE = { scorer: 'heuristic', judge_alias: null, judge_model_id: null, judge_samples: null, prompt_sha256: HEURISTIC_RULES_SHA256 } as const;
const NOT_SCORED: Verdict = { score: null, rationale: 'Not scored: there is no given reference, and the heuristic grades accuracy and completeness only against one.' };

function verdicts(input: HeuristicInput, referenceText: string | null): Record<Criterion, Verdict> {
  const answer = textFeatures(input.answer);
  if (answer.words === 0) {
    const empty = { score: 1, rationale: 'The answer is empty.' };
    return {
      accuracy: referenceText === null ? NOT_SCORED : empty,
      actionability: empty,
      completeness: referenceText === null ? NOT_SCORED : empty,
      // Nothing unsafe was said, but silence leaves the customer stuck, so it cannot earn the top tone scores.
      safety_tone: { score: 3, rationale: 'Empty answer: nothing unsafe, but it gives the customer nothing.' },
    };
  }
  const reference = referenceText === null ? null : textFeatures(referenceText);
  const context: AnswerContext = {
    answer,
    reference,
    inquiry: textFeatures(input.inquiry),
    ui: checkUiNames(answer, reference, input.knownUiLabels),
    gaming: detectGaming(answer, reference),
  };
  return {
    accuracy: reference === null ? NOT_SCORED : scoreAccuracy({ ...context, reference }),
    actionability: scoreActionability(context),
    completeness: reference === null ? NOT_SCORED : scoreCompleteness({ ...context, reference }),
    safety_tone: scoreSafetyTone(context),
  };
}

/**
 * Deterministic, offline rubric scores: a cheap stand-in for the LLM judge, and a cross-check of it.
 * It grades accuracy and completeness only against a reference the caller gave, never against a
 * training answer: a model that answers with training answers would otherwise be graded against itself.
 */
export function scoreWithHeuristic(input: HeuristicInput, weights: Readonly<RubricWeights>): RubricScores {
  const referenceText = input.reference !== null && input.reference.trim() !== '' ? input.reference : null;
  const overlong = input.answer.length > MAX_ANSWER_CHARS;
  const criteria = verdicts(overlong ? { ...input, answer: input.answer.slice(0, MAX_ANSWER_CHARS) } : input, referenceText);
  const unread = overlong ? ` Only the first ${MAX_ANSWER_CHARS.toLocaleString('en-US')} of the answer's ${input.answer.length.toLocaleString('en-US')} characters were read.` : '';
  return rubricScores(
    {
      scores: byCriterion((criterion) => criteria[criterion].score),
      rationale: byCriterion((criterion) => criteria[criterion].rationale + (criteria[criterion].score === null ? '' : unread)),
      scorer: 'heuristic',
      reference_source: referenceText === null ? 'none' : 'given',
      unscored_reason: referenceText === null ? 'no_reference' : null,
      provenance: PROVENANCE,
    },
    weights,
  );
}
