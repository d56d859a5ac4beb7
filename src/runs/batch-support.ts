import { AppError } from '../errors.js';
import { JUDGE_ALIAS, type ModelEntry, type ModelRegistry } from '../models/registry.js';
import type { ScorerChoice } from '../scoring/score-answer.js';

/**
 * A batch run sends every upstream model's requests, and the judge's with the judge scorer, through the Batch
 * API (pairwise verdicts are asked synchronously): refused (400 batch_unsupported) before anything is stored
 * when one of those upstreams has none. Offline models answer locally in a batch run as in any other.
 */
export function requireBatchApi(registry: ModelRegistry, entries: readonly ModelEntry[], scorer: ScorerChoice): void {
  const judge = scorer === 'judge' ? [registry.resolve(JUDGE_ALIAS)] : [];
  for (const entry of [...entries, ...judge]) {
    if (entry.kind !== 'openai' || entry.batch_api) continue;
    const role = entry.alias === JUDGE_ALIAS && judge.length > 0 ? `The judge ('${JUDGE_ALIAS}', needed by the ${scorer} scorer)` : `Model '${entry.alias}'`;
    throw new AppError(
      400,
      'batch_unsupported',
      `${role} is served by ${entry.upstream.base_url}, which has no Batch API (batch_api is false in MODELS_FILE). Run it with mode "live", or set batch_api: true for the alias if its upstream speaks OpenAI's files and batches.`,
      { details: { model: entry.alias, base_url: entry.upstream.base_url } },
    );
  }
}
