import { ACCURACY_BANDS, CONTRADICTION_CAPS, PAGE_NAME_PENALTY, levelFor } from './bands.js';
import { findContradictions } from './contradictions.js';
import { type AnswerContext, type CriterionResult, percent, quote } from './criterion.js';
import { penaliseGaming } from './gaming-signals.js';
import { labelFound } from './labels.js';
import { overlapsAny } from './quantities.js';
import type { TextFeatures } from './text-features.js';
import { type UiNames, showLabel } from './ui-labels.js';

/** Share of the reference's content stems found in the answer, blended with the answer's share that the reference backs. */
function contentAgreement(answer: TextFeatures, reference: TextFeatures): number {
  let shared = 0;
  for (const stem of reference.stems) if (answer.stems.has(stem)) shared += 1;
  const recall = shared / Math.max(1, reference.stems.size);
  const precision = shared / Math.max(1, answer.stems.size);
  // Recall dominates: a correct answer may add useful context the reference lacks.
  return 0.7 * recall + 0.3 * precision;
}

/** Accuracy against the given reference: agreement and key facts, capped by contradictions, lowered by gaming. */
export function scoreAccuracy({ answer, reference, inquiry, ui, gaming }: AnswerContext & { reference: TextFeatures }): CriterionResult {
  const agreement = contentAgreement(answer, reference);
  const facts = [
    ...reference.quantities.map((quantity) => ({ shown: quantity.text, found: overlapsAny(answer.quantities, quantity) })),
    ...reference.labels.map((label) => ({ shown: showLabel(label), found: labelFound(answer, label) })),
  ];
  const matched = facts.filter((fact) => fact.found);
  const combined = facts.length > 0 ? 0.5 * agreement + 0.5 * (matched.length / facts.length) : agreement;
  const base = levelFor(ACCURACY_BANDS, combined);

  const parts = [`Content agreement with the reference ${percent(agreement)}`];
  if (facts.length > 0) {
    parts.push(`key facts matched ${matched.length}/${facts.length}`);
    const missing = facts.filter((fact) => !fact.found).map((fact) => fact.shown);
    if (missing.length > 0) parts.push(`missing: ${missing.slice(0, 3).join(', ')}`);
  }
  let rationale = `${parts.join('; ')}.`;

  const contradictions = findContradictions(answer, reference, inquiry);
  let level: number = base;
  if (contradictions.length > 0) {
    level = Math.min(base, contradictions.length === 1 ? CONTRADICTION_CAPS.one : CONTRADICTION_CAPS.several);
    const listed = contradictions.map((contradiction) => `${quote(contradiction.sentence, 80)}: ${contradiction.detail}`).join('; ');
    rationale += ` Contradicts the reference: ${listed}; capped at ${level}.`;
  }
  const pages = wrongPageNames(ui, reference, facts.length > matched.length);
  if (pages.length > 0) {
    const lowered = Math.max(1, level - Math.min(pages.length * PAGE_NAME_PENALTY.perName, PAGE_NAME_PENALTY.max));
    rationale += ` ${pages.join('; ')}: ${lowered < level ? `-${level - lowered}` : 'already at 1'}.`;
    level = lowered;
  }
  const penalised = penaliseGaming('accuracy', level, gaming);
  return { score: penalised.score, rationale: rationale + penalised.note };
}

/** Page names that do not exist, and real ones the reference does not use when the answer misses one it does. */
function wrongPageNames(ui: UiNames, reference: TextFeatures, missesReferenceFact: boolean): string[] {
  const wrong = ui.unverified.map((name) => `Names ${showLabel(name)}, which neither the knowledge base nor the reference has`);
  if (missesReferenceFact && reference.labels.length > 0) {
    const elsewhere = ui.verified.filter((name) => !labelFound(reference, name));
    wrong.push(...elsewhere.map((name) => `Names ${showLabel(name)} where the reference names ${reference.labels.map(showLabel).slice(0, 2).join(', ')}`));
  }
  return wrong;
}
