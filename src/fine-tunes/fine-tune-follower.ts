import { mapUpstreamError } from '../errors.js';
import type { FineTuneRecord } from './fine-tune-record.js';
import { followJob, followUp, runSetup, type JobStepDeps } from './job-steps.js';
import { claimStep, leaseIsLive } from './record-updates.js';

export interface FineTuneFollower {
  /** Starts polling; the first pass runs at once, so that jobs left by a stopped process go on at the start. */
  start(): void;
  /** One pass over every unfinished job (what the timer runs). */
  followAll(): Promise<void>;
  /** The ids this process is working on now: a request's setup adds its job here, so the follower leaves it alone. */
  readonly busy: Set<string>;
  close(): Promise<void>;
}

/**
 * Keeps every unfinished job's record current, from the store, every FINE_TUNE_POLL_MS: a setup that was
 * interrupted goes on, a job the upstream has is polled, a succeeded one is registered and evaluated. It only
 * runs in processes that execute work (ROLE all or worker); the records are shared, so every replica's
 * follower sees every job, and the leases and compare-and-set writes keep each step to one of them.
 */
export function createFineTuneFollower(deps: JobStepDeps, pollMs: number): FineTuneFollower {
  const busy = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  let closed = false;

  async function advance(record: FineTuneRecord): Promise<void> {
    if (record.step === 'follow') {
      await followJob(deps, record);
      return;
    }
    if (record.step === 'register' || record.step === 'evaluate') {
      await followUp(deps, record);
      return;
    }
    if (leaseIsLive(record.lease)) return;
    const claimed = await claimStep(deps.store, record, deps.holder, deps.leaseMs);
    if (claimed) await runSetup(deps, claimed);
  }

  async function followAll(): Promise<void> {
    const records = await deps.store.unfinished();
    for (const record of records) {
      if (closed) return;
      if (busy.has(record.id)) continue;
      busy.add(record.id);
      try {
        await advance(record);
      } catch (error) {
        // A poll that fails (the upstream away, a refused setup already recorded) is tried again at the next pass.
        deps.log.warn({ fine_tune_id: record.id, step: record.step, err: mapUpstreamError(error, record.upstream_alias) }, 'fine-tuning job poll failed');
      } finally {
        busy.delete(record.id);
      }
    }
  }

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      pass = followAll()
        .catch((error: unknown) => deps.log.warn({ err: error }, 'fine-tuning jobs could not be read'))
        .finally(schedule);
    }, pollMs);
    timer.unref();
  };

  return {
    busy,
    followAll,
    start() {
      pass = followAll()
        .catch((error: unknown) => deps.log.warn({ err: error }, 'fine-tuning jobs could not be read'))
        .finally(schedule);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
