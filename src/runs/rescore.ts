import { AppError } from '../errors.js';
import type { ModelAnswer } from '../models/answer.js';
import type { Scorer } from '../scoring/score-answer.js';
import type { RunResult } from './run-result.js';
import { FINISHED_STATUSES, resultKey, type RunRecord, type RunStore } from './run-store.js';

/**
 * Re-scoring: a new run over an ended run's items and answers, with another scorer. Its pairs are never
 * answered again: each answer is the one the source run stored, and only the scorer runs.
 */

/** POST /evaluate/{run_id}/rescore, validated by its schema. */
export interface RescoreRequest {
  scorer: Scorer;
  judge_samples: number;
  /** Default: the source run's. */
  concurrency?: number;
  /** Aliases of the source run's models, in the order to compare them; default: the source's, in its order. */
  models?: string[];
  /** The caller, for its share of the reports folder (see RunRecord.owner). */
  owner?: string;
  /** The alias that judges (judge and pairwise scorers); default: the `judge` alias. */
  judge?: string;
}

/**
 * The models of the new run, taken from the source run (with the model ids that answered there), once the
 * source has ended: a running run's answers are still coming, and each would be missing from the rescore.
 */
export function rescoredModels(source: RunRecord, models: readonly string[] | undefined): RunRecord['models'] {
  if (!FINISHED_STATUSES.includes(source.status)) {
    throw new AppError(
      409,
      'run_not_ended',
      `Run '${source.run_id}' is ${source.status}: only an ended run's answers can be scored again. Wait for it to end (GET /evaluate/${source.run_id}), or cancel it.`,
    );
  }
  if (models === undefined) return source.models;
  const aliases = source.models.map((model) => model.alias);
  const picked = new Map<string, string>();
  // By alias, or by the model id that answered in the source run, as POST /evaluate takes either.
  return models.map((name) => {
    const model = source.models.find((candidate) => candidate.alias === name) ?? source.models.find((candidate) => candidate.model_id === name);
    if (!model) {
      throw new AppError(400, 'model_not_in_source_run', `Run '${source.run_id}' has no answers of '${name}'; pick among its models: ${aliases.join(', ')}.`, {
        details: { models: aliases },
      });
    }
    const earlier = picked.get(model.alias);
    if (earlier !== undefined) {
      const same = earlier === name ? `'${name}' is listed twice` : `'${earlier}' and '${name}' are the same model (${model.alias})`;
      throw new AppError(400, 'duplicate_model', `Invalid request: ${same}; each model may appear once.`, { details: { models, model: model.alias } });
    }
    picked.set(model.alias, name);
    return model;
  });
}

/** A run may have ended before any answer (cancelled, failed), or with every answer failed: there is then nothing to score again. */
export async function requireStoredAnswer(store: Pick<RunStore, 'results'>, source: RunRecord): Promise<void> {
  for await (const result of store.results(source.run_id)) if (result.answer !== null) return;
  throw new AppError(409, 'nothing_to_rescore', `Run '${source.run_id}' ended (${source.status}) with no answer to score again.`);
}

/** What a rescore takes of one stored result: the answer as it was given, or why there is none. */
type StoredAnswer = Pick<RunResult, 'model_id' | 'answer' | 'answer_status' | 'tokens_in' | 'tokens_out' | 'latency_ms' | 'error'>;

export interface StoredAnswers {
  /** The source run's answer of `alias` to the item, as the model gave it; `no_stored_answer` when it has none. */
  answerOf(itemId: string, alias: string): Promise<ModelAnswer>;
}

/**
 * The source run's answers, read from the store once (its results come in pages) at the first pair asked for,
 * then kept for the run's pairs in this process; only what a rescore needs of each result is kept.
 */
export function storedAnswersOf(store: Pick<RunStore, 'results'>, sourceRunId: string): StoredAnswers {
  let loading: Promise<Map<string, StoredAnswer>> | undefined;

  async function load(): Promise<Map<string, StoredAnswer>> {
    const answers = new Map<string, StoredAnswer>();
    for await (const result of store.results(sourceRunId)) {
      const { model_id, answer, answer_status, tokens_in, tokens_out, latency_ms, error } = result;
      answers.set(resultKey(result.item_id, result.model_alias), { model_id, answer, answer_status, tokens_in, tokens_out, latency_ms, error });
    }
    return answers;
  }

  async function loaded(): Promise<Map<string, StoredAnswer>> {
    loading ??= load();
    try {
      return await loading;
    } catch (error) {
      // A store that failed to answer (a database gone for a moment) is read again at the next pair.
      loading = undefined;
      throw error;
    }
  }

  return {
    async answerOf(itemId, alias) {
      const stored = (await loaded()).get(resultKey(itemId, alias));
      if (!stored || stored.answer === null) {
        const why = stored?.error ? `it failed there: ${stored.error.code}: ${stored.error.message}` : 'it was never answered there (the run ended first)';
        throw new AppError(409, 'no_stored_answer', `Run '${sourceRunId}' has no answer of '${alias}' to item '${itemId}' to score again: ${why}.`);
      }
      const { tokens_in, tokens_out } = stored;
      return {
        answer: stored.answer,
        model: alias,
        model_id: stored.model_id,
        usage: { input_tokens: tokens_in, output_tokens: tokens_out, total_tokens: tokens_in === null || tokens_out === null ? null : tokens_in + tokens_out },
        latency_ms: stored.latency_ms ?? 0,
        response_id: null,
        status: stored.answer_status ?? 'completed',
      };
    },
  };
}
