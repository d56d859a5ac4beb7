import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../errors.js';
import { runsToDelete } from './retention.js';
import { FINISHED_STATUSES, type RunRecord, type RunStore } from './run-store.js';

export interface RunSpaceConfig {
  RUN_RETENTION_DAYS: number;
  REPORTS_MAX_BYTES: number;
  MAX_ACTIVE_RUNS_PER_CALLER: number;
  CALLER_MAX_STORED_BYTES: number;
}

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;
const sizeText = (bytes: number) => (bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);

/**
 * The room runs take in the run store: the retention policy (age and total size) and each caller's share.
 * One POST /evaluate can store tens of MB, so without these a few callers would fill the disk.
 */
export function createRunSpace(store: RunStore, config: RunSpaceConfig, log: FastifyBaseLogger) {
  /** An ended run no longer changes (but for its ratings): its size is read once. */
  const endedBytes = new Map<string, number>();

  async function bytesOf(record: RunRecord): Promise<number> {
    const known = endedBytes.get(record.run_id);
    if (known !== undefined) return known;
    const bytes = await store.bytesOf(record.run_id);
    if (FINISHED_STATUSES.includes(record.status)) endedBytes.set(record.run_id, bytes);
    return bytes;
  }

  return {
    /**
     * Deletes the ended runs the policy no longer keeps and returns them. Runs are only ever deleted here,
     * never while queued or running.
     */
    async sweep(records: readonly RunRecord[]): Promise<RunRecord[]> {
      if (config.RUN_RETENTION_DAYS === 0 && config.REPORTS_MAX_BYTES === 0) return [];
      const stored = await Promise.all(records.map(async (record) => ({ ...record, bytes: await bytesOf(record) })));
      const doomed = runsToDelete(stored, { maxAgeMs: config.RUN_RETENTION_DAYS * DAY_MS, maxTotalBytes: config.REPORTS_MAX_BYTES }, Date.now());
      const deleted: RunRecord[] = [];
      let freed = 0;
      for (const run of doomed) {
        try {
          await store.delete(run.run_id);
          endedBytes.delete(run.run_id);
          deleted.push(records.find((record) => record.run_id === run.run_id) as RunRecord);
          freed += run.bytes;
        } catch (error) {
          log.warn({ err: error, run_id: run.run_id }, 'retention: could not delete an ended run');
        }
      }
      if (deleted.length > 0) log.info({ runs: deleted.map((record) => record.run_id), freed_bytes: freed }, `retention: deleted ${deleted.length} ended run(s), ${sizeText(freed)}`);
      return deleted;
    },

    /**
     * Refuses a new run from a caller who already has MAX_ACTIVE_RUNS_PER_CALLER runs queued or running
     * (`pending` counts the ones being created), or whose runs take CALLER_MAX_STORED_BYTES.
     */
    async admit(owner: string, records: readonly RunRecord[], pending: number): Promise<void> {
      const mine = records.filter((record) => record.owner === owner);
      const active = mine.filter((record) => !FINISHED_STATUSES.includes(record.status)).length + pending;
      if (config.MAX_ACTIVE_RUNS_PER_CALLER > 0 && active >= config.MAX_ACTIVE_RUNS_PER_CALLER) {
        throw new AppError(429, 'too_many_runs', `You already have ${active} runs queued or running, the most one caller may have (MAX_ACTIVE_RUNS_PER_CALLER). Wait for one to end, or cancel one with DELETE /evaluate/{run_id}.`, {
          headers: { 'retry-after': '30' },
          details: { active, limit: config.MAX_ACTIVE_RUNS_PER_CALLER },
        });
      }
      if (config.CALLER_MAX_STORED_BYTES === 0) return;
      const sizes = await Promise.all(mine.map(bytesOf));
      const used = sizes.reduce((sum, bytes) => sum + bytes, 0);
      if (used >= config.CALLER_MAX_STORED_BYTES) {
        const retention = config.RUN_RETENTION_DAYS > 0 ? ` Ended runs are deleted ${config.RUN_RETENTION_DAYS} days after they end.` : '';
        throw new AppError(429, 'storage_quota_exceeded', `Your runs take ${sizeText(used)} of the ${sizeText(config.CALLER_MAX_STORED_BYTES)} one caller may keep (CALLER_MAX_STORED_BYTES).${retention}`, {
          headers: { 'retry-after': '3600' },
          details: { used_bytes: used, limit_bytes: config.CALLER_MAX_STORED_BYTES },
        });
      }
    },
  };
}

export type RunSpace = ReturnType<typeof createRunSpace>;
