import type { ModelRegistry } from '../models/registry.js';
import type { UpstreamClients } from '../models/upstream-clients.js';
import type { RubricScores, RubricWeights } from './rubric.js';
import type { ScoreContext, ScoreInput } from './score-answer.js';

export interface JudgeDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
}

export async function scoreWithJudge(_deps: JudgeDeps, _input: ScoreInput, _weights: RubricWeights, _ctx: ScoreContext): Promise<RubricScores> {
  throw new Error('not implemented yet');
}
