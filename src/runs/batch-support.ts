import { AppError } from '../errors.js';
import { JUDGE_ALIAS, type ModelEntry, type ModelRegistry } from '../models/registry.js';
import type { ScorerChoice } from '../scoring/score-answer.js';

/**
 * A batch run sends every upstream model's requests, and the judge's with the judge or the pairwise scorer,
 * through the Batch API: refused (400 batch_unsupported) before anything is stored when one of those upstreams
 * has none. Offline models answer locally in a batch run as in any other.
 */
export function requireBatchApi(registry: ModelRegistry, entries: readonly ModelEntry[], scorer: ScorerChoice, judgeAlias: string = JUDGE_ALIAS): void {
  const judge = scorer === 'judge' || scorer === 'pairwise' ? [registry.resolve(judgeAlias)] : [];
  for (const entry of [...entries, ...judge]) {
    if (entry.kind !== 'openai' || entry.batch_api) continue;
    const role = entry.alias === judgeAlias && judge.length > 0 ? `The judge ('${judgeAlias}', needed by the ${scorer} scorer)` : `Model '${entry.alias}'`;
    throw new AppError(
      400,
      'batch_unsupported',
      `${role} is served by ${entry.upstream.base_url}, which has no Batch API (batch_api is false in MODELS_FILE). Run it with mode "live", or set batch_api: true for the alias if its upstream speaks OpenAI's files and batches.`,
      { details: { model: entry.alias, base_url: entry.upstream.base_url } },
    );
  }
}
