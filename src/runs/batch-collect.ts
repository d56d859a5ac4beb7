/**
 * What a finished batch's lines become: each (item, model) recorded once, matched by custom_id whatever the
 * order of the output and error files. A line that failed, expired or never came back is answered (or judged)
 * synchronously afterwards, or recorded failed with its reason, as the run's `batch_failures` says.
 */
import { setImmediate } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { OpenAI } from 'openai';
import { AppError } from '../errors.js';
import type { OpenAIModelEntry } from '../models/registry.js';
import { redactSecrets } from '../secrets.js';
import { toRubricScores, type JudgeVerdict } from '../scoring/judge.js';
import { verdictFromBody } from '../scoring/judge-call.js';
import { JUDGE_VERDICT_FORMAT } from '../scoring/judge-prompt.js';
import { answerCustomId, judgeCustomId, readAnswerBody, readOutputLine, type LineOutcome } from './batch-lines.js';
import type { BatchPart, BatchRunState } from './batch-state.js';
import { fileLines } from './batch-upstream.js';
import { answeredOutcome, failedAnswer, recordResult, toRunResult, type AnsweredPair, type createPairWork, type PairWorkDeps, type RunSink } from './pair-work.js';
import type { RunItem } from './run-result.js';
import { resultKey, type RunRecord } from './run-store.js';

type RunModel = RunRecord['models'][number];
/** Why a line gave no reply: its error, or why it never came back. */
export type LineFailure = { ok: false; code: string; message: string };

/** What collecting a batch run's parts needs; `finished` holds the (item, model) pairs already recorded. */
export interface BatchCollection {
  deps: PairWorkDeps;
  record: RunRecord;
  state: BatchRunState;
  items: readonly RunItem[];
  finished: Set<string>;
  work: ReturnType<typeof createPairWork>;
  sink: RunSink;
  signal: AbortSignal;
  log: FastifyBaseLogger;
  /** By alias: the answers that came back in its answer batches, read once (the judge phase needs them). */
  batchAnswers: Map<string, Map<string, AnsweredPair>>;
  /** Pairwise: the (item, other model) pairs whose verdict is recorded. */
  judged: Set<string>;
  /** Pairwise: every recorded answer by resultKey, read once the answers are all in (the verdict phase needs them). */
  recordedAnswers: Map<string, string | null> | null;
}

/** Why a line has no result although its batch has ended. */
export function missingLine(status: string | null): LineFailure {
  if (status === 'expired') return { ok: false, code: 'batch_expired', message: 'The batch expired (24 h completion window) before this request ran.' };
  if (status === 'cancelled') return { ok: false, code: 'batch_cancelled', message: 'The batch was cancelled before this request ran.' };
  if (status === 'failed') return { ok: false, code: 'batch_failed', message: 'The batch failed upstream (its input file was refused) and ran no request.' };
  return { ok: false, code: 'batch_line_missing', message: 'The batch ended without a result for this request.' };
}

const answeredOf = (entry: OpenAIModelEntry, result: { answer: string; usage: AnsweredPair['usage']; response_id: string | null; status: AnsweredPair['status'] }): AnsweredPair => ({
  // A model can be made to quote the key it was called with; its answer is stored, scored and shown.
  answer: redactSecrets(result.answer),
  model: entry.alias,
  model_id: entry.model_id,
  usage: result.usage,
  latency_ms: null,
  response_id: result.response_id,
  status: result.status,
});

/** Every line of a finished batch's output and error files, by custom_id. */
export async function outcomesOf(client: OpenAI, part: BatchPart): Promise<Map<string, LineOutcome>> {
  const outcomes = new Map<string, LineOutcome>();
  for (const fileId of [part.error_file_id, part.output_file_id]) {
    for await (const row of fileLines(client, fileId)) {
      const outcome = readOutputLine(row);
      if (outcome) outcomes.set(outcome.custom_id, outcome);
    }
  }
  return outcomes;
}

/** The answers that came back in `alias`'s answer batches, by item id (read once per run). */
export async function batchAnswersOf(collection: BatchCollection, alias: string, entry: OpenAIModelEntry, client: OpenAI): Promise<Map<string, AnsweredPair>> {
  let answers = collection.batchAnswers.get(alias);
  if (answers) return answers;
  answers = new Map();
  for (const part of collection.state.parts.filter((candidate) => candidate.phase === 'answer' && candidate.alias === alias)) {
    const outcomes = await outcomesOf(client, part);
    for (const item of collection.items.slice(part.first_item, part.first_item + part.items)) {
      const outcome = outcomes.get(answerCustomId(item.item_id, alias));
      const read = outcome?.ok ? readAnswerBody(entry, outcome.body) : undefined;
      if (read?.ok) answers.set(item.item_id, answeredOf(entry, read.result));
    }
  }
  collection.batchAnswers.set(alias, answers);
  return answers;
}

/** Items of `alias` with an answer from its batches, in item order: the judge phase's units. */
export const judgedItemsOf = (collection: BatchCollection, answers: ReadonlyMap<string, AnsweredPair>) => collection.items.filter((item) => answers.has(item.item_id));

const modelOf = (record: RunRecord, alias: string) => record.models.find((model) => model.alias === alias) as RunModel;

/** A synchronous upstream call of a batch run: a failed line's (batch_failures retry), or a pairwise verdict. */
export type SynchronousCall = () => Promise<void>;

/**
 * Makes the calls at most the run's `concurrency` at once, as a live run would; false when the run was stopped
 * first (what was not recorded is done again on resume). A part's failed lines wait until its other lines are in.
 */
export async function callSynchronously(collection: Pick<BatchCollection, 'record' | 'signal'>, calls: readonly SynchronousCall[]): Promise<boolean> {
  let next = 0;
  const worker = async () => {
    while (next < calls.length && !collection.signal.aborted) await (calls[next++] as SynchronousCall)();
  };
  await Promise.all(Array.from({ length: Math.min(collection.record.concurrency, calls.length) }, worker));
  return !collection.signal.aborted;
}

const itemLog = (collection: BatchCollection, item: RunItem) => collection.log.child({ run_id: collection.record.run_id, item_id: item.item_id });

/**
 * Records every item of a finished answer part not recorded yet; false when the run was stopped first (the
 * rest is collected on resume). With the judge scorer an answer is held for the judge phase, which reads it
 * again from the same output file.
 */
export async function collectAnswerPart(collection: BatchCollection, part: BatchPart, entry: OpenAIModelEntry, client: OpenAI): Promise<boolean> {
  const { record, finished, work, signal, sink, state } = collection;
  const model = modelOf(record, part.alias);
  const outcomes = await outcomesOf(client, part);
  const retries: SynchronousCall[] = [];
  for (const item of collection.items.slice(part.first_item, part.first_item + part.items)) {
    if (signal.aborted) return false;
    const key = resultKey(item.item_id, part.alias);
    if (finished.has(key)) continue;
    const outcome = outcomes.get(answerCustomId(item.item_id, part.alias));
    const read = outcome === undefined ? missingLine(part.status) : outcome.ok ? readAnswerBody(entry, outcome.body) : outcome;
    if (!read.ok && state.failures === 'retry') {
      retries.push(async () => {
        if ((await work.pair(item, model, signal, { mayDefer: false })) !== 'aborted') finished.add(key);
      });
      continue;
    }
    if (!read.ok) {
      await recordResult(sink, toRunResult(record.run_id, item, model.alias, failedAnswer(model.model_id, new AppError(502, read.code, read.message))));
    } else if (record.scorer === 'judge') {
      continue;
    } else if ((await work.finish(item, model, answeredOf(entry, read.result), signal, itemLog(collection, item))) === 'aborted') {
      return false;
    }
    finished.add(key);
    // Recording many lines never holds the event loop for the whole file.
    await setImmediate();
  }
  return callSynchronously(collection, retries);
}

/**
 * Records the judged answers of a finished judge part: an answer scored from its samples' verdicts, a verdict
 * the judge got wrong failed as in a live run, and samples that did not come back per `batch_failures`.
 */
export async function collectJudgePart(collection: BatchCollection, part: BatchPart, judge: OpenAIModelEntry, answers: ReadonlyMap<string, AnsweredPair>, client: OpenAI): Promise<boolean> {
  const { record, finished, work, signal, sink, deps } = collection;
  const model = modelOf(record, part.alias);
  const outcomes = await outcomesOf(client, part);
  const retries: SynchronousCall[] = [];
  for (const item of judgedItemsOf(collection, answers).slice(part.first_item, part.first_item + part.items)) {
    if (signal.aborted) return false;
    const key = resultKey(item.item_id, part.alias);
    const answered = answers.get(item.item_id) as AnsweredPair;
    if (finished.has(key)) continue;
    const recordScoring = (scoring: Parameters<typeof answeredOutcome>[1]) => recordResult(sink, toRunResult(record.run_id, item, part.alias, answeredOutcome(answered, scoring)));
    const verdicts: JudgeVerdict[] = [];
    let failure: LineFailure | undefined;
    try {
      for (let sample = 0; sample < record.judge_samples && !failure; sample += 1) {
        const outcome = outcomes.get(judgeCustomId(item.item_id, part.alias, sample));
        if (outcome === undefined || !outcome.ok) failure = outcome ?? missingLine(part.status);
        else verdicts.push(verdictFromBody(judge, outcome.body, JUDGE_VERDICT_FORMAT));
      }
    } catch (error) {
      const { code, message } = error as AppError;
      await recordScoring({ scores: null, outcome: 'failed', error: { stage: 'score', code, message } });
      finished.add(key);
      continue;
    }
    if (failure && collection.state.failures === 'retry') {
      retries.push(async () => {
        if ((await work.finish(item, model, answered, signal, itemLog(collection, item))) !== 'aborted') finished.add(key);
      });
      continue;
    }
    if (failure) {
      await recordScoring({ scores: null, outcome: 'failed', error: { stage: 'score', code: failure.code, message: failure.message } });
    } else {
      const reference = item.reference !== null && item.reference.trim() !== '' ? item.reference : null;
      const scores = toRubricScores(verdicts, deps.config.RUBRIC_WEIGHTS, { inquiry: item.inquiry, answer: answered.answer, reference }, judge.model_id);
      await recordScoring({ scores, outcome: 'scored', error: null });
    }
    finished.add(key);
    await setImmediate();
  }
  return callSynchronously(collection, retries);
}
