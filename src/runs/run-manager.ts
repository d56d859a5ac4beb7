import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Role } from '../config.js';
import type { RunSummary } from '../export/summary.js';
import { AppError } from '../errors.js';
import { JUDGE_ALIAS, requireAvailable, resolveDistinctModels } from '../models/registry.js';
import { defaultScorer, usesJudge, type ScorerChoice } from '../scoring/score-answer.js';
import { newBatchState, type BatchFailureChoice, type RunMode } from './batch-state.js';
import { requireBatchApi } from './batch-support.js';
import { createLocalExecution } from './local-execution.js';
import type { PairQueue } from './pair-queue.js';
import type { PostgresRunStore } from './postgres-store.js';
import { readPromptSet, toRunItems, type PromptEntry } from './prompt-set.js';
import { requireStoredAnswer, rescoredModels, type RescoreRequest } from './rescore.js';
import { createQueuedExecution } from './queued-execution.js';
import { createRunCatalog } from './run-catalog.js';
import type { ExecutionContext, RunExecution } from './run-execution.js';
import { totalOf, type RunExecutorDeps, type RunProgress } from './run-executor.js';
import { createRunExports, runProvenanceFor, type RunExportsDeps } from './run-exports.js';
import { runHeadlineOf, type RunHeadline } from './run-headline.js';
import { readItemsPage, type ItemsPage, type ItemsQuery } from './run-items.js';
import type { RunItem } from './run-result.js';
import { createRunSpace, type RunSpaceConfig } from './run-space.js';
import { DEFAULT_PAGE_SIZE, FINISHED_STATUSES, type RunRecord } from './run-store.js';
import type { RunPause } from './storage-waits.js';

export type { RunProgress } from './run-executor.js';

export type RunManagerDeps = RunExecutorDeps &
  RunExportsDeps & {
    config: RunExecutorDeps['config'] &
      RunExportsDeps['config'] &
      RunSpaceConfig & { BATCH_POLL_MS: number; BATCH_MAX_REQUESTS: number; REPORTS_DIR: string; MAX_RUNNING_RUNS: number; RUN_SWEEP_INTERVAL_MS: number; RUN_STATUS_POLL_MS: number; ROLE: Role; WORKER_CONCURRENCY: number; OPENAI_MAX_CONNECTIONS: number };
    /**
     * With RUNS_STORE=postgres, the runs' work goes through this queue: a job per (item, model), taken by every
     * process that executes runs. Without it (the file store), each run is executed by one process.
     */
    queue?: { jobs: PairQueue; store: PostgresRunStore };
  };

export interface CreateRunRequest {
  prompt_set?: string;
  inquiries?: PromptEntry[];
  /** How the source is shown in listings when it is not a prompt set (e.g. the CLI's file). */
  source?: string;
  models: string[];
  scorer?: ScorerChoice;
  judge_samples?: number;
  concurrency: number;
  /** The caller, for its share of the reports folder (see RunRecord.owner); the CLI has none. */
  owner?: string;
  /** The alias that judges, when it is not the `judge` alias. */
  judge?: string;
  /** batch: through the Batch API (batch-run.ts); live by default. */
  mode?: RunMode;
  /** A batch run's lines that failed or never came back: answered synchronously (retry, the default) or recorded failed. */
  batch_failures?: BatchFailureChoice;
  /**
   * The run's id, chosen by a caller that may ask twice (a fine-tuning job's follow-up, after a crash): when a run
   * with this id exists, it is the answer, and nothing new is created. Default: a new id.
   */
  run_id?: string;
}

export interface RunView extends RunRecord {
  progress: RunProgress;
  /** Set while a running run waits for its disk to take writes again. */
  paused: RunPause | null;
}

const now = () => new Date().toISOString();

/** Ended runs' headlines kept for listings; the cache starts over past this. */
const MAX_CACHED_HEADLINES = 1000;

/** How often ended runs are checked against the retention policy, besides at boot and whenever a run ends. */
const RETENTION_SWEEP_INTERVAL_MS = 3_600_000;

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `run_${stamp}_${randomBytes(3).toString('hex')}`;
}

export interface RunManager {
  create(request: CreateRunRequest): Promise<RunView>;
  /** A new run that scores an ended run's stored answers again, with the scorer asked for: no model answers anew. */
  rescore(sourceRunId: string, request: RescoreRequest): Promise<RunView>;
  get(runId: string): Promise<RunView>;
  /** A page of runs, newest first, starting after the run named by `after` (the previous page's cursor). */
  list(page?: { limit?: number; after?: string }): Promise<{ runs: RunView[]; next: string | null }>;
  cancel(runId: string): Promise<RunView>;
  /** Summary of what is finished so far (the final one once the run has ended). */
  summary(runId: string): Promise<RunSummary>;
  summaryMarkdown(runId: string): Promise<string>;
  chartSvg(runId: string): Promise<string>;
  resultsCsv(runId: string): Promise<Readable>;
  resultsWideCsv(runId: string): Promise<Readable>;
  /** A page of the run's items, every model's result side by side, filtered and sorted as asked. */
  items(runId: string, query: ItemsQuery): Promise<ItemsPage>;
  /** An ended run's weighted gains, from the summary written when it ended (never recomputed); null otherwise. */
  headline(runId: string): Promise<RunHeadline | null>;
  /** Starts every run that was queued or running when the service last stopped. */
  resumeAll(): Promise<void>;
  /** Resolves when the run has ended (or the manager closed). */
  waitFor(runId: string): Promise<RunView>;
  /** Stops work without changing any run's status, so unfinished runs resume at the next start. */
  close(): Promise<void>;
}

/**
 * The runs' facade for the routes and the CLI: creating (with each caller's share), reading, listing and
 * cancelling runs, and serving their exports. The work itself is the execution's: in this process with the
 * file store (local-execution.ts), through the job queue with PostgreSQL (queued-execution.ts).
 */
export function createRunManager(deps: RunManagerDeps): RunManager {
  const { store } = deps;
  const exports = createRunExports(deps);
  const space = createRunSpace(store, deps.config, deps.log);
  /** Runs being created, per caller: they count against its cap before their record exists. */
  const creating = new Map<string, number>();
  let sweeping: Promise<void> = Promise.resolve();
  let sweepTimer: NodeJS.Timeout | undefined;
  const finishedProgress = new Map<string, RunProgress>();
  const headlines = new Map<string, RunHeadline | null>();
  let closed = false;

  const catalog = createRunCatalog(store, {
    inUse: (record) => execution.holds(record),
    executing: (runId) => execution.executing(runId),
    onForget: (runId) => {
      execution.forget(runId);
      finishedProgress.delete(runId);
      headlines.delete(runId);
    },
  });
  const { records, recordOf, transition } = catalog;
  const load = catalog.load;

  /** Deletes the ended runs the retention policy no longer keeps; one sweep at a time. */
  function sweep(): Promise<void> {
    sweeping = sweeping
      .then(async () => {
        for (const record of await space.sweep([...records.values()])) catalog.forget(record.run_id);
      })
      .catch((error: unknown) => deps.log.error({ err: error }, 'retention: the sweep failed'));
    return sweeping;
  }

  const context: ExecutionContext = {
    store,
    exports,
    catalog,
    log: deps.log,
    executes: deps.config.ROLE !== 'api',
    onEnded(record, progress) {
      if (progress) finishedProgress.set(record.run_id, progress);
      void sweep();
    },
  };
  const execution: RunExecution = deps.queue ? createQueuedExecution(deps, deps.queue, context) : createLocalExecution(deps, context);

  async function view(record: RunRecord): Promise<RunView> {
    await catalog.current(record);
    const live = execution.live(record.run_id);
    if (live) return { ...record, ...live };
    let progress = finishedProgress.get(record.run_id);
    if (!progress) {
      progress = { total: totalOf(record), ...(await store.progress(record)) };
      if (FINISHED_STATUSES.includes(record.status)) finishedProgress.set(record.run_id, progress);
    }
    return { ...record, progress: { ...progress }, paused: null };
  }

  /** Refuses a scorer that cannot work now: nothing is spent on a run that would fail every item. */
  function requireScorable(scorer: ScorerChoice, models: number, judgeAlias?: string): void {
    if (scorer === 'pairwise' && models < 2) {
      throw new AppError(400, 'pairwise_needs_two_models', 'The pairwise scorer compares the first model with each other one: list at least two models.');
    }
    if (!usesJudge(scorer)) return;
    const judge = deps.registry.resolve(judgeAlias ?? JUDGE_ALIAS);
    if (judge.kind !== 'openai') {
      throw new AppError(400, 'invalid_judge', `'${judgeAlias}' cannot judge: it is the offline model '${judge.model_id}', and a judge must be an OpenAI or OpenAI-compatible model.`);
    }
    requireAvailable(deps.registry, judge);
  }

  /** Counts a caller's run against its caps while it is created, before its record exists. */
  async function admitted(owner: string | undefined, create: () => Promise<RunView>): Promise<RunView> {
    await load();
    if (owner === undefined) return create();
    await space.admit(owner, [...records.values()], creating.get(owner) ?? 0);
    creating.set(owner, (creating.get(owner) ?? 0) + 1);
    try {
      return await create();
    } finally {
      const left = (creating.get(owner) ?? 1) - 1;
      if (left > 0) creating.set(owner, left);
      else creating.delete(owner);
    }
  }

  /**
   * Writes a new run's files and starts or queues it; a failed write (a full disk) leaves nothing behind.
   * `rescoreOf`: the run whose stored answers the new run scores again.
   */
  async function createAdmitted(request: CreateRunRequest, entries: readonly RunRecord['models'][number][], scorer: ScorerChoice, items: RunItem[], rescoreOf?: string): Promise<RunView> {
    const weights = deps.config.RUBRIC_WEIGHTS;
    const judgeSamples = request.judge_samples ?? 1;
    const rescore = rescoreOf === undefined ? {} : { rescore_of: rescoreOf };
    const record: RunRecord = {
      run_id: request.run_id ?? newRunId(),
      status: 'queued',
      created_at: now(),
      started_at: null,
      finished_at: null,
      source: request.prompt_set ? `prompt_set:${request.prompt_set}` : (request.source ?? 'inline'),
      models: entries.map((entry) => ({ alias: entry.alias, model_id: entry.model_id })),
      scorer,
      concurrency: request.concurrency,
      weights,
      judge_samples: judgeSamples,
      provenance: { ...runProvenanceFor(deps, { scorer, judge: request.judge, judge_samples: judgeSamples, weights }), ...rescore },
      items: items.length,
      error: null,
      owner: request.owner,
      ...rescore,
      ...(request.judge === undefined ? {} : { judge: request.judge }),
      ...(request.mode === 'batch' ? { mode: 'batch' as const, batch: newBatchState(request.batch_failures ?? 'retry') } : {}),
    };
    await store.create(record, items);
    catalog.add(record);
    await execution.submit(record);
    return { ...record, progress: { total: totalOf(record), done: 0, failed: 0 }, paused: null };
  }

  async function summaryOf(record: RunRecord): Promise<RunSummary> {
    const saved = FINISHED_STATUSES.includes(record.status) ? await exports.saved(record, 'summaryJson') : undefined;
    const parsed = saved ? (JSON.parse(saved) as Partial<RunSummary>) : undefined;
    // A summary saved by an older version does not say how complete it is: it is made again from the results.
    return parsed?.completeness ? exports.current(record, parsed as RunSummary) : exports.summarize(record);
  }

  /** An ended run's CSV as kept when it ended (the file store keeps it); otherwise streamed from the results. */
  async function csvOf(record: RunRecord, name: 'csv' | 'wideCsv', fromResults: (record: RunRecord) => Readable): Promise<Readable> {
    const saved = FINISHED_STATUSES.includes(record.status) ? await store.savedCsv(record.run_id, name) : undefined;
    return saved ?? fromResults(record);
  }

  return {
    async create(request) {
      if (closed) throw new AppError(503, 'shutting_down', 'The service is shutting down; try again shortly.');
      const existing = request.run_id === undefined ? undefined : await store.readRecord(request.run_id);
      if (existing) return view(await recordOf(existing.run_id));
      const entries = resolveDistinctModels(deps.registry, request.models);
      // Refuse now rather than fail every item: nothing is spent on a run that cannot work.
      for (const entry of entries) requireAvailable(deps.registry, entry);
      const scorer = request.scorer ?? defaultScorer(deps);
      requireScorable(scorer, entries.length, request.judge);
      if (request.mode === 'batch') requireBatchApi(deps.registry, entries, scorer, request.judge);

      const entriesOrSet = request.inquiries ?? (await readPromptSet(deps.config.DATA_DIR, request.prompt_set as string));
      const items = toRunItems(entriesOrSet, deps.knowledgeBase);
      return admitted(request.owner, () => createAdmitted(request, entries, scorer, items));
    },

    async rescore(sourceRunId, request) {
      if (closed) throw new AppError(503, 'shutting_down', 'The service is shutting down; try again shortly.');
      const source = await catalog.current(await recordOf(sourceRunId));
      const models = rescoredModels(source, request.models);
      // The answering models need no key: none of them is called.
      requireScorable(request.scorer, models.length, request.judge);
      await requireStoredAnswer(store, source);
      // The source's items as they were, contamination flags included: the scores stay comparable item by item.
      const items: RunItem[] = [];
      for await (const item of store.items(source.run_id)) items.push(item);
      const run: CreateRunRequest = {
        source: source.source,
        models: models.map((model) => model.alias),
        scorer: request.scorer,
        judge_samples: request.judge_samples,
        concurrency: request.concurrency ?? source.concurrency,
        owner: request.owner,
        judge: request.judge,
      };
      return admitted(request.owner, () => createAdmitted(run, models, request.scorer, items, source.run_id));
    },

    async get(runId) {
      return view(await recordOf(runId));
    },

    async list({ limit = DEFAULT_PAGE_SIZE, after } = {}) {
      await catalog.refresh();
      const sorted = [...records.values()].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.run_id.localeCompare(a.run_id));
      const start = after === undefined ? 0 : sorted.findIndex((record) => record.run_id === after) + 1;
      if (after !== undefined && start === 0) {
        throw new AppError(400, 'invalid_cursor', `No run '${after}' to continue the listing from; start again without a cursor.`);
      }
      // Only the page's runs are read (their progress comes from their results): a long history costs nothing.
      const page = sorted.slice(start, start + limit);
      const next = start + limit < sorted.length ? (page.at(-1)?.run_id ?? null) : null;
      return { runs: await Promise.all(page.map(view)), next };
    },

    async cancel(runId) {
      const record = await recordOf(runId);
      if (await execution.cancelHere(record)) return view(record);
      await catalog.current(record);
      if (FINISHED_STATUSES.includes(record.status)) {
        throw new AppError(409, 'run_finished', `Run '${runId}' has already ended (${record.status}); only a queued or running run can be cancelled.`);
      }
      // Queued or running in another process, or in the queue's workers: they see the status and stop.
      await transition(record, 'cancelled');
      await execution.cancelledElsewhere(runId);
      return view(record);
    },

    async summary(runId) {
      return summaryOf(await recordOf(runId));
    },

    async summaryMarkdown(runId) {
      const record = await recordOf(runId);
      return exports.markdownOf(record, await summaryOf(record));
    },

    async chartSvg(runId) {
      const record = await recordOf(runId);
      // The chart drawn when the run ended, rather than a Vega render per download.
      const saved = FINISHED_STATUSES.includes(record.status) ? await exports.saved(record, 'chart') : undefined;
      return saved || exports.chartOf(record, await summaryOf(record));
    },

    async resultsCsv(runId) {
      return csvOf(await recordOf(runId), 'csv', exports.csvOf);
    },

    async resultsWideCsv(runId) {
      return csvOf(await recordOf(runId), 'wideCsv', exports.wideCsvOf);
    },

    async items(runId, query) {
      return readItemsPage(store, await recordOf(runId), query);
    },

    async headline(runId) {
      const record = await recordOf(runId);
      if (!FINISHED_STATUSES.includes(record.status)) return null;
      if (headlines.has(runId)) return headlines.get(runId) ?? null;
      const saved = await exports.saved(record, 'summaryJson');
      let headline: RunHeadline | null = null;
      try {
        headline = saved ? runHeadlineOf(JSON.parse(saved) as Parameters<typeof runHeadlineOf>[0]) : null;
      } catch {
        // An unreadable summary.json lists the run without a headline.
      }
      // An ended run's summary never changes: a listing reads each file once.
      if (headlines.size >= MAX_CACHED_HEADLINES) headlines.clear();
      headlines.set(runId, headline);
      return headline;
    },

    async resumeAll() {
      await load();
      await sweep();
      sweepTimer ??= setInterval(() => void sweep(), RETENTION_SWEEP_INTERVAL_MS).unref();
      await execution.resume();
    },

    async waitFor(runId) {
      const record = await recordOf(runId);
      await execution.waitFor(record);
      return view(record);
    },

    async close() {
      closed = true;
      clearInterval(sweepTimer);
      await execution.close();
    },
  };
}
