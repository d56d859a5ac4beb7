import type { FastifyBaseLogger } from 'fastify';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import { JUDGE_ALIAS, type ModelRegistry } from '../models/registry.js';
import type { UpstreamClients } from '../models/upstream-clients.js';
import { scoreWithHeuristic, type HeuristicReference } from './heuristic.js';
import { scoreWithJudge } from './judge.js';
import type { RubricScores, RubricWeights } from './rubric.js';

export const SCORER_CHOICES = ['judge', 'heuristic', 'none'] as const;
export type ScorerChoice = (typeof SCORER_CHOICES)[number];
export type Scorer = Exclude<ScorerChoice, 'none'>;

export interface ScoringDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
  knowledgeBase: KnowledgeBase;
  config: { RUBRIC_WEIGHTS: RubricWeights; RETRIEVAL_MIN_CONFIDENCE: number };
}

export interface ScoreInput {
  inquiry: string;
  answer: string;
  reference: string | null;
}

export interface ScoreContext {
  log: FastifyBaseLogger;
  signal?: AbortSignal;
}

/** The judge when its upstream has credentials, else the offline heuristic. */
export function defaultScorer(deps: Pick<ScoringDeps, 'registry'>): Scorer {
  return deps.registry.availability(deps.registry.resolve(JUDGE_ALIAS)).available ? 'judge' : 'heuristic';
}

/**
 * The heuristic needs something to compare with: without a given reference it uses the closest
 * knowledge-base answer, but only one the offline model itself would trust, so that an unrelated
 * answer never becomes the yardstick.
 */
export function referenceForHeuristic(deps: Pick<ScoringDeps, 'knowledgeBase' | 'config'>, input: ScoreInput): HeuristicReference | null {
  if (input.reference !== null && input.reference.trim() !== '') return { text: input.reference, source: 'given' };
  const match = deps.knowledgeBase.closest(input.inquiry);
  if (match && match.confidence >= deps.config.RETRIEVAL_MIN_CONFIDENCE) return { text: match.example.answer, source: 'knowledge_base' };
  return null;
}

/** Scores one answer on the rubric. A judge failure throws (the item is failed, never re-scored by a fallback). */
export async function scoreAnswer(deps: ScoringDeps, scorer: Scorer, input: ScoreInput, ctx: ScoreContext): Promise<RubricScores> {
  const weights = deps.config.RUBRIC_WEIGHTS;
  if (scorer === 'heuristic') {
    return scoreWithHeuristic({ inquiry: input.inquiry, answer: input.answer, reference: referenceForHeuristic(deps, input) }, weights);
  }
  return scoreWithJudge(deps, input, weights, ctx);
}
