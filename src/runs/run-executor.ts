import { getEventListeners } from 'node:events';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { SummaryAccumulator } from '../export/summary.js';
import { AppError } from '../errors.js';
import { answerInquiry, type AnswerDeps, type ModelAnswer } from '../models/answer.js';
import { judgePair } from '../scoring/pairwise-judge.js';
import { scoreAnswer, type ScoringDeps } from '../scoring/score-answer.js';
import type { PairwiseResult, RunItem, RunResult } from './run-result.js';
import type { StorageWaits } from './storage-waits.js';
import { resultKey, type RunRecord, type RunRecorder, type RunStore } from './run-store.js';

export type RunExecutorDeps = AnswerDeps &
  ScoringDeps & {
    store: RunStore;
    config: { RUN_MAX_OUTAGE_WAIT_MS: number; STORAGE_RETRY_MS: number };
    log: FastifyBaseLogger;
  };

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

export interface RunProgress {
  total: number;
  done: number;
  failed: number;
}

/** A run being executed: its progress is live, its controller stops it. */
export interface ActiveRun {
  record: RunRecord;
  progress: RunProgress;
  controller: AbortController;
  /** Set by DELETE; otherwise an abort means the service is shutting down and the run resumes later. */
  cancelled: boolean;
  /** Its writes, which wait for space when the reports folder's disk is full. */
  storage: StorageWaits;
  finished: Promise<void>;
}

const now = () => new Date().toISOString();

/** Answers per item, plus one pairwise verdict per item and other model when the scorer is pairwise. */
export function totalOf(record: RunRecord): number {
  const verdictsPerItem = record.scorer === 'pairwise' ? record.models.length - 1 : 0;
  return record.items * (record.models.length + verdictsPerItem);
}

/** What is stored of a run: its progress, which answers and verdicts are finished, and the answers a pending verdict still needs. */
export interface RunScan {
  progress: RunProgress;
  finished: Set<string>;
  judged: Set<string>;
  answers: Map<string, string>;
}

/** Reads the run's results and verdicts once; each also goes to `tally` if given. */
export async function scanRun(store: RunStore, record: RunRecord, tally?: SummaryAccumulator): Promise<RunScan> {
  const scan: RunScan = { progress: { total: totalOf(record), done: 0, failed: 0 }, finished: new Set(), judged: new Set(), answers: new Map() };
  for await (const verdict of store.verdicts(record.run_id)) {
    tally?.addVerdict(verdict);
    scan.judged.add(resultKey(verdict.item_id, verdict.second));
    scan.progress.done += 1;
    if (verdict.outcome === 'failed') scan.progress.failed += 1;
  }
  const pairwise = record.scorer === 'pairwise';
  const others = record.models.slice(1);
  for await (const result of store.results(record.run_id)) {
    tally?.add(result);
    const key = resultKey(result.item_id, result.model_alias);
    scan.finished.add(key);
    scan.progress.done += 1;
    if (result.outcome === 'failed') scan.progress.failed += 1;
    // A verdict still to be given needs both answers, and neither is asked again.
    if (pairwise && result.answer !== null && others.some((other) => !scan.judged.has(resultKey(result.item_id, other.alias)))) {
      scan.answers.set(key, result.answer);
    }
  }
  return scan;
}

/**
 * The signals a worker hands to its items, each following the run's. The SDK adds an abort listener
 * to the signal it is given and never removes it, so the run's long-lived signal is never handed out,
 * and a signal that still has a listener once its item is done is replaced by a fresh one. Otherwise
 * the worker keeps its signal (see the README's performance notes: one AbortSignal per item grew the process).
 */
function itemSignals(runSignal: AbortSignal): { next(): AbortSignal; close(): void } {
  let current = new AbortController();
  const abortCurrent = () => current.abort();
  runSignal.addEventListener('abort', abortCurrent, { once: true });
  return {
    next() {
      if (getEventListeners(current.signal, 'abort').length > 0) current = new AbortController();
      if (runSignal.aborted) current.abort();
      return current.signal;
    },
    close() {
      runSignal.removeEventListener('abort', abortCurrent);
    },
  };
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: 'Unexpected error while processing the item.' };
}

type PairOutcome = Pick<RunResult, 'model_id' | 'answer' | 'answer_status' | 'tokens_in' | 'tokens_out' | 'latency_ms' | 'scores' | 'outcome' | 'error'>;

/** One line of results.jsonl, written out key by key (see the README's performance notes on spreading). */
function toRunResult(runId: string, item: RunItem, modelAlias: string, outcome: PairOutcome): RunResult {
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
    scores: outcome.scores,
    outcome: outcome.outcome,
    error: outcome.error,
    finished_at: now(),
  };
}

function answeredOutcome(answer: ModelAnswer, scoring: Pick<PairOutcome, 'scores' | 'outcome' | 'error'>): PairOutcome {
  return {
    model_id: answer.model_id,
    answer: answer.answer,
    answer_status: answer.status,
    tokens_in: answer.usage.input_tokens,
    tokens_out: answer.usage.output_tokens,
    latency_ms: answer.latency_ms,
    scores: scoring.scores,
    outcome: scoring.outcome,
    error: scoring.error,
  };
}

const failedAnswer = (model_id: string, error: unknown): PairOutcome => ({
  model_id,
  answer: null,
  answer_status: null,
  tokens_in: null,
  tokens_out: null,
  latency_ms: null,
  scores: null,
  outcome: 'failed',
  error: { stage: 'answer', ...errorOf(error) },
});

/** Where a run's results go: the store, the live summary and the progress. */
interface RunSink {
  recorder: RunRecorder;
  summary: SummaryAccumulator;
  progress: RunProgress;
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

const recordResult = (sink: RunSink, result: RunResult) => recordLine(sink, () => sink.recorder.result(result), result, (line) => sink.summary.add(line));
const recordVerdict = (sink: RunSink, verdict: PairwiseResult) => recordLine(sink, () => sink.recorder.verdict(verdict), verdict, (line) => sink.summary.addVerdict(line));

/** Executes a run until every item is done or the run is aborted; the caller writes the exports and the status. */
export async function executeRun(deps: RunExecutorDeps, run: ActiveRun, summary: SummaryAccumulator, scan: RunScan): Promise<void> {
  const { record } = run;
  const runId = record.run_id;
  const pairwise = record.scorer === 'pairwise';
  const sink: RunSink = {
    recorder: await deps.store.recorder(runId),
    summary,
    progress: run.progress,
    storage: run.storage,
    signal: run.controller.signal,
  };

  /** Pairs whose answer failed for the upstream's sake in the first pass: they get one more try at the end. */
  const retryLater: Array<{ item: RunItem; model: RunRecord['models'][number] }> = [];
  let finalPass = false;

  async function answer(item: RunItem, model: RunRecord['models'][number], signal: AbortSignal, log: FastifyBaseLogger): Promise<ModelAnswer | null | 'aborted' | 'deferred'> {
    try {
      return await waitingOutOutages(() => answerInquiry(deps, model.alias, { inquiry: item.inquiry }, { log, signal, lane: 'batch' }), signal, deps.config.RUN_MAX_OUTAGE_WAIT_MS);
    } catch (error) {
      if (signal.aborted) return 'aborted'; // abandoned, not failed: it is answered again on resume
      if (!finalPass && !pairwise && isTransient(error)) {
        // Not written: if the process stops before the retry, the pair is simply answered again on resume.
        retryLater.push({ item, model });
        return 'deferred';
      }
      await recordResult(sink, toRunResult(runId, item, model.alias, failedAnswer(model.model_id, error)));
      return null;
    }
  }

  async function processPair(item: RunItem, model: RunRecord['models'][number], signal: AbortSignal): Promise<void> {
    const log = deps.log.child({ run_id: runId, item_id: item.item_id });
    const answered = await answer(item, model, signal, log);
    if (answered === null || answered === 'aborted' || answered === 'deferred') return;
    if (record.scorer === 'none') {
      return recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores: null, outcome: 'unscored', error: null })));
    }
    try {
      const scores = await waitingOutOutages(
        () =>
          scoreAnswer(
            deps,
            record.scorer === 'judge' ? 'judge' : 'heuristic',
            { inquiry: item.inquiry, answer: answered.answer, reference: item.reference },
            { log, signal, lane: 'batch' },
            { samples: record.judge_samples },
          ),
        signal,
        deps.config.RUN_MAX_OUTAGE_WAIT_MS,
      );
      return recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores, outcome: 'scored', error: null })));
    } catch (error) {
      if (signal.aborted) return;
      return recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores: null, outcome: 'failed', error: { stage: 'score', ...errorOf(error) } })));
    }
  }

  /** Pairwise: every model answers the item (finished answers are reused), then the judge compares the first with each other. */
  async function processItem(item: RunItem, signal: AbortSignal): Promise<void> {
    const log = deps.log.child({ run_id: runId, item_id: item.item_id });
    const answers = new Map<string, string | null>();
    for (const model of record.models) {
      const key = resultKey(item.item_id, model.alias);
      if (scan.finished.has(key)) {
        answers.set(model.alias, scan.answers.get(key) ?? null);
        continue;
      }
      const answered = await answer(item, model, signal, log);
      if (answered === 'aborted' || answered === 'deferred') return;
      answers.set(model.alias, answered?.answer ?? null);
      if (answered) await recordResult(sink, toRunResult(runId, item, model.alias, answeredOutcome(answered, { scores: null, outcome: 'unscored', error: null })));
    }
    const [first, ...others] = record.models;
    if (!first) return;
    for (const other of others) {
      if (scan.judged.has(resultKey(item.item_id, other.alias))) continue;
      const verdictLine = (fields: Pick<PairwiseResult, 'verdict' | 'outcome' | 'error'>): PairwiseResult => ({
        run_id: runId,
        item_id: item.item_id,
        in_training: item.in_training,
        first: first.alias,
        second: other.alias,
        verdict: fields.verdict,
        outcome: fields.outcome,
        error: fields.error,
        finished_at: now(),
      });
      const firstAnswer = answers.get(first.alias);
      const otherAnswer = answers.get(other.alias);
      if (!firstAnswer || !otherAnswer) {
        const missing = firstAnswer ? other.alias : first.alias;
        await recordVerdict(sink, verdictLine({ verdict: null, outcome: 'failed', error: { stage: 'answer', code: 'no_answer', message: `Model '${missing}' gave no answer to judge.` } }));
        continue;
      }
      try {
        const verdict = await waitingOutOutages(
          () =>
            judgePair(
              deps,
              { inquiry: item.inquiry, reference: item.reference, first: { alias: first.alias, answer: firstAnswer }, second: { alias: other.alias, answer: otherAnswer } },
              { log, signal, lane: 'batch' },
              { samples: record.judge_samples, weights: record.weights },
            ),
          signal,
          deps.config.RUN_MAX_OUTAGE_WAIT_MS,
        );
        await recordVerdict(sink, verdictLine({ verdict, outcome: 'judged', error: null }));
      } catch (error) {
        if (signal.aborted) return;
        await recordVerdict(sink, verdictLine({ verdict: null, outcome: 'failed', error: { stage: 'score', ...errorOf(error) } }));
      }
    }
    for (const model of record.models) scan.answers.delete(resultKey(item.item_id, model.alias));
  }

  // A fixed pool of workers pulling work: never more than `concurrency` upstream calls in flight (a
  // worker makes its answer and judge calls one after the other), and memory stays flat in the number
  // of items because items are read from the store as workers take them.
  async function* pendingWork(): AsyncGenerator<{ item: RunItem; model: RunRecord['models'][number] | null }> {
    for await (const item of deps.store.items(runId)) {
      if (pairwise) {
        const done =
          record.models.every((model) => scan.finished.has(resultKey(item.item_id, model.alias))) &&
          record.models.slice(1).every((model) => scan.judged.has(resultKey(item.item_id, model.alias)));
        if (!done) yield { item, model: null };
        continue;
      }
      for (const model of record.models) if (!scan.finished.has(resultKey(item.item_id, model.alias))) yield { item, model };
    }
  }
  let work: AsyncGenerator<{ item: RunItem; model: RunRecord['models'][number] | null }> = pendingWork();
  const worker = async () => {
    const signals = itemSignals(run.controller.signal);
    try {
      for (let next = await work.next(); !next.done && !run.controller.signal.aborted; next = await work.next()) {
        const { item, model } = next.value;
        await (model ? processPair(item, model, signals.next()) : processItem(item, signals.next()));
        // An offline model and the heuristic never wait on the network: without this turn of the event
        // loop a run would hold it until the end and starve every other request.
        await setImmediate();
      }
    } finally {
      signals.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: record.concurrency }, worker));
    if (retryLater.length > 0 && !run.controller.signal.aborted) {
      // One more pass for pairs the upstream failed, after everything else: a short outage costs a few
      // retries at the end instead of the items it happened to hit.
      deps.log.info({ run_id: runId, pairs: retryLater.length }, 'evaluation run: retrying pairs the upstream failed');
      finalPass = true;
      work = (async function* () {
        yield* retryLater;
      })();
      await Promise.all(Array.from({ length: record.concurrency }, worker));
    }
  } finally {
    await sink.recorder.close();
  }
}
