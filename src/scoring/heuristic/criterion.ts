import type { GamingSignals } from './gaming-signals.js';
import type { TextFeatures } from './text-features.js';
import type { UiNames } from './ui-labels.js';

/** What every criterion scorer gets: the answer and reference read once, and the gaming signals found in the answer. */
export interface AnswerContext {
  answer: TextFeatures;
  /** The given reference; null when there is none (accuracy and completeness are then not scored). */
  reference: TextFeatures | null;
  inquiry: TextFeatures;
  /** The answer's page and setting names, checked against the knowledge base and the reference. */
  ui: UiNames;
  gaming: GamingSignals;
}

export interface CriterionResult {
  score: number;
  rationale: string;
}

export const percent = (share: number) => `${Math.round(share * 100)}%`;
export const quote = (text: string, limit = 60) => `"${text.length > limit ? `${text.slice(0, limit).trimEnd()}…` : text}"`;
export const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** One safety or tone problem, at the rubric level it costs, with the lexicon entry that found it. */
export interface SafetyFinding {
  level: number;
  reason: string;
}
