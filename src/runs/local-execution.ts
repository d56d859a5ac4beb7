import { warmChartRenderer } from '../export/chart.js';
import { executeBatchRun, type BatchRunDeps } from './batch-run.js';
import { executeRun, newActiveRun, scanRun, type ActiveRun } from './run-executor.js';
import type { ExecutionContext, RunExecution } from './run-execution.js';
import { FINISHED_STATUSES, type RunRecord } from './run-store.js';

export type LocalExecutionDeps = BatchRunDeps & {
  config: BatchRunDeps['config'] & { MAX_RUNNING_RUNS: number; RUN_SWEEP_INTERVAL_MS: number; RUN_STATUS_POLL_MS: number };
};

const now = () => new Date().toISOString();

/**
 * Runs executed in this process, one process per run (the file store): at most MAX_RUNNING_RUNS at once, the
 * rest queued in memory, oldest first. A run's lock in the store keeps any other process sharing it (the CLI,
 * a replica on the same folder) from executing it too. A cancel through another process is a status in the
 * store that the executing process sees within RUN_STATUS_POLL_MS; runs nobody executes (queued by an `api`
 * process, or left by one that died once its lock is stale) are taken every RUN_SWEEP_INTERVAL_MS.
 */
export function createLocalExecution(deps: LocalExecutionDeps, context: ExecutionContext): RunExecution {
  const { store, exports, catalog, log } = context;
  const { records, transition } = catalog;
  const active = new Map<string, ActiveRun>();
  /** Runs waiting for a free slot, oldest first. */
  const waiting: RunRecord[] = [];
  /** What resolves the waiters of each run once it has ended. */
  const ended = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  /** Runs another process was executing when this one tried: their warning is logged once. */
  const leftAlone = new Set<string>();
  /** Ends every wait for storage when this process stops: unfinished runs resume at the next start. */
  const shutdown = new AbortController();
  let closed = false;
  let closeNow = () => {};
  /** Resolves when the process stops, so that nobody waits for a queued run that will not start. */
  const closing = new Promise<void>((resolve) => (closeNow = resolve));
  let takeOverTimer: NodeJS.Timeout | undefined;
  let takingOver: Promise<void> | undefined;

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

  /** Writes, waiting for the disk if it is full; false when the service stopped first (the run resumes at the next start). */
  const stored = (run: ActiveRun, write: () => Promise<unknown>) => run.storage.untilStored(write, shutdown.signal);

  async function execute(run: ActiveRun): Promise<void> {
    const { record } = run;
    // The summary starts from what an earlier process finished, and takes each result as it is written.
    const summary = await exports.accumulatorOf(record);
    const scan = await scanRun(store, record, summary);
    run.progress = scan.progress;
    if (!(await stored(run, () => transition(record, 'running')))) return;
    log.info({ run_id: record.run_id, ...run.progress }, scan.progress.done > 0 ? 'evaluation run resumed' : 'evaluation run started');

    // A batch run goes through the Batch API instead of the pool of workers; its state is in its record.
    if (record.mode === 'batch') await executeBatchRun(deps, run, summary, scan, (write) => stored(run, write));
    else await executeRun(deps, run, summary, scan);
    if (run.controller.signal.aborted && !run.cancelled) return;

    const finishedAt = now();
    // The status the run ends with, unless it is cancelled while its exports are written: its work is done by then.
    const finalSummary = await summary.finishYielding(run.cancelled ? 'cancelled' : 'completed');
    if (!(await stored(run, () => exports.write(record, finalSummary)))) return;
    // Only now does the run read as ended: every export of an ended run is then served from its files.
    if (!(await stored(run, () => transition(record, run.cancelled ? 'cancelled' : 'completed', { finished_at: finishedAt })))) return;
    if (record.status === 'completed') await exports.publishCaseStudyCsv(record);
    log.info({ run_id: record.run_id, status: record.status, ...run.progress }, 'evaluation run ended');
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
      if (!leftAlone.has(record.run_id)) log.warn({ run_id: record.run_id }, 'evaluation run left alone: another process sharing the run store is executing it');
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
    const run = newActiveRun(record, deps.config.STORAGE_RETRY_MS, log);
    active.set(record.run_id, run);
    // The exports at the end need the chart renderer; starting it now, on its own thread, overlaps with the run.
    // A failure to start surfaces where the chart is drawn.
    warmChartRenderer();
    const watch = setInterval(() => void watchStatus(run), deps.config.RUN_STATUS_POLL_MS).unref();
    run.finished = execute(run)
      .catch(async (error: unknown) => {
        log.error({ err: error, run_id: record.run_id }, 'evaluation run failed');
        await stored(run, () => transition(record, 'failed', { error: (error as Error).message })).catch(() => undefined);
      })
      .finally(async () => {
        clearInterval(watch);
        active.delete(record.run_id);
        await lock.release().catch(() => undefined);
        if (FINISHED_STATUSES.includes(record.status)) {
          endedOf(record.run_id).resolve();
          // Its final progress, so that reading the ended run does not count its results again from the file.
          context.onEnded(record, { ...run.progress });
        }
        await startNext().catch((error: unknown) => log.error({ err: error }, 'could not start the next queued run'));
      });
  }

  /**
   * A cancel from another process (a replica, the CLI) is a status in the store: the process executing the run
   * sees it within RUN_STATUS_POLL_MS, stops its calls, and ends the run as it would for its own DELETE.
   * A run deleted meanwhile is stopped as at shutdown. An unreadable store is asked again at the next beat.
   */
  async function watchStatus(run: ActiveRun): Promise<void> {
    if (run.cancelled || run.controller.signal.aborted) return;
    const current = await store.readRecord(run.record.run_id).catch(() => null);
    if (current === null || run.controller.signal.aborted) return;
    if (current === undefined) {
      log.warn({ run_id: run.record.run_id }, 'evaluation run stopped: it was deleted from the run store');
      run.controller.abort();
    } else if (current.status === 'cancelled') {
      log.info({ run_id: run.record.run_id }, 'evaluation run cancelled by another process');
      run.cancelled = true;
      run.controller.abort();
    }
  }

  /**
   * Takes the runs nobody executes, while this process has free slots: runs queued by a process that does
   * not execute (ROLE=api) or that is busy, and runs left running by a process that died, once its lock has
   * gone stale. This is how work survives a process that crashed, without waiting for it to come back.
   */
  async function takeOver(): Promise<void> {
    if (closed || active.size >= deps.config.MAX_RUNNING_RUNS) return;
    await catalog.refresh();
    for (const record of unowned()) {
      if (closed || active.size >= deps.config.MAX_RUNNING_RUNS) return;
      await catalog.current(record);
      if (FINISHED_STATUSES.includes(record.status)) continue;
      endedOf(record.run_id);
      await start(record);
    }
  }

  /** Unfinished runs neither executing nor waiting here, oldest first. */
  const unowned = () =>
    [...records.values()]
      .filter((record) => !FINISHED_STATUSES.includes(record.status) && !active.has(record.run_id) && !waiting.includes(record))
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.run_id.localeCompare(b.run_id));

  return {
    // A process that only serves the API (ROLE=api) leaves the run queued for another's sweep to take.
    submit: (record) => (context.executes ? startOrQueue(record) : Promise.resolve()),

    live(runId) {
      const run = active.get(runId);
      return run && { progress: { ...run.progress }, paused: run.storage.paused };
    },

    executing: (runId) => active.has(runId),
    holds: (record) => active.has(record.run_id) || waiting.includes(record),

    async cancelHere(record) {
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
        endedOf(record.run_id).resolve();
        return true;
      }
      const run = active.get(record.run_id);
      if (!run) return false;
      run.cancelled = true;
      run.controller.abort();
      // On a full disk the cancellation is written once space returns; the caller sees the run paused meanwhile.
      await Promise.race([run.finished, run.storage.whenPaused()]);
      return true;
    },

    async cancelledElsewhere(runId) {
      endedOf(runId).resolve();
    },

    async resume() {
      if (!context.executes) return;
      takeOverTimer ??= setInterval(() => {
        if (takingOver) return;
        takingOver = takeOver()
          .catch((error: unknown) => log.warn({ err: error }, 'could not look for runs nobody executes; trying again at the next sweep'))
          .finally(() => (takingOver = undefined));
      }, deps.config.RUN_SWEEP_INTERVAL_MS).unref();
      for (const record of unowned()) await startOrQueue(record);
    },

    async waitFor(record) {
      if (waiting.includes(record)) await Promise.race([endedOf(record.run_id).promise, closing]);
      await active.get(record.run_id)?.finished;
    },

    async close() {
      closed = true;
      closeNow();
      shutdown.abort();
      clearInterval(takeOverTimer);
      await takingOver;
      const running = [...active.values()];
      for (const run of running) run.controller.abort();
      await Promise.all(running.map((run) => run.finished));
    },

    forget(runId) {
      leftAlone.delete(runId);
      ended.delete(runId);
    },
  };
}
