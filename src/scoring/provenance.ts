import { JUDGE_ALIAS, type ModelRegistry } from '../models/registry.js';
import { API_VERSION } from '../version.js';
import { HEURISTIC_RULES_SHA256 } from './heuristic/score-heuristic.js';
import { JUDGE_PROMPT_SHA256 } from './judge-prompt.js';
import { PAIRWISE_PROMPT_SHA256 } from './pairwise-prompt.js';
import type { RubricWeights, ScoringProvenance } from './rubric.js';
import type { Scorer } from './score-answer.js';

const PROMPT_SHA256: Record<Scorer, string> = {
  judge: JUDGE_PROMPT_SHA256,
  pairwise: PAIRWISE_PROMPT_SHA256,
  heuristic: HEURISTIC_RULES_SHA256,
};

/** What will produce scores with this scorer now: the judge and its model id, the prompt or rules hash, the weights. */
export function scoringProvenanceFor(registry: ModelRegistry, scoring: { scorer: Scorer; judge?: string; judge_samples: number; weights: RubricWeights }): ScoringProvenance {
  const judged = scoring.scorer !== 'heuristic';
  const judge = scoring.judge ?? JUDGE_ALIAS;
  return {
    scorer: scoring.scorer,
    judge_alias: judged ? judge : null,
    judge_model_id: judged ? registry.resolve(judge).model_id : null,
    judge_samples: judged ? scoring.judge_samples : null,
    prompt_sha256: PROMPT_SHA256[scoring.scorer],
    weights: scoring.weights,
    service_version: API_VERSION,
  };
}
