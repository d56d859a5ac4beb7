import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { storageFailure } from '../errors.js';

/** Why a run is waiting rather than working: shown by GET /evaluate/{run_id} while it lasts. */
export interface RunPause {
  code: string;
  message: string;
  since: string;
}

/**
 * A run's writes while the run store cannot take them: the disk holding REPORTS_DIR is full or unwritable, or
 * the database cannot be reached. The run pauses instead of failing: its finished answers stay in memory
 * (never asked again), the store keeps its last true status and only whole results, and every write is tried
 * again every `retryMs` until it succeeds.
 */
export class StorageWaits {
  paused: RunPause | null = null;
  private onPause: Array<() => void> = [];

  constructor(
    private readonly retryMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Writes, waiting for space as long as it takes; false when `signal` ended the wait first (nothing written). */
  async untilStored(write: () => Promise<unknown>, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      try {
        await write();
        if (this.paused) {
          this.log.info({ paused_since: this.paused.since }, 'evaluation run: the run store takes writes again; resuming');
          this.paused = null;
        }
        return true;
      } catch (error) {
        const failure = storageFailure(error);
        if (!failure) throw error;
        if (!this.paused) {
          this.paused = { code: failure.code, message: failure.message, since: new Date().toISOString() };
          const what = failure.code === 'database_unavailable' ? 'the database cannot be reached' : 'the reports folder cannot be written';
          this.log.warn({ code: failure.code, errno: (failure.details as { errno: string }).errno }, `evaluation run paused: ${what}`);
          for (const notify of this.onPause.splice(0)) notify();
        }
        await sleep(this.retryMs, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) return false;
      }
    }
  }

  /** Resolves once the run is paused for storage (at once if it is). */
  whenPaused(): Promise<void> {
    if (this.paused) return Promise.resolve();
    return new Promise((resolve) => this.onPause.push(resolve));
  }
}
