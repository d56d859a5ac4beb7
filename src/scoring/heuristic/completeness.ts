import { COMPLETENESS_BANDS, KEY_POINT_COVERAGE, levelFor } from './bands.js';
import { type AnswerContext, type CriterionResult, quote } from './criterion.js';
import { penaliseGaming } from './gaming-signals.js';
import { labelFound } from './labels.js';
import { type Quantity, overlapsAny } from './quantities.js';
import { type TextFeatures, sentenceFeatures } from './text-features.js';
import { contentStemsOf } from './tokens.js';

interface KeyPoint {
  text: string;
  stems: string[];
  quantities: Quantity[];
  labels: string[][];
}

const POINT_BREAK = /;\s+|\n+\s*(?:[-*•]|\d+[.)])?\s*/;

/** The reference's sentences and `;` clauses that carry something the answer has to cover. */
function keyPoints(reference: TextFeatures): KeyPoint[] {
  return reference.sentences
    .flatMap((sentence) => {
      const parts = sentence.text.split(POINT_BREAK);
      return parts.length === 1 ? [sentence] : parts.map((part) => sentenceFeatures(part.trim()));
    })
    .map(({ text, tokens, quantities, labels }) => ({ text, stems: [...new Set(contentStemsOf(tokens))], quantities, labels }))
    // A greeting or "Hope this helps" is not something the answer has to cover.
    .filter((point) => point.stems.length >= KEY_POINT_COVERAGE.minStems || point.quantities.length > 0 || point.labels.length > 0);
}

function pointCredit(answer: TextFeatures, point: KeyPoint): number {
  const stemShare = point.stems.filter((stem) => answer.stems.has(stem)).length / Math.max(1, point.stems.length);
  const facts = point.quantities.length + point.labels.length;
  const factsFound =
    point.quantities.filter((quantity) => overlapsAny(answer.quantities, quantity)).length +
    point.labels.filter((label) => labelFound(answer, label)).length;
  if (stemShare >= KEY_POINT_COVERAGE.full || (facts > 0 && factsFound === facts)) return 1;
  return stemShare >= KEY_POINT_COVERAGE.partial || factsFound > 0 ? 0.5 : 0;
}

/** Completeness against the given reference: the share of its key points the answer covers, lowered by gaming. */
export function scoreCompleteness({ answer, reference, gaming }: AnswerContext & { reference: TextFeatures }): CriterionResult {
  const points = keyPoints(reference);
  if (points.length === 0) {
    // Nothing in the reference to check coverage against: the answer cannot be shown to miss anything.
    const penalised = penaliseGaming('completeness', 3, gaming);
    return { score: penalised.score, rationale: `The reference has no key points to check, so set to 3.${penalised.note}` };
  }
  const credits = points.map((point) => pointCredit(answer, point));
  const share = credits.reduce((sum, credit) => sum + credit, 0) / points.length;
  const level = levelFor(COMPLETENESS_BANDS, share);
  const covered = credits.filter((credit) => credit === 1).length;
  const partly = credits.filter((credit) => credit === 0.5).length;
  const missing = points.filter((_, index) => credits[index] === 0).map((point) => quote(point.text));
  let rationale = `Covers ${covered} of ${points.length} reference points${partly > 0 ? ` (${partly} more partly)` : ''}.`;
  if (missing.length > 0) rationale += ` Missing: ${missing.slice(0, 2).join('; ')}.`;
  const penalised = penaliseGaming('completeness', level, gaming);
  return { score: penalised.score, rationale: rationale + penalised.note };
}
