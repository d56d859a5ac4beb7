import type { FastifyBaseLogger } from 'fastify';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import { JUDGE_ALIAS, type ModelRegistry } from '../models/registry.js';
import type { TrafficLane, UpstreamClients } from '../models/upstream-clients.js';
import { knownUiLabelsOf, scoreWithHeuristic, type KnownUiLabels } from './heuristic/score-heuristic.js';
import { scoreWithJudge, type JudgeOptions } from './judge.js';
import type { RubricScores, RubricWeights } from './rubric.js';

/** judge and heuristic grade one answer on the rubric; pairwise has the judge prefer one of two answers; none only answers. */
export const SCORER_CHOICES = ['judge', 'heuristic', 'pairwise', 'none'] as const;
export type ScorerChoice = (typeof SCORER_CHOICES)[number];
export type Scorer = Exclude<ScorerChoice, 'none'>;
export type PointwiseScorerChoice = Exclude<Scorer, 'pairwise'>;

export { MAX_JUDGE_SAMPLES } from './judge-call.js';

export interface ScoringDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
  knowledgeBase: KnowledgeBase;
  config: { RUBRIC_WEIGHTS: RubricWeights };
}

export interface ScoreInput {
  inquiry: string;
  answer: string;
  reference: string | null;
}

export interface ScoreContext {
  log: FastifyBaseLogger;
  signal?: AbortSignal;
  /** Evaluation runs judge on the batch lane, as they answer (see upstream-clients.ts). */
  lane?: TrafficLane;
}

/** The judge when its upstream has credentials, else the offline heuristic. */
export function defaultScorer(deps: Pick<ScoringDeps, 'registry'>): PointwiseScorerChoice {
  return deps.registry.availability(deps.registry.resolve(JUDGE_ALIAS)).available ? 'judge' : 'heuristic';
}

/** Scorers that call the judge alias, and so need its key before anything is spent. */
export const usesJudge = (scorer: ScorerChoice) => scorer === 'judge' || scorer === 'pairwise';

const uiLabelsByKnowledgeBase = new WeakMap<KnowledgeBase, KnownUiLabels>();

/**
 * The pages and settings the knowledge base names: the heuristic credits a UI path only when it exists
 * there or in the given reference, so an invented "'Support Hub' > 'Order Wizard'" earns nothing.
 */
export function knownUiLabels(knowledgeBase: KnowledgeBase): KnownUiLabels {
  let labels = uiLabelsByKnowledgeBase.get(knowledgeBase);
  if (!labels) {
    labels = knownUiLabelsOf(knowledgeBase.examples.map((example) => example.answer));
    uiLabelsByKnowledgeBase.set(knowledgeBase, labels);
  }
  return labels;
}

/**
 * Scores one answer on the rubric. The heuristic grades only against a reference the caller gave,
 * never one taken from the training file: a model that repeats training answers would otherwise be
 * graded against its own output. A judge failure throws (the item is failed, never re-scored by a fallback).
 */
export async function scoreAnswer(
  deps: ScoringDeps,
  scorer: PointwiseScorerChoice,
  input: ScoreInput,
  ctx: ScoreContext,
  options: JudgeOptions = {},
): Promise<RubricScores> {
  const weights = deps.config.RUBRIC_WEIGHTS;
  const reference = input.reference !== null && input.reference.trim() !== '' ? input.reference : null;
  if (scorer === 'heuristic') {
    return scoreWithHeuristic({ inquiry: input.inquiry, answer: input.answer, reference, knownUiLabels: knownUiLabels(deps.knowledgeBase) }, weights);
  }
  return scoreWithJudge(deps, { inquiry: input.inquiry, answer: input.answer, reference }, weights, ctx, options);
}
