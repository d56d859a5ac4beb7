import { AppError } from '../errors.js';
import { FINISHED_STATUSES, type RunRecord, type RunStatus, type RunStore } from './run-store.js';

const now = () => new Date().toISOString();

/** Runs written by an older version lack the fields added since; they read as what they were. */
function withDefaults(record: RunRecord): RunRecord {
  record.judge_samples ??= 1;
  return record;
}

/**
 * The runs' records, kept in memory as a cache of the run store: runs another process (the CLI, a replica
 * sharing the store) creates, moves on or deletes show up here without a restart. This process's own runs
 * change only through transition(), which stores the record before changing it in memory.
 */
export function createRunCatalog(
  store: RunStore,
  options: {
    /** Kept in memory whatever the store says: this process is executing the run or holds it in its queue. */
    inUse(record: RunRecord): boolean;
    /** This process executes the run: its record in memory is the truth, never read back from the store. */
    executing(runId: string): boolean;
    onForget(runId: string): void;
  },
) {
  const records = new Map<string, RunRecord>();
  let loaded: Promise<void> | undefined;

  /** Takes in the runs created or deleted by another process since the last look; the first look is the load. */
  function refresh(): Promise<void> {
    const looked = look();
    loaded ??= looked;
    return looked;
  }

  async function look(): Promise<void> {
    const onDisk = new Set(await store.listRunIds());
    for (const runId of onDisk) {
      if (records.has(runId)) continue;
      const record = await store.readRecord(runId);
      if (record && !records.has(runId)) records.set(runId, withDefaults(record));
    }
    for (const [runId, record] of records) if (!onDisk.has(runId) && !options.inUse(record)) forget(runId);
  }

  function forget(runId: string): void {
    records.delete(runId);
    options.onForget(runId);
  }

  const catalog = {
    /** Every run known, by id. */
    records,
    forget,
    refresh,
    load: () => (loaded ??= refresh()),

    /** Adds a run this process created. */
    add(record: RunRecord): void {
      records.set(record.run_id, record);
    },

    async recordOf(runId: string): Promise<RunRecord> {
      await catalog.load();
      if (!records.has(runId)) await refresh();
      const record = records.get(runId);
      if (!record) throw new AppError(404, 'run_not_found', `No evaluation run '${runId}'. GET /evaluate lists the runs.`);
      return record;
    },

    /**
     * The record as it is now: a run this process does not execute and that has not ended is read again from
     * the store (another replica may have started, finished or cancelled it).
     */
    async current(record: RunRecord): Promise<RunRecord> {
      if (options.executing(record.run_id) || FINISHED_STATUSES.includes(record.status)) return record;
      const onDisk = await store.readRecord(record.run_id);
      if (onDisk) Object.assign(record, withDefaults(onDisk));
      return record;
    },

    /**
     * The one place a run's status changes. The store is written first and the record in memory follows it,
     * so what a caller sees is what a restart would read, even when the write fails (a full disk).
     */
    async transition(record: RunRecord, status: RunStatus, fields: Partial<Pick<RunRecord, 'error' | 'finished_at'>> = {}): Promise<void> {
      const next: RunRecord = { ...record, status };
      if (status === 'running') next.started_at ??= now();
      if (fields.error !== undefined) next.error = fields.error;
      if (FINISHED_STATUSES.includes(status)) next.finished_at = fields.finished_at ?? now();
      await store.writeRecord(next);
      Object.assign(record, next);
    },
  };
  return catalog;
}
