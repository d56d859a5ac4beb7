import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { SummaryAccumulator } from '../export/summary.js';
import { AppError } from '../errors.js';
import { answerInquiry, type AnswerDeps, type ModelAnswer } from '../models/answer.js';
import { judgePair } from '../scoring/pairwise-judge.js';
import { scoreAnswer, type ScoringDeps } from '../scoring/score-answer.js';
import type { PairwiseResult, RunItem, RunResult } from './run-result.js';
import type { StorageWaits } from './storage-waits.js';
import { storedAnswersOf } from './rescore.js';
import { resultKey, type RunRecord, type RunRecorder, type RunStore } from './run-store.js';

/** What answering and scoring one pair needs: the models, the scorers, the settings of outage waits. */
export type PairWorkDeps = AnswerDeps &
  ScoringDeps & {
    config: { RUN_MAX_OUTAGE_WAIT_MS: number };
    log: FastifyBaseLogger;
    /** Where a rescoring run reads its source run's answers. */
    store: Pick<RunStore, 'results'>;
  };

type RunModel = RunRecord['models'][number];

/** What is already stored of a pairwise run's items: answers are never asked again, verdicts never given twice. */
export interface FinishedWork {
  finished: Set<string>;
  judged: Set<string>;
  /** By resultKey: the finished answers a verdict still to be given needs. */
  answers: Map<string, string>;
}

const now = () => new Date().toISOString();

/** Failures of the upstream rather than of the item: worth one more try once the rest of the run is done. */
const TRANSIENT_FAILURES = new Set(['upstream_error', 'upstream_timeout', 'upstream_unreachable', 'upstream_rate_limited', 'upstream_circuit_open']);

const isTransient = (error: unknown) => error instanceof AppError && TRANSIENT_FAILURES.has(error.code);

/** How long an open breaker asks callers to wait (its Retry-After), at least a second. */
function breakerWaitMs(error: unknown): number | null {
  if (!(error instanceof AppError) || error.code !== 'upstream_circuit_open') return null;
  const seconds = Number(error.headers['retry-after']);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
}

/**
 * Calls `call`, waiting out an open circuit breaker instead of failing: an outage of a few seconds would
 * otherwise fail every pair that reaches the upstream while the breaker is open. Each pair waits at most
 * RUN_MAX_OUTAGE_WAIT_MS in all; past it, or when the run is stopped, the breaker's error stands.
 */
async function waitingOutOutages<T>(call: () => Promise<T>, signal: AbortSignal, maxWaitMs: number): Promise<T> {
  let waited = 0;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const wait = breakerWaitMs(error);
      if (wait === null || signal.aborted || waited + wait > maxWaitMs) throw error;
      waited += wait;
      await sleep(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw error;
    }
  }
}


function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: 'Unexpected error while processing the item.' };
}

type PairOutcome = Pick<RunResult, 'model_id' | 'answer' | 'answer_status' | 'tokens_in' | 'tokens_out' | 'latency_ms' | 'cache_hit' | 'scores' | 'outcome' | 'error'>;

/** One line of results.jsonl, written out key by key (see the README's performance notes on spreading). */
export function toRunResult(runId: string, item: RunItem, modelAlias: string, outcome: PairOutcome): RunResult {
  return {
    run_id: runId,
    item_id: item.item_id,
    inquiry: item.inquiry,
    category: item.category,
    reference: item.reference,
    in_training: item.in_training,
    training_line: item.training_line,
    training_similarity: item.training_similarity,
    model_alias: modelAlias,
    model_id: outcome.model_id,
    answer: outcome.answer,
    answer_status: outcome.answer_status,
    tokens_in: outcome.tokens_in,
    tokens_out: outcome.tokens_out,
    latency_ms: outcome.latency_ms,
    cache_hit: outcome.cache_hit,
    scores: outcome.scores,
    outcome: outcome.outcome,
    error: outcome.error,
    finished_at: now(),
  };
}

/** What a pairwise verdict line says of its pair: the verdict, or why there is none. */
export type PairVerdict = Pick<PairwiseResult, 'verdict' | 'outcome' | 'error'>;

/** An answer to score and record: a batch output line has no latency of its own. */
export type AnsweredPair = Omit<ModelAnswer, 'latency_ms'> & { latency_ms: number | null };

export function answeredOutcome(answer: AnsweredPair, scoring: Pick<PairOutcome, 'scores' | 'outcome' | 'error'>): PairOutcome {
  return {
    model_id: answer.model_id,
    answer: answer.answer,
    answer_status: answer.status,
    tokens_in: answer.usage.input_tokens,
    tokens_out: answer.usage.output_tokens,
    latency_ms: answer.latency_ms,
    cache_hit: answer.cache_hit === true,
    scores: scoring.scores,
    outcome: scoring.outcome,
    error: scoring.error,
  };
}

export const failedAnswer = (model_id: string, error: unknown): PairOutcome => ({
  model_id,
  answer: null,
  answer_status: null,
  tokens_in: null,
  tokens_out: null,
  latency_ms: null,
  cache_hit: false,
  scores: null,
  outcome: 'failed',
  error: { stage: 'answer', ...errorOf(error) },
});

/** Where a run's results go: the store, the live summary (none when the summary is made from the store) and the progress. */
export interface RunSink {
  recorder: RunRecorder;
  summary: SummaryAccumulator | null;
  progress: { done: number; failed: number };
  storage: StorageWaits;
  signal: AbortSignal;
}

/**
 * A result or verdict counts once the store has it. On a full disk (or a database that went away) the worker
 * holds it and waits; if the run is stopped meanwhile, the pair is done again on resume, as if it had never
 * been finished. One the store refuses (already recorded, or the run no longer running) is not counted.
 */
async function recordLine<T extends { outcome: string }>(sink: RunSink, record: () => Promise<boolean>, line: T, tally: (line: T) => void): Promise<void> {
  let recorded = false;
  const stored = await sink.storage.untilStored(async () => {
    recorded = await record();
  }, sink.signal);
  if (!stored || !recorded) return;
  tally(line);
  sink.progress.done += 1;
  if (line.outcome === 'failed') sink.progress.failed += 1;
}

export const recordResult = (sink: RunSink, result: RunResult) => recordLine(sink, () => sink.recorder.result(result), result, (line) => sink.summary?.add(line));
const recordVerdict = (sink: RunSink, verdict: PairwiseResult) => recordLine(sink, () => sink.recorder.verdict(verdict), verdict, (line) => sink.summary?.addVerdict(line));

/**
 * The work of one run, a pair or an item at a time, whoever drives it (the in-process pool of run-executor.ts or
 * the job queue's workers): answer, score, and record the result in the sink.
 * - pair(): one (item, model); with `mayDefer`, a failure of the upstream (not of the item) is left unrecorded
 *   and reported as 'deferred', for one more try later.
 * - wholeItem(): pairwise, every model's answer then a verdict per other model, reusing what `known` holds.
 * - verdict(): pairwise, one verdict (first model against another) from answers already stored.
 * - recordPairVerdict(): pairwise, records a verdict given elsewhere (a batch run's verdict lines).
 */
export function createPairWork(deps: PairWorkDeps, record: RunRecord, sink: RunSink) {
  const runId = record.run_id;
  /** A rescoring run asks no model: each answer is the one its source run stored, read once per run and process. */
  const storedAnswers = record.rescore_of === undefined ? null : storedAnswersOf(deps.store, record.rescore_of);

  async function answer(item: RunItem, model: RunModel, signal: AbortSignal, log: FastifyBaseLogger, mayDefer: boolean): Promise<ModelAnswer | null | 'aborted' | 'deferred'> {
    try {
      if (storedAnswers) return await storedAnswers.answerOf(item.item_id, model.alias);
      return await waitingOutOutages(() => answerInquiry(deps, model.alias, { inquiry: item.inquiry }, { log, signal, lane: 'batch', modelId: model.model_id }), signal, deps.config.RUN_MAX_OUTAGE_WAIT_MS);
    } catch (error) {
      if (signal.aborted) return 'aborted'; // abandoned, not failed: it is answered again on resume
      // Not written: if the process stops before the retry, the pair is simply answered again on resume.
      if (mayDefer && isTransient(error)) return 'deferred';
      await recordResult(sink, toRunResult(runId, item, model.alias, failedAnswer(model.model_id, error)));
      return null;
    }
  }

  async function pair(item: RunItem, model: RunModel, signal: AbortSignal, options: { mayDefer: boolean }): Promise<'done' | 'aborted' | 'deferred'> {
    const log = deps.log.child({ run_id: runId, item_id: item.item_id });
    const answered = await answer(item, model, signal, log, options.mayDefer);
    if (answered === 'aborted' || answered === 'deferred') return answered;
    if (answered === null) return 'done';
    return finish(item, model, answered, signal, log);
  }

  /** Scores an answer as the run's scorer says and records the result (a batch run's answers come here from its output files). */
  async function finish(item: RunItem, model: RunModel, answered: AnsweredPair, signal: AbortSignal, log: FastifyBaseLogger): Promise<'done' | 'aborted'> {
    // No scorer, or the pairwise scorer, whose verdicts come once every model has answered the item.
    if (record.scorer === 'none' || record.scorer === 'pairwise') {
      await recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores: null, outcome: 'unscored', error: null })));
      return 'done';
    }
    try {
      const scores = await waitingOutOutages(
        () =>
          scoreAnswer(
            deps,
            record.scorer === 'judge' ? 'judge' : 'heuristic',
            { inquiry: item.inquiry, answer: answered.answer, reference: item.reference },
            { log, signal, lane: 'batch' },
            { samples: record.judge_samples, judge: record.judge, judgeModelId: record.provenance?.judge_model_id },
          ),
        signal,
        deps.config.RUN_MAX_OUTAGE_WAIT_MS,
      );
      await recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores, outcome: 'scored', error: null })));
    } catch (error) {
      if (signal.aborted) return 'aborted';
      await recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores: null, outcome: 'failed', error: { stage: 'score', ...errorOf(error) } })));
    }
    return 'done';
  }

  /** Pairwise: every model answers the item (finished answers are reused), then the judge compares the first with each other. */
  async function wholeItem(item: RunItem, signal: AbortSignal, known: FinishedWork): Promise<void> {
    const log = deps.log.child({ run_id: runId, item_id: item.item_id });
    const answers = new Map<string, string | null>();
    for (const model of record.models) {
      const key = resultKey(item.item_id, model.alias);
      if (known.finished.has(key)) {
        answers.set(model.alias, known.answers.get(key) ?? null);
        continue;
      }
      const answered = await answer(item, model, signal, log, false);
      if (answered === 'aborted' || answered === 'deferred') return;
      answers.set(model.alias, answered?.answer ?? null);
      if (answered) await recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores: null, outcome: 'unscored', error: null })));
    }
    for (const other of record.models.slice(1)) {
      if (known.judged.has(resultKey(item.item_id, other.alias))) continue;
      if ((await verdict(item, other, answers, signal)) === 'aborted') return;
    }
    for (const model of record.models) known.answers.delete(resultKey(item.item_id, model.alias));
  }

  /**
   * Pairwise: the judge compares the first model's answer with `other`'s, both taken from `answers` (by alias;
   * null for a model that gave none, which fails the verdict with its reason), and records the verdict.
   */
  async function verdict(item: RunItem, other: RunModel, answers: ReadonlyMap<string, string | null>, signal: AbortSignal): Promise<'done' | 'aborted'> {
    const log = deps.log.child({ run_id: runId, item_id: item.item_id });
    const first = record.models[0] as RunModel;
    const firstAnswer = answers.get(first.alias);
    const otherAnswer = answers.get(other.alias);
    if (!firstAnswer || !otherAnswer) {
      const missing = firstAnswer ? other.alias : first.alias;
      await recordPairVerdict(item, other, { verdict: null, outcome: 'failed', error: { stage: 'answer', code: 'no_answer', message: `Model '${missing}' gave no answer to judge.` } });
      return 'done';
    }
    try {
      const judged = await waitingOutOutages(
        () =>
          judgePair(
            deps,
            { inquiry: item.inquiry, reference: item.reference, first: { alias: first.alias, answer: firstAnswer }, second: { alias: other.alias, answer: otherAnswer } },
            { log, signal, lane: 'batch' },
            { samples: record.judge_samples, weights: record.weights, judge: record.judge, judgeModelId: record.provenance?.judge_model_id },
          ),
        signal,
        deps.config.RUN_MAX_OUTAGE_WAIT_MS,
      );
      await recordPairVerdict(item, other, { verdict: judged, outcome: 'judged', error: null });
    } catch (error) {
      if (signal.aborted) return 'aborted';
      await recordPairVerdict(item, other, { verdict: null, outcome: 'failed', error: { stage: 'score', ...errorOf(error) } });
    }
    return 'done';
  }

  /** Records the verdict of the first model against `other` on the item (a batch run's come here from its output files). */
  function recordPairVerdict(item: RunItem, other: Pick<RunModel, 'alias'>, fields: PairVerdict): Promise<void> {
    const line: PairwiseResult = {
      run_id: runId,
      item_id: item.item_id,
      in_training: item.in_training,
      first: (record.models[0] as RunModel).alias,
      second: other.alias,
      verdict: fields.verdict,
      outcome: fields.outcome,
      error: fields.error,
      finished_at: now(),
    };
    return recordVerdict(sink, line);
  }

  return { pair, wholeItem, verdict, finish, recordPairVerdict };
}
