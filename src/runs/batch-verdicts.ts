/**
 * The verdict phase of a pairwise batch run: the first model's answer against each other model's, asked of the
 * judge through the Batch API once every answer is recorded. Its units are the items both models answered (each
 * item's lines: both orders, every sample); a verdict is combined from its lines exactly as a synchronous one is,
 * and lines that failed or never came back are judged synchronously or fail the verdict, as `batch_failures` says.
 */
import { setImmediate } from 'node:timers/promises';
import type { OpenAI } from 'openai';
import type { AppError } from '../errors.js';
import type { OpenAIModelEntry } from '../models/registry.js';
import { verdictFromBody } from '../scoring/judge-call.js';
import { pairwiseAsks, pairwiseVerdictOf, type PairwiseReplies } from '../scoring/pairwise-judge.js';
import { PAIRWISE_VERDICT_FORMAT } from '../scoring/pairwise-prompt.js';
import { callSynchronously, missingLine, outcomesOf, type BatchCollection, type LineFailure, type SynchronousCall } from './batch-collect.js';
import { verdictCustomId, verdictLines } from './batch-lines.js';
import type { BatchPart } from './batch-state.js';
import type { PairVerdict } from './pair-work.js';
import type { RunItem } from './run-result.js';
import { resultKey, type RunRecord } from './run-store.js';

type RunModel = RunRecord['models'][number];

/** Every recorded answer of the run by resultKey (null where the model gave none), read from the store once. */
async function recordedAnswersOf(collection: BatchCollection): Promise<Map<string, string | null>> {
  if (collection.recordedAnswers) return collection.recordedAnswers;
  const answers = new Map<string, string | null>();
  for await (const result of collection.deps.store.results(collection.record.run_id)) answers.set(resultKey(result.item_id, result.model_alias), result.answer);
  collection.recordedAnswers = answers;
  return answers;
}

/**
 * The items both the first model and `other` answered, in item order: the verdict phase's units for `other`. The
 * answers are all recorded before the phase is planned, so a resumed run finds the same items (and parts) again.
 */
async function pairedItemsOf(collection: BatchCollection, other: string): Promise<Array<{ item: RunItem; first: string; second: string }>> {
  const answers = await recordedAnswersOf(collection);
  const firstAlias = (collection.record.models[0] as RunModel).alias;
  return collection.items.flatMap((item) => {
    const first = answers.get(resultKey(item.item_id, firstAlias));
    const second = answers.get(resultKey(item.item_id, other));
    // As a synchronous verdict: an empty answer is no answer, and that verdict fails without asking the judge.
    return first && second ? [{ item, first, second }] : [];
  });
}

/** The judge's request lines of each paired item of `other`. */
export async function verdictUnitsOf(collection: BatchCollection, judge: OpenAIModelEntry, other: string): Promise<string[][]> {
  const firstAlias = (collection.record.models[0] as RunModel).alias;
  return (await pairedItemsOf(collection, other)).map(({ item, first, second }) =>
    verdictLines(judge, item, { first: { alias: firstAlias, answer: first }, second: { alias: other, answer: second } }, collection.record.judge_samples),
  );
}

/**
 * Records the verdicts of a finished verdict part not recorded yet; false when the run was stopped first (the
 * rest is collected on resume). A verdict the judge got wrong fails as in a live run.
 */
export async function collectVerdictPart(collection: BatchCollection, part: BatchPart, judge: OpenAIModelEntry, client: OpenAI): Promise<boolean> {
  const { record, judged, work, signal, state } = collection;
  const other = record.models.find((model) => model.alias === part.alias) as RunModel;
  const firstAlias = (record.models[0] as RunModel).alias;
  const outcomes = await outcomesOf(client, part);
  const retries: SynchronousCall[] = [];
  for (const { item, first, second } of (await pairedItemsOf(collection, part.alias)).slice(part.first_item, part.first_item + part.items)) {
    if (signal.aborted) return false;
    const key = resultKey(item.item_id, part.alias);
    if (judged.has(key)) continue;
    const replies: PairwiseReplies = { first_as_a: [], second_as_a: [] };
    let failure: LineFailure | undefined;
    try {
      // As a synchronous verdict, the first line that failed (or was no verdict) decides; the rest are not read.
      for (const { order, sample } of pairwiseAsks(record.judge_samples)) {
        const outcome = outcomes.get(verdictCustomId(item.item_id, part.alias, order, sample));
        if (outcome === undefined || !outcome.ok) {
          failure = outcome ?? missingLine(part.status);
          break;
        }
        replies[order].push(verdictFromBody(judge, outcome.body, PAIRWISE_VERDICT_FORMAT));
      }
    } catch (error) {
      const { code, message } = error as AppError;
      await work.recordPairVerdict(item, other, { verdict: null, outcome: 'failed', error: { stage: 'score', code, message } });
      judged.add(key);
      continue;
    }
    if (failure && state.failures === 'retry') {
      retries.push(async () => {
        const answers = new Map([
          [firstAlias, first],
          [part.alias, second],
        ]);
        if ((await work.verdict(item, other, answers, signal)) !== 'aborted') judged.add(key);
      });
      continue;
    }
    const verdict: PairVerdict = failure
      ? { verdict: null, outcome: 'failed', error: { stage: 'score', code: failure.code, message: failure.message } }
      : {
          verdict: pairwiseVerdictOf(collection.deps.registry, { first: { alias: firstAlias }, second: { alias: part.alias } }, replies, { judge: record.judge, weights: record.weights, samples: record.judge_samples }),
          outcome: 'judged',
          error: null,
        };
    await work.recordPairVerdict(item, other, verdict);
    judged.add(key);
    await setImmediate();
  }
  return callSynchronously(collection, retries);
}
