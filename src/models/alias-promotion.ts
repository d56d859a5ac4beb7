import { AppError } from '../errors.js';
import type { RunManager } from '../runs/run-manager.js';
import { runHeadlineOf, type RunHeadline } from '../runs/run-headline.js';
import { FINISHED_STATUSES } from '../runs/run-store.js';
import type { AliasAssignment, ModelAliases } from './model-aliases.js';
import type { ModelRegistry } from './registry.js';

/** The evaluation a promote checked: the candidate against the alias's current model, from the run's headline section. */
export interface CheckedEvaluation {
  run_id: string;
  /** The summary section the gain comes from: unseen items whenever some items are copies of training inquiries. */
  section: RunHeadline['section'];
  candidate_model_id: string;
  current_model_id: string;
  /** Weighted score of the candidate minus that of the current model, item by item; null when no pair was scored. */
  gain: number | null;
  ci95: { low: number; high: number; method: 'bootstrap' | 't' } | null;
  n_pairs: number;
  /** The run's own line for the comparison, in the order the run listed the two models. */
  headline: string;
  /** The candidate is worse and the paired interval excludes 0. */
  significant_loss: boolean;
}

type Gain = RunHeadline['gains'][number];

/**
 * The comparison of two models in one run's headline, turned to read "candidate minus current" whichever of
 * the two the run listed first (a summary compares the first model with each other one); null when the run
 * does not compare them with each other.
 */
export function comparisonBetween(
  models: readonly { alias: string; model_id: string }[],
  headline: RunHeadline,
  candidateId: string,
  currentId: string,
): Omit<CheckedEvaluation, 'run_id'> | null {
  const modelIdOf = (alias: string) => models.find((model) => model.alias === alias)?.model_id;
  const isPair = (gain: Gain, first: string, second: string) => modelIdOf(gain.first) === first && modelIdOf(gain.second) === second;
  const forward = headline.gains.find((gain) => isPair(gain, candidateId, currentId));
  const backward = forward ? undefined : headline.gains.find((gain) => isPair(gain, currentId, candidateId));
  const found = forward ?? backward;
  if (!found) return null;
  const sign = forward ? 1 : -1;
  const gain = found.mean_difference === null ? null : sign * found.mean_difference;
  const ci95 = found.ci95 && (forward ? found.ci95 : { low: -found.ci95.high, high: -found.ci95.low, method: found.ci95.method });
  return {
    section: headline.section,
    candidate_model_id: candidateId,
    current_model_id: currentId,
    gain,
    ci95,
    n_pairs: found.n_pairs,
    headline: `${found.first} vs ${found.second}: ${found.text}`,
    significant_loss: gain !== null && gain < 0 && ci95 !== null && ci95.high < 0,
  };
}

/** The newest ended run (newest created first) that compares the two models with each other; null when none does. */
export async function latestEvaluation(runs: RunManager, candidateId: string, currentId: string): Promise<CheckedEvaluation | null> {
  let after: string | undefined;
  do {
    const page = await runs.list({ after });
    for (const run of page.runs) {
      if (!FINISHED_STATUSES.includes(run.status)) continue;
      const ids = run.models.map((model) => model.model_id);
      if (!ids.includes(candidateId) || !ids.includes(currentId)) continue;
      const headline = runHeadlineOf(await runs.summary(run.run_id));
      const comparison = headline && comparisonBetween(run.models, headline, candidateId, currentId);
      if (comparison) return { run_id: run.run_id, ...comparison };
    }
    after = page.next ?? undefined;
  } while (after !== undefined);
  return null;
}

export interface PromoteRequest {
  alias: string;
  /** An alias or a model id the registry knows. */
  model: string;
  override_significant_loss?: boolean;
  note?: string;
  assigned_by: string;
}

export interface Promotion {
  assignment: AliasAssignment;
  evaluation: CheckedEvaluation | null;
  warning: string | null;
}

export function unknownAlias(alias: string, registry: ModelRegistry): AppError {
  const aliases = registry.entries.map((entry) => entry.alias);
  return new AppError(404, 'unknown_alias', `No model alias '${alias}'. GET /models lists them: ${aliases.join(', ')}.`, { details: { aliases } });
}

const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)}`;

/**
 * Re-points an alias at a model the registry knows, unless the newest ended evaluation of the two shows the
 * candidate significantly worse than the model the alias points at now (which `override_significant_loss` allows).
 */
export async function promoteAlias(deps: { registry: ModelRegistry; aliases: ModelAliases; runs: RunManager }, request: PromoteRequest): Promise<Promotion> {
  const { registry, aliases } = deps;
  await aliases.refresh();
  const target = registry.entries.find((entry) => entry.alias === request.alias);
  if (!target) throw unknownAlias(request.alias, registry);
  registry.checkAssignable(request.alias);
  const candidate = registry.resolve(request.model);
  if (candidate.kind === 'retrieval') {
    throw new AppError(400, 'offline_alias', `'${candidate.alias}' is an offline model; an upstream alias can only be pointed at an upstream model.`);
  }
  const assign = (evaluation: CheckedEvaluation | null) =>
    aliases.assign({
      alias: request.alias,
      model_id: candidate.model_id,
      assigned_by: request.assigned_by,
      reason: 'promote',
      evaluation_run_id: evaluation?.run_id ?? null,
      overrode_significant_loss: evaluation?.significant_loss === true,
      note: request.note ?? null,
    });
  if (candidate.model_id === target.model_id) {
    return { assignment: await assign(null), evaluation: null, warning: `'${request.alias}' already points at ${target.model_id}.` };
  }

  const evaluation = await latestEvaluation(deps.runs, candidate.model_id, target.model_id);
  if (evaluation?.significant_loss && evaluation.gain !== null && evaluation.ci95 && !request.override_significant_loss) {
    const { gain, ci95 } = evaluation;
    throw new AppError(
      409,
      'significant_loss',
      `Run ${evaluation.run_id} shows ${candidate.model_id} worse than ${target.model_id}, the model '${request.alias}' points at: weighted gain ${signed(gain)} (95% CI ${signed(ci95.low)} to ${signed(ci95.high)}, ${evaluation.n_pairs} pairs, ${evaluation.section} items). Send override_significant_loss: true to promote it anyway.`,
      { details: evaluation },
    );
  }
  const assignment = await assign(evaluation);
  const warning =
    evaluation === null
      ? `No ended evaluation compared ${candidate.model_id} with ${target.model_id}: promoted without evidence. POST /evaluate with both models to compare them.`
      : evaluation.significant_loss
        ? `Promoted despite a significant loss in run ${evaluation.run_id} (override_significant_loss).`
        : null;
  return { assignment, evaluation, warning };
}
