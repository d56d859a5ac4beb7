import type { FastifyBaseLogger } from 'fastify';
import { executeBatchRun, type BatchRunDeps } from './batch-run.js';
import type { PostgresRunStore } from './postgres-store.js';
import { newActiveRun, scanRun, type ActiveRun } from './run-executor.js';
import type { RunLock, RunRecord } from './run-store.js';

export type QueuedBatchRunsDeps = BatchRunDeps & {
  config: BatchRunDeps['config'] & { RUN_STATUS_POLL_MS: number; RUN_SWEEP_INTERVAL_MS: number };
};

/**
 * Batch runs with RUNS_STORE=postgres: they have no jobs in the queue (the queue's workers leave them alone);
 * each is driven by one process at a time, the one holding the run's lease in the store (run_locks, renewed
 * while it lives, taken over by another process once it lapses). Every process that executes runs looks for
 * running batch runs nobody drives each RUN_SWEEP_INTERVAL_MS. `finalise` writes the exports and the status.
 */
export function createQueuedBatchRuns(deps: QueuedBatchRunsDeps, store: PostgresRunStore, log: FastifyBaseLogger, finalise: (runId: string) => Promise<void>) {
  const driving = new Map<string, ActiveRun>();
  const shutdown = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  /** A cancel through any replica is the run's status: seen within RUN_STATUS_POLL_MS, it stops the drive. */
  async function watchStatus(run: ActiveRun): Promise<void> {
    const current = await store.readRecord(run.record.run_id).catch(() => null);
    if (current === null || run.controller.signal.aborted || current?.status === 'running') return;
    run.cancelled = current?.status === 'cancelled';
    run.controller.abort();
  }

  async function drive(record: RunRecord, lock: RunLock): Promise<void> {
    const run = newActiveRun(record, deps.config.STORAGE_RETRY_MS, log);
    driving.set(record.run_id, run);
    const watch = setInterval(() => void watchStatus(run), deps.config.RUN_STATUS_POLL_MS).unref();
    try {
      const scan = await scanRun(store, record);
      run.progress = scan.progress;
      log.info({ run_id: record.run_id, ...run.progress }, 'batch run: driving it');
      await executeBatchRun(deps, run, null, scan, (write) => run.storage.untilStored(write, shutdown.signal));
      // Done, or cancelled (its exports are still written); stopped by the shutdown, it goes on elsewhere or later.
      if (!run.controller.signal.aborted || run.cancelled) await finalise(record.run_id);
    } catch (error) {
      log.error({ err: error, run_id: record.run_id }, 'batch run failed');
      record.status = 'failed';
      record.error = (error as Error).message;
      record.finished_at = new Date().toISOString();
      await store.writeRecord(record).catch(() => undefined);
    } finally {
      clearInterval(watch);
      driving.delete(record.run_id);
      await lock.release().catch(() => undefined);
    }
  }

  /** Takes the running batch runs whose lease is free. */
  async function sweep(): Promise<void> {
    for (const record of await store.runningRecords()) {
      if (shutdown.signal.aborted) return;
      if (record.mode !== 'batch' || driving.has(record.run_id)) continue;
      const lock = await store.lock(record.run_id);
      if (lock) void drive(record, lock);
    }
  }

  const sweepNow = () => {
    sweeping ??= sweep()
      .catch((error: unknown) => log.warn({ err: error }, 'could not look for batch runs to drive; trying again at the next sweep'))
      .finally(() => (sweeping = undefined));
    return sweeping;
  };

  return {
    sweepNow,
    start() {
      timer ??= setInterval(() => void sweepNow(), deps.config.RUN_SWEEP_INTERVAL_MS).unref();
      return sweepNow();
    },
    async stop() {
      clearInterval(timer);
      shutdown.abort();
      await sweeping;
      const runs = [...driving.values()];
      for (const run of runs) run.controller.abort();
      // Each drive ends (and releases its lease) once its abort is seen.
      while (driving.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    },
  };
}
