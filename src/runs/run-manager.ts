import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Pool } from 'pg';
import { pipeline } from 'node:stream/promises';
import type { Role } from '../config.js';
import { warmChartRenderer } from '../export/chart.js';
import type { RunSummary } from '../export/summary.js';
import { AppError } from '../errors.js';
import { JUDGE_ALIAS, requireAvailable, resolveDistinctModels } from '../models/registry.js';
import { defaultScorer, usesJudge, type ScorerChoice } from '../scoring/score-answer.js';
import { createRunExports, runProvenanceFor, type RunExportsDeps } from './run-exports.js';
import { createRunSpace, type RunSpaceConfig } from './run-space.js';
import { StorageWaits, type RunPause } from './storage-waits.js';
import { executeRun, scanRun, totalOf, type ActiveRun, type RunExecutorDeps, type RunProgress } from './run-executor.js';
import { readPromptSet, toRunItems, type PromptEntry } from './prompt-set.js';
import type { RunItem } from './run-result.js';
import { runHeadlineOf, type RunHeadline } from './run-headline.js';
import { readItemsPage, type ItemsPage, type ItemsQuery } from './run-items.js';
import { DEFAULT_PAGE_SIZE, FINISHED_STATUSES, type RunRecord } from './run-store.js';
import { createRunCatalog } from './run-catalog.js';
import { createQueueWorker, jobsOf, type QueueWorker } from './queue-worker.js';
import type { PairJob, PairQueue } from './pair-queue.js';

export type { RunProgress } from './run-executor.js';

export type RunManagerDeps = RunExecutorDeps &
  RunExportsDeps & {
    config: RunExecutorDeps['config'] &
      RunExportsDeps['config'] &
      RunSpaceConfig & { REPORTS_DIR: string; MAX_RUNNING_RUNS: number; RUN_SWEEP_INTERVAL_MS: number; RUN_STATUS_POLL_MS: number; ROLE: Role; WORKER_CONCURRENCY: number; OPENAI_MAX_CONNECTIONS: number };
    /**
     * With RUNS_STORE=postgres, the runs' work goes through this queue: a job per (item, model), taken by every
     * process that executes runs. Without it (the file store), each run is executed by one process.
     */
    queue?: { jobs: PairQueue; pool: Pool };
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

/** The runs' facade: records and their status transitions; the executor does the work and the exports write the files. */
export function createRunManager(deps: RunManagerDeps): RunManager {
  const { store } = deps;
  const exports = createRunExports(deps);
  const space = createRunSpace(store, deps.config, deps.log);
  /** Runs being created, per caller: they count against its cap before their record exists. */
  const creating = new Map<string, number>();
  /** Ends every wait for storage when the manager closes: unfinished runs resume at the next start. */
  const shutdown = new AbortController();
  let sweeping: Promise<void> = Promise.resolve();
  let sweepTimer: NodeJS.Timeout | undefined;
  let takeOverTimer: NodeJS.Timeout | undefined;
  let takingOver: Promise<void> | undefined;
  /** Runs another process was executing when this one tried: their warning is logged once. */
  const leftAlone = new Set<string>();
  /** Whether this process executes runs (ROLE all or worker) or only serves the API (ROLE=api). */
  const executes = deps.config.ROLE !== 'api';
  const active = new Map<string, ActiveRun>();
  const finishedProgress = new Map<string, RunProgress>();
  const headlines = new Map<string, RunHeadline | null>();
  /** Runs waiting for a free slot, oldest first, each with what resolves its waiters once it has ended. */
  const waiting: RunRecord[] = [];
  const ended = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  let closed = false;
  let closeNow = () => {};
  /** Resolves when the manager closes, so that nobody waits for a queued run that will not start. */
  const closing = new Promise<void>((resolve) => (closeNow = resolve));

  const catalog = createRunCatalog(store, {
    inUse: (record) => active.has(record.run_id) || waiting.includes(record),
    executing: (runId) => active.has(runId),
    onForget: (runId) => {
      leftAlone.delete(runId);
      finishedProgress.delete(runId);
      headlines.delete(runId);
      ended.delete(runId);
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

  async function view(record: RunRecord): Promise<RunView> {
    await catalog.current(record);
    const running = active.get(record.run_id);
    if (running) return { ...record, progress: { ...running.progress }, paused: running.storage.paused };
    let progress = finishedProgress.get(record.run_id);
    if (!progress) {
      progress = { total: totalOf(record), ...(await store.progress(record)) };
      if (FINISHED_STATUSES.includes(record.status)) finishedProgress.set(record.run_id, progress);
    }
    return { ...record, progress: { ...progress }, paused: null };
  }

  /** Writes, waiting for the disk if it is full; false when the service stopped first (the run resumes at the next start). */
  const stored = (run: ActiveRun, write: () => Promise<unknown>) => run.storage.untilStored(write, shutdown.signal);

  async function execute(run: ActiveRun): Promise<void> {
    const { record } = run;
    // The summary starts from what an earlier process finished, and takes each result as it is written.
    const summary = await exports.accumulatorOf(record);
    const scan = await scanRun(store, record, summary);
    run.progress = scan.progress;
    if (!(await stored(run, () => transition(record, 'running')))) return;
    deps.log.info({ run_id: record.run_id, ...run.progress }, scan.progress.done > 0 ? 'evaluation run resumed' : 'evaluation run started');

    await executeRun(deps, run, summary, scan);
    if (run.controller.signal.aborted && !run.cancelled) return;

    const finishedAt = now();
    // The status the run ends with, unless it is cancelled while its exports are written: its work is done by then.
    const finalSummary = await summary.finishYielding(run.cancelled ? 'cancelled' : 'completed');
    if (!(await stored(run, () => exports.write(record, finalSummary)))) return;
    // Only now does the run read as ended: every export of an ended run is then served from its files.
    if (!(await stored(run, () => transition(record, run.cancelled ? 'cancelled' : 'completed', { finished_at: finishedAt })))) return;
    if (record.status === 'completed') await publishCaseStudyCsv(record);
    deps.log.info({ run_id: record.run_id, status: record.status, ...run.progress }, 'evaluation run ended');
  }

  /**
   * The path the case study's spreadsheets read: always the latest completed run. Written next to it and
   * renamed, so a full disk leaves the previous copy whole; a copy that fails never changes the run's outcome.
   */
  async function publishCaseStudyCsv(record: RunRecord): Promise<void> {
    const target = join(deps.config.REPORTS_DIR, 'eval_results.csv');
    const partial = `${target}.${record.run_id}.partial`;
    try {
      await pipeline((await store.savedCsv(record.run_id, 'csv')) ?? exports.csvOf(record), createWriteStream(partial));
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      deps.log.warn({ err: error, run_id: record.run_id }, 'could not update reports/eval_results.csv; the run’s own results.csv is complete');
    }
  }

  function endedOf(runId: string) {
    let entry = ended.get(runId);
    if (!entry) {
      let resolve = () => {};
      const promise = new Promise<void>((done) => (resolve = done));
      entry = { promise, resolve };
      ended.set(runId, entry);
    }
    return entry;
  }

  /**
   * At most MAX_RUNNING_RUNS runs execute at once: each holds up to `concurrency` upstream calls, and a
   * hundred of them at once would leave nothing for interactive callers. The rest wait, as queued.
   */
  async function startOrQueue(record: RunRecord): Promise<void> {
    endedOf(record.run_id);
    if (active.size >= deps.config.MAX_RUNNING_RUNS) {
      if (!waiting.includes(record)) waiting.push(record);
      return;
    }
    await start(record);
  }

  async function startNext(): Promise<void> {
    while (!closed && active.size < deps.config.MAX_RUNNING_RUNS) {
      const next = waiting.shift();
      if (!next) return;
      await start(next);
    }
  }

  async function start(record: RunRecord): Promise<void> {
    const lock = await store.lock(record.run_id);
    if (!lock) {
      // Said once per run: the sweep tries again every RUN_SWEEP_INTERVAL_MS while the other process works.
      if (!leftAlone.has(record.run_id)) deps.log.warn({ run_id: record.run_id }, 'evaluation run left alone: another process sharing the run store is executing it');
      leftAlone.add(record.run_id);
      return;
    }
    leftAlone.delete(record.run_id);
    // Another process may have finished or cancelled the run since this one last looked.
    await catalog.current(record);
    if (closed || active.has(record.run_id) || FINISHED_STATUSES.includes(record.status)) {
      await lock.release();
      if (FINISHED_STATUSES.includes(record.status)) endedOf(record.run_id).resolve();
      return;
    }
    catalog.add(record);
    const run: ActiveRun = {
      record,
      progress: { total: totalOf(record), done: 0, failed: 0 },
      controller: new AbortController(),
      cancelled: false,
      storage: new StorageWaits(deps.config.STORAGE_RETRY_MS, deps.log.child({ run_id: record.run_id })),
      finished: Promise.resolve(),
    };
    // Each worker links its current item to the run's signal: one listener per worker, by design.
    setMaxListeners(record.concurrency + 10, run.controller.signal);
    active.set(record.run_id, run);
    // The exports at the end need the chart renderer; starting it now, on its own thread, overlaps with the run.
    // A failure to start surfaces where the chart is drawn.
    warmChartRenderer();
    const watch = setInterval(() => void watchStatus(run), deps.config.RUN_STATUS_POLL_MS).unref();
    run.finished = execute(run)
      .catch(async (error: unknown) => {
        deps.log.error({ err: error, run_id: record.run_id }, 'evaluation run failed');
        await stored(run, () => transition(record, 'failed', { error: (error as Error).message })).catch(() => undefined);
      })
      .finally(async () => {
        clearInterval(watch);
        finishedProgress.set(record.run_id, { ...run.progress });
        active.delete(record.run_id);
        await lock.release().catch(() => undefined);
        if (FINISHED_STATUSES.includes(record.status)) {
          endedOf(record.run_id).resolve();
          void sweep();
        }
        await startNext().catch((error: unknown) => deps.log.error({ err: error }, 'could not start the next queued run'));
      });
  }

  /**
   * A cancel from another process (a replica, the CLI) is a status in the store: the process executing the run
   * sees it within RUN_STATUS_POLL_MS, stops its calls, and ends the run as it would for its own DELETE.
   * A run deleted meanwhile is stopped as at shutdown. An unreadable store is asked again at the next beat.
   */
  async function watchStatus(run: ActiveRun): Promise<void> {
    if (run.cancelled || run.controller.signal.aborted) return;
    const stored = await store.readRecord(run.record.run_id).catch(() => null);
    if (stored === null || run.controller.signal.aborted) return;
    if (stored === undefined) {
      deps.log.warn({ run_id: run.record.run_id }, 'evaluation run stopped: it was deleted from the run store');
      run.controller.abort();
    } else if (stored.status === 'cancelled') {
      deps.log.info({ run_id: run.record.run_id }, 'evaluation run cancelled by another process');
      run.cancelled = true;
      run.controller.abort();
    }
  }

  /**
   * Takes the runs nobody executes, while this process has free slots: runs queued by a replica that does
   * not execute (ROLE=api) or that is busy, and runs left running by a process that died, once its lock has
   * gone stale. This is how work survives a replica that crashed, without waiting for it to come back.
   */
  async function takeOver(): Promise<void> {
    if (closed || !executes || active.size >= deps.config.MAX_RUNNING_RUNS) return;
    await catalog.refresh();
    const unowned = [...records.values()]
      .filter((record) => !FINISHED_STATUSES.includes(record.status) && !active.has(record.run_id) && !waiting.includes(record))
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.run_id.localeCompare(b.run_id));
    for (const record of unowned) {
      if (closed || active.size >= deps.config.MAX_RUNNING_RUNS) return;
      await catalog.current(record);
      if (FINISHED_STATUSES.includes(record.status)) continue;
      endedOf(record.run_id);
      await start(record);
    }
  }

  /** The queue's side of the runs, with RUNS_STORE=postgres. */
  const queued = deps.queue;
  let queueWorker: QueueWorker | undefined;
  let queuedSweepTimer: NodeJS.Timeout | undefined;

  /**
   * Puts a queued run's jobs in the queue, then marks it running: the workers only look at running runs, so
   * a running run always has its jobs. A replica that stops half-way leaves the run queued, for the sweep.
   */
  async function enqueueRun(record: RunRecord): Promise<void> {
    const jobs: PairJob[] = [];
    for await (const job of jobsOf(store, record)) jobs.push(job);
    await queued?.jobs.enqueue(record.run_id, jobs);
    await transition(record, 'running');
    deps.log.info({ run_id: record.run_id, jobs: jobs.length }, 'evaluation run enqueued');
  }

  /**
   * The end of a run whose work went through the queue: its summary from the stored results, its exports and
   * its final status, written by whichever worker took the finalising job. A run cancelled meanwhile keeps
   * its status and gets its exports.
   */
  async function finalise(runId: string): Promise<void> {
    const record = await recordOf(runId).catch(() => undefined);
    if (!record) return;
    await catalog.current(record);
    if (record.status === 'running' || (record.status === 'cancelled' && (await exports.saved(record, 'summaryJson')) === undefined)) {
      const completed = record.status === 'running';
      await exports.write(record, await exports.summarize(record, completed ? 'completed' : 'cancelled'));
      if (completed) {
        await transition(record, 'completed');
        await publishCaseStudyCsv(record);
      }
      deps.log.info({ run_id: runId, status: record.status }, 'evaluation run ended');
    }
    await queued?.jobs.drop(runId);
    endedOf(runId).resolve();
    void sweep();
  }

  /** Runs left queued by a replica that stopped while enqueueing them (older than a sweep): enqueued again. */
  async function sweepQueued(): Promise<void> {
    await catalog.refresh();
    const stale = Date.now() - deps.config.RUN_SWEEP_INTERVAL_MS;
    for (const record of [...records.values()]) {
      if (record.status !== 'queued' || Date.parse(record.created_at) > stale) continue;
      await catalog.current(record);
      if (record.status === 'queued') await enqueueRun(record);
    }
  }

  /** Writes a new run's files and starts or queues it; a failed write (a full disk) leaves nothing behind. */
  async function createAdmitted(request: CreateRunRequest, entries: ReturnType<typeof resolveDistinctModels>, scorer: ScorerChoice, items: RunItem[]): Promise<RunView> {
    const weights = deps.config.RUBRIC_WEIGHTS;
    const judgeSamples = request.judge_samples ?? 1;
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
      weights,
      judge_samples: judgeSamples,
      provenance: runProvenanceFor(deps, { scorer, judge_samples: judgeSamples, weights }),
      items: items.length,
      error: null,
      owner: request.owner,
    };
    await store.create(record, items);
    catalog.add(record);
    const created: RunView = { ...record, progress: { total: totalOf(record), done: 0, failed: 0 }, paused: null };
    if (queued) {
      // Every process that executes runs takes its jobs, whichever replica created it.
      await enqueueRun(record);
      return { ...created, status: record.status, started_at: record.started_at };
    }
    // A replica that only serves the API (ROLE=api) leaves the run queued for a worker's sweep to take.
    if (executes) await startOrQueue(record);
    return created;
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
      const entries = resolveDistinctModels(deps.registry, request.models);
      // Refuse now rather than fail every item: nothing is spent on a run that cannot work.
      for (const entry of entries) requireAvailable(deps.registry, entry);
      const scorer = request.scorer ?? defaultScorer(deps);
      if (scorer === 'pairwise' && entries.length < 2) {
        throw new AppError(400, 'pairwise_needs_two_models', 'The pairwise scorer compares the first model with each other one: list at least two models.');
      }
      if (usesJudge(scorer)) requireAvailable(deps.registry, deps.registry.resolve(JUDGE_ALIAS));

      const entriesOrSet = request.inquiries ?? (await readPromptSet(deps.config.DATA_DIR, request.prompt_set as string));
      const items = toRunItems(entriesOrSet, deps.knowledgeBase);
      await load();
      const { owner } = request;
      if (owner !== undefined) {
        await space.admit(owner, [...records.values()], creating.get(owner) ?? 0);
        creating.set(owner, (creating.get(owner) ?? 0) + 1);
      }
      try {
        return await createAdmitted(request, entries, scorer, items);
      } finally {
        if (owner !== undefined) {
          const left = (creating.get(owner) ?? 1) - 1;
          if (left > 0) creating.set(owner, left);
          else creating.delete(owner);
        }
      }
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
      const queuedAt = waiting.indexOf(record);
      if (queuedAt !== -1) {
        // Nothing was started: the run ends as it is, with empty exports.
        waiting.splice(queuedAt, 1);
        try {
          await exports.write(record, await exports.summarize(record, 'cancelled'));
          await transition(record, 'cancelled');
        } catch (error) {
          // Not cancelled after all (a full disk: 507): it keeps its place in the queue.
          waiting.splice(Math.min(queuedAt, waiting.length), 0, record);
          throw error;
        }
        endedOf(runId).resolve();
        return view(record);
      }
      const run = active.get(runId);
      if (!run) {
        await catalog.current(record);
        if (FINISHED_STATUSES.includes(record.status)) {
          throw new AppError(409, 'run_finished', `Run '${runId}' has already ended (${record.status}); only a queued or running run can be cancelled.`);
        }
        // Queued or running in another process: the one executing it stops within RUN_STATUS_POLL_MS (watchStatus),
        // as does every worker with a job of it; the jobs not yet taken are dropped.
        await transition(record, 'cancelled');
        if (queued) {
          await queued.jobs.purge(runId);
          await queued.jobs.requestFinalise(runId);
        } else {
          endedOf(runId).resolve();
        }
        return view(record);
      }
      run.cancelled = true;
      run.controller.abort();
      // On a full disk the cancellation is written once space returns; the caller sees the run paused meanwhile.
      await Promise.race([run.finished, run.storage.whenPaused()]);
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
      if (queued) {
        queuedSweepTimer ??= setInterval(() => {
          sweepQueued().catch((error: unknown) => deps.log.warn({ err: error }, 'could not look for runs left queued; trying again at the next sweep'));
        }, deps.config.RUN_SWEEP_INTERVAL_MS).unref();
        if (executes && !queueWorker) {
          queueWorker = createQueueWorker({ ...deps, pool: queued.pool, queue: queued.jobs, finalise });
          queueWorker.start();
        }
        return;
      }
      if (!executes) return;
      takeOverTimer ??= setInterval(() => {
        if (takingOver) return;
        takingOver = takeOver()
          .catch((error: unknown) => deps.log.warn({ err: error }, 'could not look for runs nobody executes; trying again at the next sweep'))
          .finally(() => (takingOver = undefined));
      }, deps.config.RUN_SWEEP_INTERVAL_MS).unref();
      const unfinished = [...records.values()]
        .filter((record) => !FINISHED_STATUSES.includes(record.status) && !active.has(record.run_id) && !waiting.includes(record))
        .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.run_id.localeCompare(b.run_id));
      for (const record of unfinished) await startOrQueue(record);
    },

    async waitFor(runId) {
      const record = await recordOf(runId);
      if (queued) {
        while (!closed && !FINISHED_STATUSES.includes((await catalog.current(record)).status)) await sleep(100);
        return view(record);
      }
      if (waiting.includes(record)) await Promise.race([endedOf(runId).promise, closing]);
      await active.get(runId)?.finished;
      return view(record);
    },

    async close() {
      closed = true;
      closeNow();
      shutdown.abort();
      clearInterval(sweepTimer);
      clearInterval(takeOverTimer);
      clearInterval(queuedSweepTimer);
      await takingOver;
      await queueWorker?.stop();
      const running = [...active.values()];
      for (const run of running) run.controller.abort();
      await Promise.all(running.map((run) => run.finished));
    },
  };
}
