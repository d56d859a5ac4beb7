import { setTimeout as sleep } from 'node:timers/promises';
import type { PairJob, PairQueue } from './pair-queue.js';
import type { PostgresRunStore } from './postgres-store.js';
import { createQueuedBatchRuns, type QueuedBatchRunsDeps } from './queued-batch-runs.js';
import { createQueueWorker, jobsOf, type QueueWorker, type QueueWorkerDeps } from './queue-worker.js';
import type { ExecutionContext, RunExecution } from './run-execution.js';
import { FINISHED_STATUSES, type RunRecord } from './run-store.js';

export type QueuedExecutionDeps = Omit<QueueWorkerDeps, 'store' | 'queue' | 'finalise'> & QueuedBatchRunsDeps;

/** How often waitFor looks at a run's status: the work is done by other processes, which say nothing directly. */
const WAIT_POLL_MS = 100;

/**
 * Runs whose work goes through the job queue (RUNS_STORE=postgres): a run's jobs are enqueued when it is
 * created, whichever replica takes the request; every process that executes runs (ROLE all or worker) takes
 * jobs of every running run (queue-worker.ts); the worker that finds a run's queue empty with every result in
 * asks for it to be finalised, and whichever worker takes that job writes the exports and the final status.
 */
export function createQueuedExecution(deps: QueuedExecutionDeps, queue: { jobs: PairQueue; store: PostgresRunStore }, context: ExecutionContext): RunExecution {
  const { store, exports, catalog, log } = context;
  const { records, transition } = catalog;
  let worker: QueueWorker | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const batchRuns = createQueuedBatchRuns(deps, queue.store, log, (runId) => finalise(runId));

  /**
   * Puts a queued run's jobs in the queue, then marks it running: the workers only look at running runs, so
   * a running run always has its jobs. A replica that stops half-way leaves the run queued, for the sweep.
   */
  async function enqueue(record: RunRecord): Promise<void> {
    if (record.mode === 'batch') {
      // No jobs: one process at a time drives it through the Batch API (queued-batch-runs.ts).
      await transition(record, 'running');
      if (context.executes) void batchRuns.sweepNow();
      return;
    }
    const jobs: PairJob[] = [];
    for await (const job of jobsOf(store, record)) jobs.push(job);
    await queue.jobs.enqueue(record.run_id, jobs);
    await transition(record, 'running');
    log.info({ run_id: record.run_id, jobs: jobs.length }, 'evaluation run enqueued');
  }

  /**
   * The end of a run: its summary from the stored results, its exports and its final status. A run cancelled
   * meanwhile keeps its status and gets its exports. Asked for once per run (a job with a fixed id).
   */
  async function finalise(runId: string): Promise<void> {
    const record = await catalog.recordOf(runId).catch(() => undefined);
    if (!record) return;
    await catalog.current(record);
    if (record.status === 'running' || (record.status === 'cancelled' && (await exports.saved(record, 'summaryJson')) === undefined)) {
      const completed = record.status === 'running';
      await exports.write(record, await exports.summarize(record, completed ? 'completed' : 'cancelled'));
      if (completed) {
        await transition(record, 'completed');
        await exports.publishCaseStudyCsv(record);
      }
      log.info({ run_id: runId, status: record.status }, 'evaluation run ended');
    }
    await queue.jobs.drop(runId);
    context.onEnded(record);
  }

  /** Runs left queued by a replica that stopped while enqueueing them (older than a sweep): enqueued again. */
  async function sweepQueued(): Promise<void> {
    await catalog.refresh();
    const stale = Date.now() - deps.config.RUN_SWEEP_INTERVAL_MS;
    for (const record of [...records.values()]) {
      if (record.status !== 'queued' || Date.parse(record.created_at) > stale) continue;
      await catalog.current(record);
      if (record.status === 'queued') await enqueue(record);
    }
  }

  return {
    submit: enqueue,
    // Nothing is executed by a run here as a whole: progress and status come from the store.
    live: () => undefined,
    executing: () => false,
    holds: () => false,
    cancelHere: async () => false,

    async cancelledElsewhere(runId) {
      // The jobs not yet taken go; the workers with one under way see the status and stop their calls.
      await queue.jobs.purge(runId);
      await queue.jobs.requestFinalise(runId);
    },

    async resume() {
      sweepTimer ??= setInterval(() => {
        sweepQueued().catch((error: unknown) => log.warn({ err: error }, 'could not look for runs left queued; trying again at the next sweep'));
      }, deps.config.RUN_SWEEP_INTERVAL_MS).unref();
      if (context.executes && !worker) {
        worker = createQueueWorker({ ...deps, store: queue.store, queue: queue.jobs, finalise });
        worker.start();
        await batchRuns.start();
      }
    },

    async waitFor(record) {
      while (!closed && !FINISHED_STATUSES.includes((await catalog.current(record)).status)) await sleep(WAIT_POLL_MS);
    },

    async close() {
      closed = true;
      clearInterval(sweepTimer);
      await worker?.stop();
      await batchRuns.stop();
    },

    forget: () => undefined,
  };
}
