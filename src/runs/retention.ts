import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FINISHED_STATUSES, type RunStatus } from './run-store.js';

/** What the retention policy needs to know of a run on disk. */
export interface StoredRun {
  run_id: string;
  status: RunStatus;
  created_at: string;
  finished_at: string | null;
  bytes: number;
  /** The run whose stored answers this one scores again (POST /evaluate/{run_id}/rescore). */
  rescore_of?: string;
}

export interface RetentionPolicy {
  /** Ended runs older than this (since they ended) go; 0 keeps every run whatever its age. */
  maxAgeMs: number;
  /** Past this total, the runs that ended first go until the rest fits, except the newest ended run; 0 sets no limit. */
  maxTotalBytes: number;
}

const endedAt = (run: StoredRun) => Date.parse(run.finished_at ?? run.created_at);

/**
 * The runs to delete, oldest first. Only ended runs are ever chosen: a queued or running run is someone's
 * work in progress, and its size still counts towards the total (so the ended ones make room for it). The
 * size limit never takes the newest ended run: a run that just completed is there to be read. Nor is an ended
 * run taken while a rescore of it is queued or running: the rescore reads its answers as it goes.
 */
export function runsToDelete(runs: readonly StoredRun[], policy: RetentionPolicy, nowMs: number): StoredRun[] {
  const rescoring = new Set(runs.filter((run) => !FINISHED_STATUSES.includes(run.status) && run.rescore_of !== undefined).map((run) => run.rescore_of));
  const ended = runs
    .filter((run) => FINISHED_STATUSES.includes(run.status) && !rescoring.has(run.run_id))
    .sort((a, b) => endedAt(a) - endedAt(b) || a.run_id.localeCompare(b.run_id));
  const chosen = new Set<StoredRun>();
  if (policy.maxAgeMs > 0) for (const run of ended) if (nowMs - endedAt(run) > policy.maxAgeMs) chosen.add(run);
  if (policy.maxTotalBytes > 0) {
    let total = runs.reduce((sum, run) => sum + (chosen.has(run) ? 0 : run.bytes), 0);
    for (const run of ended.slice(0, -1)) {
      if (total <= policy.maxTotalBytes) break;
      if (chosen.has(run)) continue;
      chosen.add(run);
      total -= run.bytes;
    }
  }
  return ended.filter((run) => chosen.has(run));
}

/** Bytes a run's folder takes: a run folder holds files only. */
export async function folderBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map((name) => stat(join(dir, name)).then((info) => info.size, () => 0)));
  return sizes.reduce((sum, size) => sum + size, 0);
}
