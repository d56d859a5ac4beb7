import { randomBytes } from 'node:crypto';
import { getEventListeners, setMaxListeners } from 'node:events';
import { setImmediate } from 'node:timers/promises';
import { copyFile, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../errors.js';
import { renderQualityChartSvg, warmChartRenderer } from '../export/chart.js';
import { createResultsCsvStream, writeResultsCsv } from '../export/csv.js';
import { createSummaryAccumulator, type RunSummary, type SummaryAccumulator } from '../export/summary.js';
import { renderSummaryMarkdown } from '../export/summary-markdown.js';
import { answerInquiry, type AnswerDeps, type ModelAnswer } from '../models/answer.js';
import { JUDGE_ALIAS, requireAvailable, resolveDistinctModels, type Pricing } from '../models/registry.js';
import { defaultScorer, scoreAnswer, type ScorerChoice, type ScoringDeps } from '../scoring/score-answer.js';
import { readPromptSet, toRunItems, type PromptEntry } from './prompt-set.js';
import type { RunItem, RunResult } from './run-result.js';
import {
  createRunFiles,
  readItems,
  readResults,
  readRunRecords,
  repairResults,
  resultKey,
  ResultsWriter,
  runFiles,
  writeFileAtomic,
  writeRunRecord,
  type RunRecord,
  type RunStatus,
} from './run-store.js';

export type RunManagerDeps = AnswerDeps &
  ScoringDeps & {
    config: { DATA_DIR: string; REPORTS_DIR: string };
    log: FastifyBaseLogger;
  };

export interface CreateRunRequest {
  prompt_set?: string;
  inquiries?: PromptEntry[];
  /** How the source is shown in listings when it is not a prompt set (e.g. the CLI's file). */
  source?: string;
  models: string[];
  scorer?: ScorerChoice;
  concurrency: number;
}

export interface RunProgress {
  total: number;
  done: number;
  failed: number;
}

export interface RunView extends RunRecord {
  progress: RunProgress;
}

interface ActiveRun {
  record: RunRecord;
  progress: RunProgress;
  controller: AbortController;
  /** Set by DELETE; otherwise an abort means the service is shutting down and the run resumes later. */
  cancelled: boolean;
  finished: Promise<void>;
}

const FINISHED: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];
const now = () => new Date().toISOString();

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `run_${stamp}_${randomBytes(3).toString('hex')}`;
}

/**
 * The signals a worker hands to its items, each following the run's. The SDK adds an abort listener
 * to the signal it is given and never removes it, so the run's long-lived signal is never handed out,
 * and a signal that still has a listener once its item is done is replaced by a fresh one. Otherwise
 * the worker keeps its signal: on Node 20 every new AbortSignal gets a hidden class of its own, which
 * only a full GC frees, and one per item grew the process with the length of the run.
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

/** Where a run's results go: results.jsonl, and the summary tallied along the way. */
interface ResultSink {
  writer: ResultsWriter;
  summary: SummaryAccumulator;
}

/** What a pair produced; the rest of its result line comes from the item. */
type PairOutcome = Omit<RunResult, keyof RunItem | 'run_id' | 'model_alias' | 'finished_at'>;

/**
 * One line of results.jsonl, written out key by key rather than spread from a shared base: on
 * Node 20 (V8 11.3) an object built by spreading and then given more keys gets a hidden class of
 * its own, which only a full GC frees. At two per pair, a run left tens of MB of them in the old
 * generation and the process grew with the number of items.
 */
function toRunResult(runId: string, item: RunItem, modelAlias: string, outcome: PairOutcome): RunResult {
  return {
    run_id: runId,
    item_id: item.item_id,
    inquiry: item.inquiry,
    category: item.category,
    reference: item.reference,
    in_training: item.in_training,
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

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: 'Unexpected error while processing the item.' };
}

export interface RunManager {
  create(request: CreateRunRequest): Promise<RunView>;
  get(runId: string): Promise<RunView>;
  list(): Promise<RunView[]>;
  cancel(runId: string): Promise<RunView>;
  /** Summary of what is finished so far (the final one once the run has ended). */
  summary(runId: string): Promise<RunSummary>;
  summaryMarkdown(runId: string): Promise<string>;
  chartSvg(runId: string): Promise<string>;
  resultsCsv(runId: string): Promise<Readable>;
  /** Starts every run that was queued or running when the service last stopped. */
  resumeAll(): Promise<void>;
  /** Resolves when the run has ended (or the manager closed). */
  waitFor(runId: string): Promise<RunView>;
  /** Stops work without changing any run's status, so unfinished runs resume at the next start. */
  close(): Promise<void>;
}

export function createRunManager(deps: RunManagerDeps): RunManager {
  const reportsDir = deps.config.REPORTS_DIR;
  const records = new Map<string, RunRecord>();
  const active = new Map<string, ActiveRun>();
  const finishedProgress = new Map<string, RunProgress>();
  let loaded: Promise<void> | undefined;
  let closed = false;

  const load = () =>
    (loaded ??= readRunRecords(reportsDir).then((found) => {
      for (const record of found) if (!records.has(record.run_id)) records.set(record.run_id, record);
    }));

  async function recordOf(runId: string): Promise<RunRecord> {
    await load();
    const record = records.get(runId);
    if (!record) throw new AppError(404, 'run_not_found', `No evaluation run '${runId}'. GET /evaluate lists the runs.`);
    return record;
  }

  /** What is on disk: the progress, and which (item, model) pairs are finished; each result also goes to `tally` if given. */
  async function scanResults(record: RunRecord, tally?: SummaryAccumulator): Promise<{ progress: RunProgress; finished: Set<string> }> {
    const progress = { total: record.items * record.models.length, done: 0, failed: 0 };
    const finished = new Set<string>();
    for await (const result of readResults(reportsDir, record.run_id)) {
      tally?.add(result);
      finished.add(resultKey(result.item_id, result.model_alias));
      progress.done += 1;
      if (result.outcome === 'failed') progress.failed += 1;
    }
    return { progress, finished };
  }

  async function view(record: RunRecord): Promise<RunView> {
    const running = active.get(record.run_id);
    if (running) return { ...record, progress: { ...running.progress } };
    let progress = finishedProgress.get(record.run_id);
    if (!progress) {
      progress = (await scanResults(record)).progress;
      if (FINISHED.includes(record.status)) finishedProgress.set(record.run_id, progress);
    }
    return { ...record, progress: { ...progress } };
  }

  function pricingOf(alias: string): Pricing | undefined {
    try {
      return deps.registry.resolve(alias).pricing;
    } catch {
      return undefined; // the alias was removed from the configuration after the run
    }
  }

  const summaryAccumulatorOf = (record: RunRecord) =>
    createSummaryAccumulator({
      models: record.models,
      weights: record.weights,
      pricing: Object.fromEntries(record.models.map((model) => [model.alias, pricingOf(model.alias)])),
    });

  async function summarize(record: RunRecord): Promise<RunSummary> {
    const accumulator = summaryAccumulatorOf(record);
    for await (const result of readResults(reportsDir, record.run_id)) accumulator.add(result);
    return accumulator.finish();
  }

  /** An ended run's export as it was written when the run ended; undefined while the run is going or when the file cannot be read. */
  async function savedExport<T>(record: RunRecord, file: 'summaryJson' | 'chart' | 'csv', read: (path: string) => Promise<T>): Promise<T | undefined> {
    if (!FINISHED.includes(record.status)) return undefined;
    return read(runFiles(reportsDir, record.run_id)[file]).catch(() => undefined);
  }

  const markdownOf = (record: RunRecord, summary: RunSummary) =>
    renderSummaryMarkdown(summary, { run_id: record.run_id, created_at: record.created_at, scorer: record.scorer, source: record.source });

  const chartOf = (record: RunRecord, summary: RunSummary) => renderQualityChartSvg(summary.all, { title: `Evaluation ${record.run_id}` });

  /** The summary was tallied as the results were written: the chart is drawn on its thread while the CSV is written here. */
  async function writeExports(record: RunRecord, summary: RunSummary): Promise<void> {
    const files = runFiles(reportsDir, record.run_id);
    await Promise.all([
      writeResultsCsv(readResults(reportsDir, record.run_id), files.csv),
      writeFileAtomic(files.summaryJson, `${JSON.stringify(summary, null, 2)}\n`),
      writeFileAtomic(files.summaryMd, markdownOf(record, summary)),
      chartOf(record, summary).then((svg) => writeFileAtomic(files.chart, svg)),
    ]);
  }

  async function processPair(
    run: ActiveRun,
    item: RunItem,
    model: { alias: string; model_id: string },
    sink: ResultSink,
    signal: AbortSignal,
  ): Promise<void> {
    const log = deps.log.child({ run_id: run.record.run_id, item_id: item.item_id });
    let answer: ModelAnswer;
    try {
      answer = await answerInquiry(deps, model.alias, { inquiry: item.inquiry }, { log, signal });
    } catch (error) {
      if (signal.aborted) return; // abandoned, not failed: it is answered again on resume
      return record(run, sink, toRunResult(run.record.run_id, item, model.alias, {
        model_id: model.model_id,
        answer: null,
        answer_status: null,
        tokens_in: null,
        tokens_out: null,
        latency_ms: null,
        scores: null,
        outcome: 'failed',
        error: { stage: 'answer', ...errorOf(error) },
      }));
    }
    const answered = (scoring: Pick<PairOutcome, 'scores' | 'outcome' | 'error'>) =>
      toRunResult(run.record.run_id, item, model.alias, {
        model_id: answer.model_id,
        answer: answer.answer,
        answer_status: answer.status,
        tokens_in: answer.usage.input_tokens,
        tokens_out: answer.usage.output_tokens,
        latency_ms: answer.latency_ms,
        scores: scoring.scores,
        outcome: scoring.outcome,
        error: scoring.error,
      });
    if (run.record.scorer === 'none') {
      return record(run, sink, answered({ scores: null, outcome: 'unscored', error: null }));
    }
    try {
      const scores = await scoreAnswer(deps, run.record.scorer, { inquiry: item.inquiry, answer: answer.answer, reference: item.reference }, { log, signal });
      return record(run, sink, answered({ scores, outcome: 'scored', error: null }));
    } catch (error) {
      if (signal.aborted) return;
      return record(run, sink, answered({ scores: null, outcome: 'failed', error: { stage: 'score', ...errorOf(error) } }));
    }
  }

  async function record(run: ActiveRun, sink: ResultSink, result: RunResult): Promise<void> {
    await sink.writer.append(result);
    sink.summary.add(result);
    run.progress.done += 1;
    if (result.outcome === 'failed') run.progress.failed += 1;
  }

  async function execute(run: ActiveRun): Promise<void> {
    const { record } = run;
    await repairResults(reportsDir, record.run_id);
    // The summary starts from what an earlier process finished, and takes each result as it is written.
    const summary = summaryAccumulatorOf(record);
    const { progress, finished } = await scanResults(record, summary);
    run.progress = progress;
    record.status = 'running';
    record.started_at ??= now();
    await writeRunRecord(reportsDir, record);
    deps.log.info({ run_id: record.run_id, ...run.progress }, finished.size > 0 ? 'evaluation run resumed' : 'evaluation run started');

    // A fixed pool of workers pulling (item, model) pairs: never more than `concurrency` upstream
    // calls in flight (a worker makes its answer and judge calls one after the other), and memory
    // stays flat in the number of items because pairs are read from disk as workers take them.
    async function* pendingPairs() {
      for await (const item of readItems(reportsDir, record.run_id)) {
        for (const model of record.models) if (!finished.has(resultKey(item.item_id, model.alias))) yield { item, model };
      }
    }
    const pairs = pendingPairs();
    const sink: ResultSink = { writer: await ResultsWriter.open(reportsDir, record.run_id), summary };
    const worker = async () => {
      const signals = itemSignals(run.controller.signal);
      try {
        for (let next = await pairs.next(); !next.done && !run.controller.signal.aborted; next = await pairs.next()) {
          const { item, model } = next.value;
          await processPair(run, item, model, sink, signals.next());
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
    } finally {
      await sink.writer.close();
    }
    if (run.controller.signal.aborted && !run.cancelled) return;

    const finishedAt = now();
    await writeExports(record, summary.finish());
    // Only now does the run read as ended: every export of an ended run is then served from its files.
    record.status = run.cancelled ? 'cancelled' : 'completed';
    record.finished_at = finishedAt;
    if (record.status === 'completed') {
      // The path the case study's spreadsheets read: always the latest completed run.
      await copyFile(runFiles(reportsDir, record.run_id).csv, join(reportsDir, 'eval_results.csv'));
    }
    await writeRunRecord(reportsDir, record);
    deps.log.info({ run_id: record.run_id, status: record.status, ...run.progress }, 'evaluation run ended');
  }

  function start(record: RunRecord): void {
    const run: ActiveRun = {
      record,
      progress: { total: record.items * record.models.length, done: 0, failed: 0 },
      controller: new AbortController(),
      cancelled: false,
      finished: Promise.resolve(),
    };
    // Each worker links its current item to the run's signal: one listener per worker, by design.
    setMaxListeners(record.concurrency + 10, run.controller.signal);
    active.set(record.run_id, run);
    // The exports at the end need the chart renderer; starting it now, on its own thread, overlaps with the run.
    // A failure to start surfaces where the chart is drawn.
    warmChartRenderer();
    run.finished = execute(run)
      .catch(async (error: unknown) => {
        deps.log.error({ err: error, run_id: record.run_id }, 'evaluation run failed');
        record.status = 'failed';
        record.error = (error as Error).message;
        record.finished_at = now();
        await writeRunRecord(reportsDir, record).catch(() => undefined);
      })
      .finally(() => {
        finishedProgress.set(record.run_id, { ...run.progress });
        active.delete(record.run_id);
      });
  }

  return {
    async create(request) {
      if (closed) throw new AppError(503, 'shutting_down', 'The service is shutting down; try again shortly.');
      const entries = resolveDistinctModels(deps.registry, request.models);
      // Refuse now rather than fail every item: nothing is spent on a run that cannot work.
      for (const entry of entries) requireAvailable(deps.registry, entry);
      const scorer = request.scorer ?? defaultScorer(deps);
      if (scorer === 'judge') requireAvailable(deps.registry, deps.registry.resolve(JUDGE_ALIAS));

      const entriesOrSet = request.inquiries ?? (await readPromptSet(deps.config.DATA_DIR, request.prompt_set as string));
      const items = toRunItems(entriesOrSet, deps.knowledgeBase);
      await load();
      const record: RunRecord = {
        run_id: newRunId(),
        status: 'queued',
        created_at: now(),
        started_at: null,
        finished_at: null,
        source: request.prompt_set ? `prompt_set:${request.prompt_set}` : (request.source ?? 'inline'),
        models: entries.map((entry) => ({ alias: entry.alias, model_id: entry.model_id })),
        scorer,
        concurrency: request.concurrency,
        weights: deps.config.RUBRIC_WEIGHTS,
        items: items.length,
        error: null,
      };
      await createRunFiles(reportsDir, record, items);
      records.set(record.run_id, record);
      const created = { ...record, progress: { total: record.items * record.models.length, done: 0, failed: 0 } };
      start(record);
      return created;
    },

    async get(runId) {
      return view(await recordOf(runId));
    },

    async list() {
      await load();
      const sorted = [...records.values()].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.run_id.localeCompare(a.run_id));
      return Promise.all(sorted.map(view));
    },

    async cancel(runId) {
      const record = await recordOf(runId);
      const run = active.get(runId);
      if (!run) {
        throw new AppError(409, 'run_finished', `Run '${runId}' has already ended (${record.status}); only a queued or running run can be cancelled.`);
      }
      run.cancelled = true;
      run.controller.abort();
      await run.finished;
      return view(record);
    },

    async summary(runId) {
      const record = await recordOf(runId);
      const saved = await savedExport(record, 'summaryJson', (path) => readFile(path, 'utf8'));
      return saved ? (JSON.parse(saved) as RunSummary) : summarize(record);
    },

    async summaryMarkdown(runId) {
      return markdownOf(await recordOf(runId), await this.summary(runId));
    },

    async chartSvg(runId) {
      const record = await recordOf(runId);
      // The chart drawn when the run ended, rather than a Vega render per download.
      return (await savedExport(record, 'chart', (path) => readFile(path, 'utf8'))) || chartOf(record, await this.summary(runId));
    },

    async resultsCsv(runId) {
      const record = await recordOf(runId);
      // The CSV written when the run ended: the same rows, without parsing every result again per download.
      const saved = await savedExport(record, 'csv', (path) => open(path));
      return saved ? saved.createReadStream() : createResultsCsvStream(readResults(reportsDir, runId));
    },

    async resumeAll() {
      await load();
      for (const record of records.values()) {
        if ((record.status === 'queued' || record.status === 'running') && !active.has(record.run_id)) start(record);
      }
    },

    async waitFor(runId) {
      const record = await recordOf(runId);
      await active.get(runId)?.finished;
      return view(record);
    },

    async close() {
      closed = true;
      const running = [...active.values()];
      for (const run of running) run.controller.abort();
      await Promise.all(running.map((run) => run.finished));
    },
  };
}
